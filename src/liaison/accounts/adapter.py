"""allauth adapters: closed sign-up, audited throttling, a second factor that cannot be removed
while it is the last one, and TOTP secrets encrypted at rest."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from io import BytesIO

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ENCRYPTED = "enc1:"
# Second factors that count as MFA (recovery codes only back them up).
FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Accounts come from invitations and the CLI only.
        return False

    def pre_authenticate(self, request, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            from liaison.accounts.signals import record_throttled_login

            record_throttled_login(credentials.get("email", ""))
            raise

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Right after signing in without a second factor (a new account), a person enrols one
        and sees its recovery codes without typing the password a second time: allauth 65
        counts only explicit re-authentications. "Right after" is allauth's re-authentication
        window; an account that already had a factor when it signed in is always asked."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        if not required or app != "allauth.mfa":
            return required
        request = context.request
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return required
        records = get_authentication_records(request, user)
        if not records:
            return required
        signed_in_at = max(record.get("at", 0) for record in records)
        if time.time() - signed_in_at >= account_settings.REAUTHENTICATION_TIMEOUT:
            return required
        return Authenticator.objects.filter(
            user_id=user.pk,
            type__in=FACTORS,
            created_at__lte=dt.datetime.fromtimestamp(signed_in_at, tz=dt.UTC),
        ).exists()


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "This is your only second factor: add another one (an authenticator app or a "
            "security key) before removing it."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Every account keeps a second factor: the last one can be replaced, not removed."""
        if authenticator.type not in FACTORS:
            return True
        return (
            Authenticator.objects.filter(user_id=authenticator.user_id, type__in=FACTORS)
            .exclude(pk=authenticator.pk)
            .exists()
        )

    def build_totp_svg(self, url: str) -> str:
        """The QR code on a white background, so that it scans in a dark colour scheme too."""
        import qrcode
        from qrcode.image.svg import SvgPathFillImage

        buf = BytesIO()
        qrcode.make(url, image_factory=SvgPathFillImage).save(buf)
        return buf.getvalue().decode("utf8")

    def encrypt(self, text: str) -> str:
        return _ENCRYPTED + _fernet().encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, encrypted_text: str) -> str:
        if not encrypted_text.startswith(_ENCRYPTED):
            return encrypted_text  # stored before encryption was introduced
        token = encrypted_text[len(_ENCRYPTED) :].encode("ascii")
        return _fernet().decrypt(token).decode("utf-8")


def _fernet() -> Fernet:
    # A key of its own, derived from the deployment's secret key (kept in the data directory).
    digest = hashlib.sha256(b"liaison.mfa.secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
