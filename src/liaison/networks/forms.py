"""Forms of the network pages. They only parse input: the services validate and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from liaison.core.errors import ServiceError
from liaison.core.forms import Form
from liaison.networks.models import MemberKind, MemberStatus


class ServiceErrorMixin:
    """Shows a ServiceError on the field it names (or above the form)."""

    def add_service_error(self, exc: ServiceError) -> None:
        field = exc.field if exc.field in self.fields else None  # type: ignore[attr-defined]
        self.add_error(field, exc.message)  # type: ignore[attr-defined]


class MemberFilterForm(Form):
    q = forms.CharField(
        label=_("Name or code"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *MemberStatus.choices],
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *MemberKind.choices]
    )


class MemberCreateForm(ServiceErrorMixin, Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=MemberKind.choices)
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        help_text=_("ISO 3166-1 alpha-2 for a state (FR, DE…), or an organisation code (EU)."),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        required=False,
        help_text=_("For a state, leave blank to use the country's name."),
    )
    status = forms.ChoiceField(label=_("Status"), choices=MemberStatus.choices)
    status_since = forms.DateField(
        label=_("Status since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave blank for today."),
    )


class MemberEditForm(ServiceErrorMixin, Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    status = forms.ChoiceField(label=_("Status"), choices=MemberStatus.choices)
    status_since = forms.DateField(
        label=_("Status since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_(
            "When the new status takes effect (blank: today). With the same status, a date "
            "corrects when the current status took effect."
        ),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=300,
        required=False,
        help_text=_("Recorded in the status history, e.g. the instrument of ratification."),
    )


class NetworkSettingsForm(ServiceErrorMixin, Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    legal_basis = forms.CharField(
        label=_("Legal basis"),
        max_length=300,
        required=False,
        help_text=_("e.g. ETS No. 185, Art. 35"),
    )
    secretariat_name = forms.CharField(label=_("Secretariat"), max_length=200, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    observers_see_directory = forms.BooleanField(
        label=_("Observers see the directory"),
        required=False,
        help_text=_("When off, the directory is for parties only."),
    )
    justification_required = forms.BooleanField(
        label=_("Justification required for exports"), required=False
    )
