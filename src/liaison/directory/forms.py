"""Forms of the directory pages: the list's filters and the contact point editor.

The editor's forms only shape the input; the rules live in schemas.validate_contact_point (one
schema for the pages, the API and the import), whose FieldErrors are mapped back onto the fields
and the channel rows by `apply_field_errors`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from liaison.core.forms import Form
from liaison.directory.models import ChannelKind, ContactPointType
from liaison.directory.queries import DirectoryFilters
from liaison.directory.schemas import FIELDS
from liaison.directory.validation import PHONE_KINDS, format_phone

AVAILABLE_ANY, AVAILABLE_NOW, AVAILABLE_AT = "", "now", "at"
DEFAULT_TZ = "UTC"


@cache
def timezone_names() -> tuple[str, ...]:
    # "Factory" and the "localtime" link are not places anyone works in.
    return tuple(sorted(z for z in available_timezones() if z not in {"Factory", "localtime"}))


@cache
def timezone_choices() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """IANA zones grouped by region ('Europe', 'America'…): shorter lists to scroll on a phone."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in timezone_names():
        region = name.split("/", 1)[0] if "/" in name else "Other"
        groups.setdefault(region, []).append((name, name.replace("_", " ")))
    return tuple((region, tuple(zones)) for region, zones in sorted(groups.items()))


@cache
def _country_zones() -> dict[str, str]:
    """ISO 3166 country code → its first zone in zone.tab (the capital's, e.g. FR → Paris)."""
    try:
        text = (resources.files("tzdata.zoneinfo") / "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        path = Path("/usr/share/zoneinfo/zone.tab")
        text = path.read_text("utf-8") if path.exists() else ""
    zones: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            zones.setdefault(parts[0].upper(), parts[2].strip())
    return zones


def default_timezone(member) -> str:
    zone = _country_zones().get((member.code or "").upper()) if member is not None else None
    return zone if zone in timezone_names() else DEFAULT_TZ


# --- list filters ----------------------------------------------------------------------------


class DirectoryFilterForm(Form):
    """GET filters of the directory list. Filters go in the query string; contact details never."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "placeholder": _("Member, institution, unit…"),
            }
        ),
    )
    member = forms.ChoiceField(label=_("Member"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    available = forms.ChoiceField(
        label=_("Available"),
        required=False,
        choices=[
            (AVAILABLE_ANY, _("Any time")),
            (AVAILABLE_NOW, _("Now")),
            (AVAILABLE_AT, _("At a given date and time")),
        ],
    )
    at = forms.CharField(
        label=_("Available at (date and time)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    tz = forms.ChoiceField(label=_("In time zone"), required=False, initial=DEFAULT_TZ)
    stale = forms.ChoiceField(
        label=_("Review"),
        required=False,
        choices=[("", _("Any review date")), ("1", _("Stale or due soon"))],
    )

    at_chosen = False  # set by filters(): the availability shown is at a chosen instant

    # Behind "More filters" on a phone: the duty officer's first screen keeps the results.
    MORE_FILTERS = ("member", "type", "language", "stale")

    def __init__(self, data=None, *, members=(), languages=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["member"].choices = [("", _("All members"))] + [
            (code, f"{name} ({code})") for code, name in members
        ]
        self.fields["type"].choices = [("", _("All types")), *ContactPointType.choices]
        self.fields["language"].choices = [("", _("All languages")), *languages]
        self.fields["tz"].choices = [(DEFAULT_TZ, "UTC"), *timezone_choices()]

    def main_fields(self):
        return [field for field in self if field.name not in self.MORE_FILTERS]

    def more_fields(self):
        return [self[name] for name in self.MORE_FILTERS]

    def more_filters_used(self) -> bool:
        """Whether one of the filters behind "More filters" is set (it then starts open)."""
        return self.is_bound and any(self.data.get(name) for name in self.MORE_FILTERS)

    @property
    def stale_chosen(self) -> bool:
        """Only the entries stale or due for review (staleness.needs_review_q)."""
        if not self.is_bound:
            return False
        self.is_valid()  # cleaned_data holds the valid fields even when another one is not
        return self.cleaned_data.get("stale") == "1"

    def clean_at(self) -> datetime | None:
        raw = (self.cleaned_data.get("at") or "").strip()
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError(
                _("Enter a date and time such as 2026-03-10 14:30.")
            ) from None
        return value.replace(tzinfo=None)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("available") == AVAILABLE_AT and not cleaned.get("at"):
            self.add_error("at", _("Enter the date and time to check."))
        return cleaned

    def filters(self, now: datetime) -> DirectoryFilters:
        """The valid filters (an invalid field is shown with its error and otherwise ignored).

        "Available now" means at `now`; "at a given time" at the date-time `at` read in `tz`.
        """
        if not self.is_bound:
            return DirectoryFilters()
        self.is_valid()
        data = self.cleaned_data
        available_at = None
        if data.get("available") == AVAILABLE_NOW:
            available_at = now
        elif data.get("at"):
            # A date typed in without touching "Available" still means "available then".
            available_at = data["at"].replace(tzinfo=ZoneInfo(data.get("tz") or DEFAULT_TZ))
            self.at_chosen = True
        return DirectoryFilters(
            member=data.get("member") or "",
            type=data.get("type") or "",
            language=data.get("language") or "",
            q=(data.get("q") or "").strip(),
            available_at=available_at,
        )


# --- editor ----------------------------------------------------------------------------------

AVAILABILITY_HELP = _(
    "“24/7”, or days and hours in the contact point's time zone, e.g. "
    "“Mon-Fri 08:00-18:00; Sat 09:00-12:00”. Overnight: “Mon-Fri 18:00-08:00”."
)
EXCEPTIONS_HELP = _(
    "Dates that differ from the weekly hours, e.g. "
    "“2026-12-25 closed; 2026-12-31 09:00-12:00; 2026-08-01..2026-08-15 closed”."
)


class ContactPointForm(Form):
    """The scalar fields of a contact point (channels are the ChannelFormSet)."""

    type = forms.ChoiceField(label=_("Type"), choices=ContactPointType.choices)
    institution = forms.CharField(label=_("Institution"), max_length=300)
    unit = forms.CharField(label=_("Unit"), max_length=300, required=False)
    availability = forms.CharField(
        label=_("Availability"), max_length=500, initial="24/7", help_text=AVAILABILITY_HELP
    )
    availability_exceptions = forms.CharField(
        label=_("Exceptions"), max_length=1000, required=False, help_text=EXCEPTIONS_HELP
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("The time zone of the desk: its hours are read in this zone."),
    )
    languages = forms.CharField(
        label=_("Languages"),
        max_length=200,
        help_text=_("ISO 639-1 codes separated by commas, e.g. “en, fr”."),
        widget=forms.TextInput(attrs={"autocapitalize": "none", "autocomplete": "off"}),
    )
    instructions = forms.CharField(
        label=_("Instructions"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("How to reach the desk, what to send first, who to ask for."),
    )
    pgp_key = forms.CharField(
        label=_("OpenPGP public key"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("ASCII-armoured block (-----BEGIN PGP PUBLIC KEY BLOCK-----…), optional."),
    )
    review_date = forms.CharField(
        label=_("Review date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("After this date the entry counts as stale. Empty: one year from now."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices()

    def raw(self) -> dict:
        """The scalar fields under the names of schemas.FIELDS."""
        return {name: self.cleaned_data.get(name, "") for name in FIELDS if name in self.fields}


class ChannelForm(Form):
    # "—" first: a spare row is not preset to a kind; the kind is asked for once a value is typed.
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", "—"), *ChannelKind.choices], required=False
    )
    value = forms.CharField(
        label=_("Number, address or name"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)

    def clean(self):
        data = super().clean()
        filled = (data.get("value") or "").strip() or (data.get("notes") or "").strip()
        if filled and not data.get("kind") and not data.get("DELETE"):
            self.add_error("kind", _("Choose the kind of channel."))
        return data


class BaseChannelFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove this channel")

    def raw_channels(self) -> tuple[list[dict], list[int]]:
        """Filled rows in order as schema input, and the form index of each (for errors)."""
        channels, rows = [], []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE"):
                continue
            value, notes = (data.get("value") or "").strip(), (data.get("notes") or "").strip()
            if not value and not notes:
                continue  # an empty spare row
            channels.append({"kind": data.get("kind") or "", "value": value, "notes": notes})
            rows.append(index)
        return channels, rows


ChannelFormSet = forms.formset_factory(
    ChannelForm,
    formset=BaseChannelFormSet,
    extra=1,
    can_delete=True,
    max_num=30,
    absolute_max=60,
    validate_max=True,
)


ADD_CHANNEL = "add_channel"  # the editor's "Add another channel" submit button


def channel_rows_posted(data) -> list[dict]:
    """The channel rows as typed in (not validated), to show them again with one more row."""
    posted = ChannelFormSet(data, prefix="channels")
    names = ("kind", "value", "notes", "DELETE")
    return [{name: form[name].value() for name in names} for form in posted.forms]


def channel_initial(cp) -> list[dict]:
    """Stored channels as formset rows, phone numbers in their readable form."""
    return [
        {
            "kind": ch.kind,
            "value": format_phone(ch.value) if ch.kind in PHONE_KINDS else ch.value,
            "notes": ch.notes,
        }
        for ch in cp.channels.all()
    ]


_CHANNEL_ERROR = re.compile(r"^channels\[(\d+)\](?:\.(\w+))?$")


def apply_field_errors(form, formset, rows: list[int], errors) -> None:
    """Put each (field, message) of a FieldErrors on its field or channel row."""
    for field, message in errors:
        match = _CHANNEL_ERROR.match(field)
        if match:
            index = int(match[1])
            target = formset.forms[rows[index]] if index < len(rows) else None
            name = match[2] if match[2] in ("kind", "value", "notes") else None
            if target is not None:
                target.add_error(name or "value", message)
                continue
        if field == "channels":
            formset.non_form_errors().append(message)
        elif field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, message)
