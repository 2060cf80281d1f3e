"""Session timeouts and mandatory MFA enrolment."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

# When the session was authenticated (set at sign-in, see signals.py) and when it last served
# a request, in Unix seconds.
SESSION_STARTED_KEY = "liaison_auth_at"
SESSION_SEEN_KEY = "liaison_last_seen"
# The last-seen stamp is rewritten at most this often, so that reading pages does not cost a
# session write each time; the idle limit is therefore exact to within this many seconds.
SEEN_RESOLUTION = 30
MFA_OK_KEY = "liaison_mfa_ok"


class SessionTimeoutMiddleware:
    """Ends a session after SESSION_IDLE_SECONDS without a request, and in any case
    SESSION_COOKIE_AGE seconds after sign-in, however active it was.

    The absolute limit is enforced here rather than left to the session's expiry date, because
    every save of the session (the last-seen stamp) would push that date forward.
    """

    KEY = SESSION_SEEN_KEY

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED_KEY)
            last = session.get(SESSION_SEEN_KEY)
            if started is None:
                session[SESSION_STARTED_KEY] = started = now
            if last is not None and now - int(last) > settings.SESSION_IDLE_SECONDS:
                return self._expire(request, "idle")
            if now - int(started) > settings.SESSION_COOKIE_AGE:
                return self._expire(request, "absolute")
            if last is None or now - int(last) >= SEEN_RESOLUTION:
                session[SESSION_SEEN_KEY] = now
        return self.get_response(request)

    def _expire(self, request, reason: str):
        from liaison.accounts.signals import LOGOUT_REASON_ATTR

        setattr(request, LOGOUT_REASON_ATTR, reason)
        logout(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)  # now anonymous: the API answers 401
        return redirect(f"{reverse('account_login')}?timeout=1")


class RequireMFAMiddleware:
    """A signed-in person without a second factor can do nothing but enrol one (or sign out).

    It also closes the allauth pages that Liaison does not offer: the e-mail address is the
    identity an invitation verified, so people do not add or swap addresses themselves.
    """

    ALLOWED_PREFIXES = (
        "/accounts/2fa/",
        "/accounts/logout/",
        "/accounts/reauthenticate/",
        "/static/",
        "/i18n/",
        "/healthz",
    )
    CLOSED_PREFIXES = ("/accounts/email/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.CLOSED_PREFIXES):
            raise Http404
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not request.path.startswith("/api/")
            and not _has_mfa_cached(request)
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def _has_mfa_cached(request) -> bool:
    """Once a session's user has a factor it keeps one (the last cannot be removed, see
    MFAAdapter), so the answer is remembered in the session to save a query per request."""
    if request.session.get(MFA_OK_KEY) == request.user.pk:
        return True
    if _has_mfa(request.user):
        request.session[MFA_OK_KEY] = request.user.pk
        return True
    return False


def _has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()
