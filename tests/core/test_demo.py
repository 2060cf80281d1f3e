"""The demo data: the figures the Secretariats report, loaded once, through the real import."""

from __future__ import annotations

import io

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings

from liaison.accounts.models import User
from liaison.core import demo_data
from liaison.directory.models import ContactPoint
from liaison.networks.models import Member, Network, RoleAssignment
from liaison.reports.queries import network_stats

# PBKDF2 costs about a second per demo account; the tests check behaviour, not the hasher.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """`liaison demo --no-serve` once for the module, rolled back afterwards; its output."""
    out = io.StringIO()
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
    ):
        call_command("demo", "--no-serve", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def demo(loaded, db):
    return {n.slug: n for n in Network.objects.filter(slug__in=demo_data.DEMO_SLUGS)}


def test_budapest_figures_are_those_of_the_secretariat(demo):
    stats = network_stats(demo["budapest-247"])

    assert stats["members_with_contact_points"] == 76
    assert stats["members_with_multiple_contact_points"] == 12
    assert stats["contact_points"]["total"] == 90
    assert stats["contact_points"]["by_type"] == {
        "police": 65,
        "security_service": 3,
        "prosecution": 16,
        "ministry_of_justice": 4,
        "cybersecurity": 2,
        "other": 0,
    }
    assert stats["members"]["by_status"] == {"party": 76, "observer": 20, "non_party": 0}


def test_budapest_observers_have_no_contact_point_nor_the_directory(demo):
    network = demo["budapest-247"]
    observers = Member.objects.filter(network=network, status="observer")

    assert observers.count() == 20
    assert not ContactPoint.objects.filter(member__in=observers).exists()
    assert network.observers_see_directory is False


def test_ftf_figures(demo):
    stats = network_stats(demo["ftf-247"])

    assert stats["contact_points"]["total"] == 48
    assert stats["members_with_contact_points"] == 48
    assert stats["members"]["by_kind"] == {"state": 46, "organisation": 2}
    assert stats["members"]["by_status"] == {"party": 45, "observer": 2, "non_party": 1}
    organisations = Member.objects.filter(network=demo["ftf-247"], kind="organisation")
    assert sorted(organisations.values_list("code", flat=True)) == ["EU", "INTERPOL"]
    assert Member.objects.get(network=demo["ftf-247"], status="non_party").code == "US"


def test_budapest_has_two_editions_and_a_pending_change(demo):
    from liaison.directory import snapshots
    from liaison.directory.models import Edition

    network = demo["budapest-247"]
    editions = list(Edition.objects.filter(network=network).order_by("number"))
    assert [e.number for e in editions] == [1, 2]
    assert editions[1].changed_members == ["AL", "BJ"]
    latest = editions[1].document()
    pending = snapshots.changed_members(latest, snapshots.draft_document(network))
    assert pending == ["FR"]
    assert Edition.objects.filter(network=demo["ftf-247"]).count() == 1


def test_both_networks_are_marked_as_demo(demo):
    assert all(network.is_demo for network in demo.values())
    assert sorted(demo) == ["budapest-247", "ftf-247"]


def test_contact_points_keep_the_file_values(demo):
    row = next(r for r in demo_data.budapest_rows() if r["member_code"] == "FR")
    cp = ContactPoint.objects.filter(network=demo["budapest-247"], member__code="FR").first()

    assert cp.institution == row["institution"]
    assert cp.timezone == "Europe/Paris"
    assert "fr" in cp.language_list
    values = set(cp.channels.values_list("value", flat=True))
    assert {row["phone"], row["email"]} <= values


def test_loading_twice_adds_nothing(demo):
    counts = (
        Network.objects.count(),
        Member.objects.count(),
        ContactPoint.objects.count(),
        User.objects.count(),
        RoleAssignment.objects.count(),
    )

    assert demo_data.load_demo() is False

    assert counts == (
        Network.objects.count(),
        Member.objects.count(),
        ContactPoint.objects.count(),
        User.objects.count(),
        RoleAssignment.objects.count(),
    )


@pytest.mark.parametrize("account", demo_data.DEMO_ACCOUNTS, ids=lambda a: a.email)
def test_demo_accounts_can_sign_in_with_both_factors(demo, account):
    user = User.objects.get(email=account.email)

    assert user.check_password(demo_data.DEMO_PASSWORD)
    # The code computed from the printed secret passes the stored authenticator.
    code, _seconds = demo_data.current_totp_code(account.totp_secret)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert TOTP(authenticator).validate_code(code)
    assert len(demo_data.recovery_codes(account.email)) == 3
    held = set(
        RoleAssignment.objects.filter(user=user).values_list(
            "network__slug", "role", "member__code"
        )
    )
    assert held == set(account.roles)


def test_the_french_officer_holds_roles_in_both_networks(demo):
    slugs = RoleAssignment.objects.filter(user__email="officer@fr.example").values_list(
        "network__slug", flat=True
    )
    assert sorted(slugs) == ["budapest-247", "ftf-247"]


def test_demo_prints_the_accounts_on_every_start(loaded, demo):
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    again = out.getvalue()

    assert "Demo data loaded" in loaded
    assert "demo data already loaded" in again
    for output in (loaded, again):
        for account in demo_data.DEMO_ACCOUNTS:
            assert account.email in output
            assert account.totp_secret in output
            for code in demo_data.recovery_codes(account.email):
                assert code in output
        assert demo_data.DEMO_PASSWORD in output
        assert "liaison demo --totp EMAIL" in output


def test_rows_have_exactly_the_directory_columns():
    for row in demo_data.budapest_rows() + demo_data.ftf_rows():
        assert tuple(row) == demo_data.COLUMNS
        assert row["email"].endswith(".example")
        assert row["phone"].startswith("+")


def test_rows_are_deterministic():
    assert demo_data.budapest_rows() == demo_data.budapest_rows()
    assert demo_data.ftf_rows() == demo_data.ftf_rows()


def test_demo_totp_prints_the_current_code():
    account = demo_data.DEMO_ACCOUNTS[0]
    out = io.StringIO()

    call_command("demo", "--totp", account.email.upper(), stdout=out, stderr=io.StringIO())

    code = out.getvalue().strip()
    assert len(code) == 6
    assert code.isdigit()
    assert validate_totp_code(account.totp_secret, code)


def test_demo_totp_refuses_an_unknown_account():
    with pytest.raises(CommandError, match="not a demo account"):
        call_command("demo", "--totp", "someone@else.example")
