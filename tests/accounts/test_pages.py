"""The account page (profile, tokens), a network's people page, and the strict CSP on every
accounts and allauth page."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse

from liaison.accounts import services
from liaison.accounts.models import ApiToken
from liaison.audit.models import AuditEvent
from liaison.networks.models import RoleAssignment
from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "/account/"


def people_url(slug="budapest"):
    return reverse("accounts:people", args=[slug])


# --- your account --------------------------------------------------------------------------


def test_account_page_needs_a_session(client, world):
    response = client.get(ACCOUNT)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_account_page_shows_roles_and_security_links(client, world):
    client.force_login(world.coordinator_a)
    page = client.get(ACCOUNT)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Budapest 24/7 Network" in content
    assert "National coordinator" in content
    assert reverse("mfa_index") in content
    assert reverse("account_change_password") in content


def test_token_is_shown_once_and_never_in_a_url(client, world):
    client.force_login(world.officer_a)
    response = client.post(ACCOUNT, {"action": "token", "name": "export", "days": "30"})
    assert response.status_code == 200
    raw = response.context["new_token"]["raw"]
    assert raw.startswith("lz_")
    assert raw in response.content.decode()
    assert "Location" not in response
    token = ApiToken.objects.get(user=world.officer_a)
    assert token.name == "export"
    assert not token.can_write
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert services.authenticate_token(raw).pk == token.pk
    # Never again.
    assert raw not in client.get(ACCOUNT).content.decode()


@pytest.mark.parametrize("days", ["0", "366", "x", ""])
def test_token_form_rejects_bad_days(client, world, days):
    client.force_login(world.officer_a)
    response = client.post(ACCOUNT, {"action": "token", "days": days})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_token_revoke_from_the_page(client, world):
    token, raw = services.create_token(None, world.officer_a)
    url = reverse("accounts:token_revoke", args=[token.public_id])
    client.force_login(world.officer_b)
    assert client.post(url).status_code == 404  # someone else's token does not exist for you
    client.force_login(world.officer_a)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert services.authenticate_token(raw) is None


def test_profile_update_sets_the_language(client, world):
    client.force_login(world.officer_a)
    response = client.post(
        ACCOUNT, {"action": "profile", "full_name": "Jeanne Martin", "language": "fr"}
    )
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "fr"
    world.officer_a.refresh_from_db()
    assert world.officer_a.language == "fr"
    bad = client.post(ACCOUNT, {"action": "profile", "full_name": "x", "language": "xx"})
    assert bad.status_code == 400


# --- people --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("secretariat", 200),
        ("coordinator_a", 200),
        ("coordinator_b", 200),
        ("officer_a", 403),
        ("officer_b", 403),
        ("auditor", 403),
        ("outsider", 404),
    ],
)
def test_people_page_permissions(client, world, who, status):
    client.force_login(getattr(world, who))
    assert client.get(people_url()).status_code == status


def test_people_page_anonymous_and_unknown_network(client, world):
    assert client.get(people_url()).status_code == 302
    client.force_login(world.secretariat)
    assert client.get(people_url("nope")).status_code == 404


def test_coordinator_sees_only_its_own_members_people(client, world):
    client.force_login(world.coordinator_a)
    page = client.get(people_url())
    content = page.content.decode()
    assert world.officer_a.email in content
    assert world.officer_b.email not in content
    assert world.coordinator_b.email not in content
    assert world.secretariat.email not in content
    # The nav shows the People link to whoever may invite.
    assert f'href="{people_url()}"' in content


def test_secretariat_sees_everyone(client, world):
    client.force_login(world.secretariat)
    content = client.get(people_url()).content.decode()
    for user in (world.officer_a, world.officer_b, world.coordinator_b, world.auditor):
        assert user.email in content
    assert world.outsider.email not in content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "x@fr.example", "role": "secretariat", "member": ""}, "role"),
        ({"email": "x@fr.example", "role": "officer", "member": "B"}, "member"),
        ({"email": "not an address", "role": "officer", "member": "A"}, "email"),
    ],
)
def test_coordinator_invite_form_refuses_what_it_may_not_do(client, world, data, field):
    client.force_login(world.coordinator_a)
    members = {"A": world.member_a.public_id, "B": world.member_b.public_id, "": ""}
    data = {**data, "member": members[data["member"]]}
    response = client.post(people_url(), data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not AuditEvent.objects.filter(action="account.invitation.create").exists()


def test_invite_missing_member_is_explained(client, world):
    client.force_login(world.secretariat)
    response = client.post(people_url(), {"email": "x@de.example", "role": "officer"})
    assert response.status_code == 400
    assert "a member is required for role officer" in response.content.decode()


def test_role_revoke_from_the_page(client, world):
    ra_a = world.officer_a.role_assignments.get()
    ra_b = world.officer_b.role_assignments.get()
    client.force_login(world.coordinator_a)
    assert (
        client.post(reverse("accounts:role_revoke", args=["budapest", ra_b.public_id])).status_code
        == 404
    )
    response = client.post(reverse("accounts:role_revoke", args=["budapest", ra_a.public_id]))
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=ra_a.pk).exists()
    assert RoleAssignment.objects.filter(pk=ra_b.pk).exists()


def test_people_page_query_count_does_not_grow_with_people(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.secretariat)
    client.get(people_url())
    for n in range(30):
        user = UserFactory(email=f"extra{n}@fr.example", mfa=False)
        RoleAssignmentFactory(
            user=user, network=world.network, role="officer", member=world.member_a
        )
        services.invite(
            world.secretariat, world.network, f"inv{n}@fr.example", "officer", world.member_a
        )
    with django_assert_max_num_queries(12):
        assert client.get(people_url()).status_code == 200


# --- the strict Content-Security-Policy ----------------------------------------------------


class _InlineFinder(HTMLParser):
    """Collects what `script-src 'self'; style-src 'self'` would block."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs:
            self.problems.append(f"<{tag} style=…>")
        if any(name.startswith("on") for name in attrs):
            self.problems.append(f"<{tag} on…= handler>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            is_data = attrs.get("type") in {"application/json", "application/ld+json"}
            if "src" not in attrs and not is_data:
                self.problems.append("inline <script>")

    def handle_data(self, data):
        pass


def _csp_problems(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.problems


def _code():
    return format_hotp_value(hotp_value(TEST_TOTP_SECRET, int(time.time()) // 30))


def test_allauth_and_accounts_pages_need_no_inline_script_or_style(client, world):
    pages = {}
    pages["login"] = client.get("/accounts/login/")
    pages["password reset"] = client.get("/accounts/password/reset/")
    client.post("/accounts/login/", {"login": world.officer_a.email, "password": TEST_PASSWORD})
    pages["mfa authenticate"] = client.get("/accounts/2fa/authenticate/")
    client.post("/accounts/2fa/authenticate/", {"code": _code()})
    client.post("/accounts/reauthenticate/", {"password": TEST_PASSWORD})
    pages["mfa index"] = client.get("/accounts/2fa/")
    pages["webauthn add"] = client.get("/accounts/2fa/webauthn/add/")
    pages["recovery codes"] = client.get("/accounts/2fa/recovery-codes/generate/")
    pages["password change"] = client.get("/accounts/password/change/")
    pages["account"] = client.get(ACCOUNT)
    client.force_login(world.secretariat)
    pages["people"] = client.get(people_url())
    _inv, raw = services.invite(world.secretariat, world.network, "n@fr.example", "auditor")
    client.logout()
    client.get(reverse("accounts:invitation", args=[raw]))
    pages["invitation"] = client.get(reverse("accounts:invitation_accept"))
    newcomer = UserFactory(email="new@fr.example", mfa=False)
    client.post("/accounts/login/", {"login": newcomer.email, "password": TEST_PASSWORD})
    pages["totp activate"] = client.get("/accounts/2fa/totp/activate/")
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        assert _csp_problems(html) == [], name
        assert "script-src 'self'" in response["Content-Security-Policy"], name
        # Our layout, not allauth's bare one.
        assert "liaison/liaison.css" in html, name
    # The passkey scripts are static files plus a JSON data block.
    assert "mfa/js/webauthn.js" in pages["webauthn add"].content.decode()
    assert 'type="application/json"' in pages["webauthn add"].content.decode()
    assert "mfa/js/webauthn.js" in pages["login"].content.decode()
    # The sign-in page offers no sign-up (accounts come by invitation).
    assert "/accounts/signup/" not in pages["login"].content.decode()
