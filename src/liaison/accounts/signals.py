"""Authentication events for the audit trail: sign-in (success, failure, throttled), sign-out,
password and second-factor changes. Never a password, a code or a secret."""

from __future__ import annotations

import time

from allauth.account import signals as account_signals
from allauth.core import context as allauth_context
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from liaison.accounts.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from liaison.accounts.models import User
from liaison.accounts.services import record_auth_event
from liaison.audit.services import record_event

# Set on the request by SessionTimeoutMiddleware before it signs someone out.
LOGOUT_REASON_ATTR = "liaison_logout_reason"


def _known_user(email) -> User | None:
    if not isinstance(email, str) or not email or len(email) > 254:
        return None
    return User.objects.filter(email__iexact=email.strip()).first()


@receiver(auth_signals.user_logged_in)
def on_login(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        # The absolute session lifetime counts from here (see SessionTimeoutMiddleware).
        now = int(time.time())
        session[SESSION_STARTED_KEY] = now
        session[SESSION_SEEN_KEY] = now
    record_auth_event(user, "account.login")


@receiver(auth_signals.user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    reason = getattr(request, LOGOUT_REASON_ATTR, "user") if request is not None else "user"
    record_auth_event(user, "account.logout", {"reason": reason})


@receiver(auth_signals.user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # The attempted address is kept only when it is an account's: what people type into the
    # e-mail field is sometimes their password.
    user = _known_user(credentials.get("email") or credentials.get("username"))
    if user is not None:
        record_auth_event(None, "account.login.failed", {"email": user.email}, subject=user)
    else:
        record_auth_event(None, "account.login.failed", {"known_account": False})


def record_throttled_login(email) -> None:
    user = _known_user(email)
    if user is not None:
        record_auth_event(None, "account.login.throttled", {"email": user.email}, subject=user)
    else:
        record_auth_event(None, "account.login.throttled", {"known_account": False})


@receiver(account_signals.password_changed)
def on_password_changed(sender, request, user, **kwargs):
    record_auth_event(user, "account.password.change")


@receiver(account_signals.password_set)
def on_password_set(sender, request, user, **kwargs):
    record_auth_event(user, "account.password.set")


@receiver(account_signals.password_reset)
def on_password_reset(sender, request, user, **kwargs):
    record_auth_event(user, "account.password.reset")


# Second factors are audited from the model itself, inside the transaction that adds or removes
# them, whatever the path (allauth's pages, the CLI, a data migration). allauth's own
# added/removed signals fire only after commit.
@receiver(post_save, sender=Authenticator)
def on_authenticator_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        _record_factor(instance, "activate")


@receiver(post_delete, sender=Authenticator)
def on_authenticator_deleted(sender, instance, **kwargs):
    _record_factor(instance, "deactivate")


def _record_factor(authenticator: Authenticator, verb: str) -> None:
    request = allauth_context.request
    actor = getattr(request, "user", None)
    if actor is None or not actor.is_authenticated:
        actor = None  # the command line or the system
    owner = authenticator.user
    record_event(
        actor,
        f"account.mfa.{authenticator.type}.{verb}",
        obj=owner,
        details={"user": owner.public_id, "authenticator": authenticator.pk},
    )


@receiver(mfa_signals.authentication_failed)
def on_mfa_failed(sender, request, user, authenticator=None, **kwargs):
    details = {
        "type": getattr(authenticator, "type", None),
        "reauthentication": bool(kwargs.get("reauthentication")),
    }
    record_auth_event(user, "account.mfa.failed", details)
