"""The "Reach now" page: who at a member can be reached now (or at a chosen time), in a language.

Thin: parse the form, call directory.reach (query and audit), format with the contact point
page's own `availability_now` (local time, UTC offset, next opening and "in 3 h 20 min").
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.shortcuts import render
from django.utils import dateformat, timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _

from liaison.core.forms import Form
from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.directory import queries
from liaison.directory.forms import DEFAULT_TZ, default_timezone, timezone_choices, timezone_names
from liaison.directory.reach import Reach, find_member, reach
from liaison.directory.templatetags.directory_tags import language_name
from liaison.directory.views import _utc_offset, availability_now
from liaison.networks.queries import acting_for_members


class ReachForm(Form):
    """GET parameters of the page. A member's code, a time and a language: no contact details."""

    member = forms.ChoiceField(label=_("Member"), required=False)
    language = forms.ChoiceField(label=_("In a language we share"), required=False)
    at = forms.CharField(
        label=_("Date and time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Empty: now."),
    )
    tz = forms.ChoiceField(label=_("In time zone"), required=False)

    def __init__(self, data=None, *, members=(), languages=(), tz_default=DEFAULT_TZ, **kwargs):
        if data is not None and not data.get("tz"):
            data = data.copy()  # a link with no zone (the member page's) reads times in ours
            data["tz"] = tz_default
        # Ids of their own: the directory's "Reach now" button swaps this page in place of the
        # list, whose filters have the same names, and htmx would carry attributes across.
        kwargs.setdefault("auto_id", "reach_%s")
        super().__init__(data, initial={"tz": tz_default}, **kwargs)
        self.tz_default = tz_default
        self.fields["member"].choices = [("", _("Choose a member")), *members]
        self.fields["tz"].choices = [(DEFAULT_TZ, "UTC"), *timezone_choices()]
        self.set_languages(languages)

    def set_languages(self, codes) -> None:
        field = self.fields["language"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - for the type checker
        field.choices = [
            ("", _("Any language")),
            *((code, language_name(code)) for code in codes),
        ]

    def clean_at(self) -> datetime | None:
        raw = (self.cleaned_data.get("at") or "").strip()
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=None)
        except ValueError:
            raise forms.ValidationError(
                _("Enter a date and time such as 2026-03-10 14:30.")
            ) from None

    def instant(self, now: datetime) -> datetime:
        """The instant asked about: `at` read in `tz`, or now."""
        at = self.cleaned_data.get("at")
        if at is None:
            return now
        return at.replace(tzinfo=ZoneInfo(self.cleaned_data.get("tz") or self.tz_default))

    def zone(self) -> ZoneInfo:
        name = (self.cleaned_data.get("tz") if self.is_bound else None) or self.tz_default
        return ZoneInfo(name)


def _default_zone(access) -> str:
    """The zone of the member the viewer acts for (UTC for the Secretariat and the like)."""
    member = acting_for_members(access).first()
    return default_timezone(member) if member is not None else DEFAULT_TZ


def _view_entries(entries, at: datetime) -> list[dict]:
    return [{"e": entry, "now": availability_now(entry.cp, at)} for entry in entries]


def _label(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{dateformat.format(local, 'D j M Y H:i')} {zone.key} ({_utc_offset(local)})"


@network_view(Perm.DIRECTORY_VIEW)
def reach_page(request, access):
    members, codes = queries.filter_choices(access)
    zone = _default_zone(access)
    if zone not in timezone_names():
        zone = DEFAULT_TZ
    form = ReachForm(
        request.GET or None,
        members=[(code, f"{name} ({code})") for code, name in members],
        languages=codes,
        tz_default=zone,
    )
    now = timezone.now()
    result: Reach | None = None
    context: dict = {"form": form}
    if form.is_bound and form.is_valid() and form.cleaned_data["member"]:
        at = form.instant(now)
        member = find_member(access, form.cleaned_data["member"])
        result = reach(request.user, access, member, at, form.cleaned_data["language"])
        # Offer the member's own languages (and the one asked for, should none speak it).
        chosen = [result.language] if result.language else []
        form.set_languages(sorted({*result.languages, *chosen}))
        context |= {
            "result": result,
            "member": member,
            "at_chosen": form.cleaned_data["at"] is not None,
            "at_label": _label(at, form.zone()),
            "language_label": language_name(result.language) if result.language else "",
            "available": _view_entries(result.available, at),
            "no_shared_language": _view_entries(result.available_no_shared_language, at),
            "not_available": _view_entries(result.not_available, at),
        }
    # The page's own form swaps the results; the directory's "Reach now" button loads the page.
    htmx = request.htmx
    if htmx and htmx.target == "reach-results" and not htmx.history_restore_request:
        context["partial"] = True
        response = render(request, "directory/_reach_results.html", context)
    else:
        response = render(request, "directory/reach.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
