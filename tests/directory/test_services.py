"""Directory services and queries: validation, permissions, audit, availability in SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied

from liaison.audit.models import AuditEvent
from liaison.directory import services
from liaison.directory.models import AvailabilityWindow, Channel, ContactPoint
from liaison.directory.queries import (
    DirectoryFilters,
    filter_contact_points,
    get_contact_point,
    visible_contact_points,
)
from liaison.directory.schemas import FieldErrors, validate_contact_point
from liaison.networks.queries import resolve_access
from tests.fixtures import publish

pytestmark = pytest.mark.django_db

VALID = {
    "type": "police",
    "institution": "Police nationale",
    "unit": "OFAC",
    "availability": "mon-fri 8:00-18:00",
    "timezone": "Europe/Paris",
    "languages": "FR, en",
    "channels": [
        {"kind": "phone", "value": "+33 1 40 97 80 00"},
        {"kind": "email", "value": "Desk@Police.FR.example"},
    ],
}


def test_validation_normalises_every_field():
    data = validate_contact_point(
        {**VALID, "channels": [{"kind": "phone", "value": "01 40 97 80 00"}, VALID["channels"][1]]},
        region="FR",
    )
    assert data.availability == "Mon-Fri 08:00-18:00"
    assert data.languages == "en,fr"
    assert data.channels[0].value == "+33140978000"
    assert data.channels[1].value == "Desk@police.fr.example"
    assert data.schedule.always is False


def test_validation_reports_every_problem_at_once():
    bad = {
        **VALID,
        "type": "army",
        "timezone": "Mars/Olympus",
        "languages": "xx",
        "channels": [{"kind": "phone", "value": "12"}],
        "colour": "red",
    }
    with pytest.raises(FieldErrors) as info:
        validate_contact_point(bad, region="FR")
    fields = [f for f, _ in info.value.errors]
    assert fields == ["colour", "type", "timezone", "languages", "channels[0].value"]
    messages = dict(info.value.errors)
    assert "army" in messages["type"]
    assert "Mars/Olympus" in messages["timezone"]


def test_coordinator_creates_for_own_member_only(world):
    access = resolve_access(world.coordinator_a, world.network)
    cp = services.create_contact_point(world.coordinator_a, access, world.member_a, VALID)
    assert cp.member == world.member_a
    assert list(Channel.objects.filter(contact_point=cp).values_list("kind", flat=True)) == [
        "phone",
        "email",
    ]
    assert AvailabilityWindow.objects.filter(contact_point=cp).count() == 5
    assert AuditEvent.objects.filter(
        action="directory.contact_point.create", object_id=cp.public_id
    ).exists()
    with pytest.raises(PermissionDenied):
        services.create_contact_point(world.coordinator_a, access, world.member_b, VALID)


def test_officer_cannot_edit(world):
    access = resolve_access(world.officer_a, world.network)
    with pytest.raises(PermissionDenied):
        services.update_contact_point(world.officer_a, access, world.cp_a, {"unit": "x"})


def test_update_is_partial_revalidated_and_audited(world):
    access = resolve_access(world.secretariat, world.network)
    before = AuditEvent.objects.count()
    cp = services.update_contact_point(
        world.secretariat, access, world.cp_b, {"availability": "Sat 22:00-06:00"}
    )
    assert cp.availability == "Sat 22:00-24:00; Sun 00:00-06:00"
    assert cp.institution == "Bundeskriminalamt"  # untouched fields kept
    assert cp.channels.count() == 1
    event = AuditEvent.objects.get(seq=before)
    assert event.action == "directory.contact_point.update"
    assert event.details["fields"] == ["availability"]


def test_invalid_update_writes_nothing(world):
    access = resolve_access(world.secretariat, world.network)
    events = AuditEvent.objects.count()
    with pytest.raises(FieldErrors):
        services.update_contact_point(
            world.secretariat, access, world.cp_a, {"channels": [{"kind": "email", "value": "no"}]}
        )
    world.cp_a.refresh_from_db()
    assert world.cp_a.channels.count() == 2
    assert AuditEvent.objects.count() == events


def test_observers_do_not_see_a_parties_only_directory(world):
    world.network.observers_see_directory = False
    world.network.save()
    world.member_b.status = "observer"
    world.member_b.save()
    assert not visible_contact_points(resolve_access(world.officer_b, world.network)).exists()
    assert visible_contact_points(resolve_access(world.officer_a, world.network)).count() == 2


def test_auditor_reads_no_directory(world):
    assert not visible_contact_points(resolve_access(world.auditor, world.network)).exists()


def test_get_contact_point_of_other_network_is_404(world):
    from django.http import Http404

    access = resolve_access(world.officer_a, world.other_network)
    with pytest.raises(Http404):
        get_contact_point(access, world.cp_a.public_id)


def _make(world, access, member, availability, tz, exceptions=""):
    return services.create_contact_point(
        world.secretariat,
        access,
        member,
        {
            **VALID,
            "availability": availability,
            "timezone": tz,
            "availability_exceptions": exceptions,
        },
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Monday 2026-11-23 09:30 UTC = 10:30 Paris, 20:30 Sydney (AEDT), 23:30 Kiritimati
        (datetime(2026, 11, 23, 9, 30, tzinfo=UTC), {"paris", "kiritimati", "always"}),
        # Sunday 2026-11-22 19:30 UTC = Monday 09:30 at Kiritimati (UTC+14), across the date line
        (datetime(2026, 11, 22, 19, 30, tzinfo=UTC), {"kiritimati-morning", "always"}),
        # Friday 2026-12-25 08:00 UTC = 09:00 Paris, closed on Christmas by exception;
        # 22:00 at Kiritimati, open
        (datetime(2026, 12, 25, 8, 0, tzinfo=UTC), {"kiritimati", "always"}),
        # Thursday 2026-12-31 08:30 UTC = 09:30 Paris, inside the exceptional morning opening
        (datetime(2026, 12, 31, 8, 30, tzinfo=UTC), {"paris", "kiritimati", "always"}),
        # 12:00 UTC = 13:00 Paris: the regular Thursday hours would be open, the exception is not;
        # 02:00 on New Year's Day at Kiritimati: closed
        (datetime(2026, 12, 31, 12, 0, tzinfo=UTC), {"always"}),
    ],
)
def test_available_at_in_sql_matches_local_schedules(world, at, expected):
    access = resolve_access(world.secretariat, world.network)
    ContactPoint.objects.all().delete()
    made = {
        "paris": _make(
            world,
            access,
            world.member_a,
            "Mon-Fri 09:00-18:00",
            "Europe/Paris",
            "2026-12-25 closed; 2026-12-31 09:00-12:00",
        ),
        "kiritimati": _make(
            world, access, world.member_b, "Mon-Sun 20:00-24:00", "Pacific/Kiritimati"
        ),
        "kiritimati-morning": _make(
            world, access, world.member_b, "Mon 09:00-10:00", "Pacific/Kiritimati"
        ),
        "always": _make(world, access, world.member_b, "24/7", "America/New_York"),
    }
    publish(world.network)
    names = {cp.public_id: name for name, cp in made.items()}
    qs = filter_contact_points(
        visible_contact_points(access), access, DirectoryFilters(available_at=at)
    )
    assert {names[cp.public_id] for cp in qs} == expected


def test_filters_member_type_language_and_text(world):
    access = resolve_access(world.officer_a, world.network)
    qs = visible_contact_points(access)
    assert list(filter_contact_points(qs, access, DirectoryFilters(member="de"))) == [world.cp_b]
    assert list(filter_contact_points(qs, access, DirectoryFilters(language="fr"))) == [world.cp_a]
    assert list(filter_contact_points(qs, access, DirectoryFilters(q="bundes"))) == [world.cp_b]
    assert not filter_contact_points(qs, access, DirectoryFilters(type="prosecution")).exists()
