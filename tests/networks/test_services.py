"""Network and member services: validation messages, status history, authorisation, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.networks import services
from liaison.networks.models import Member, MemberStatusChange, Network
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def _today() -> dt.date:
    return timezone.localdate()


# --- create_network / update_network ---------------------------------------------------------


def test_create_network_records_an_event():
    network = services.create_network(
        None, "ftf-247", "24/7 Network on Foreign Terrorist Fighters", legal_basis="CETS No. 217"
    )
    assert network.slug == "ftf-247"
    assert network.legal_basis == "CETS No. 217"
    event = AuditEvent.objects.get(action="network.create")
    assert event.object_id == network.public_id
    assert event.network_slug == "ftf-247"
    assert event.actor_label == "system"


@pytest.mark.parametrize("slug", ["Bad Slug", "UPPER", "a", "trailing-", "-lead", "two--hyphens"])
def test_create_network_rejects_bad_slugs(slug):
    with pytest.raises(ServiceError, match="invalid slug") as info:
        services.create_network(None, slug, "Name")
    assert info.value.field == "slug"
    assert not Network.objects.exists()


def test_create_network_rejects_a_taken_slug():
    services.create_network(None, "budapest", "Budapest")
    with pytest.raises(ServiceError, match="a network with the slug 'budapest' already exists"):
        services.create_network(None, "budapest", "Again")
    assert Network.objects.count() == 1


def test_create_network_requires_a_name():
    with pytest.raises(ServiceError, match="name is required") as info:
        services.create_network(None, "budapest", "   ")
    assert info.value.field == "name"


def test_create_network_by_a_plain_user_is_refused():
    with pytest.raises(PermissionDenied):
        services.create_network(UserFactory(), "budapest", "Budapest")
    admin = UserFactory(is_superuser=True)
    assert services.create_network(admin, "budapest", "Budapest").slug == "budapest"


def test_update_network_by_secretariat(world):
    services.update_network(
        world.secretariat, world.network, observers_see_directory=False, name="Budapest 24/7"
    )
    world.network.refresh_from_db()
    assert world.network.observers_see_directory is False
    assert world.network.name == "Budapest 24/7"
    event = AuditEvent.objects.get(action="network.update")
    assert event.details["changes"]["observers_see_directory"] == {"from": True, "to": False}
    assert event.actor_id == world.secretariat.pk


def test_update_network_without_change_records_nothing(world):
    services.update_network(world.secretariat, world.network, name=world.network.name)
    assert not AuditEvent.objects.filter(action="network.update").exists()


@pytest.mark.parametrize("who", ["coordinator_a", "officer_a", "auditor", "outsider"])
def test_update_network_refused_to_others(world, who):
    with pytest.raises(PermissionDenied):
        services.update_network(getattr(world, who), world.network, name="Hijacked")
    world.network.refresh_from_db()
    assert world.network.name == "Budapest 24/7 Network"


def test_update_network_rejects_unknown_fields_and_empty_name(world):
    with pytest.raises(ServiceError, match="unknown network field 'slug'"):
        services.update_network(world.secretariat, world.network, slug="x")
    with pytest.raises(ServiceError, match="name is required"):
        services.update_network(world.secretariat, world.network, name="")


# --- add_member ------------------------------------------------------------------------------


def test_add_member_state_defaults_to_the_country_name(world):
    member = services.add_member(
        world.secretariat, world.network, code="bo", name="", kind="state", status="party"
    )
    assert member.code == "BO"
    assert member.name == "Bolivia"
    assert member.status_since == _today()
    [change] = member.status_changes.all()
    assert (change.status, change.effective_on, change.recorded_by) == (
        "party",
        _today(),
        world.secretariat,
    )
    event = AuditEvent.objects.get(action="member.create")
    assert event.object_id == member.public_id
    assert event.details["code"] == "BO"


def test_add_member_organisation(world):
    member = services.add_member(
        None,
        world.network,
        code="OAS_CICTE",
        name="OAS/CICTE",
        kind="organisation",
        status="observer",
        status_since=dt.date(2019, 10, 9),
    )
    assert (member.kind, member.status, member.status_since) == (
        "organisation",
        "observer",
        dt.date(2019, 10, 9),
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"code": "XX", "kind": "state"}, "code", "unknown country code 'XX'"),
        ({"code": "FRA", "kind": "state"}, "code", "unknown country code 'FRA'"),
        ({"code": "", "kind": "state"}, "code", "a member code is required"),
        ({"code": "E", "kind": "organisation"}, "code", "invalid organisation code 'E'"),
        ({"code": "OAS-CICTE", "kind": "organisation"}, "code", "invalid organisation code"),
        ({"code": "A" * 17, "kind": "organisation"}, "code", "invalid organisation code"),
        ({"code": "EU", "kind": "organisation", "name": ""}, "name", "name is required"),
        ({"code": "EU", "kind": "organisation", "name": "x" * 201}, "name", "too long"),
        ({"code": "FR", "kind": "country"}, "kind", "unknown kind 'country'"),
        ({"code": "FR", "kind": "state", "status": "member"}, "status", "unknown status 'member'"),
        ({"code": "DE", "kind": "state"}, "code", "the member 'DE' already exists"),
        (
            {"code": "PT", "kind": "state", "status_since": dt.date(2100, 1, 1)},
            "status_since",
            "more than a year in the future",
        ),
    ],
)
def test_add_member_validation(world, kwargs, field, message):
    params = {"name": "Name", "status": "party", **kwargs}
    before = Member.objects.count()
    with pytest.raises(ServiceError, match=message) as info:
        services.add_member(world.secretariat, world.network, **params)
    assert info.value.field == field
    assert Member.objects.count() == before
    assert not AuditEvent.objects.filter(action="member.create").exists()


@pytest.mark.parametrize("who", ["coordinator_a", "officer_a", "auditor", "outsider"])
def test_only_the_secretariat_adds_members(world, who):
    with pytest.raises(PermissionDenied):
        services.add_member(
            getattr(world, who), world.network, code="PT", name="", kind="state", status="party"
        )
    assert not Member.objects.filter(code="PT").exists()


def test_secretariat_of_another_network_cannot_add_members(world):
    from tests.factories import RoleAssignmentFactory

    other_secretariat = UserFactory()
    RoleAssignmentFactory(user=other_secretariat, network=world.other_network, role="secretariat")
    with pytest.raises(PermissionDenied):
        services.add_member(
            other_secretariat, world.network, code="PT", name="", kind="state", status="party"
        )


# --- update_member ---------------------------------------------------------------------------


def _member(world, **kwargs) -> Member:
    return services.add_member(
        world.secretariat,
        world.network,
        code="PT",
        name="",
        kind="state",
        status="observer",
        status_since=dt.date(2020, 1, 1),
        **kwargs,
    )


def test_status_change_appends_to_the_history(world):
    member = _member(world)
    services.update_member(
        world.secretariat, member, status="party", status_since=dt.date(2022, 5, 1), note="ratified"
    )
    services.update_member(world.secretariat, member, status="non_party")
    member.refresh_from_db()
    assert member.status == "non_party"
    assert member.status_since == _today()
    history = list(member.status_changes.values_list("status", "effective_on", "note"))
    assert history == [
        ("observer", dt.date(2020, 1, 1), "admitted to the network"),
        ("party", dt.date(2022, 5, 1), "ratified"),
        ("non_party", _today(), ""),
    ]
    events = AuditEvent.objects.filter(action="member.update").order_by("seq")
    assert [e.details["changes"]["status"]["to"] for e in events] == ["party", "non_party"]


def test_status_change_cannot_precede_the_previous_one(world):
    member = _member(world)
    with pytest.raises(ServiceError, match="before the previous status change") as info:
        services.update_member(
            world.secretariat, member, status="party", status_since=dt.date(2019, 12, 31)
        )
    assert info.value.field == "status_since"
    member.refresh_from_db()
    assert member.status == "observer"
    assert member.status_changes.count() == 1


def test_status_change_at_most_a_year_ahead(world):
    member = _member(world)
    soon = _today() + dt.timedelta(days=300)
    services.update_member(world.secretariat, member, status="party", status_since=soon)
    assert member.status_changes.last().effective_on == soon
    with pytest.raises(ServiceError, match="more than a year in the future"):
        services.update_member(
            world.secretariat,
            member,
            status="observer",
            status_since=_today() + dt.timedelta(days=400),
        )


def test_correcting_the_date_of_the_current_status(world):
    member = _member(world)
    services.update_member(world.secretariat, member, status_since=dt.date(2019, 6, 1))
    member.refresh_from_db()
    assert member.status_since == dt.date(2019, 6, 1)
    assert list(member.status_changes.values_list("status", "effective_on")) == [
        ("observer", dt.date(2019, 6, 1))
    ]


def test_rename_and_invalid_values(world):
    member = _member(world)
    services.update_member(world.secretariat, member, name="Portuguese Republic")
    member.refresh_from_db()
    assert member.name == "Portuguese Republic"
    with pytest.raises(ServiceError, match="name is required"):
        services.update_member(world.secretariat, member, name=" ")
    with pytest.raises(ServiceError, match="unknown status 'ally'"):
        services.update_member(world.secretariat, member, status="ally")


def test_update_member_without_change_records_nothing(world):
    member = _member(world)
    services.update_member(world.secretariat, member, name=member.name, status=member.status)
    assert not AuditEvent.objects.filter(action="member.update").exists()


@pytest.mark.parametrize("who", ["coordinator_a", "officer_a", "auditor", "outsider"])
def test_only_the_secretariat_updates_members(world, who):
    with pytest.raises(PermissionDenied):
        services.update_member(getattr(world, who), world.member_a, status="observer")
    world.member_a.refresh_from_db()
    assert world.member_a.status == "party"


# --- upsert_member ---------------------------------------------------------------------------


def test_upsert_creates_then_updates(world):
    member, created = services.upsert_member(
        world.secretariat, world.network, "pt", "", "state", "observer"
    )
    assert created is True
    assert (member.code, member.name, member.status) == ("PT", "Portugal", "observer")
    same, created = services.upsert_member(
        world.secretariat, world.network, "PT", "Portugal", "state", "party"
    )
    assert created is False
    assert same.pk == member.pk
    assert same.status == "party"
    assert list(same.status_changes.values_list("status", flat=True)) == ["observer", "party"]


def test_upsert_changes_kind_after_validating_the_code(world):
    with pytest.raises(ServiceError, match="unknown country code 'EU'"):
        services.upsert_member(world.secretariat, world.network, "EU", "EU", "state", "observer")
    MemberFactory(network=world.network, code="GB", name="UK", kind="organisation")
    member, created = services.upsert_member(
        world.secretariat, world.network, "GB", "United Kingdom", "state", "party"
    )
    assert not created
    member.refresh_from_db()
    assert (member.kind, member.name) == ("state", "United Kingdom")


def test_upsert_refused_to_a_coordinator(world):
    with pytest.raises(PermissionDenied):
        services.upsert_member(world.coordinator_a, world.network, "PT", "", "state", "party")


def test_upsert_with_a_cache_costs_no_query_for_unchanged_rows(world, django_assert_num_queries):
    from liaison.networks.queries import resolve_access

    access = resolve_access(world.secretariat, world.network)
    cache = services.load_members_by_code(world.network)
    services.upsert_member(
        world.secretariat, world.network, "PT", "", "state", "party", existing=cache, access=access
    )
    assert "PT" in cache
    with django_assert_num_queries(0):
        for _ in range(100):
            for code, name in (("FR", "France"), ("DE", "Germany"), ("PT", "Portugal")):
                _unused, created = services.upsert_member(
                    world.secretariat,
                    world.network,
                    code,
                    name,
                    "state",
                    "party",
                    existing=cache,
                    access=access,
                )
                assert not created
    assert MemberStatusChange.objects.filter(member__code="PT").count() == 1


def test_upsert_with_a_blank_name_keeps_the_existing_name(world):
    MemberFactory(network=world.network, code="KR", name="Korea")
    member, created = services.upsert_member(
        world.secretariat, world.network, "KR", "", "state", "party"
    )
    assert not created
    assert member.name == "Korea"
    new, created = services.upsert_member(
        world.secretariat, world.network, "KP", "", "state", "observer"
    )
    assert created
    assert new.name == "North Korea"
