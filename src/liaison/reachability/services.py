"""The only write path of reachability tests: start, send, confirm, log calls, record failures."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core import sql
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.delivery.models import Delivery

# One bulk insert for a batch of probes (enqueue_email writes one row per call).
from liaison.delivery.services import _new_delivery, wake_worker_after_commit
from liaison.directory.models import Channel, ChannelKind, ContactPoint, ContactPointType, Layer
from liaison.networks.models import Member, Network
from liaison.reachability import tokens
from liaison.reachability.models import (
    ConfirmedVia,
    ManualOutcome,
    PingTest,
    PingTestStatus,
    Probe,
    ProbeChannel,
    ProbeStatus,
    Timing,
)

logger = logging.getLogger(__name__)

PROBE_KIND = "reachability.probe"  # the outbox kind of probe e-mails (delivery/kinds.py)
DEFAULT_DURATION = dt.timedelta(days=7)
NOTE_MAX_LENGTH = 2000


def _check_transition(probe: Probe, target: str) -> None:
    if target not in Probe.TRANSITIONS[ProbeStatus(probe.status)]:
        raise ServiceError(
            _("this probe is already %(status)s") % {"status": probe.get_status_display().lower()}
        )


def _choices(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    cleaned: list[str] = []
    unknown: list[str] = []
    for value in values:
        value = str(value).strip().lower()
        if not value:
            continue
        (cleaned if value in allowed else unknown).append(value)
    if unknown:
        raise ServiceError(
            _("unknown %(what)s: %(names)s (expected: %(allowed)s)")
            % {
                "what": what,
                "names": ", ".join(v[:30] for v in unknown),
                "allowed": ", ".join(allowed),
            },
            what,
        )
    return sorted(set(cleaned))


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ServiceError(_("%(name)s must carry a time zone") % {"name": name}, name)
    return value


def start_ping_test(
    actor,
    access: NetworkAccess,
    *,
    channels: Sequence[str],
    members: Sequence[str] = (),
    types: Sequence[str] = (),
    timing: str = Timing.NOW,
    starts_at: dt.datetime | None = None,
    window_ends_at: dt.datetime | None = None,
    off_hours: bool = False,
    reminder_after: dt.timedelta | None = None,
    escalate_after: dt.timedelta | None = None,
    ends_at: dt.datetime | None = None,
    note: str = "",
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> PingTest:
    """Create a ping test and one probe per published contact point it covers (nothing is sent
    here: the worker sends each probe when it is due, through the outbox)."""
    if not access.has(Perm.PINGTEST_MANAGE):
        raise PermissionDenied(_("Only the Secretariat starts ping tests."))
    now = now or timezone.now()
    network = access.network
    channels = _choices(channels, ProbeChannel.values, "channels")
    if not channels:
        raise ServiceError(_("choose at least one channel"), "channels")
    types = _choices(types, ContactPointType.values, "types")
    if timing not in Timing.values:
        raise ServiceError(_("unknown timing '%(t)s'") % {"t": str(timing)[:20]}, "timing")
    codes = sorted({str(c).strip().upper() for c in members if str(c).strip()})
    known = dict(Member.objects.filter(network=network, code__in=codes).values_list("code", "pk"))
    missing = [c for c in codes if c not in known]
    if missing:
        raise ServiceError(
            _("unknown members: %(codes)s") % {"codes": ", ".join(c[:20] for c in missing)},
            "members",
        )
    starts_at = _aware(starts_at, "starts_at") or now
    window_ends_at = _aware(window_ends_at, "window_ends_at")
    ends_at = _aware(ends_at, "ends_at")
    if timing == Timing.NOW:
        starts_at = now
    if timing == Timing.RANDOM:
        if window_ends_at is None or window_ends_at <= starts_at:
            raise ServiceError(_("a random window needs an end after its start"), "window_ends_at")
    elif off_hours:
        raise ServiceError(
            _("outside declared hours needs random times within a window"), "off_hours"
        )
    last_send: dt.datetime = (
        window_ends_at if timing == Timing.RANDOM and window_ends_at else starts_at
    )
    ends_at = ends_at or (last_send + DEFAULT_DURATION)
    if ends_at <= last_send:
        raise ServiceError(_("the test must end after its last probe is sent"), "ends_at")
    for name, value in (("reminder_after", reminder_after), ("escalate_after", escalate_after)):
        if value is not None and value <= dt.timedelta(0):
            raise ServiceError(_("%(name)s must be positive") % {"name": name}, name)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ServiceError(_("the note is too long"), "note")

    selected = ContactPoint.objects.filter(network=network, layer=Layer.PUBLISHED).select_related(
        "member"
    )
    if codes:
        selected = selected.filter(member_id__in=known.values())
    if types:
        selected = selected.filter(type__in=types)
    cps = list(selected.order_by("member__code", "position"))
    if not cps:
        raise ServiceError(_("no published contact point matches this selection"), "members")
    # Each desk's first e-mail address (channels are ordered by position): one plain query.
    emails: dict[int, str] = {}
    for cp_pk, address in (
        Channel.objects.filter(contact_point__in=selected, kind=ChannelKind.EMAIL)
        .order_by("contact_point_id", "position", "id")
        .values_list("contact_point_id", "value")
    ):
        emails.setdefault(cp_pk, address)

    from liaison.reachability.scheduling import plan_probe_times

    plan = plan_probe_times(
        [
            {
                "public_id": cp.public_id,
                "timezone": cp.timezone,
                "availability": cp.availability,
                "availability_exceptions": cp.availability_exceptions,
            }
            for cp in cps
        ],
        timing=timing,
        starts_at=starts_at,
        window_ends_at=window_ends_at,
        off_hours=off_hours,
        rng=rng or random.SystemRandom(),
    )
    with transaction.atomic():
        test = PingTest.objects.create(
            network=network,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
            channels=channels,
            in_app=ProbeChannel.APP in channels,
            members=codes,
            types=types,
            timing=timing,
            starts_at=starts_at,
            window_ends_at=window_ends_at if timing == Timing.RANDOM else None,
            off_hours=off_hours,
            reminder_after=reminder_after,
            escalate_after=escalate_after,
            ends_at=ends_at,
            status=PingTestStatus.RUNNING if starts_at <= now else PingTestStatus.SCHEDULED,
        )
        probes = []
        for cp in cps:
            when, in_hours = plan[cp.public_id]
            email = emails.get(cp.pk, "")
            _raw, digest = tokens.new_token()  # replaced when the probe is sent
            probes.append(
                Probe(
                    ping_test=test,
                    network=network,
                    member=cp.member,
                    contact_point_id=cp.public_id,
                    contact_point_type=cp.type,
                    institution=cp.institution,
                    unit=cp.unit,
                    timezone=cp.timezone,
                    email=email,
                    token_hash=digest,
                    scheduled_at=when,
                    in_hours=in_hours,
                    expires_at=ends_at,
                )
            )
        Probe.objects.bulk_create(probes, batch_size=1000)
        record_event(
            actor if getattr(actor, "is_authenticated", False) else None,
            "pingtest.start",
            obj=test,
            network=network,
            details={
                "channels": channels,
                "members": codes,
                "types": types,
                "timing": timing,
                "off_hours": off_hours,
                "probes": len(probes),
            },
        )
        if test.status == PingTestStatus.RUNNING:
            # Probes due now go out at once, not at the worker's next sweep.
            transaction.on_commit(_wake_probe_sender)
    return test


def _wake_probe_sender() -> None:
    from liaison.reachability.tasks import send_probes_now

    try:
        send_probes_now.enqueue()
    except Exception:
        # The periodic sweep (pingtest-send) sends them anyway: a lost wake-up costs seconds.
        logger.warning("could not enqueue the probe sending task", exc_info=True)


# --- sending ---------------------------------------------------------------------------------


def confirmation_url(raw: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}/p/{raw}/"


def probe_email(probe: Probe, raw: str) -> tuple[str, str]:
    """Subject and body of a probe e-mail: no directory content, a link and a reply marker."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Reachability test of the %(network)s [%(marker)s]") % {
            "network": probe.network.name,
            "marker": tokens.marker(raw),
        }
        body = _(
            "This is a reachability test of the %(network)s, sent to your contact point.\n\n"
            "Please confirm that you received it, either:\n"
            '- by opening this page and pressing "Confirm receipt":\n  %(url)s\n'
            "- or by replying to this message (keep the subject line).\n\n"
            "Opening the page alone does not confirm anything. The test ends on %(ends)s UTC.\n\n"
            "Reference: %(marker)s"
        ) % {
            "network": probe.network.name,
            "url": confirmation_url(raw),
            "ends": probe.expires_at.strftime("%Y-%m-%d %H:%M"),
            "marker": tokens.marker(raw),
        }
    return subject, body


SEND_DRAIN_SECONDS = 30  # one send_all_due_probes queues batches for at most this long


def send_all_due_probes(limit: int = 1000) -> int:
    """The worker's job (periodic, and woken when a test starts): queue every due probe, batch
    after batch, each in its own transaction, so that the outbox starts sending the first batch
    (another worker, or this one's next job) while the rest are queued. Stops after
    `PINGTEST_SEND_DRAIN_SECONDS`, so the worker's other jobs get their turn; the next round
    resumes. Returns how many probes were handled."""
    stop_at = time.monotonic() + float(
        getattr(settings, "PINGTEST_SEND_DRAIN_SECONDS", SEND_DRAIN_SECONDS)
    )
    handled = 0
    while batch := send_due_probes(limit=limit):
        handled += batch
        if time.monotonic() >= stop_at:
            break
    return handled


def send_due_probes(now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Periodic job: send the probes that are due, a batch per transaction.

    E-mail probes go to the outbox (a fresh token per probe, only its hash kept); app and manual
    probes just become 'sent' (shown in Liaison, or waiting for the Secretariat's call). A probe
    whose only channel is e-mail and whose contact point has no address fails at once: that is
    a finding. Rows are locked (SKIP LOCKED on PostgreSQL; SQLite writes one at a time), so
    several workers never send a probe twice. One audit event per test and batch.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Probe.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ProbeStatus.SCHEDULED, scheduled_at__lte=now)
            .select_related("ping_test", "network")
            .order_by("scheduled_at", "id")[:limit]
        )
        if not due:
            return 0
        deliveries: list[Delivery] = []
        sent: list[tuple[int, str, Delivery | None]] = []  # (probe id, token hash, its e-mail)
        failed: list[int] = []
        per_test: dict[int, dict[str, Any]] = {}
        with translation.override(settings.LANGUAGE_CODE):
            for probe in due:
                channels = set(probe.ping_test.channels)
                summary = per_test.setdefault(
                    probe.ping_test_id, {"test": probe.ping_test, "sent": [], "failed": []}
                )
                if channels == {ProbeChannel.EMAIL} and not probe.email:
                    failed.append(probe.pk)
                    summary["failed"].append(probe.public_id)
                    continue
                raw, digest = tokens.new_token()
                summary["sent"].append(probe.public_id)
                delivery = None
                if ProbeChannel.EMAIL in channels and probe.email:
                    subject, body = probe_email(probe, raw)
                    delivery = _new_delivery(
                        to=probe.email,
                        subject=subject,
                        body=body,
                        kind=PROBE_KIND,
                        network=probe.network,
                        obj=probe,
                    )
                    deliveries.append(delivery)
                sent.append((probe.pk, digest, delivery))
        Delivery.objects.bulk_create(deliveries, batch_size=500)
        _mark_sent(sent, failed, now)
        for summary in per_test.values():
            test = summary["test"]
            if test.status == PingTestStatus.SCHEDULED:
                PingTest.objects.filter(pk=test.pk, status=PingTestStatus.SCHEDULED).update(
                    status=PingTestStatus.RUNNING
                )
            record_event(
                None,
                "pingtest.probes_sent",
                obj=test,
                network=test.network,
                details={
                    "sent": len(summary["sent"]),
                    "failed_no_address": summary["failed"],
                    "probes": summary["sent"][:1000],
                },
            )
        if deliveries:
            wake_worker_after_commit()
    return len(due)


@functools.cache
def _send_sql(vendor: str) -> tuple[str, str, str]:
    """UPDATE statements of `_mark_sent`: the per-probe values come as a VALUES list, so a batch
    is one statement instead of one per probe (or bulk_update's CASE per column and row)."""
    probe = sql.table(Probe)

    def column(name: str) -> str:
        return sql.column(Probe, name)

    sent = (
        f"UPDATE {probe} SET {column('status')} = %s, {column('sent_at')} = %s, "  # noqa: S608
        f"{column('token_hash')} = v.column2, {column('delivery')} = v.column3 "
        f"FROM (VALUES {{rows}}) AS v WHERE {probe}.{column('id')} = v.column1"
    )
    row = "(CAST(%s AS BIGINT), %s, CAST(%s AS BIGINT))"
    failed = (
        f"UPDATE {probe} SET {column('status')} = %s, {column('sent_at')} = %s, "  # noqa: S608
        f"{column('failure')} = %s WHERE {column('id')} IN ({{ids}})"
    )
    return sent, row, failed  # identifiers from _meta only, values as parameters


def _mark_sent(
    sent: list[tuple[int, str, Delivery | None]], failed: list[int], now: dt.datetime
) -> None:
    """Record a batch as sent (new token hash, its outbox row) or failed for want of an address."""
    sent_sql, row, failed_sql = _send_sql(connection.vendor)
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(sent), 500):
            chunk = sent[start : start + 500]
            params: list[Any] = [ProbeStatus.SENT.value, at]
            for pk, digest, delivery in chunk:
                params += [pk, digest, delivery.pk if delivery is not None else None]
            cursor.execute(sent_sql.format(rows=", ".join([row] * len(chunk))), params)
        for start in range(0, len(failed), 500):
            ids = failed[start : start + 500]
            cursor.execute(
                failed_sql.format(ids=", ".join(["%s"] * len(ids))),
                [ProbeStatus.FAILED.value, at, "no e-mail channel", *ids],
            )


# --- confirming --------------------------------------------------------------------------------


# A confirmation is the hot path of a test (10,000 desks answer within minutes), so it is a few
# plain statements written once rather than ORM queries, whose compilation cost more than running
# them: read the probe by its token hash (locked), mark it confirmed if it still may be, refresh the
# desk's "last confirmed reachable" date, append the audit event.


@functools.cache
def _confirm_sql(vendor: str) -> dict[str, Any]:
    fields = list(Probe._meta.concrete_fields)
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col(Probe._meta.db_table)
        functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if functions:
            converters.append((index, col, functions))
    lock = ""
    if connection.features.has_select_for_update:
        lock = " FOR UPDATE OF p" if connection.features.has_select_for_update_of else " FOR UPDATE"

    def column(name: str) -> str:
        return sql.column(Probe, name)

    return {
        "select": (
            f"SELECT {sql.columns(fields, 'p.')}, m.{sql.column(Member, 'code')}, "  # noqa: S608
            f"n.{sql.column(Network, 'slug')} FROM {sql.table(Probe)} p "
            f"JOIN {sql.table(Member)} m ON m.{sql.column(Member, 'id')} = p.{column('member')} "
            f"JOIN {sql.table(Network)} n ON n.{sql.column(Network, 'id')} = p.{column('network')} "
            f"WHERE p.{column('token_hash')} = %s{lock}"
        ),
        "confirm": (
            f"UPDATE {sql.table(Probe)} SET {column('status')} = %s, "  # noqa: S608
            f"{column('confirmed_at')} = %s, {column('confirmed_via')} = %s, "
            f"{column('confirmed_by')} = %s, {column('confirmed_name')} = %s, "
            f"{column('seconds_to_confirm')} = %s "
            f"WHERE {column('id')} = %s AND {column('status')} IN (%s, %s, %s)"
        ),
        "reachable": (
            f"UPDATE {sql.table(ContactPoint)} "  # noqa: S608
            f"SET {sql.column(ContactPoint, 'last_reachable_at')} = %s "
            f"WHERE {sql.column(ContactPoint, 'public_id')} = %s"
        ),
        "names": [f.attname for f in fields],
        "width": len(fields),
        "converters": converters,
    }  # identifiers from _meta only, values as parameters


def _locked_probe_by_token(digest: str) -> tuple[Probe, str, str] | None:
    """The probe whose token hashes to `digest`, locked until the transaction ends, with its
    member's code and network's slug (for the audit event); None when there is none."""
    statements = _confirm_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statements["select"], [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row[: statements["width"]])
    for index, col, functions in statements["converters"]:
        for convert in functions:
            values[index] = convert(values[index], col, connection)
    return Probe.from_db(connection.alias, statements["names"], values), row[-2], row[-1]


def _confirm(
    probe: Probe,
    *,
    via: str,
    actor,
    name: str,
    now: dt.datetime,
    member_code: str | None = None,
    network_slug: str | None = None,
) -> Probe:
    """Mark `probe` (read under lock by the caller) confirmed, refresh its desk, audit it."""
    _check_transition(probe, ProbeStatus.CONFIRMED)
    start = probe.sent_at or probe.scheduled_at
    seconds = max(0, int((now - start).total_seconds()))
    user = actor if getattr(actor, "is_authenticated", False) else None
    name = (name or "").strip()[:200]
    statements = _confirm_sql(connection.vendor)
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            statements["confirm"],
            [
                ProbeStatus.CONFIRMED.value,
                at,
                via,
                user.pk if user is not None else None,
                name,
                seconds,
                probe.pk,
                ProbeStatus.SCHEDULED.value,
                ProbeStatus.SENT.value,
                ProbeStatus.FAILED.value,
            ],
        )
        if cursor.rowcount != 1:
            raise ServiceError(_("this probe was already confirmed"))
        cursor.execute(statements["reachable"], [at, probe.contact_point_id])
    probe.status, probe.confirmed_at, probe.confirmed_via = ProbeStatus.CONFIRMED, now, via
    probe.confirmed_by, probe.confirmed_name, probe.seconds_to_confirm = user, name, seconds
    record_event(
        user,
        "pingtest.probe_confirmed",
        obj=probe,
        network=network_slug if network_slug is not None else probe.network,
        details={
            "via": via,
            "seconds": seconds,
            "member": member_code if member_code is not None else probe.member.code,
        },
    )
    return probe


def confirm_probe_by_token(
    raw_token: str, *, via: str, actor=None, name: str = "", now: dt.datetime | None = None
) -> Probe:
    """A deliberate confirmation through the link's page (POST) or a reply carrying the marker.
    An invalid, expired or reused token says so and records nothing."""
    now = now or timezone.now()
    if via not in (ConfirmedVia.LINK, ConfirmedVia.REPLY):
        raise ValueError(via)
    raw = (raw_token or "").strip()
    if not raw or len(raw) > 64:
        raise ServiceError(_("this confirmation link is not valid"), "token")
    with transaction.atomic():
        found = _locked_probe_by_token(tokens.hash_token(raw))
        if found is None or found[0].status == ProbeStatus.SCHEDULED:
            raise ServiceError(_("this confirmation link is not valid"), "token")
        probe, member_code, network_slug = found
        if probe.status == ProbeStatus.CONFIRMED:
            raise ServiceError(
                _("this confirmation link was already used on %(date)s UTC")
                % {"date": f"{probe.confirmed_at:%Y-%m-%d %H:%M}"},
                "token",
            )
        if probe.status == ProbeStatus.EXPIRED or now >= probe.expires_at:
            raise ServiceError(_("this confirmation link has expired"), "token")
        return _confirm(
            probe,
            via=via,
            actor=actor,
            name=name,
            now=now,
            member_code=member_code,
            network_slug=network_slug,
        )


def _own_members(access: NetworkAccess) -> set[int]:
    return set(access.members_by_role.get(Role.COORDINATOR, set())) | set(
        access.members_by_role.get(Role.OFFICER, set())
    )


def confirm_probe_in_app(
    actor, access: NetworkAccess, probe: Probe, now: dt.datetime | None = None
) -> Probe:
    """An officer or coordinator of the probe's member confirms it in Liaison."""
    now = now or timezone.now()
    if (
        probe.network_id != access.network.pk
        or not access.has(Perm.PINGTEST_RESPOND)
        or probe.member_id not in _own_members(access)
    ):
        raise PermissionDenied(_("You may only confirm your own member's probes."))
    if ProbeChannel.APP not in probe.ping_test.channels:
        raise ServiceError(_("this test is not answered in Liaison"))
    with transaction.atomic():
        probe = (
            Probe.objects.select_for_update().select_related("member", "network").get(pk=probe.pk)
        )
        if probe.status == ProbeStatus.EXPIRED or now >= probe.expires_at:
            raise ServiceError(_("this test has ended"))
        if probe.status == ProbeStatus.SCHEDULED:
            raise ServiceError(_("this probe has not been sent yet"))
        return _confirm(probe, via=ConfirmedVia.APP, actor=actor, name="", now=now)


def log_manual_call(
    actor,
    access: NetworkAccess,
    probe: Probe,
    *,
    outcome: str,
    seconds: int | None,
    now: dt.datetime | None = None,
) -> Probe:
    """The Secretariat logs a phone call: answered confirms the probe (via manual), a wrong
    number is a finding (failed), no answer is recorded and the probe stays open."""
    now = now or timezone.now()
    if probe.network_id != access.network.pk or not access.has(Perm.PINGTEST_MANAGE):
        raise PermissionDenied(_("Only the Secretariat logs calls."))
    if outcome not in ManualOutcome.values:
        raise ServiceError(_("unknown outcome '%(o)s'") % {"o": str(outcome)[:20]}, "outcome")
    if seconds is not None and not 0 <= int(seconds) <= 86400:
        raise ServiceError(_("the call's duration must be between 0 and 86400 s"), "seconds")
    with transaction.atomic():
        probe = (
            Probe.objects.select_for_update().select_related("member", "network").get(pk=probe.pk)
        )
        if probe.status in (ProbeStatus.CONFIRMED, ProbeStatus.EXPIRED):
            _check_transition(probe, ProbeStatus.CONFIRMED)
        Probe.objects.filter(pk=probe.pk).update(manual_outcome=outcome, manual_seconds=seconds)
        probe.manual_outcome, probe.manual_seconds = outcome, seconds
        if outcome == ManualOutcome.ANSWERED:
            if probe.sent_at is None:
                Probe.objects.filter(pk=probe.pk).update(sent_at=now)
                probe.sent_at = now
            if seconds is not None:
                # The time to confirm of a call is how long it took to get an answer.
                probe = _confirm(probe, via=ConfirmedVia.MANUAL, actor=actor, name="", now=now)
                Probe.objects.filter(pk=probe.pk).update(seconds_to_confirm=int(seconds))
                probe.seconds_to_confirm = int(seconds)
            else:
                probe = _confirm(probe, via=ConfirmedVia.MANUAL, actor=actor, name="", now=now)
        elif outcome == ManualOutcome.WRONG_NUMBER:
            _check_transition(probe, ProbeStatus.FAILED)
            Probe.objects.filter(pk=probe.pk).update(
                status=ProbeStatus.FAILED, failure="wrong number", sent_at=probe.sent_at or now
            )
            probe.status, probe.failure = ProbeStatus.FAILED, "wrong number"
        record_event(
            actor,
            "pingtest.call_logged",
            obj=probe,
            network=probe.network,
            details={"outcome": outcome, "seconds": seconds, "member": probe.member.code},
        )
    return probe


def record_delivery_failure(probe: Probe, error: str) -> Probe:
    """A bounce or a dead delivery: the address does not work — a finding, not a silence."""
    with transaction.atomic():
        probe = Probe.objects.select_for_update().select_related("network").get(pk=probe.pk)
        if probe.status not in (ProbeStatus.SCHEDULED, ProbeStatus.SENT):
            return probe  # confirmed anyway (another channel), or already failed/expired
        error = (error or "delivery failed")[:255]
        Probe.objects.filter(pk=probe.pk).update(status=ProbeStatus.FAILED, failure=error)
        probe.status, probe.failure = ProbeStatus.FAILED, error
        record_event(
            None,
            "pingtest.probe_failed",
            obj=probe,
            network=probe.network,
            details={"failure": error},
        )
    return probe


def describe(probe: Probe) -> dict[str, Any]:
    """A probe as plain data (tests, CLI)."""
    return {
        "id": probe.public_id,
        "member": probe.member.code,
        "status": probe.status,
        "confirmed_via": probe.confirmed_via,
        "seconds_to_confirm": probe.seconds_to_confirm,
    }
