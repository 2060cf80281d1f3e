"""Forms of the account, people and invitation pages (input parsing only: rules live in
services.py)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from liaison.accounts.services import TOKEN_DAYS_MAX
from liaison.core.forms import Form


class ProfileForm(Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


class TokenForm(Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("What the token is for, e.g. “nightly export script”."),
    )
    days = forms.IntegerField(
        label=_("Valid for (days)"), min_value=1, max_value=TOKEN_DAYS_MAX, initial=90
    )
    can_write = forms.BooleanField(
        label=_("Allow changes (write access)"),
        required=False,
        help_text=_("Leave unticked for a token that can only read."),
    )


class InviteForm(Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"))
    member = forms.ModelChoiceField(
        label=_("Member"),
        queryset=None,
        to_field_name="public_id",
        required=False,
        help_text=_("Required for national coordinators and duty officers."),
    )

    def __init__(self, *args, roles, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles
        self.fields["member"].queryset = members
        if len(roles) == 1:
            self.fields["role"].initial = roles[0][0]


class AcceptInvitationForm(Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters; a few unrelated words make a strong password."),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
