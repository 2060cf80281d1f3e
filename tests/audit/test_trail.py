"""Appending, checkpoints, immutability and verification of the audit trail."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import DatabaseError, connection, transaction

from liaison.audit import hashing
from liaison.audit.models import AppendOnlyError, AuditCheckpoint, AuditEvent, AuditHead
from liaison.audit.services import (
    checkpoint_text,
    create_checkpoint,
    record_event,
)
from liaison.audit.verification import parse_witness_line, verify_trail, witness_line
from liaison.core import keys
from liaison.core.context import Origin, origin
from tests.audit.helpers import append, rehash_everything, sql

pytestmark = pytest.mark.django_db


def test_append_and_verify(world):
    before = AuditEvent.objects.count()  # building the world may be audited already
    events = append(10, actor=world.auditor)
    n = before + 10
    assert [e.seq for e in events] == list(range(before, n))
    checkpoint = create_checkpoint()
    leaves = [bytes.fromhex(e.leaf_hash) for e in AuditEvent.objects.order_by("seq")]
    assert checkpoint.tree_size == n
    assert checkpoint.root_hash == hashing.merkle_root(leaves).hex()
    assert checkpoint.key_id == keys.key_id()
    assert keys.verify(
        checkpoint_text(n, checkpoint.root_hash, checkpoint.created_at),
        bytes.fromhex(checkpoint.signature),
    )

    result = verify_trail()
    assert result.ok, result.problem
    assert (result.events, result.checkpoints) == (n, 1)
    assert result.root_hash == checkpoint.root_hash
    assert result.summary().startswith(f"audit trail intact: {n} events, 1 checkpoints, root ")
    head = AuditHead.objects.get(pk=1)
    assert head.size == n
    assert head.chain_hash == events[-1].chain_hash


def test_event_fields_and_origin(world):
    with origin(Origin(via="web", ip="2001:DB8:0:0::1")):
        event = record_event(
            world.auditor,
            "directory.contact_point.view",
            obj=world.cp_a,
            network=world.network,
            details={"member": "FR", "when": dt.date(2024, 5, 1), "ratio": 1.0, "big": 1e20},
            justification="case 2024/17",
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_label == "dpo@coe.example"
    assert stored.object_type == "directory.contactpoint"
    assert stored.object_id == str(world.cp_a.public_id)
    assert stored.network_slug == "budapest"
    assert (stored.via, stored.ip) == ("web", "2001:db8::1")
    assert stored.details["when"] == "2024-05-01"
    assert verify_trail().ok


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("::ffff:198.51.100.7", "::ffff:198.51.100.7"),
        ("unknown", None),  # a forged X-Forwarded-For must not break the audited change
        ("", None),
    ],
)
def test_ip_addresses_round_trip(raw, stored):
    with origin(Origin(via="api", ip=raw)):
        event = record_event(None, "test.ip")
    assert AuditEvent.objects.get(pk=event.pk).ip == stored
    assert verify_trail().ok


def test_anonymous_and_system_actors(rf):
    from django.contrib.auth.models import AnonymousUser

    assert record_event(None, "test.system").actor_label == "system"
    assert record_event(AnonymousUser(), "test.anonymous").actor_label == "anonymous"
    with pytest.raises(ValueError, match="invalid audit action"):
        record_event(None, "")


def test_altered_field_is_detected_and_named():
    append(50)
    create_checkpoint()
    sql("UPDATE audit_auditevent SET actor_label = %s WHERE seq = %s", ["mallory@x.example", 41])
    result = verify_trail()
    assert not result.ok
    assert result.first_bad_seq == 41
    assert result.problem == "event 41 was altered (leaf hash mismatch)"
    assert result.summary() == (
        "audit trail BROKEN at event 41: event 41 was altered (leaf hash mismatch)"
    )


def test_altered_details_are_detected():
    append(5)
    sql("UPDATE audit_auditevent SET details = %s WHERE seq = 2", ['{"i": 2, "note": "forged"}'])
    result = verify_trail()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_deleted_event_is_detected():
    append(60)
    sql("DELETE FROM audit_auditevent WHERE seq = 41")
    result = verify_trail()
    assert not result.ok
    assert result.first_bad_seq == 41
    assert result.problem == "event 41 is missing"


def test_altered_event_with_rehash_is_caught_by_checkpoint(settings):
    append(300)
    create_checkpoint()  # size 300
    sql("UPDATE audit_auditevent SET action = %s WHERE seq = 7", ["test.innocent"])
    rehash_everything()
    result = verify_trail()
    assert not result.ok
    assert result.problem == (
        "checkpoint at size 300 does not match: events 0–299 were altered, reordered or removed"  # noqa: RUF001
    )
    assert result.first_bad_seq == 0


def test_reordering_is_caught_by_checkpoint():
    append(256)
    first = create_checkpoint()
    append(256)
    create_checkpoint()  # size 512
    # Swap events 300 and 400, then recompute every leaf, chain and the head consistently.
    sql("UPDATE audit_auditevent SET seq = -1 WHERE seq = 300")
    sql("UPDATE audit_auditevent SET seq = 300 WHERE seq = 400")
    sql("UPDATE audit_auditevent SET seq = 400 WHERE seq = -1")
    rehash_everything()
    result = verify_trail()
    assert not result.ok
    assert first.tree_size == 256
    assert result.first_bad_seq == 256
    assert result.problem == (
        "checkpoint at size 512 does not match: events 256–511 were altered, reordered or removed"  # noqa: RUF001
    )


def test_truncated_tail_is_detected_by_the_head():
    append(120)
    sql("DELETE FROM audit_auditevent WHERE seq >= 100")
    result = verify_trail()
    assert not result.ok
    assert result.problem == "the trail ends at event 99 but the head says 120"
    assert result.first_bad_seq == 100


def test_truncated_tail_with_head_rewritten_is_caught_by_checkpoint():
    append(120)
    create_checkpoint()  # size 120
    sql("DELETE FROM audit_auditevent WHERE seq >= 100")
    rehash_everything()  # head now says 100 and matches the chain
    result = verify_trail()
    assert not result.ok
    assert result.problem == "the trail ends at event 99 but a signed checkpoint covers 120 events"


def test_truncation_after_the_last_checkpoint_needs_a_witness():
    """The documented limit: with the head rewritten and the checkpoints beyond removed, only a
    checkpoint kept outside the database (a witness) still tells."""
    append(100)
    create_checkpoint()
    append(20)
    witness = witness_line(create_checkpoint())  # size 120, kept elsewhere
    sql("DELETE FROM audit_auditcheckpoint WHERE tree_size = 120")
    sql("DELETE FROM audit_auditevent WHERE seq >= 110")
    rehash_everything()
    assert verify_trail().ok  # undetectable from inside the database alone
    result = verify_trail(witnesses=[parse_witness_line(witness)])
    assert not result.ok
    assert result.problem == "the trail ends at event 109 but a signed witness covers 120 events"


def test_event_beyond_the_head_is_detected():
    events = append(5)
    # Put the head back to its state after event 3, consistently: event 4 is now unaccounted for.
    frontier = hashing.Frontier()
    for e in events[:4]:
        frontier.append(bytes.fromhex(e.leaf_hash))
    sql(
        "UPDATE audit_audithead SET size = 4, chain_hash = %s, frontier = %s WHERE id = 1",
        [events[3].chain_hash, json.dumps(frontier.to_hex())],
    )
    result = verify_trail()
    assert not result.ok
    assert result.problem == "event 4 lies beyond the head (size 4)"


def test_rewritten_head_is_detected():
    append(5)
    sql("UPDATE audit_audithead SET chain_hash = %s WHERE id = 1", ["ab" * 32])
    assert verify_trail().problem == "the head's chain hash does not match event 4"
    rehash_everything()
    sql("UPDATE audit_audithead SET frontier = %s WHERE id = 1", ['["' + "cd" * 32 + '"]'])
    # 5 = 0b101: two subtrees; a one-hash frontier does not even have the right shape.
    assert verify_trail().problem == "the head's Merkle frontier does not match the events"


def test_forged_checkpoint_signature_is_detected():
    append(20)
    cp = create_checkpoint()
    forged = bytearray(bytes.fromhex(cp.signature))
    forged[0] ^= 1
    sql("UPDATE audit_auditcheckpoint SET signature = %s WHERE id = %s", [forged.hex(), cp.pk])
    result = verify_trail()
    assert not result.ok
    assert result.problem == "checkpoint at size 20 has an invalid signature"


def test_checkpoint_signed_by_an_unknown_key_is_rejected():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    append(20)
    attacker = Ed25519PrivateKey.generate()
    created = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    frontier = hashing.Frontier.from_hex(20, AuditHead.objects.get(pk=1).frontier)
    root = frontier.root().hex()
    AuditCheckpoint(
        tree_size=20,
        root_hash=root,
        created_at=created,
        key_id=keys.key_id_of(attacker.public_key()),
        signature=attacker.sign(checkpoint_text(20, root, created)).hex(),
    ).save(force_insert=True)
    result = verify_trail()
    assert not result.ok
    assert result.problem == (
        f"checkpoint at size 20 is signed by an unknown key {keys.key_id_of(attacker.public_key())}"
    )


def test_orm_refuses_updates_and_deletes():
    event = append(1)[0]
    cp = create_checkpoint()
    event.action = "test.changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.save(force_insert=True)  # not a new row
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(seq=99)])
    with pytest.raises(AppendOnlyError):
        cp.delete()
    with pytest.raises(AppendOnlyError):
        AuditCheckpoint.objects.update(root_hash="0" * 64)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditcheckpoint SET root_hash = 'x'",
        "DELETE FROM audit_auditcheckpoint",
    ],
)
def test_database_triggers_refuse_raw_updates_and_deletes(statement):
    append(2)
    create_checkpoint()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 2


def test_rolled_back_transaction_leaves_no_event_and_no_hole():
    append(3)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():  # noqa: PT012 - the rollback is the point
        record_event(None, "test.doomed")
        raise Boom
    assert not AuditEvent.objects.filter(action="test.doomed").exists()
    assert AuditHead.objects.get(pk=1).size == 3
    event = record_event(None, "test.after")
    assert event.seq == 3
    assert verify_trail().ok


def test_checkpoint_after_commit_every_n(settings, django_capture_on_commit_callbacks):
    settings.AUDIT_CHECKPOINT_EVERY = 4
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        append(9)
    assert len(callbacks) == 2
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True)) == [4, 8]
    result = verify_trail()
    assert result.ok
    assert result.checkpoints == 2


def test_create_checkpoint_is_idempotent_and_empty_trail_has_none():
    assert create_checkpoint() is None
    append(3)
    assert create_checkpoint().pk == create_checkpoint().pk
    assert AuditCheckpoint.objects.count() == 1


def test_verify_streams_in_chunks():
    append(25)
    create_checkpoint()
    # Small chunks must give the same answer (and not load everything at once).
    assert verify_trail(chunk_size=3).ok


@pytest.mark.django_db(transaction=True)
def test_commit_and_rollback_for_real(settings):
    """With real commits: rollback leaves no hole, and only committed sizes get checkpoints.

    Also proves that flushing the database between transactional tests works with the
    append-only triggers in place.
    """
    settings.AUDIT_CHECKPOINT_EVERY = 4
    for i in range(3):
        with transaction.atomic():
            record_event(None, "test.kept", details={"i": i})
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        record_event(None, "test.doomed")  # would be the 4th: its checkpoint must not happen
        raise RuntimeError
    assert not AuditCheckpoint.objects.exists()
    for i in range(5):
        with transaction.atomic():
            record_event(None, "test.kept", details={"i": i})
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(8))
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True)) == [4, 8]
    assert verify_trail().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_stay_contiguous():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN; the race is PostgreSQL's")
    from django.db import connections

    errors = []

    def worker(n):
        try:
            for i in range(20):
                with transaction.atomic():
                    record_event(None, "test.concurrent", details={"worker": n, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEvent.objects.count() == 80
    create_checkpoint()
    result = verify_trail()
    assert result.ok, result.problem
