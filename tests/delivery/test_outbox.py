"""The outbox against a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import random
import smtplib
import types

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.core.management.commands.worker import PERIODIC_JOBS
from liaison.delivery import services
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import (
    deliver_due,
    enqueue_email,
    lease_batch,
    mark_failed,
    mark_sent,
    retry_delay,
)
from tests.factories import NetworkFactory


def enqueue(**overrides) -> Delivery:
    fields = {
        "to": "officer@example.org",
        "subject": "A change in your network",
        "body": "Something changed; open Liaison to see it.",
        "kind": "test.notice",
    }
    fields.update(overrides)
    with transaction.atomic():
        return enqueue_email(**fields)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def expire_lease(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


@pytest.mark.django_db
def test_rolled_back_transaction_enqueues_and_sends_nothing(
    mail, django_capture_on_commit_callbacks
):
    class Abort(Exception):
        pass

    def change_then_fail():
        with transaction.atomic():
            enqueue_email(to="a@example.org", subject="s", body="b", kind="test.notice")
            raise Abort

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort):
        change_then_fail()
    assert callbacks == []
    assert Delivery.objects.count() == 0
    assert deliver_due("w1") == 0
    assert mail.messages == []


@pytest.mark.django_db(transaction=True)
def test_committed_change_sends_exactly_one_mail_through_the_worker(mail):
    network = NetworkFactory()
    with transaction.atomic():
        delivery = enqueue_email(
            to="officer@example.org",
            subject="Edition published",
            body="A new edition is out.",
            kind="edition.published",
            network=network,
            obj=network,
        )
    # On commit, the wake-up task was queued; the worker runs it and the sweep.
    call_command("worker", "--until-idle", verbosity=0)
    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["officer@example.org"]
    assert received.message["Subject"] == "Edition published"
    assert received.message["Message-ID"] == f"<{delivery.public_id}@liaison>"
    assert "A new edition is out." in received.message.get_content()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    assert delivery.related_type == "networks.network"
    assert delivery.related_id == network.public_id
    assert delivery.body_text == ""  # blanked once sent
    (event,) = events("delivery.sent")
    assert event.object_id == delivery.public_id
    assert event.network_slug == network.slug
    # A second run finds nothing and sends nothing.
    call_command("worker", "--until-idle", verbosity=0)
    assert len(mail.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused(mail):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        enqueue_email(to="a@example.org", subject="s", body="b", kind="test.notice")
    assert Delivery.objects.count() == 0


@pytest.mark.django_db
def test_wake_up_failure_is_logged_and_the_sweep_still_sends(
    mail, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broken():
        raise ConnectionError("queue down")

    monkeypatch.setattr(
        "liaison.delivery.tasks.wake_delivery_worker", types.SimpleNamespace(enqueue=broken)
    )
    with django_capture_on_commit_callbacks(execute=True):
        delivery = enqueue()
    assert "could not enqueue" in caplog.text
    assert deliver_due("w1") == 1
    mail.wait_for(1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_server_down_then_up_retries_and_delivers_once(mail):
    delivery = enqueue()
    mail.fail_with = 451
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "451" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + dt.timedelta(seconds=10)
    # Not due yet: the sweep leaves it alone.
    assert deliver_due("w1") == 0

    mail.fail_with = None
    make_due(delivery)
    assert deliver_due("w1") == 1
    (received,) = mail.wait_for(1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert delivery.last_error == ""
    assert received.message["Message-ID"] == delivery.message_id
    assert len(events("delivery.sent")) == 1
    assert events("delivery.dead") == []
    make_due(delivery)
    assert deliver_due("w1") == 0
    assert len(mail.messages) == 1


@pytest.mark.django_db
def test_permanent_refusal_is_dead_at_once(mail):
    delivery = enqueue()
    mail.fail_with = 550
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == 1
    assert "550" in delivery.last_error
    (event,) = events("delivery.dead")
    assert event.object_id == delivery.public_id
    assert "550" in event.details["error"]
    make_due(delivery)
    mail.fail_with = None
    assert deliver_due("w1") == 0
    assert mail.messages == []


@pytest.mark.django_db
def test_max_attempts_dead_letters(mail):
    delivery = enqueue()
    Delivery.objects.filter(pk=delivery.pk).update(max_attempts=3)
    mail.fail_with = 451
    for attempt in (1, 2, 3):
        make_due(delivery)
        assert deliver_due("w1") == 1
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        expected = DeliveryStatus.DEAD if attempt == 3 else DeliveryStatus.PENDING
        assert delivery.status == expected
    assert len(events("delivery.dead")) == 1
    make_due(delivery)
    assert deliver_due("w1") == 0


@pytest.mark.django_db
def test_expired_lease_is_taken_over_by_another_worker(mail):
    delivery = enqueue()
    (leased,) = lease_batch("worker-a")
    assert leased.status == DeliveryStatus.SENDING
    assert leased.lease_owner == "worker-a"
    assert leased.attempts == 1
    # A live lease is not taken.
    assert lease_batch("worker-b") == []
    expire_lease(delivery)
    (taken,) = lease_batch("worker-b")
    assert taken.lease_owner == "worker-b"
    assert taken.attempts == 2


@pytest.mark.django_db
def test_stale_worker_cannot_overwrite_the_new_lease(mail):
    delivery = enqueue()
    (stale,) = lease_batch("worker-a")
    expire_lease(delivery)
    (fresh,) = lease_batch("worker-b")
    assert mark_sent(stale) is False
    assert mark_failed(stale, "late failure") is False
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING
    assert delivery.lease_owner == "worker-b"
    assert delivery.last_error == ""
    assert mark_sent(fresh) is True
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert len(events("delivery.sent")) == 1


@pytest.mark.django_db
def test_same_owner_releasing_its_own_expired_lease_invalidates_the_old_one(mail):
    delivery = enqueue()
    (old,) = lease_batch("worker-a")
    expire_lease(delivery)
    (new,) = lease_batch("worker-a")
    assert mark_sent(old) is False
    assert mark_sent(new) is True


@pytest.mark.django_db
def test_a_row_whose_leases_keep_expiring_is_dead_lettered(mail):
    delivery = enqueue()
    Delivery.objects.filter(pk=delivery.pk).update(max_attempts=2)
    for _ in range(2):
        lease_batch("crashing-worker")
        expire_lease(delivery)
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == 3
    assert mail.messages == []


@pytest.mark.django_db
def test_lease_batch_respects_the_limit_and_order(mail):
    first, second, third = enqueue(), enqueue(), enqueue()
    leased = lease_batch("w1", limit=2)
    assert [d.pk for d in leased] == [first.pk, second.pk]
    assert [d.pk for d in lease_batch("w2", limit=2)] == [third.pk]


@pytest.mark.django_db
def test_status_check_constraint():
    delivery = enqueue()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(status="lost")


@pytest.mark.django_db
def test_a_sent_row_cannot_keep_its_body():
    delivery = enqueue(body="Open https://liaison.example/invitations/secret/")
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(status="sent", sent_at=timezone.now())
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sent", sent_at=timezone.now(), body_text=""
    )


@pytest.mark.django_db
def test_bad_subjects_are_refused_when_enqueued_not_when_sent():
    for subject in ("", "two\nlines", "x" * 256):
        with pytest.raises(ValueError, match="one line"):
            enqueue(subject=subject)
    assert Delivery.objects.count() == 0


def test_transition_table():
    assert Delivery.TRANSITIONS[DeliveryStatus.SENT] == set()
    # Only "retry now" brings a dead row back, and only to pending (never straight to sending).
    assert Delivery.TRANSITIONS[DeliveryStatus.DEAD] == {DeliveryStatus.PENDING}
    assert Delivery.TRANSITIONS[DeliveryStatus.PENDING] == {DeliveryStatus.SENDING}
    with pytest.raises(ValueError, match="cannot go from dead to sending"):
        services._check_transition(DeliveryStatus.DEAD, DeliveryStatus.SENDING)
    with pytest.raises(ValueError, match="cannot go from pending to sent"):
        services._check_transition(DeliveryStatus.PENDING, DeliveryStatus.SENT)
    with pytest.raises(ValueError, match="cannot go from sent"):
        services._check_transition(DeliveryStatus.SENT, DeliveryStatus.PENDING)


class FixedRandom(random.Random):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        return self.value


def test_backoff_grows_and_is_capped(settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 30
    settings.DELIVERY_RETRY_CAP_SECONDS = 3600
    delays = [retry_delay(n, rng=FixedRandom(1.0)).total_seconds() for n in range(1, 12)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
    assert retry_delay(10_000, rng=FixedRandom(1.0)).total_seconds() == 3600


def test_backoff_jitter_stays_within_bounds(settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 30
    settings.DELIVERY_RETRY_CAP_SECONDS = 3600
    rng = random.Random(1234)
    for attempts in (1, 3, 20):
        nominal = min(3600, 30 * 2 ** (attempts - 1))
        samples = [retry_delay(attempts, rng=rng).total_seconds() for _ in range(500)]
        assert all(0.5 * nominal <= s <= 1.5 * nominal for s in samples)
        # Jitter actually spreads: both halves of the range are used.
        assert min(samples) < 0.6 * nominal
        assert max(samples) > 1.4 * nominal


def test_permanent_errors_are_recognised():
    assert services.is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not services.is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (451, b"later")}))
    assert services.is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not services.is_permanent(smtplib.SMTPDataError(451, b"later"))
    # A bad password is the operator's problem, not the address's: keep retrying.
    assert not services.is_permanent(smtplib.SMTPAuthenticationError(535, b"bad credentials"))
    assert not services.is_permanent(ConnectionRefusedError())


@pytest.mark.django_db
def test_connection_refused_is_retried(mail, settings):
    settings.EMAIL_PORT = 1  # nothing listens there
    delivery = enqueue()
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == "ConnectionRefusedError"


def test_the_worker_sweeps_the_outbox():
    (job,) = [job for job in PERIODIC_JOBS if job.name == "outbox"]
    assert job.resolve() is deliver_due
    assert job.every == 5.0
