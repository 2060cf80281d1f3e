"""Sign-in end to end with allauth: password then TOTP code, forced MFA enrolment, throttling,
session timeouts, and the audit events of each."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse

from liaison.accounts.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from liaison.audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
TOTP_ACTIVATE = "/accounts/2fa/totp/activate/"


def totp_code(secret: str = TEST_TOTP_SECRET, offset: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def _login(client, email, password=TEST_PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def _events(action: str):
    return AuditEvent.objects.filter(action=action)


# --- password, then code -------------------------------------------------------------------


def test_login_asks_for_the_code_and_only_then_signs_in(client, world):
    response = _login(client, world.officer_a.email)
    assert response.status_code == 302
    assert response["Location"] == MFA_AUTHENTICATE
    # The password alone opens nothing.
    assert client.get("/").status_code == 302
    assert "_auth_user_id" not in client.session
    assert not _events("account.login").exists()

    wrong = client.post(MFA_AUTHENTICATE, {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    failed = _events("account.mfa.failed").get()
    assert failed.actor == world.officer_a
    assert "000000" not in str(failed.details)

    response = client.post(MFA_AUTHENTICATE, {"code": totp_code()})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == world.officer_a.pk
    assert client.get("/").status_code == 200
    event = _events("account.login").get()
    assert event.actor == world.officer_a
    assert event.via == "web"
    assert event.ip == "127.0.0.1"


def test_a_used_code_cannot_be_replayed(client, world):
    code = totp_code()
    _login(client, world.officer_a.email)
    assert client.post(MFA_AUTHENTICATE, {"code": code}).status_code == 302
    other = client.__class__()
    _login(other, world.officer_a.email)
    assert other.post(MFA_AUTHENTICATE, {"code": code}).status_code == 200
    assert "_auth_user_id" not in other.session


def test_logout_is_audited(client, world):
    client.force_login(world.officer_a)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert _events("account.logout").get().details == {"reason": "user"}


# --- MFA enrolment is forced ---------------------------------------------------------------


def test_user_without_mfa_is_sent_to_enrolment_from_every_page(client, world):
    newcomer = UserFactory(email="new@fr.example", mfa=False)
    RoleAssignmentFactory(
        user=newcomer, network=world.network, role="officer", member=world.member_a
    )
    response = _login(client, newcomer.email)
    # No second factor yet: allauth signs in on the password alone, then the middleware takes over.
    assert response.status_code == 302
    for url in (
        "/",
        reverse("accounts:account"),
        reverse("networks:detail", args=["budapest"]),
        reverse("accounts:people", args=["budapest"]),
        "/accounts/password/change/",
        "/invitations/whatever/",
    ):
        page = client.get(url)
        assert page.status_code == 302, url
        assert page["Location"] == TOTP_ACTIVATE, url
    # The MFA pages themselves stay reachable, passkeys included.
    index = client.get("/accounts/2fa/")
    assert index.status_code == 200
    assert b"/accounts/2fa/webauthn/add/" in index.content
    assert client.get("/accounts/2fa/webauthn/add/").status_code == 200

    page = client.get(TOTP_ACTIVATE)
    assert page.status_code == 200
    secret = page.context["form"].secret
    assert secret.encode() in page.content  # shown once, to be typed into the app
    assert b"/accounts/2fa/webauthn/add/" in page.content  # the passkey alternative

    wrong = client.post(TOTP_ACTIVATE, {"code": "123456"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=newcomer).exists()

    response = client.post(TOTP_ACTIVATE, {"code": totp_code(secret)})
    assert response.status_code == 302
    # Recovery codes are generated and offered right away.
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    codes = client.get(response["Location"])
    assert codes.status_code == 200
    assert len(codes.context["unused_codes"]) == 10
    assert client.get("/").status_code == 200
    mine = AuditEvent.objects.filter(object_id=newcomer.public_id)
    assert mine.get(action="account.mfa.totp.activate").actor == newcomer
    assert mine.get(action="account.mfa.recovery_codes.activate").actor == newcomer


def test_the_last_second_factor_cannot_be_removed(client, world):
    _login(client, world.officer_a.email)
    client.post(MFA_AUTHENTICATE, {"code": totp_code()})
    # Removing a factor asks for the password again (allauth's re-authentication).
    assert client.post("/accounts/2fa/totp/deactivate/").status_code == 302
    response = client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    assert response.status_code == 302
    page = client.post("/accounts/2fa/totp/deactivate/")
    assert page.status_code == 200
    assert b"only second factor" in page.content
    assert Authenticator.objects.filter(user=world.officer_a, type="totp").exists()
    assert not _events("account.mfa.totp.deactivate").exists()


def test_email_management_is_closed(client, world):
    client.force_login(world.officer_a)
    assert client.get("/accounts/email/").status_code == 404
    assert (
        client.post("/accounts/email/", {"email": "x@evil.example", "action_add": ""}).status_code
        == 404
    )


# --- throttling ----------------------------------------------------------------------------


def test_sixth_failed_login_within_five_minutes_is_refused(client, world):
    email = world.officer_a.email
    for _ in range(5):
        response = _login(client, email, password="wrong password 1")
        assert response.status_code == 200
        assert b"Too many failed login attempts" not in response.content
    # The 6th attempt is refused even with the right password.
    response = _login(client, email)
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "account_login" not in str(response.get("Location", ""))
    assert client.session.get("_auth_user_id") is None
    assert MFA_AUTHENTICATE not in response.get("Location", "")
    failures = _events("account.login.failed")
    assert failures.count() == 5
    assert all(e.details["email"] == email for e in failures)
    assert _events("account.login.throttled").count() == 1
    for event in AuditEvent.objects.all():
        assert "wrong password" not in str(event.details)
        assert TEST_PASSWORD not in str(event.details)
    # Another account from the same address is not locked out by it.
    other = _login(client, world.officer_b.email)
    assert other.status_code == 302


def test_failed_login_for_unknown_address_keeps_no_address(client, world):
    _login(client, "no.such.person@nowhere.example", password="my secret password")
    event = _events("account.login.failed").get()
    assert event.details == {"known_account": False}
    assert event.actor is None


# --- session timeouts ----------------------------------------------------------------------


def _set_session(client, **values):
    session = client.session
    for key, value in values.items():
        session[key] = value
    session.save()


def test_idle_session_ends(client, world, settings):
    settings.SESSION_IDLE_SECONDS = 600
    client.force_login(world.officer_a)
    now = int(time.time())
    _set_session(client, **{SESSION_SEEN_KEY: now - 599})
    assert client.get("/").status_code == 200  # still within the limit
    _set_session(client, **{SESSION_SEEN_KEY: now - 601})
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?timeout=1"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # and it stays signed out
    assert _events("account.logout").get().details == {"reason": "idle"}
    login_page = client.get(response["Location"])
    assert b"period of inactivity" in login_page.content


def test_absolute_session_age_is_not_renewed_by_activity(client, world, settings):
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    settings.SESSION_IDLE_SECONDS = 10**6
    client.force_login(world.officer_a)
    started = client.session[SESSION_STARTED_KEY]
    assert abs(started - time.time()) < 5
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.session[SESSION_STARTED_KEY] == started  # activity does not push it back
    # One second past SESSION_COOKIE_AGE after sign-in, however active: signed out.
    age = settings.SESSION_COOKIE_AGE
    _set_session(client, **{SESSION_STARTED_KEY: int(time.time()) - age + 60})
    assert client.get("/").status_code == 200
    _set_session(client, **{SESSION_STARTED_KEY: int(time.time()) - age - 1})
    response = client.get("/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert _events("account.logout").get().details == {"reason": "absolute"}


def test_api_requests_after_idle_timeout_are_anonymous(client, world, settings):
    settings.SESSION_IDLE_SECONDS = 60
    client.force_login(world.officer_a)
    _set_session(client, **{SESSION_SEEN_KEY: int(time.time()) - 61})
    client.get("/api/v1/networks/budapest/members")
    assert "_auth_user_id" not in client.session


# --- password change -----------------------------------------------------------------------


def test_password_change_is_audited(client, world):
    _login(client, world.officer_a.email)
    client.post(MFA_AUTHENTICATE, {"code": totp_code()})
    new = "another long passphrase 99"
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": TEST_PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    world.officer_a.refresh_from_db()
    assert world.officer_a.check_password(new)
    event = _events("account.password.change").get()
    assert event.actor == world.officer_a
    assert new not in str(event.details)
