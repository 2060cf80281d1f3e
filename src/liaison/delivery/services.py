"""The only write path of the outbox: enqueue rows, lease them, send them, record the outcome.

A caller enqueues inside the transaction of its change (`enqueue_email`); nothing is sent until
that transaction commits. Workers lease due rows (`lease_batch`), send each one (`send_one`) and
record the outcome with a conditional UPDATE that only succeeds while the lease is still theirs.
A worker that dies mid-send leaves a row in `sending` whose lease expires; the next sweep takes
it over. Every message carries `Message-ID: <public_id@liaison>`, so the one case that can
duplicate a mail (the SMTP server accepted it, the worker died before recording it) is
recognisable downstream. See docs/adr/0004-outbox.md.

Bodies may hold a secret (an invitation's single-use link): nothing here logs a body or puts
one in an error, and `mark_sent` blanks it (a check constraint holds that for every sent row).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import smtplib
import socket
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.ids import new_public_id
from liaison.core.permissions import NetworkAccess, Perm
from liaison.delivery.models import Delivery, DeliveryChannel, DeliveryStatus

logger = logging.getLogger(__name__)

# Defaults; tests and deployments shrink or stretch them through settings.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
LEASE_SECONDS = 60
BATCH_SIZE = 50
_ERROR_LENGTH = 200

# Jitter spreads retries after an outage; it protects nothing, so a plain PRNG is right.
_jitter_random = random.Random()  # noqa: S311


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


def default_owner() -> str:
    """This worker's name in `lease_owner`: host and process, enough to find it in the logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> dt.timedelta:
    """Backoff after the `attempts`-th failed attempt: base·2^(n-1), capped, times 0.5 to 1.5."""
    base = _setting("DELIVERY_RETRY_BASE_SECONDS", RETRY_BASE_SECONDS)
    cap = _setting("DELIVERY_RETRY_CAP_SECONDS", RETRY_CAP_SECONDS)
    exponent = max(attempts - 1, 0)
    # Compare before computing 2**n: a huge attempt count must not build a huge integer.
    raw = cap if exponent >= 64 else min(cap, base * 2**exponent)
    jitter = (rng or _jitter_random).uniform(0.5, 1.5)
    return dt.timedelta(seconds=raw * jitter)


def _check_transition(current: str, target: str) -> None:
    if target not in Delivery.TRANSITIONS[DeliveryStatus(current)]:
        raise ValueError(f"a delivery cannot go from {current} to {target}")


def _require_transaction(name: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            f"{name} must be called inside the transaction of the change it announces"
        )


def _new_delivery(
    *, to: str, subject: str, body: str, kind: str, network, obj: models.Model | None
) -> Delivery:
    """An unsaved outbox row. A bad subject is the caller's bug: refused here, not at send time
    (where it would be retried for hours and then dead-lettered)."""
    if not subject or len(subject) > 255 or "\n" in subject or "\r" in subject:
        raise ValueError("a delivery's subject must be one line of 1 to 255 characters")
    if not kind or len(kind) > 64:
        raise ValueError("a delivery's kind must be 1 to 64 characters")
    public_id = new_public_id("dl")
    return Delivery(
        public_id=public_id,
        channel=DeliveryChannel.EMAIL,
        recipient=to,
        subject=subject,
        body_text=body,
        kind=kind,
        network=network,
        related_type=obj._meta.label_lower if obj is not None else "",
        related_id=str(getattr(obj, "public_id", None) or obj.pk) if obj is not None else "",
        status=DeliveryStatus.PENDING,
        next_attempt_at=timezone.now(),
        message_id=f"<{public_id}@liaison>",
    )


def enqueue_email(
    *, to: str, subject: str, body: str, kind: str, network=None, obj: models.Model | None = None
) -> Delivery:
    """Write an e-mail to the outbox, in the caller's transaction; a worker sends it after commit.

    The body must hold no restricted directory content (contact details): say what happened
    and link to Liaison, where access is checked. It is never shown or logged, and is blanked
    once sent, so a single-use link (an invitation) may be in it.
    """
    _require_transaction("enqueue_email")
    delivery = _new_delivery(to=to, subject=subject, body=body, kind=kind, network=network, obj=obj)
    delivery.save(force_insert=True)
    transaction.on_commit(_wake_worker)
    return delivery


Text = str | Callable[[object], str]


def notify_people(
    *,
    users: Iterable,
    subject: Text,
    body: Text,
    kind: str,
    network=None,
    obj: models.Model | None = None,
) -> list[Delivery]:
    """Enqueue one e-mail per person, in the caller's transaction (publication notices, reminders).

    People who are inactive or have no address are skipped; a person listed twice (two roles)
    gets one mail. `subject` and `body` are strings, or functions of the user returning one —
    e.g. to render in the person's language with `translation.override(user.language)`. The
    rows are written with one bulk insert and the workers woken once after commit. Returns the
    rows written.
    """
    _require_transaction("notify_people")
    rows: list[Delivery] = []
    seen: set[str] = set()
    for user in users:
        address = (getattr(user, "email", "") or "").strip()
        if not address or not getattr(user, "is_active", False) or address.lower() in seen:
            continue
        seen.add(address.lower())
        rows.append(
            _new_delivery(
                to=address,
                subject=subject(user) if callable(subject) else subject,
                body=body(user) if callable(body) else body,
                kind=kind,
                network=network,
                obj=obj,
            )
        )
    if rows:
        Delivery.objects.bulk_create(rows, batch_size=500)
        transaction.on_commit(_wake_worker)
    return rows


def _wake_worker() -> None:
    from liaison.delivery.tasks import wake_delivery_worker

    try:
        wake_delivery_worker.enqueue()
    except Exception:
        # The periodic sweep finds the row anyway: a lost wake-up costs seconds, not mail.
        logger.warning("could not enqueue the delivery wake-up task", exc_info=True)


def lease_batch(
    owner: str, limit: int = BATCH_SIZE, lease_seconds: float | None = None
) -> list[Delivery]:
    """Claim the due rows for `owner`: pending ones whose time came, and expired leases.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so concurrent workers take
    disjoint batches. SQLite serialises writers (IMMEDIATE transactions), which makes the
    select-then-update below atomic there too.
    """
    if lease_seconds is None:
        lease_seconds = _setting("DELIVERY_LEASE_SECONDS", LEASE_SECONDS)
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, lease_expires_at__lt=now
    )
    with transaction.atomic():
        candidates = Delivery.objects.filter(due).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            status=DeliveryStatus.SENDING,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            attempts=F("attempts") + 1,
        )
        return list(Delivery.objects.filter(id__in=ids).order_by("next_attempt_at", "id"))


def _ours(delivery: Delivery):
    """The row, as long as the lease `delivery` was read with is still the current one.

    The expiry is part of the key: a re-lease sets a new one, even for the same owner.
    """
    return Delivery.objects.filter(
        id=delivery.id,
        status=DeliveryStatus.SENDING,
        lease_owner=delivery.lease_owner,
        lease_expires_at=delivery.lease_expires_at,
    )


def mark_sent(delivery: Delivery) -> bool:
    """Record that the server accepted the message; False if the lease was lost meanwhile."""
    _check_transition(delivery.status, DeliveryStatus.SENT)
    now = timezone.now()
    with transaction.atomic():
        # The body goes with the sending: an invitation link must not outlive it in the table.
        updated = _ours(delivery).update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            lease_expires_at=None,
            last_error="",
            body_text="",
        )
        if not updated:
            logger.warning("delivery %s: lease lost before recording it sent", delivery.public_id)
            return False
        delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
        delivery.lease_expires_at, delivery.last_error, delivery.body_text = None, "", ""
        record_event(
            None,
            "delivery.sent",
            obj=delivery,
            network=delivery.network,
            details={"kind": delivery.kind, "attempts": delivery.attempts},
        )
    return True


def mark_failed(delivery: Delivery, error: str, *, permanent: bool = False) -> bool:
    """Record a failed attempt: back to pending after a backoff, or dead.

    Dead when the failure is permanent (a refused address is a finding, not a hiccup) or the
    attempts are used up. False if the lease was lost meanwhile.
    """
    error = error[:_ERROR_LENGTH]
    now = timezone.now()
    dead = permanent or delivery.attempts >= delivery.max_attempts
    target = DeliveryStatus.DEAD if dead else DeliveryStatus.PENDING
    _check_transition(delivery.status, target)
    changes: dict[str, object] = {"status": target, "last_error": error, "lease_expires_at": None}
    if not dead:
        changes["next_attempt_at"] = now + retry_delay(delivery.attempts)
    with transaction.atomic():
        if not _ours(delivery).update(**changes):
            logger.warning("delivery %s: lease lost before recording a failure", delivery.public_id)
            return False
        for name, value in changes.items():
            setattr(delivery, name, value)
        if dead:
            record_event(
                None,
                "delivery.dead",
                obj=delivery,
                network=delivery.network,
                details={"kind": delivery.kind, "attempts": delivery.attempts, "error": error},
            )
    return True


def _describe(exc: Exception) -> str:
    """A short account of an error for `last_error`: class and SMTP code, never credentials."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"SMTPRecipientsRefused {codes}"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
        return f"{type(exc).__name__} {exc.smtp_code}: {reply}"
    return type(exc).__name__


def is_permanent(exc: Exception) -> bool:
    """A 5xx about the recipient or the message: retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def send_one(delivery: Delivery) -> str:
    """Send one leased delivery and record the outcome; returns the resulting status."""
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        headers={"Message-ID": delivery.message_id},
        connection=get_connection(fail_silently=False),
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        permanent = is_permanent(exc)
        logger.warning(
            "delivery %s attempt %d failed: %s",
            delivery.public_id,
            delivery.attempts,
            type(exc).__name__,
        )
        mark_failed(delivery, _describe(exc), permanent=permanent)
    else:
        mark_sent(delivery)
    return delivery.status


def deliver_due(owner: str | None = None, limit: int = BATCH_SIZE) -> int:
    """Lease the due deliveries and send them: the periodic job and the wake-up task.

    Returns how many deliveries were handled (sent, rescheduled or dead-lettered).
    """
    owner = owner or default_owner()
    batch = lease_batch(owner, limit=limit)
    for delivery in batch:
        if delivery.attempts > delivery.max_attempts:
            # Its leases kept expiring (a worker dying on it each time): stop trying.
            mark_failed(delivery, "lease expired on every attempt", permanent=True)
            continue
        send_one(delivery)
    return len(batch)


def retry_delivery(actor, access: NetworkAccess | None, delivery: Delivery) -> Delivery:
    """ "Retry now": a dead delivery goes back to pending, a waiting one becomes due at once.

    A dead row starts a fresh round of attempts (`attempts` back to 0, the full backoff again):
    whoever retries it has usually fixed the cause (the mail server, the address). Its
    `last_error` stays until the next outcome, so it shows as "failed, will retry" meanwhile.
    A pending row waiting for its next attempt keeps its attempts. Sent and sending rows are
    refused. `actor=None` (with `access=None`) is the command line.
    """
    if actor is not None and (
        access is None
        or not access.has(Perm.DELIVERIES_VIEW)
        or delivery.network_id != access.network.pk
    ):
        raise PermissionDenied(_("You may not retry this delivery."))
    now = timezone.now()
    with transaction.atomic():
        row = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("network")
            .filter(pk=delivery.pk)
            .first()
        )
        if row is None:
            raise ServiceError(_("this delivery no longer exists"), "delivery")
        previous = {"status": row.status, "attempts": row.attempts, "error": row.last_error}
        if row.status == DeliveryStatus.DEAD:
            _check_transition(row.status, DeliveryStatus.PENDING)
            changes: dict[str, object] = {
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "lease_owner": "",
                "lease_expires_at": None,
            }
        elif row.status == DeliveryStatus.PENDING and row.next_attempt_at > now:
            changes = {"next_attempt_at": now}
        elif row.status == DeliveryStatus.PENDING:
            raise ServiceError(
                _("this message is already due: a worker sends it within seconds"), "status"
            )
        elif row.status == DeliveryStatus.SENDING:
            raise ServiceError(_("this message is being sent right now"), "status")
        else:
            raise ServiceError(_("this message has already been delivered"), "status")
        # Conditional on the status read under the lock (SQLite has no row locks).
        if not Delivery.objects.filter(pk=row.pk, status=row.status).update(**changes):
            raise ServiceError(_("this delivery changed meanwhile: reload the page"), "status")
        for name, value in changes.items():
            setattr(row, name, value)
        record_event(
            actor,
            "delivery.retry",
            obj=row,
            network=row.network,
            details={"kind": row.kind, "previous": previous},
        )
        transaction.on_commit(_wake_worker)
    return row
