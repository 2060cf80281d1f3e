"""Sending a leased batch over one SMTP connection: reconnecting, refusals, the batch audit event,
owed events after a crash, and leases running short. Against a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import smtplib
import time

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.delivery import hooks, services
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, enqueue_email, lease_batch, send_batch
from tests.factories import NetworkFactory
from tests.smtp_server import SMTPTestServer, _free_port, _Handler

pytestmark = pytest.mark.django_db


class ScriptedHandler(_Handler):
    """Answers the n-th DATA (counted from 1, over all connections) as `server.script` says:
    "drop" closes the connection without an answer, "421" says the server is closing the
    channel, "451" refuses this message for now, a number of seconds stalls before accepting;
    addresses in `server.refused` are refused at RCPT."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self._server.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self._server.data_count += 1
        action = self._server.script.get(self._server.data_count)
        if action == "drop":
            server.transport.close()
            return "250 OK"  # never reaches the client
        if action in ("421", "451"):
            return f"{action} 4.3.0 Not now"
        if isinstance(action, int | float):
            await asyncio.sleep(action)
        return await super().handle_DATA(server, session, envelope)


class ScriptedSMTPServer(SMTPTestServer):
    def __init__(self) -> None:
        super().__init__()
        self.script: dict[int, object] = {}
        self.refused: set[str] = set()
        self.data_count = 0

    def start(self) -> None:
        self.port = _free_port()
        self._controller = Controller(ScriptedHandler(self), hostname=self.host, port=self.port)
        self._controller.start()


@pytest.fixture
def scripted(settings):
    with ScriptedSMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        settings.DELIVERY_RETRY_BASE_SECONDS = 30
        settings.DELIVERY_RETRY_CAP_SECONDS = 3600
        settings.DELIVERY_LEASE_SECONDS = 60
        yield server


class Connections(list):
    """The SMTP connections opened, in order; after `refuse_after` of them, connecting fails."""

    refuse_after: int | None = None


@pytest.fixture
def connections(monkeypatch):
    opened = Connections()
    real_connect = smtplib.SMTP.connect

    def connect(self, host="localhost", port=0, source_address=None):
        if opened.refuse_after is not None and len(opened) >= opened.refuse_after:
            raise ConnectionRefusedError
        opened.append((host, port))
        return real_connect(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    return opened


def queue(count: int, *, network=None, kind: str = "test.notice", prefix: str = "p"):
    with transaction.atomic():
        return [
            enqueue_email(
                to=f"{prefix}{i}@agency.example",
                subject=f"Notice {i}",
                body="Something changed; open Liaison to see it.",
                kind=kind,
                network=network,
            )
            for i in range(count)
        ]


def sent_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="delivery.sent").order_by("seq"))


def rows(deliveries) -> list[Delivery]:
    return [Delivery.objects.get(pk=d.pk) for d in deliveries]


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
