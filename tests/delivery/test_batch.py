"""Sending a leased batch over one SMTP connection (`DELIVERY_CONNECTIONS=1`): reconnecting,
refusals, the batch audit event, owed events after a crash, and leases running short. Against a
real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.delivery import hooks, services
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, lease_batch, send_batch
from tests.delivery.scripted import queue, rows, sent_events
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_connection(settings):
    """These tests script the server by the order of its DATA commands, which one connection
    makes deterministic; several connections at once are tested in test_connections.py."""
    settings.DELIVERY_CONNECTIONS = 1


def test_a_batch_goes_over_one_connection_and_is_audited_once(scripted, connections):
    network = NetworkFactory()
    notices = queue(3, network=network, kind="test.notice")
    reminders = queue(2, network=network, kind="test.reminder", prefix="r")
    assert deliver_due("w1") == 5
    received = scripted.wait_for(5)
    assert len(connections) == 1
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        d.recipient for d in notices + reminders
    )
    assert {m.message["Message-ID"] for m in received} == {
        d.message_id for d in notices + reminders
    }
    for row in rows(notices + reminders):
        assert row.status == DeliveryStatus.SENT
        assert row.body_text == ""
        assert row.lease_expires_at is None  # released once audited
    (event,) = sent_events()
    assert event.actor_label == "system"
    assert event.network_slug == network.slug
    assert event.object_type == "delivery.delivery"
    assert event.object_id == ""  # several deliveries: their ids are in the details
    assert event.details == {
        "count": 5,
        "kinds": {"test.notice": 3, "test.reminder": 2},
        "deliveries": [d.public_id for d in notices + reminders],
    }


def test_one_event_per_network_in_a_batch(scripted):
    first, second = NetworkFactory(), NetworkFactory()
    queue(2, network=first)
    queue(1, network=second, prefix="s")
    queue(1, prefix="n")  # a system mail without a network
    assert deliver_due("w1") == 4
    counts = {e.network_slug: e.details["count"] for e in sent_events()}
    assert counts == {first.slug: 2, second.slug: 1, "": 1}


def test_the_batch_size_is_a_setting_and_a_call_drains_every_batch(scripted, connections, settings):
    settings.DELIVERY_BATCH_SIZE = 3
    assert services.batch_size() == 3
    deliveries = queue(7)
    assert len(lease_batch("probe", limit=None)) == 3
    Delivery.objects.update(
        status=DeliveryStatus.PENDING, lease_expires_at=None, attempts=0, lease_owner=""
    )
    assert deliver_due("w1") == 7
    scripted.wait_for(7)
    assert [e.details["count"] for e in sent_events()] == [3, 3, 1]
    assert len(connections) == 3  # one per batch
    assert {r.status for r in rows(deliveries)} == {DeliveryStatus.SENT}
    assert deliver_due("w1") == 0


@pytest.mark.parametrize("failure", ["drop", "421"])
def test_a_broken_connection_is_reopened_once_and_nothing_is_lost(scripted, connections, failure):
    deliveries = queue(5)
    scripted.script = {3: failure}  # the third message: the server goes away mid-DATA
    assert deliver_due("w1") == 5
    received = scripted.wait_for(5)
    assert len(connections) == 2
    # Each message exactly once: the third was not accepted, so it was sent again.
    assert sorted(m.message["Message-ID"] for m in received) == sorted(
        d.message_id for d in deliveries
    )
    for row in rows(deliveries):
        assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 1, "")
    (event,) = sent_events()
    assert event.details["count"] == 5


def test_when_reconnecting_fails_the_rest_of_the_batch_is_retried_later(
    scripted, connections, settings
):
    settings.DELIVERY_BATCH_SIZE = 5
    deliveries = queue(8)
    scripted.script = {3: "drop"}
    connections.refuse_after = 1  # the server is gone for good after the first one
    assert deliver_due("w1") == 5  # and the round stops there: the server is down
    assert len(scripted.messages) == 2
    batch, untouched = rows(deliveries[:5]), rows(deliveries[5:])
    assert [r.status for r in batch] == [DeliveryStatus.SENT] * 2 + [DeliveryStatus.PENDING] * 3
    for row in batch[2:]:
        assert row.attempts == 1
        assert row.last_error == "ConnectionRefusedError"
        assert row.next_attempt_at > timezone.now() + dt.timedelta(seconds=10)
        assert row.body_text  # kept for the next attempt
    assert [(r.status, r.attempts) for r in untouched] == [(DeliveryStatus.PENDING, 0)] * 3
    (event,) = sent_events()
    assert event.details["deliveries"] == [d.public_id for d in deliveries[:2]]
    assert not AuditEvent.objects.filter(action="delivery.dead").exists()


def test_a_refused_recipient_does_not_stop_the_batch(scripted, connections, monkeypatch):
    dead_letters: list[str] = []
    monkeypatch.setattr(hooks, "on_dead", lambda delivery: dead_letters.append(delivery.public_id))
    deliveries = queue(4)
    scripted.refused = {deliveries[1].recipient}
    assert deliver_due("w1") == 4
    scripted.wait_for(3)
    assert len(connections) == 1
    statuses = [r.status for r in rows(deliveries)]
    assert statuses == [
        DeliveryStatus.SENT,
        DeliveryStatus.DEAD,
        DeliveryStatus.SENT,
        DeliveryStatus.SENT,
    ]
    assert dead_letters == [deliveries[1].public_id]  # the owning app's hook was called
    (dead,) = AuditEvent.objects.filter(action="delivery.dead")
    assert dead.object_id == deliveries[1].public_id
    assert "550" in dead.details["error"]
    (sent,) = sent_events()
    assert sent.details["deliveries"] == [deliveries[i].public_id for i in (0, 2, 3)]


def test_a_temporary_refusal_is_retried_later_and_the_batch_goes_on(scripted, connections):
    deliveries = queue(3)
    scripted.script = {2: "451"}
    assert deliver_due("w1") == 3
    first, second, third = rows(deliveries)
    assert first.status == third.status == DeliveryStatus.SENT
    assert second.status == DeliveryStatus.PENDING
    assert second.last_error == "SMTPDataError 451: 4.3.0 Not now"
    assert second.next_attempt_at > timezone.now() + dt.timedelta(seconds=10)
    assert len(connections) == 1
    assert not AuditEvent.objects.filter(action="delivery.dead").exists()


def test_sends_recorded_but_not_yet_audited_are_audited_by_the_next_worker(scripted):
    """A worker that dies between its marks and its batch's audit event leaves the rows sent
    with their lease; once the lease has expired, the next sweep writes the event."""
    network = NetworkFactory()
    deliveries = queue(3, network=network)
    batch = lease_batch("dying-worker")
    for delivery in batch:
        assert services._record_sent(delivery)  # what send_batch does after each 250
    # ...and the worker dies here.
    assert sent_events() == []
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 3
    assert services.audit_owed_sends() == 0  # its lease is still live: it may yet write it
    Delivery.objects.update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert deliver_due("w2") == 0  # nothing to send again...
    (event,) = sent_events()  # ...but the owed event is written
    assert event.network_slug == network.slug
    assert event.details == {
        "count": 3,
        "kinds": {"test.notice": 3},
        "deliveries": [d.public_id for d in deliveries],
        "recovered": True,
    }
    assert not Delivery.objects.filter(lease_expires_at__isnull=False).exists()
    # The worker was only slow, not dead: its own event finds nothing left to claim.
    assert services._audit_sends(batch) == 0
    assert services.audit_owed_sends() == 0
    assert len(sent_events()) == 1
    assert scripted.messages == []


def test_rows_not_started_before_the_lease_runs_short_are_given_back(scripted, settings):
    settings.EMAIL_TIMEOUT = 5  # the margin: one send may take that long
    deliveries = queue(3)
    scripted.script = {1: 2.5}  # the first DATA takes 2.5 s
    batch = lease_batch("w1")
    # The lease ends 6.5 s from now: 1.5 s to start sends, then 5 s for the one in flight.
    soon = timezone.now() + dt.timedelta(seconds=6.5)
    Delivery.objects.update(lease_expires_at=soon)
    for delivery in batch:
        delivery.lease_expires_at = soon
    started = time.monotonic()
    assert send_batch(batch) is False
    assert time.monotonic() - started < 5
    first, *rest = rows(deliveries)
    assert first.status == DeliveryStatus.SENT
    for row in rest:
        assert (row.status, row.attempts, row.lease_expires_at) == (
            DeliveryStatus.PENDING,
            0,
            None,
        )
        assert row.next_attempt_at <= timezone.now()
    assert len(scripted.messages) == 1
    # Another round sends them.
    assert deliver_due("w2") == 2
    scripted.wait_for(3)


def test_send_one_and_mark_sent_on_their_own(scripted):
    (delivery,) = queue(1)
    (leased,) = lease_batch("w1")
    assert services.send_one(leased) == DeliveryStatus.SENT
    (event,) = sent_events()
    assert event.object_id == delivery.public_id  # one delivery: it is the event's object
    assert event.details["deliveries"] == [delivery.public_id]
    assert Delivery.objects.get(pk=delivery.pk).lease_expires_at is None
