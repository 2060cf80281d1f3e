"""Sending a batch over several SMTP connections at once (`DELIVERY_CONNECTIONS`): each message
once, the outcomes recorded by the calling thread only, refusals and broken connections confined
to their rows, the lease deadline, and a sending thread that fails. Against a real SMTP server on
loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import smtplib
import threading
import time
from collections import Counter

import pytest
from django.db.backends.signals import connection_created
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.delivery import hooks, services
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, lease_batch, send_batch
from tests.delivery.scripted import ScriptedHandler, ScriptedSMTPServer, queue, rows, sent_events
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def four_connections(settings):
    settings.DELIVERY_CONNECTIONS = 4


def sending_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("outbox-smtp-")]


def test_the_connections_are_a_setting(settings):
    assert services.connection_count() == 4
    settings.DELIVERY_CONNECTIONS = 0
    assert services.connection_count() == 1
    del settings.DELIVERY_CONNECTIONS
    assert services.connection_count() == services.CONNECTIONS


def test_a_batch_over_four_connections_sends_each_message_once(scripted, connections):
    database_threads: list[str] = []

    def opened(sender, connection, **kwargs):
        database_threads.append(threading.current_thread().name)

    first, second = NetworkFactory(), NetworkFactory()
    deliveries = queue(30, network=first) + queue(20, network=second, prefix="s")
    connection_created.connect(opened)
    try:
        assert deliver_due("w1") == 50
    finally:
        connection_created.disconnect(opened)
    received = scripted.wait_for(50)
    assert len(connections) == 4
    assert Counter(m.message["Message-ID"] for m in received) == {
        d.message_id: 1 for d in deliveries
    }
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(d.recipient for d in deliveries)
    for row in rows(deliveries):
        assert (row.status, row.attempts, row.body_text, row.lease_expires_at) == (
            DeliveryStatus.SENT,
            1,
            "",
            None,
        )
    # One event per network, listing its rows in the batch's order.
    events = {e.network_slug: e.details for e in sent_events()}
    assert events == {
        first.slug: {
            "count": 30,
            "kinds": {"test.notice": 30},
            "deliveries": [d.public_id for d in deliveries[:30]],
        },
        second.slug: {
            "count": 20,
            "kinds": {"test.notice": 20},
            "deliveries": [d.public_id for d in deliveries[30:]],
        },
    }
    # The sending threads never opened a database connection of their own, and are gone.
    assert not [name for name in database_threads if name.startswith("outbox-smtp-")]
    assert sending_threads() == []


def test_the_connections_send_at_the_same_time(scripted, connections):
    deliveries = queue(8)
    scripted.script = dict.fromkeys(range(1, 9), 0.4)  # every DATA takes 0.4 s
    started = time.monotonic()
    assert deliver_due("w1") == 8
    elapsed = time.monotonic() - started
    assert scripted.peak >= 2
    assert elapsed < 8 * 0.4  # one after another would take 3.2 s; four at once, about 0.8 s
    assert {r.status for r in rows(deliveries)} == {DeliveryStatus.SENT}
    assert len(connections) == 4


def test_no_more_connections_than_rows(scripted, connections):
    deliveries = queue(3)
    assert deliver_due("w1") == 3
    assert len(connections) == 3
    assert {r.status for r in rows(deliveries)} == {DeliveryStatus.SENT}
    (event,) = sent_events()
    assert event.details["deliveries"] == [d.public_id for d in deliveries]


def test_a_server_refusing_everything_for_now_reschedules_every_row(scripted, connections):
    scripted.fail_with = 451
    deliveries = queue(20)
    assert deliver_due("w1") == 20
    assert scripted.messages == []
    assert len(connections) == 4  # a refused message leaves its connection usable
    for row in rows(deliveries):
        assert (row.status, row.attempts, row.lease_expires_at) == (
            DeliveryStatus.PENDING,
            1,
            None,
        )
        assert row.last_error == "SMTPDataError 451: 4.3.0 Simulated failure"
        assert row.next_attempt_at > timezone.now() + dt.timedelta(seconds=10)
        assert row.body_text  # kept for the next attempt
    assert sent_events() == []
    assert not AuditEvent.objects.filter(action="delivery.dead").exists()


def test_a_refused_recipient_fails_only_its_row(scripted, connections, monkeypatch):
    dead_letters: list[str] = []
    monkeypatch.setattr(hooks, "on_dead", lambda delivery: dead_letters.append(delivery.public_id))
    deliveries = queue(12)
    refused = deliveries[5]
    scripted.refused = {refused.recipient}
    assert deliver_due("w1") == 12
    scripted.wait_for(11)
    assert len(connections) == 4
    for delivery, row in zip(deliveries, rows(deliveries), strict=True):
        expected = DeliveryStatus.DEAD if delivery == refused else DeliveryStatus.SENT
        assert row.status == expected
    assert dead_letters == [refused.public_id]
    (dead,) = AuditEvent.objects.filter(action="delivery.dead")
    assert dead.object_id == refused.public_id
    assert "550" in dead.details["error"]
    (sent,) = sent_events()
    assert sent.details["deliveries"] == [d.public_id for d in deliveries if d != refused]


def test_rows_not_started_before_the_lease_runs_short_are_given_back(scripted, settings):
    settings.EMAIL_TIMEOUT = 5  # the margin: one send may take that long
    deliveries = queue(8)
    scripted.script = dict.fromkeys(range(1, 9), 2.5)  # every DATA takes 2.5 s
    batch = lease_batch("w1")
    # The lease ends 6.5 s from now: 1.5 s to start sends, then 5 s for those in flight.
    soon = timezone.now() + dt.timedelta(seconds=6.5)
    Delivery.objects.update(lease_expires_at=soon)
    for delivery in batch:
        delivery.lease_expires_at = soon
    started = time.monotonic()
    assert send_batch(batch) is False
    assert time.monotonic() - started < 5
    # Each connection sent its first row (round robin: the four oldest), then stopped.
    assert [r.status for r in rows(deliveries)] == [DeliveryStatus.SENT] * 4 + [
        DeliveryStatus.PENDING
    ] * 4
    for row in rows(deliveries[4:]):
        assert (row.attempts, row.lease_expires_at) == (0, None)
        assert row.next_attempt_at <= timezone.now()
    assert len(scripted.messages) == 4
    (event,) = sent_events()
    assert event.details["deliveries"] == [d.public_id for d in deliveries[:4]]
    # Another round sends them.
    scripted.script = {}
    assert deliver_due("w2") == 4
    scripted.wait_for(8)


class DroppingHandler(ScriptedHandler):
    """Drops the connection at the DATA of `server.drop_for`, once two connections are talking
    to the server (so that the other one is open before reconnecting is refused)."""

    async def handle_DATA(self, server, session, envelope):
        scripted = self._server
        if scripted.drop_for in envelope.rcpt_tos:
            while len(scripted.sessions) < 2:
                await asyncio.sleep(0.01)
            scripted.dropped.set()
            server.transport.close()
            return "250 OK"  # never reaches the client
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self._server.sessions.add(id(session))
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class DroppingSMTPServer(ScriptedSMTPServer):
    handler_class = DroppingHandler

    def __init__(self) -> None:
        super().__init__()
        self.drop_for = ""
        self.sessions: set[int] = set()
        self.dropped = threading.Event()


def test_a_connection_broken_twice_fails_only_its_own_rows(settings, monkeypatch):
    settings.DELIVERY_CONNECTIONS = 2
    with DroppingSMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_TIMEOUT = 5
        real_connect = smtplib.SMTP.connect

        def connect(self, *args, **kwargs):
            if server.dropped.is_set():
                raise ConnectionRefusedError  # the server is gone once it dropped one
            return real_connect(self, *args, **kwargs)

        monkeypatch.setattr(smtplib.SMTP, "connect", connect)
        deliveries = queue(6)
        # Round robin: the first connection has rows 0, 2 and 4; it breaks at row 2.
        server.drop_for = deliveries[2].recipient
        batch = lease_batch("w1")
        assert send_batch(batch) is False
        received = server.wait_for(4)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        deliveries[i].recipient for i in (0, 1, 3, 5)
    )
    statuses = [r.status for r in rows(deliveries)]
    assert (
        statuses
        == [DeliveryStatus.SENT, DeliveryStatus.SENT]
        + [
            DeliveryStatus.PENDING,
            DeliveryStatus.SENT,
        ]
        * 2
    )
    for row in rows([deliveries[2], deliveries[4]]):
        assert (row.attempts, row.last_error) == (1, "ConnectionRefusedError")
        assert row.next_attempt_at > timezone.now() + dt.timedelta(seconds=10)
    (event,) = sent_events()
    assert event.details["deliveries"] == [deliveries[i].public_id for i in (0, 1, 3, 5)]


def test_a_sending_thread_that_fails_loses_no_row(scripted, monkeypatch, caplog):
    deliveries = queue(6)
    real_send, real_close = services._Session.send, services._Session.close
    closed: list[str] = []

    def send(session, delivery, headers):
        if delivery.recipient == deliveries[2].recipient:
            raise RuntimeError("a bug")
        return real_send(session, delivery, headers)

    def close(session):
        closed.append(threading.current_thread().name)
        real_close(session)

    monkeypatch.setattr(services._Session, "send", send)
    monkeypatch.setattr(services._Session, "close", close)
    batch = lease_batch("w1")
    assert send_batch(batch) is False
    # Round robin over four connections: the third has row 2 only, and failed on it.
    failed = rows([deliveries[2]])[0]
    assert (failed.status, failed.attempts, failed.last_error) == (
        DeliveryStatus.PENDING,
        1,
        "RuntimeError",
    )
    others = [d for d in deliveries if d != deliveries[2]]
    assert {r.status for r in rows(others)} == {DeliveryStatus.SENT}
    assert len(scripted.wait_for(5)) == 5
    (event,) = sent_events()
    assert event.details["deliveries"] == [d.public_id for d in others]
    assert "a sending thread failed" in caplog.text
    # Every thread closed its connection and is gone.
    assert sorted(closed) == [f"outbox-smtp-{i}" for i in range(4)]
    assert sending_threads() == []


def test_a_sending_thread_that_fails_mid_run_reports_the_rest(scripted, monkeypatch, settings):
    settings.DELIVERY_CONNECTIONS = 2
    deliveries = queue(6)  # the first connection has rows 0, 2 and 4
    real_send = services._Session.send

    def send(session, delivery, headers):
        if delivery.recipient == deliveries[2].recipient:
            raise RuntimeError("a bug")
        return real_send(session, delivery, headers)

    monkeypatch.setattr(services._Session, "send", send)
    assert send_batch(lease_batch("w1")) is False
    statuses = [r.status for r in rows(deliveries)]
    assert (
        statuses
        == [DeliveryStatus.SENT, DeliveryStatus.SENT]
        + [
            DeliveryStatus.PENDING,
            DeliveryStatus.SENT,
        ]
        * 2
    )
    for row in rows([deliveries[2], deliveries[4]]):
        assert (row.attempts, row.last_error) == (1, "RuntimeError")
    assert sending_threads() == []


def test_an_error_while_recording_stops_the_threads_and_propagates(scripted, monkeypatch):
    deliveries = queue(12)
    real_record = services._record_sent
    recorded: list[str] = []

    def record_sent(delivery):
        if len(recorded) == 2:
            raise RuntimeError("the database went away")
        recorded.append(delivery.public_id)
        return real_record(delivery)

    monkeypatch.setattr(services, "_record_sent", record_sent)
    with pytest.raises(RuntimeError, match="went away"):
        send_batch(lease_batch("w1"))
    assert sending_threads() == []
    # Each connection waits for its accepted message to be recorded before sending the next:
    # at most one accepted message per connection is not recorded.
    assert len(scripted.messages) <= len(recorded) + 4
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    assert sorted(sent.values_list("public_id", flat=True)) == sorted(recorded)
    # The recorded sends are in the trail; the rest keep their lease, to be taken over.
    (event,) = sent_events()
    assert sorted(event.details["deliveries"]) == sorted(recorded)
    assert Delivery.objects.filter(status=DeliveryStatus.SENDING).count() == 12 - 2
    assert len(deliveries) == 12


def test_a_row_whose_leases_keep_expiring_is_dead_lettered(scripted):
    deliveries = queue(6)
    Delivery.objects.filter(pk=deliveries[3].pk).update(attempts=8)
    batch = lease_batch("w1")  # attempts 9 > max_attempts 8
    assert send_batch(batch) is True
    statuses = [r.status for r in rows(deliveries)]
    assert statuses == [DeliveryStatus.SENT] * 3 + [DeliveryStatus.DEAD] + [DeliveryStatus.SENT] * 2
    assert len(scripted.wait_for(5)) == 5
    (dead,) = AuditEvent.objects.filter(action="delivery.dead")
    assert dead.details["error"] == "lease expired on every attempt"
