"""Editions: drafts vs the published layer, numbering, immutability, notices, acknowledgements."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError

from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.delivery.models import Delivery
from liaison.directory import services
from liaison.directory.exporting import console_access, export_directory
from liaison.directory.importing import import_directory
from liaison.directory.models import ContactPoint, Edition, EditionAcknowledgement, Layer
from liaison.directory.queries import get_edition, visible_contact_points
from liaison.networks.queries import resolve_access
from tests.fixtures import publish

pytestmark = pytest.mark.django_db


def published(world, public_id):
    return ContactPoint.objects.get(public_id=public_id, layer=Layer.PUBLISHED)


def test_world_starts_at_edition_1_with_both_members(world):
    edition = Edition.objects.get(network=world.network)
    assert edition.number == 1
    assert edition.changed_members == ["DE", "FR"]
    assert edition.contact_point_count == 2
    doc = edition.document()
    assert [m["code"] for m in doc["members"]] == ["DE", "FR"]
    assert doc["members"][1]["contact_points"][0]["channels"] == [
        {"kind": "phone", "value": "+33123456789", "notes": ""},
        {"kind": "email", "value": "cyber@police.fr.example", "notes": ""},
    ]


def test_edits_change_drafts_only_until_published(world):
    access = resolve_access(world.coordinator_a, world.network)
    draft = services.update_contact_point(
        world.coordinator_a, access, world.cp_a, {"unit": "Night desk"}
    )
    assert draft.layer == Layer.DRAFT
    assert draft.public_id == world.cp_a.public_id
    assert published(world, world.cp_a.public_id).unit == "Cybercrime desk"
    officer = resolve_access(world.officer_b, world.network)
    assert {cp.unit for cp in visible_contact_points(officer)} == {"Cybercrime desk"}

    edition = publish(world.network, "France: night desk")
    assert (edition.number, edition.changed_members) == (2, ["FR"])
    assert published(world, world.cp_a.public_id).unit == "Night desk"
    assert get_edition(officer).number == 2
    # Channels and availability rows were copied with the contact point.
    assert [c.value for c in published(world, world.cp_a.public_id).channels.all()] == [
        "+33123456789",
        "cyber@police.fr.example",
    ]


def test_a_published_edition_never_changes(world):
    access = console_access(world.network)
    first = Edition.objects.get(number=1)
    before = (bytes(first.content), first.content_sha256, first.document())
    services.update_contact_point(None, access, world.cp_a, {"institution": "Changed"})
    services.delete_contact_point(None, access, world.cp_b)
    publish(world.network)
    again = Edition.objects.get(number=1)
    assert (bytes(again.content), again.content_sha256, again.document()) == before
    # The database refuses to rewrite or remove an edition, whatever the caller.
    with pytest.raises(DatabaseError), transaction.atomic():
        Edition.objects.filter(pk=first.pk).update(note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        Edition.objects.filter(pk=first.pk).delete()
    assert Edition.objects.get(pk=first.pk).note == first.note


def test_numbers_follow_each_other_and_one_edition_is_current(world):
    access = console_access(world.network)
    for n in range(2, 5):
        services.update_contact_point(None, access, world.cp_a, {"unit": f"Desk {n}"})
        assert publish(world.network).number == n
    assert list(Edition.objects.values_list("number", flat=True)) == [4, 3, 2, 1]
    assert get_edition(access).number == 4
    assert get_edition(access, 2).document()["members"][1]["contact_points"][0]["unit"] == "Desk 2"
    with pytest.raises(IntegrityError), transaction.atomic():
        Edition.objects.create(
            network=world.network,
            number=4,
            published_at=Edition.objects.get(number=4).published_at,
            content=b"",
            content_sha256="",
        )


def test_removed_and_added_contact_points(world):
    access = console_access(world.network)
    services.delete_contact_point(None, access, world.cp_b)
    # The removal is pending: readers still see it.
    assert published(world, world.cp_b.public_id)
    with pytest.raises(ServiceError, match="removed from the drafts"):
        services.update_contact_point(None, access, world.cp_b, {"unit": "x"})
    new = services.create_contact_point(
        None,
        access,
        world.member_b,
        {
            "type": "prosecution",
            "institution": "Generalbundesanwalt",
            "timezone": "Europe/Berlin",
            "languages": "de",
            "channels": [{"kind": "email", "value": "gba@de.example"}],
        },
    )
    edition = publish(world.network)
    assert edition.changed_members == ["DE"]
    ids = set(visible_contact_points(access).values_list("public_id", flat=True))
    assert ids == {world.cp_a.public_id, new.public_id}


def test_nothing_to_publish_says_so_and_changes_nothing(world):
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError, match="no pending change since edition 1"):
        publish(world.network)
    assert Edition.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_an_empty_directory_has_nothing_to_publish(world):
    with pytest.raises(ServiceError, match="no contact point yet"):
        publish(world.other_network)


def test_confirming_needs_no_edition(world):
    access = resolve_access(world.coordinator_a, world.network)
    services.confirm_contact_point(world.coordinator_a, access, world.cp_a)
    draft = ContactPoint.objects.get(public_id=world.cp_a.public_id, layer=Layer.DRAFT)
    pub = published(world, world.cp_a.public_id)
    assert draft.review_date == pub.review_date
    assert pub.last_confirmed_at is not None
    with pytest.raises(ServiceError, match="no pending change"):
        publish(world.network)


def test_reimporting_the_exported_edition_leaves_nothing_to_publish(world):
    csv = export_directory(None, None, world.network, "csv").content
    import_directory(None, world.network, io.BytesIO(csv))
    with pytest.raises(ServiceError, match="no pending change"):
        publish(world.network)
    # Same desks, same public ids: a real change shows up as an edit of that contact point.
    edited = csv.replace(b"Police nationale", b"Police nationale (OFAC)")
    import_directory(None, world.network, io.BytesIO(edited))
    assert publish(world.network).changed_members == ["FR"]


def test_only_the_secretariat_publishes(world):
    for user in (world.coordinator_a, world.officer_a, world.auditor):
        with pytest.raises(PermissionDenied):
            services.publish_edition(user, resolve_access(user, world.network))
    access = resolve_access(world.secretariat, world.network)
    services.update_contact_point(world.secretariat, access, world.cp_a, {"unit": "B"})
    edition = services.publish_edition(world.secretariat, access, "note")
    assert edition.published_by == world.secretariat
    event = AuditEvent.objects.filter(action="directory.publish").latest("seq")
    assert event.actor == world.secretariat
    assert event.details["number"] == 2
    assert event.details["changed_members"] == ["FR"]


def test_publication_notifies_coordinators_and_officers_without_content(world, settings):
    access = console_access(world.network)
    services.update_contact_point(None, access, world.cp_a, {"unit": "Secret desk name"})
    Delivery.objects.all().delete()
    edition = publish(world.network)
    rows = Delivery.objects.filter(kind="directory.edition.published")
    assert sorted(rows.values_list("recipient", flat=True)) == sorted(
        u.email
        for u in (world.coordinator_a, world.officer_a, world.coordinator_b, world.officer_b)
    )
    for row in rows:
        assert row.related_id == edition.public_id
        assert f"/networks/budapest/directory/editions/{edition.number}/" in row.body_text
        for secret in ("Secret desk name", "+33123456789", "cyber@police.fr.example", "FR"):
            assert secret not in row.body_text
            assert secret not in row.subject


def test_a_rolled_back_publication_leaves_no_edition_and_no_mail(world, monkeypatch):
    access = console_access(world.network)
    services.update_contact_point(None, access, world.cp_a, {"unit": "B"})
    Delivery.objects.all().delete()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "record_event", boom)
    with pytest.raises(RuntimeError):
        publish(world.network)
    assert Edition.objects.count() == 1
    assert not Delivery.objects.exists()
    assert published(world, world.cp_a.public_id).unit == "Cybercrime desk"


def test_acknowledgement_once_per_member_and_audited(world):
    edition = Edition.objects.get(number=1)
    access = resolve_access(world.officer_a, world.network)
    ack = services.acknowledge_edition(world.officer_a, access, edition)
    assert (ack.member, ack.acknowledged_by) == (world.member_a, world.officer_a)
    coordinator = resolve_access(world.coordinator_a, world.network)
    again = services.acknowledge_edition(world.coordinator_a, coordinator, edition)
    assert again.pk == ack.pk
    assert EditionAcknowledgement.objects.count() == 1
    assert AuditEvent.objects.filter(action="directory.edition.acknowledge").count() == 1
    with pytest.raises(PermissionDenied):
        services.acknowledge_edition(world.officer_a, access, edition, member=world.member_b)
    for user in (world.auditor, world.secretariat):
        with pytest.raises((PermissionDenied, ServiceError)):
            services.acknowledge_edition(user, resolve_access(user, world.network), edition)


def test_cli_publish_prints_the_number_and_refuses_an_empty_publication(world):
    services.update_contact_point(None, console_access(world.network), world.cp_a, {"unit": "C"})
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "directory", "publish", "--network", "budapest", "--note", "n", stdout=out, stderr=err
    )
    assert out.getvalue().strip() == "2"
    assert "1 member changed" in err.getvalue()
    with pytest.raises(CommandError, match="nothing to publish"):
        call_command("directory", "publish", "--network", "budapest", stdout=out, stderr=err)
    with pytest.raises(CommandError, match="unknown network"):
        call_command("directory", "publish", "--network", "nope", stdout=out, stderr=err)


def test_a_reimported_desk_keeps_its_id_when_its_unit_changes(world):
    csv = export_directory(None, None, world.network, "csv").content
    import_directory(None, world.network, io.BytesIO(csv.replace(b"Cybercrime desk", b"Night")))
    drafts = ContactPoint.objects.filter(layer=Layer.DRAFT)
    assert set(drafts.values_list("public_id", "unit")) == {
        (world.cp_a.public_id, "Night"),
        (world.cp_b.public_id, "Night"),
    }
    edition = publish(world.network)
    assert edition.changed_members == ["DE", "FR"]
    assert published(world, world.cp_a.public_id).unit == "Night"


def test_observers_people_are_not_notified_when_the_directory_is_for_parties(world):
    from tests.factories import MemberFactory, RoleAssignmentFactory, UserFactory

    observer = MemberFactory(network=world.network, code="JP", name="Japan", status="observer")
    watcher = UserFactory(email="officer@jp.example")
    RoleAssignmentFactory(user=watcher, network=world.network, role="officer", member=observer)
    for parties_only, expected in ((True, False), (False, True)):
        world.network.observers_see_directory = not parties_only
        world.network.save(update_fields=["observers_see_directory"])
        recipients = set(services.edition_recipients(world.network))
        assert (watcher in recipients) is expected
        assert world.officer_a in recipients
