"""The Deliveries page's filters (GET parameters: a state, a kind, a page; nothing restricted)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from liaison.core.forms import Form
from liaison.delivery.kinds import kind_label
from liaison.delivery.models import DeliveryState
from liaison.delivery.queries import DeliveryFilters


class DeliveryFilterForm(Form):
    state = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *DeliveryState.choices]
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, kinds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Any"))] + [(k, kind_label(k)) for k in kinds]

    def filters(self) -> DeliveryFilters:
        data = self.cleaned_data
        return DeliveryFilters(state=data.get("state") or "", kind=data.get("kind") or "")

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1
