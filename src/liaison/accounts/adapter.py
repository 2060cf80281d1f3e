"""allauth adapters: closed sign-up, audited throttling, a second factor that cannot be removed
while it is the last one, and TOTP secrets encrypted at rest."""

from __future__ import annotations

import base64
import hashlib

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ValidationError

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


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Every account keeps a second factor: the last one can be replaced, not removed."""
        if authenticator.type not in FACTORS:
            return True
        return (
            Authenticator.objects.filter(user_id=authenticator.user_id, type__in=FACTORS)
            .exclude(pk=authenticator.pk)
            .exists()
        )

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
