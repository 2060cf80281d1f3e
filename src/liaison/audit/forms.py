"""The audit page's filter form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from liaison.audit.queries import EventFilters
from liaison.core.forms import Form

VIA_CHOICES = [
    ("", _("Any")),
    ("web", _("Web")),
    ("api", _("API")),
    ("cli", _("Command line")),
    ("worker", _("Worker")),
]


class EventFilterForm(Form):
    actor = forms.CharField(label=_("Actor (e-mail contains)"), required=False, max_length=254)
    action = forms.CharField(label=_("Action (starts with)"), required=False, max_length=100)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    since = forms.DateField(
        label=_("From (UTC)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To (UTC)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    via = forms.ChoiceField(label=_("Via"), required=False, choices=VIA_CHOICES)
    # Keyset cursors of the pagination, not shown as fields.
    before = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def filters(self) -> EventFilters:
        data = self.cleaned_data
        return EventFilters(
            actor=data.get("actor", "").strip(),
            action=data.get("action", "").strip(),
            object_id=data.get("object_id", "").strip(),
            since=data.get("since"),
            until=data.get("until"),
            via=data.get("via", ""),
        )
