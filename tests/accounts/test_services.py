"""accounts.services: people, roles and personal API tokens (invitations: test_invitations.py)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from liaison.accounts import services
from liaison.accounts.models import ApiToken, User
from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.networks.models import RoleAssignment
from tests.factories import MemberFactory, NetworkFactory, UserFactory

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
GOOD_PASSWORD = "a long and unusual passphrase 7"

pytestmark = pytest.mark.django_db


def _actions() -> list[str]:
    return list(AuditEvent.objects.values_list("action", flat=True))


# --- create_user ---------------------------------------------------------------------------


def test_create_user_creates_account_address_role_and_totp(world):
    user = services.create_user(
        None,
        " New.Officer@FR.example ",
        network=world.network,
        role="officer",
        member=world.member_a,
        password=GOOD_PASSWORD,
        totp_secret=SECRET.lower(),
        full_name="Nouvel Officier",
    )
    user.refresh_from_db()
    assert user.email == "new.officer@fr.example"
    assert user.full_name == "Nouvel Officier"
    assert user.check_password(GOOD_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert address.verified
    assert address.primary
    assert address.email == user.email
    ra = RoleAssignment.objects.get(user=user)
    assert (ra.network, ra.role, ra.member) == (world.network, "officer", world.member_a)
    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    # The secret is stored encrypted, yet still validates codes.
    assert SECRET not in str(totp.data)
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    code = format_hotp_value(hotp_value(SECRET, int(timezone.now().timestamp()) // 30))
    assert TOTP(totp).validate_code(code)
    events = AuditEvent.objects.filter(object_id=user.public_id)
    assert set(events.values_list("action", flat=True)) == {
        "account.user.create",
        "account.mfa.totp.activate",
        "account.mfa.recovery_codes.activate",
    }
    assert Authenticator.objects.filter(user=user, type="recovery_codes").exists()
    assign = AuditEvent.objects.get(action="network.role.assign")
    assert assign.network_slug == "budapest"
    assert assign.details["member"] == "FR"
    for event in AuditEvent.objects.all():
        assert GOOD_PASSWORD not in str(event.details)
        assert SECRET not in str(event.details).upper()


def test_create_user_without_password_has_unusable_password(world):
    user = services.create_user(None, "dpo2@coe.example", network=world.network, role="auditor")
    assert not user.has_usable_password()
    assert not Authenticator.objects.filter(user=user).exists()


def test_create_user_reuses_existing_account_for_another_network(world):
    other = NetworkFactory(slug="ftf", name="FTF")
    services.create_user(None, world.officer_a.email, network=other, role="secretariat")
    assert User.objects.filter(email=world.officer_a.email).count() == 1
    assert set(world.officer_a.role_assignments.values_list("network__slug", flat=True)) == {
        "budapest",
        "ftf",
    }


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "invalid e-mail address 'not-an-address'"),
        ({"email": ""}, "email", "an e-mail address is required"),
        ({"role": "king"}, "role", "unknown role 'king'"),
        ({"role": "officer", "member": None}, "member", "a member is required for role officer"),
        ({"role": "coordinator", "member": None}, "member", "required for role coordinator"),
        ({"role": "secretariat", "member": "A"}, "member", "acts for the whole network"),
        ({"password": "short"}, "password", "too short"),
        ({"totp_secret": "ABC"}, "totp_secret", "at least 16"),
        ({"totp_secret": "1111111111111111"}, "totp_secret", "not valid base32"),
    ],
)
def test_create_user_rejects_bad_input(world, kwargs, field, message):
    args = {
        "email": "someone.new@fr.example",
        "role": "officer",
        "member": world.member_a,
        "password": None,
        "totp_secret": None,
    }
    args.update(kwargs)
    if args["member"] == "A":
        args["member"] = world.member_a
    email = args.pop("email")
    before = (User.objects.count(), RoleAssignment.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ServiceError) as exc:
        services.create_user(None, email, network=world.network, **args)
    assert exc.value.field == field
    assert message in exc.value.message
    after = (User.objects.count(), RoleAssignment.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_create_user_member_of_another_network_is_refused(world):
    italy = world.outsider.role_assignments.get().member
    with pytest.raises(ServiceError, match="member 'IT' is not in network 'budapest'"):
        services.create_user(
            None, "x@it.example", network=world.network, role="officer", member=italy
        )


def test_create_user_same_role_twice_is_an_error_and_changes_nothing(world):
    with pytest.raises(ServiceError, match="already holds this role"):
        services.create_user(
            None,
            world.officer_a.email,
            network=world.network,
            role="officer",
            member=world.member_a,
        )
    assert world.officer_a.role_assignments.count() == 1


def test_create_user_existing_account_keeps_its_password_and_totp(world):
    with pytest.raises(ServiceError, match="password is changed by its owner"):
        services.create_user(
            None,
            world.officer_a.email,
            network=world.network,
            role="officer",
            member=world.member_b,
            password=GOOD_PASSWORD,
        )
    with pytest.raises(ServiceError, match="already has an authenticator app"):
        services.create_user(
            None,
            world.officer_a.email,
            network=world.network,
            role="officer",
            member=world.member_b,
            totp_secret=SECRET,
        )
    assert world.officer_a.role_assignments.count() == 1


def test_create_user_by_a_user_needs_the_right(world):
    # A coordinator creates officers of its own member only.
    services.create_user(
        world.coordinator_a,
        "new@fr.example",
        network=world.network,
        role="officer",
        member=world.member_a,
    )
    for role, member in [("officer", world.member_b), ("coordinator", world.member_a)]:
        with pytest.raises(PermissionDenied):
            services.create_user(
                world.coordinator_a,
                "other@fr.example",
                network=world.network,
                role=role,
                member=member,
            )
    with pytest.raises(PermissionDenied):
        services.create_user(
            world.officer_a,
            "x@fr.example",
            network=world.network,
            role="officer",
            member=world.member_a,
        )


# --- roles ---------------------------------------------------------------------------------


def test_assign_and_revoke_role_with_permissions(world):
    newcomer = UserFactory(email="newcomer@fr.example")
    ra = services.assign_role(
        world.coordinator_a, newcomer, network=world.network, role="officer", member=world.member_a
    )
    assert AuditEvent.objects.filter(action="network.role.assign", object_id=ra.public_id).exists()
    with pytest.raises(ServiceError, match="already holds this role"):
        services.assign_role(
            world.secretariat,
            newcomer,
            network=world.network,
            role="officer",
            member=world.member_a,
        )
    # Another member's coordinator, an officer, an outsider may not take it away.
    for actor in (world.coordinator_b, world.officer_a, world.outsider, world.auditor):
        with pytest.raises(PermissionDenied):
            services.revoke_role(actor, ra)
    services.revoke_role(world.coordinator_a, ra)
    assert not RoleAssignment.objects.filter(pk=ra.pk).exists()
    event = AuditEvent.objects.get(action="network.role.revoke")
    assert event.object_id == ra.public_id
    assert event.actor == world.coordinator_a


def test_coordinator_cannot_assign_roles_beyond_its_member(world):
    person = UserFactory()
    with pytest.raises(PermissionDenied):
        services.assign_role(
            world.coordinator_a,
            person,
            network=world.network,
            role="officer",
            member=world.member_b,
        )
    with pytest.raises(PermissionDenied):
        services.assign_role(world.coordinator_a, person, network=world.network, role="auditor")
    services.assign_role(world.secretariat, person, network=world.network, role="auditor")


def test_last_secretariat_role_cannot_be_revoked(world):
    ra = world.secretariat.role_assignments.get()
    with pytest.raises(ServiceError, match="last Secretariat"):
        services.revoke_role(world.secretariat, ra)
    second = services.create_user(
        None, "sec2@coe.example", network=world.network, role="secretariat"
    )
    services.revoke_role(second, ra)
    assert not RoleAssignment.objects.filter(pk=ra.pk).exists()


def test_update_profile(world):
    user = world.officer_a
    services.update_profile(user, user, full_name="Jeanne Martin", language="fr")
    user.refresh_from_db()
    assert (user.full_name, user.language) == ("Jeanne Martin", "fr")
    assert AuditEvent.objects.filter(action="account.profile.update", actor=user).exists()
    with pytest.raises(ServiceError, match="unknown language"):
        services.update_profile(user, user, full_name="x", language="de")
    with pytest.raises(PermissionDenied):
        services.update_profile(world.secretariat, user, full_name="x", language="en")


# --- API tokens ----------------------------------------------------------------------------


def test_create_token_stores_only_the_hash(world):
    token, raw = services.create_token(None, world.officer_a, days=30, name="export")
    assert raw.startswith("lz_")
    assert len(raw) > 40
    token.refresh_from_db()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:8]
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert raw not in stored
    assert not token.can_write
    assert abs(token.expires_at - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(
        minutes=1
    )
    event = AuditEvent.objects.get(action="account.token.create")
    assert event.object_id == token.public_id
    assert raw not in str(event.details)
    assert raw[3:] not in str(event.details)


@pytest.mark.parametrize("days", [0, -1, 366, 1000])
def test_create_token_days_out_of_range(world, days):
    with pytest.raises(ServiceError, match="between 1 and 365") as exc:
        services.create_token(None, world.officer_a, days=days)
    assert exc.value.field == "days"
    assert not ApiToken.objects.exists()


def test_create_token_only_for_oneself(world):
    with pytest.raises(PermissionDenied):
        services.create_token(world.secretariat, world.officer_a)
    token, _raw = services.create_token(world.officer_a, world.officer_a, can_write=True)
    assert token.can_write


def test_authenticate_token(world):
    token, raw = services.create_token(None, world.officer_a)
    found = services.authenticate_token(raw)
    assert found is not None
    assert found.pk == token.pk
    assert found.user == world.officer_a
    for bad in (None, "", "lz_", raw[:-1], raw + "x", "Bearer " + raw, raw.replace("lz_", "xx_")):
        assert services.authenticate_token(bad) is None


def test_authenticate_token_refreshes_last_used_at_at_most_once_a_minute(world):
    token, raw = services.create_token(None, world.officer_a)
    services.authenticate_token(raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    services.authenticate_token(raw)
    token.refresh_from_db()
    assert token.last_used_at == first  # no write within the minute
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    services.authenticate_token(raw)
    token.refresh_from_db()
    assert token.last_used_at > first - dt.timedelta(minutes=1)


def test_expired_revoked_and_disabled_tokens_are_refused(world):
    token, raw = services.create_token(None, world.officer_a)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.authenticate_token(raw) is None

    token, raw = services.create_token(None, world.officer_b)
    User.objects.filter(pk=world.officer_b.pk).update(is_active=False)
    assert services.authenticate_token(raw) is None

    token, raw = services.create_token(world.officer_a, world.officer_a)
    assert services.authenticate_token(raw) is not None
    with pytest.raises(PermissionDenied):
        services.revoke_token(world.secretariat, token)
    services.revoke_token(world.officer_a, token)
    assert services.authenticate_token(raw) is None
    assert AuditEvent.objects.filter(action="account.token.revoke", object_id=token.public_id)
    with pytest.raises(ServiceError, match="already been revoked"):
        services.revoke_token(world.officer_a, token)


def test_disabled_account_gets_no_token(world):
    User.objects.filter(pk=world.officer_a.pk).update(is_active=False)
    world.officer_a.refresh_from_db()
    with pytest.raises(ServiceError, match="disabled"):
        services.create_token(None, world.officer_a)


def test_member_factory_network_mismatch_guard(world):
    stray = MemberFactory(network=world.other_network, code="ES")
    with pytest.raises(ServiceError, match="not in network"):
        services.assign_role(
            None, world.officer_a, network=world.network, role="officer", member=stray
        )
