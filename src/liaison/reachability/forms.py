"""Forms of the ping-test pages: starting a test, logging a call, confirming a probe.

They only shape the input; the rules (which channels, members and times are acceptable) live in
services.start_ping_test, whose ServiceError names the field it is about (`FIELD_OF` maps it
back onto this form's fields).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from liaison.core.forms import Form
from liaison.directory.forms import DEFAULT_TZ, timezone_choices
from liaison.directory.models import ContactPointType
from liaison.reachability.models import ManualOutcome, ProbeChannel, Timing

ALL_MEMBERS, CHOSEN_MEMBERS = "all", "chosen"
DATETIME = {"type": "datetime-local"}
MAX_HOURS = 24 * 90

# A service's field name → the form field that shows its error.
FIELD_OF = {
    "channels": "channels",
    "members": "members",
    "types": "types",
    "timing": "timing",
    "starts_at": "at",
    "window_ends_at": "window_end",
    "off_hours": "off_hours",
    "reminder_after": "reminder_hours",
    "escalate_after": "escalate_hours",
    "ends_at": "ends_at",
    "note": "note",
}


def _local(value: dt.datetime | None, zone: str) -> dt.datetime | None:
    """A naive datetime-local value read in the chosen time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(zone or DEFAULT_TZ))


class PingTestForm(Form):
    members_scope = forms.ChoiceField(
        label=_("Members"),
        choices=[(ALL_MEMBERS, _("Every member")), (CHOSEN_MEMBERS, _("Only the members chosen"))],
        initial=ALL_MEMBERS,
    )
    members = forms.MultipleChoiceField(
        label=_("Members to test"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
    )
    types = forms.MultipleChoiceField(
        label=_("Types of contact point"),
        choices=ContactPointType.choices,
        initial=ContactPointType.values,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one type.")},
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=ProbeChannel.choices,
        initial=[ProbeChannel.EMAIL, ProbeChannel.APP],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one channel.")},
    )
    timing = forms.ChoiceField(
        label=_("Send the probes"), choices=Timing.choices, initial=Timing.NOW
    )
    at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M"),
    )
    window_start = forms.DateTimeField(
        label=_("Window starts"),
        required=False,
        widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M"),
    )
    window_end = forms.DateTimeField(
        label=_("Window ends"),
        required=False,
        widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M"),
    )
    tz = forms.ChoiceField(
        label=_("Time zone of these dates"),
        initial=DEFAULT_TZ,
        help_text=_("Each probe still follows its contact point's own time zone for its hours."),
    )
    off_hours = forms.BooleanField(
        label=_("Only outside each contact point's declared hours"),
        required=False,
        help_text=_("Checks 24/7 claims. Needs random times within a window."),
    )
    reminder_hours = forms.IntegerField(
        label=_("Remind after (hours)"),
        required=False,
        min_value=1,
        max_value=MAX_HOURS,
        help_text=_("Leave empty for no reminder."),
    )
    escalate_hours = forms.IntegerField(
        label=_("Escalate after (hours)"),
        required=False,
        min_value=1,
        max_value=MAX_HOURS,
        help_text=_("E-mails the member's other contact points and its coordinators."),
    )
    ends_at = forms.DateTimeField(
        label=_("Test ends at"),
        required=False,
        widget=forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for 7 days after the last probe is sent."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For the Secretariat's records; not sent to the contact points."),
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(code, f"{name} ({code})") for code, name in members]
        self.fields["tz"].choices = [(DEFAULT_TZ, "UTC"), *timezone_choices()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("members_scope") == CHOSEN_MEMBERS and not cleaned.get("members"):
            self.add_error("members", _("Choose the members to test, or test every member."))
        timing = cleaned.get("timing")
        if timing == Timing.AT and not cleaned.get("at"):
            self.add_error("at", _("Enter the date and time to send the probes."))
        if timing == Timing.RANDOM:
            if not cleaned.get("window_start"):
                self.add_error("window_start", _("Enter when the window starts."))
            if not cleaned.get("window_end"):
                self.add_error("window_end", _("Enter when the window ends."))
        return cleaned

    def service_arguments(self) -> dict:
        """The keyword arguments of services.start_ping_test."""
        data = self.cleaned_data
        zone = data.get("tz") or DEFAULT_TZ
        timing = data["timing"]
        starts_at = None
        window_ends_at = None
        if timing == Timing.AT:
            starts_at = _local(data.get("at"), zone)
        elif timing == Timing.RANDOM:
            starts_at = _local(data.get("window_start"), zone)
            window_ends_at = _local(data.get("window_end"), zone)
        types = list(data.get("types") or [])
        hours = {
            name: dt.timedelta(hours=data[field]) if data.get(field) else None
            for name, field in (
                ("reminder_after", "reminder_hours"),
                ("escalate_after", "escalate_hours"),
            )
        }
        return {
            "channels": list(data["channels"]),
            "members": list(data["members"]) if data["members_scope"] == CHOSEN_MEMBERS else [],
            # Every type ticked means every type, including types added later.
            "types": [] if set(types) == set(ContactPointType.values) else types,
            "timing": timing,
            "starts_at": starts_at,
            "window_ends_at": window_ends_at,
            "off_hours": bool(data.get("off_hours")),
            "ends_at": _local(data.get("ends_at"), zone),
            "note": data.get("note") or "",
            **hours,
        }

    def add_service_error(self, field: str | None, message: str) -> None:
        name = FIELD_OF.get(field or "")
        if name == "at" and self.cleaned_data.get("timing") == Timing.RANDOM:
            name = "window_start"
        self.add_error(name, message)


class ManualCallForm(Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ManualOutcome.choices)
    seconds = forms.IntegerField(
        label=_("Time to answer (seconds)"),
        required=False,
        min_value=0,
        max_value=86400,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class ConfirmReceiptForm(Form):
    name = forms.CharField(
        label=_("Your name (optional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
