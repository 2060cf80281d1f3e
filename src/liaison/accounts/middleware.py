"""Session timeouts and mandatory MFA enrolment."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse


class SessionTimeoutMiddleware:
    """Ends a session after SESSION_IDLE_SECONDS without a request (the absolute limit is the
    cookie's SESSION_COOKIE_AGE, which is not renewed on activity)."""

    KEY = "liaison_last_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(self.KEY)
            if last is not None and now - int(last) > settings.SESSION_IDLE_SECONDS:
                logout(request)
                if not request.path.startswith("/api/"):
                    return redirect(f"{reverse('account_login')}?timeout=1")
            else:
                request.session[self.KEY] = now
        return self.get_response(request)


class RequireMFAMiddleware:
    """A signed-in person without a second factor can do nothing but enrol one (or sign out)."""

    ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/",
                        "/static/", "/i18n/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not request.path.startswith("/api/")
            and not _has_mfa(user)
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def _has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()
