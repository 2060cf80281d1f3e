"""The only write path of the outbox: enqueue rows, lease them, send them, record the outcome.

A caller enqueues inside the transaction of its change (`enqueue_email`); nothing is sent until
that transaction commits. Workers lease due rows (`lease_batch`), send a batch over a few SMTP
connections at once (`send_batch`, `DELIVERY_CONNECTIONS`) and record each outcome as it comes
with a conditional UPDATE that only succeeds while the lease is still theirs; the batch's sends go
to the audit trail as one event per network. A worker that dies mid-send leaves rows in `sending`
whose lease expires; the next sweep takes them over, and writes the audit event the dead worker
owed (`audit_owed_sends`). Every message carries `Message-ID: <public_id@liaison>`, so the one
case that can duplicate a mail (the SMTP server accepted it, the worker died before recording
it: at most one message per connection) is recognisable downstream. See docs/adr/0004-outbox.md.

Bodies may hold a secret (an invitation's single-use link): nothing here logs a body or puts
one in an error, and recording a send blanks it (a check constraint holds that for every sent
row).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import queue
import random
import smtplib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core import sql
from liaison.core.errors import ServiceError
from liaison.core.ids import new_public_id
from liaison.core.permissions import NetworkAccess, Perm
from liaison.delivery import hooks
from liaison.delivery.models import Delivery, DeliveryChannel, DeliveryStatus

logger = logging.getLogger(__name__)

# Defaults; tests and deployments shrink or stretch them through settings.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
LEASE_SECONDS = 60
BATCH_SIZE = 200  # rows per lease (DELIVERY_BATCH_SIZE)
CONNECTIONS = 4  # SMTP connections a batch is sent over at once (DELIVERY_CONNECTIONS)
DRAIN_SECONDS = 30  # one deliver_due sends batches for at most this long
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
    wake_worker_after_commit()
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
        wake_worker_after_commit()
    return rows


def wake_worker_after_commit() -> None:
    """Wake a worker when the current transaction commits, once however many rows it queued.

    A transaction that queues 10,000 e-mails must enqueue one wake-up task, not 10,000 (each
    one a task row, and a worker's round to run it). A callback already registered for this
    transaction — and not dropped by a rolled-back savepoint — is enough.
    """
    pending = getattr(transaction.get_connection(), "run_on_commit", ())
    if any(entry[1] is _wake_worker for entry in pending):
        return
    transaction.on_commit(_wake_worker)


def _wake_worker() -> None:
    from liaison.delivery.tasks import wake_delivery_worker

    try:
        wake_delivery_worker.enqueue()
    except Exception:
        # The periodic sweep finds the row anyway: a lost wake-up costs seconds, not mail.
        logger.warning("could not enqueue the delivery wake-up task", exc_info=True)


def batch_size() -> int:
    """How many rows a worker leases and sends as one batch (`DELIVERY_BATCH_SIZE`)."""
    return max(1, int(_setting("DELIVERY_BATCH_SIZE", BATCH_SIZE)))


def lease_batch(
    owner: str, limit: int | None = None, lease_seconds: float | None = None
) -> list[Delivery]:
    """Claim the due rows for `owner` (at most `limit`, default `batch_size()`): pending ones
    whose time came, and expired leases.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so concurrent workers take
    disjoint batches. SQLite serialises writers (IMMEDIATE transactions), which makes the
    select-then-update below atomic there too.
    """
    if limit is None:
        limit = batch_size()
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
        # The network comes along: the audit events and the hooks need it for every row.
        rows = Delivery.objects.filter(id__in=ids).select_related("network")
        return list(rows.order_by("next_attempt_at", "id"))


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


@functools.cache
def _sent_update_sql() -> str:
    """The conditional UPDATE of `_record_sent`, written once: it runs once per message, and the
    ORM took three times as long to build it as the database to run it."""

    def column(name: str) -> str:
        return sql.column(Delivery, name)

    return (
        f"UPDATE {sql.table(Delivery)} SET {column('status')} = %s, "  # noqa: S608
        f"{column('sent_at')} = %s, {column('last_error')} = '', {column('body_text')} = '' "
        f"WHERE {column('id')} = %s AND {column('status')} = %s "
        f"AND {column('lease_owner')} = %s AND {column('lease_expires_at')} = %s"
    )  # identifiers from _meta, values as parameters


def _record_sent(delivery: Delivery) -> bool:
    """The one conditional UPDATE that records an accepted message; False if the lease was lost.

    The same statement as `_ours(delivery).update(...)`: keyed on the lease, and the body goes
    with the sending (an invitation link must not outlive it in the table). The lease's expiry
    stays on the row until the send is in the audit trail (`_audit_sends` clears it): a sent row
    that still has one is a send whose `delivery.sent` event is owed.
    """
    _check_transition(delivery.status, DeliveryStatus.SENT)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _sent_update_sql(),
            [
                DeliveryStatus.SENT.value,
                adapt(now),
                delivery.id,
                DeliveryStatus.SENDING.value,
                delivery.lease_owner,
                adapt(delivery.lease_expires_at),
            ],
        )
        updated = cursor.rowcount
    if not updated:
        logger.warning("delivery %s: lease lost before recording it sent", delivery.public_id)
        return False
    delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
    delivery.last_error, delivery.body_text = "", ""
    return True


def _audit_sends(deliveries: Iterable[Delivery], *, recovered: bool = False) -> int:
    """Write the owed `delivery.sent` events of `deliveries`: one per network, listing them.

    In the transaction that appends an event, its rows are claimed (those still owing one,
    locked on PostgreSQL; SQLite serialises writers) and released (`lease_expires_at` cleared),
    so every sent row is in exactly one event, even when the worker that sent it and a
    recovering one race. `recovered` marks events written for a worker that died before
    writing them (`audit_owed_sends`). Returns how many rows were audited.
    """
    groups: dict[int | None, list[Delivery]] = {}
    for delivery in deliveries:
        groups.setdefault(delivery.network_id, []).append(delivery)
    audited = 0
    for rows in groups.values():
        with transaction.atomic():
            owed = Delivery.objects.select_for_update().filter(
                id__in=[d.id for d in rows],
                status=DeliveryStatus.SENT,
                lease_expires_at__isnull=False,
            )
            ids = set(owed.values_list("id", flat=True))
            claimed = [d for d in rows if d.id in ids]
            if not claimed:
                continue
            Delivery.objects.filter(id__in=ids).update(lease_expires_at=None)
            details: dict[str, object] = {
                "count": len(claimed),
                "kinds": dict(sorted(Counter(d.kind for d in claimed).items())),
                "deliveries": [d.public_id for d in claimed],
            }
            if recovered:
                details["recovered"] = True
            # The object is the delivery when there is one; the ids are in the details anyway.
            record_event(
                None,
                "delivery.sent",
                obj=claimed[0] if len(claimed) == 1 else None,
                object_type=Delivery._meta.label_lower,
                network=claimed[0].network,
                details=details,
            )
        for delivery in claimed:
            delivery.lease_expires_at = None
        audited += len(claimed)
    return audited


def audit_owed_sends() -> int:
    """Write the `delivery.sent` events a worker owed when it died between a send and its batch's
    event (its sent rows kept their lease, which has expired since). Returns how many rows."""
    owed = list(
        Delivery.objects.filter(status=DeliveryStatus.SENT, lease_expires_at__lt=timezone.now())
        .select_related("network")
        .order_by("id")[:1000]
    )
    if not owed:
        return 0
    logger.warning("%d sent deliveries had no audit event yet: recording them now", len(owed))
    return _audit_sends(owed, recovered=True)


def mark_sent(delivery: Delivery) -> bool:
    """Record that the server accepted the message, with its audit event; False if the lease was
    lost meanwhile. For one message on its own: `send_batch` records each send with the bare
    UPDATE and writes one event for its batch."""
    with transaction.atomic():
        if not _record_sent(delivery):
            return False
        _audit_sends([delivery])
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
            hooks.on_dead(delivery)
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


def _breaks_connection(exc: Exception) -> bool:
    """Whether `exc` leaves the SMTP connection unusable (as opposed to refusing one message).

    A 421 reply at any step means the server is closing the channel (smtplib closes it too);
    socket errors, timeouts and `SMTPServerDisconnected` are OSErrors. Refusals of a recipient or
    of a message leave the connection ready for the next one (smtplib sends RSET).
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _reply in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False  # about this message (e.g. an address needing SMTPUTF8)
    return isinstance(exc, OSError)


class _Session:
    """One connection of the e-mail backend for a run of messages: opened on first use, closed at
    the end or when it broke (the next send then opens a new one). It touches no database, so a
    sending thread may own one."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.is_open = False

    def send(self, delivery: Delivery, headers: dict[str, str]) -> tuple[Exception | None, bool]:
        """Hand `delivery` to the server with the owning app's extra `headers`: (None, False) once
        accepted, else the error and whether the connection is broken (failing to connect always
        is, whatever the class: auth, HELO)."""
        try:
            if not self.is_open:
                self.backend.open()
                self.is_open = True
        except Exception as exc:
            return exc, True
        try:
            message = EmailMessage(
                subject=delivery.subject,
                body=delivery.body_text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[delivery.recipient],
                headers={**headers, "Message-ID": delivery.message_id},
                connection=self.backend,
            )
            self.backend.send_messages([message])
        except Exception as exc:
            return exc, _breaks_connection(exc)
        return None, False

    def close(self) -> None:
        self.is_open = False
        try:
            self.backend.close()
        except Exception:  # quitting a broken connection may fail: nothing is lost
            logger.debug("closing the SMTP connection failed", exc_info=True)


def _lease_deadline(batch: list[Delivery]) -> dt.datetime | None:
    """When this worker stops starting sends: the lease's end, less the time one send may take
    (`EMAIL_TIMEOUT`, at most half the lease). Past it another worker may take the rows over,
    and a message sent then could go out twice."""
    expiries = [d.lease_expires_at for d in batch if d.lease_expires_at is not None]
    if not expiries:
        return None
    lease = _setting("DELIVERY_LEASE_SECONDS", LEASE_SECONDS)
    margin = min(getattr(settings, "EMAIL_TIMEOUT", None) or 20, lease / 2)
    return min(expiries) - dt.timedelta(seconds=margin)


def _release(rows: list[Delivery]) -> None:
    """Give back leased rows this worker did not try: pending, due now, the attempt uncounted."""
    for (owner, expires), group in _by_lease(rows).items():
        released = Delivery.objects.filter(
            id__in=[d.id for d in group],
            status=DeliveryStatus.SENDING,
            lease_owner=owner,
            lease_expires_at=expires,
        ).update(
            status=DeliveryStatus.PENDING,
            lease_expires_at=None,
            next_attempt_at=timezone.now(),
            attempts=F("attempts") - 1,
        )
        logger.warning("lease running out: %d deliveries given back unsent", released)


def _by_lease(rows: list[Delivery]) -> dict[tuple[str, dt.datetime | None], list[Delivery]]:
    groups: dict[tuple[str, dt.datetime | None], list[Delivery]] = {}
    for row in rows:
        groups.setdefault((row.lease_owner, row.lease_expires_at), []).append(row)
    return groups


def _record_failure(delivery: Delivery, exc: Exception) -> None:
    logger.warning(
        "delivery %s attempt %d failed: %s",
        delivery.public_id,
        delivery.attempts,
        type(exc).__name__,
    )
    mark_failed(delivery, _describe(exc), permanent=is_permanent(exc))


def connection_count() -> int:
    """How many SMTP connections one batch is sent over at once (`DELIVERY_CONNECTIONS`)."""
    return max(1, int(_setting("DELIVERY_CONNECTIONS", CONNECTIONS)))


class _Outcome(NamedTuple):
    """What happened to rows of a batch, as the sending side reports it to the recording side.

    - "tried": one row, sent (`error` None) or refused (`error`);
    - "expired": one row whose leases kept expiring, not sent: to dead-letter;
    - "untried": the rest of a run, not sent because the lease runs short (or the batch stops);
    - "broken": the rest of a run, not sent because the connection broke twice (`error`);
    - "crashed": the rows a sending thread had not reported when it raised `error`.
    """

    what: Literal["tried", "expired", "untried", "broken", "crashed"]
    rows: list[Delivery]
    error: Exception | None = None


def _send_run(
    session: _Session,
    rows: list[Delivery],
    *,
    deadline: dt.datetime | None,
    headers: Callable[[Delivery], dict[str, str]],
    report: Callable[[_Outcome], None],
    stop: threading.Event | None = None,
) -> None:
    """Send `rows` one after another over `session`, reporting every row's outcome, in order.

    No database here: this runs in a sending thread when a batch uses several connections.
    Stops starting sends at `deadline` (or once `stop` is set) and when the connection broke
    twice, and reports the rest of the rows as such.
    """
    for index, delivery in enumerate(rows):
        if delivery.attempts > delivery.max_attempts:
            # Its leases kept expiring (a worker dying on it each time): stop trying.
            report(_Outcome("expired", [delivery]))
            continue
        if (stop is not None and stop.is_set()) or (
            deadline is not None and timezone.now() >= deadline
        ):
            report(_Outcome("untried", rows[index:]))
            return
        extra = headers(delivery)
        error, broken = session.send(delivery, extra)
        if broken:
            session.close()
            error, broken = session.send(delivery, extra)  # on a new connection, once
            if broken:
                session.close()
                report(_Outcome("broken", rows[index:], error))
                return
        report(_Outcome("tried", [delivery], error))


class _Recorder:
    """The recording side: writes each outcome as it comes, on the thread that owns the database
    connection, and remembers the sent rows (for the batch's audit events) and the untried ones
    (given back at the end)."""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.untried: list[Delivery] = []
        self.complete = True  # every row was tried

    def __call__(self, outcome: _Outcome) -> None:
        rows, error = outcome.rows, outcome.error
        if outcome.what == "tried":
            (delivery,) = rows
            if error is None:
                if _record_sent(delivery):
                    self.sent.append(delivery)
            else:
                _record_failure(delivery, error)
        elif outcome.what == "expired":
            (delivery,) = rows
            mark_failed(delivery, "lease expired on every attempt", permanent=True)
        elif outcome.what == "untried":
            self.complete = False
            self.untried.extend(rows)
        elif outcome.what == "broken":
            self.complete = False
            logger.warning(
                "SMTP connection failed twice (%s): %d deliveries rescheduled",
                type(error).__name__,
                len(rows),
            )
            reason = _describe(error) if error is not None else "connection lost"
            for row in rows:
                mark_failed(row, reason)
        else:  # "crashed": a bug on the sending side; its unreported rows are tried again later
            self.complete = False
            logger.error(
                "a sending thread failed: %d deliveries rescheduled", len(rows), exc_info=error
            )
            reason = type(error).__name__ if error is not None else "sending failed"
            for row in rows:
                mark_failed(row, reason)


_END = object()  # a sending thread's last word on the queue


def _sending_thread(
    rows: list[Delivery],
    *,
    deadline: dt.datetime | None,
    headers: dict[int, dict[str, str]],
    outcomes: queue.Queue,
    stop: threading.Event,
) -> None:
    """One connection's share of a batch, in its own thread: SMTP only, outcomes to the queue.

    After an accepted message it waits until the recording side has written it before starting
    the next send, so that a crash duplicates at most one message per connection. Whatever
    happens, the rows it has not reported are reported ("crashed"), its connection is closed and
    it says it is done.
    """
    session = _Session()
    reported = 0

    def report(outcome: _Outcome) -> None:
        nonlocal reported
        recorded = threading.Event() if outcome.what == "tried" and outcome.error is None else None
        outcomes.put((outcome, recorded))
        reported += len(outcome.rows)
        # The recording side sets it; `stop` means it has gone (the batch is being abandoned).
        while recorded is not None and not recorded.wait(0.05) and not stop.is_set():
            pass

    try:
        _send_run(
            session,
            rows,
            deadline=deadline,
            headers=lambda delivery: headers[delivery.id],
            report=report,
            stop=stop,
        )
    except Exception as exc:
        outcomes.put((_Outcome("crashed", rows[reported:], exc), None))
    finally:
        session.close()
        outcomes.put(_END)


def _send_concurrently(batch: list[Delivery], count: int, record: _Recorder) -> None:
    """Send `batch` over `count` connections at once: one thread per connection, each with every
    `count`-th row (so the oldest rows go first on every connection), doing SMTP only; this
    thread records their outcomes as they come, as `send_batch` does for one connection."""
    deadline = _lease_deadline(batch)
    # The apps' header hooks may read the database: run them here, not in the sending threads.
    headers = {delivery.id: hooks.extra_headers(delivery) for delivery in batch}
    outcomes: queue.Queue = queue.Queue()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_sending_thread,
            args=(batch[start::count],),
            kwargs={"deadline": deadline, "headers": headers, "outcomes": outcomes, "stop": stop},
            name=f"outbox-smtp-{start}",
            daemon=True,
        )
        for start in range(count)
    ]
    started: list[threading.Thread] = []
    try:
        for thread in threads:
            thread.start()
            started.append(thread)
        running = len(started)
        while running:
            item = outcomes.get()
            if item is _END:
                running -= 1
                continue
            outcome, recorded = item
            try:
                record(outcome)
            finally:
                if recorded is not None:
                    recorded.set()
    finally:
        # Normally every thread has ended; after an error here, they stop at their next send.
        stop.set()
        for thread in started:
            thread.join()
        if len(started) < len(threads) or not outcomes.empty():
            logger.warning(
                "a batch was abandoned: its unrecorded deliveries are taken over when their "
                "lease expires"
            )


def send_batch(batch: list[Delivery]) -> bool:
    """Send leased deliveries over up to `DELIVERY_CONNECTIONS` SMTP connections at once,
    recording each outcome as it comes.

    With one connection the messages go one after another. With K (at most one per row), the
    batch is dealt out round robin to K threads, one connection each, that only talk SMTP; the
    calling thread, which alone touches the database, records their outcomes as they arrive.
    Each accepted message is marked sent at once, with one conditional UPDATE, and a connection
    starts its next message only once that is written: a crash can duplicate at most the
    messages in flight, one per connection. The `delivery.sent` audit events (one per network,
    listing the rows) are written when the batch ends; a worker that dies first leaves them owed
    on the rows, and `audit_owed_sends` writes them. A refused message is recorded as failed
    (retried later, or dead) and its connection goes on. A broken connection is reopened once
    and the message tried again; if that fails too, the message and the rest of that
    connection's rows are recorded as failed attempts, to be retried after the backoff. Rows not
    tried before the lease runs short are given back unsent. Returns False when a connection
    stopped early for one of these two reasons, True when every row was tried.
    """
    count = min(connection_count(), len(batch))
    record = _Recorder()
    try:
        if count > 1:
            _send_concurrently(batch, count, record)
        else:
            session = _Session()
            try:
                _send_run(
                    session,
                    batch,
                    deadline=_lease_deadline(batch),
                    headers=hooks.extra_headers,
                    report=record,
                )
            finally:
                session.close()
        if record.untried:
            _release(record.untried)
    finally:
        # In the batch's order, whatever order the connections finished in.
        position = {delivery.id: index for index, delivery in enumerate(batch)}
        record.sent.sort(key=lambda delivery: position[delivery.id])
        try:
            _audit_sends(record.sent)
        except Exception:
            # The rows keep owing their event; the next sweep writes it (audit_owed_sends).
            logger.exception(
                "could not write the audit event of %d sent deliveries", len(record.sent)
            )
    return record.complete


def send_one(delivery: Delivery) -> str:
    """Send one leased delivery and record the outcome; returns the resulting status."""
    send_batch([delivery])
    return delivery.status


def deliver_due(owner: str | None = None, limit: int | None = None) -> int:
    """Send what is due, batch after batch: the periodic job and the wake-up task.

    First writes the audit events a dead worker owed (`audit_owed_sends`). Then leases a batch
    (`limit` rows, default `batch_size()`), sends it, and goes on while rows are due, for at most
    `DELIVERY_DRAIN_SECONDS` (the worker's other jobs get their turn; the next round resumes);
    a batch that lost the SMTP connection ends the round, as the server is likely down. Returns
    how many deliveries were handled (sent, rescheduled, dead-lettered or given back).
    """
    owner = owner or default_owner()
    audit_owed_sends()
    stop_at = time.monotonic() + _setting("DELIVERY_DRAIN_SECONDS", DRAIN_SECONDS)
    handled = 0
    while batch := lease_batch(owner, limit=limit):
        handled += len(batch)
        if not send_batch(batch) or time.monotonic() >= stop_at:
            break
    return handled


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
        wake_worker_after_commit()
    return row
