"""Follow-up of ping tests: reminders, escalation, expiry and closing — the worker's sweep.

`sweep_followups` runs every minute in every worker (core/management/commands/worker.py). Each
step claims its rows with a conditional UPDATE (reminded_at / escalated_at still empty, status
still open) inside the transaction that enqueues the e-mails and writes the audit event, so an
item is handled exactly once however many workers sweep at the same time, and a crash between
the claim and the e-mail loses neither (they commit together).

1. Reminder — a probe sent and still unconfirmed `reminder_after` after it went out gets one
   reminder. Only the SHA-256 of a probe's token is stored (a copy of the database must confirm
   nothing), so the reminder cannot repeat the link; issuing a new token would break the link of
   the first message, which is the one people look for. The reminder therefore says "use the
   link in the first message, or reply to it". A probe of a test answered in Liaison without an
   e-mail address reminds the member's officers and coordinators instead (they see the banner).
2. Escalation — a probe still silent `escalate_after` after it went out is reported to the
   member's coordinators and to the e-mail addresses of the member's *other* published contact
   points (never to the silent one): the institution's name, the date, and a link to Liaison,
   nothing else. A member with nobody to tell is reported to the Secretariat.
3. Expiry — at `expires_at`, scheduled and sent probes become expired (silence); failed ones
   stay failed (a wrong address is a finding, not a silence). One audit event per test.
4. Closing — a running (or never started) test closes once its end has passed or every probe
   is final (confirmed or expired; a failed probe can still be confirmed until the end).

Probes of manual-only tests get neither reminder nor escalation: the Secretariat calls them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core.permissions import Role
from liaison.delivery.services import enqueue_email, notify_people
from liaison.directory.models import ChannelKind, ContactPoint, Layer
from liaison.networks.models import RoleAssignment
from liaison.reachability.models import (
    PingTest,
    PingTestStatus,
    Probe,
    ProbeChannel,
    ProbeStatus,
)

logger = logging.getLogger(__name__)

REMINDER_KIND = "reachability.reminder"
ESCALATION_KIND = "reachability.escalation"
# Items per step and sweep (about 3 s on SQLite): a big test spreads over a few sweeps, a minute
# apart (`worker --until-idle` loops at once), instead of holding the worker in one long loop.
BATCH_SIZE = 1000

_OPEN = (ProbeStatus.SCHEDULED, ProbeStatus.SENT, ProbeStatus.FAILED)  # not final yet
_EXPIRABLE = (ProbeStatus.SCHEDULED, ProbeStatus.SENT)


def sweep_followups(now: dt.datetime | None = None, limit: int = BATCH_SIZE) -> int:
    """The periodic job: reminders, escalations, expiries and closings due at `now`.

    Returns the number of items handled (reminders + escalations + probes expired + tests
    closed); 0 when nothing was due.
    """
    now = now or timezone.now()
    handled = send_reminders(now, limit=limit)
    handled += send_escalations(now, limit=limit)
    handled += expire_probes(now)
    handled += close_tests(now)
    return handled


# --- reminders ---------------------------------------------------------------------------------


def _follow_up_tests(field: str) -> list[PingTest]:
    """Running tests with a delay set in `field` and a channel someone can be reminded on."""
    tests = PingTest.objects.filter(
        status=PingTestStatus.RUNNING, **{f"{field}__isnull": False}
    ).select_related("network")
    # JSON containment lookups differ per database; a handful of running tests is read here.
    return [t for t in tests if set(t.channels) & {ProbeChannel.EMAIL, ProbeChannel.APP}]


def _silent(test: PingTest, delay: dt.timedelta, now: dt.datetime, **unset) -> Iterable[Probe]:
    return (
        Probe.objects.filter(
            ping_test=test,
            status=ProbeStatus.SENT,
            sent_at__lte=now - delay,
            expires_at__gt=now,
            **{f"{name}__isnull": True for name in unset},
        )
        .select_related("member", "network", "ping_test")
        .order_by("sent_at", "id")
    )


def _act_on_silent(delay_field: str, done_field: str, act, now: dt.datetime, limit: int) -> int:
    """Apply `act` to the silent probes whose test's `delay_field` has elapsed and that have no
    `done_field` yet (reminders and escalations follow the same walk)."""
    handled = 0
    people = _People()
    for test in _follow_up_tests(delay_field):
        delay = getattr(test, delay_field)
        for probe in _silent(test, delay, now, **{done_field: None})[: limit - handled]:
            handled += act(probe, now, people)
        if handled >= limit:
            break
    return handled


def send_reminders(now: dt.datetime, limit: int = BATCH_SIZE) -> int:
    return _act_on_silent("reminder_after", "reminded_at", _remind, now, limit)


def _remind(probe: Probe, now: dt.datetime, people: _People | None = None) -> int:
    channels = set(probe.ping_test.channels)
    by_email = ProbeChannel.EMAIL in channels and bool(probe.email)
    in_app = ProbeChannel.APP in channels
    with transaction.atomic():
        claimed = Probe.objects.filter(
            pk=probe.pk, status=ProbeStatus.SENT, reminded_at__isnull=True
        ).update(reminded_at=now)
        if not claimed:
            return 0  # another worker reminded it, or it was confirmed meanwhile
        if by_email:
            subject, body = reminder_email(probe, in_app=in_app)
            enqueue_email(
                to=probe.email,
                subject=subject,
                body=body,
                kind=REMINDER_KIND,
                network=probe.network,
                obj=probe,
            )
            recipients = 1
        elif in_app:
            texts = _Texts(app_reminder_email, probe)
            rows = notify_people(
                users=(people or _People()).of_member(probe, (Role.OFFICER, Role.COORDINATOR)),
                subject=texts.subject,
                body=texts.body,
                kind=REMINDER_KIND,
                network=probe.network,
                obj=probe,
            )
            recipients = len(rows)
        else:
            recipients = 0
        record_event(
            None,
            "pingtest.reminder",
            obj=probe,
            network=probe.network,
            details={
                "test": probe.ping_test.public_id,
                "member": probe.member.code,
                "by": "email" if by_email else "app",
                "recipients": recipients,
            },
        )
    return 1


def reminder_email(probe: Probe, *, in_app: bool = False) -> tuple[str, str]:
    """The reminder to a contact point's address: no link (its token is not stored), a pointer
    to the first message."""
    with translation.override(settings.LANGUAGE_CODE):
        values = {
            "network": probe.network.name,
            "sent": _utc(probe.sent_at),
            "ends": _utc(probe.expires_at),
        }
        subject = _("Reminder: reachability test of the %(network)s") % values
        body = (
            _(
                "A reachability test of the %(network)s was sent to your contact point on "
                "%(sent)s UTC and has not been confirmed yet.\n\n"
                'Please confirm it with the first message (subject "Reachability test of the '
                '%(network)s"): open its link and press "Confirm receipt", or reply to that first '
                "message keeping its subject line. Replying to this reminder does not confirm the "
                "test.\n\n"
                "The test ends on %(ends)s UTC."
            )
            % values
        )
        if in_app:
            body += "\n\n" + _(
                "Officers with a Liaison account can also confirm it in Liaison: %(url)s"
            ) % {"url": _home_url()}
    return _subject(subject), body


def app_reminder_email(probe: Probe) -> tuple[str, str]:
    """The reminder to the member's people when the test is answered in Liaison."""
    values = {
        "network": probe.network.name,
        "institution": probe.institution,
        "sent": _utc(probe.sent_at),
        "ends": _utc(probe.expires_at),
        "url": _home_url(),
    }
    subject = _("Reminder: reachability test of the %(network)s") % values
    body = (
        _(
            "A reachability test of the %(network)s for the contact point %(institution)s started "
            "on %(sent)s UTC and has not been confirmed yet.\n\n"
            "Please sign in to Liaison and confirm it: %(url)s\n\n"
            "The test ends on %(ends)s UTC."
        )
        % values
    )
    return _subject(subject), body


# --- escalation --------------------------------------------------------------------------------


def send_escalations(now: dt.datetime, limit: int = BATCH_SIZE) -> int:
    return _act_on_silent("escalate_after", "escalated_at", _escalate, now, limit)


def escalation_recipients(
    probe: Probe, people: _People | None = None
) -> tuple[list, list[str], list[str]]:
    """(coordinators, addresses of the member's other contact points, their public ids).

    The silent contact point's own address is never among them, even when another contact
    point lists it too.
    """
    people = people or _People()
    coordinators = people.of_member(probe, (Role.COORDINATOR,))
    skip = {probe.email.strip().lower(), ""} | {u.email.strip().lower() for u in coordinators}
    addresses: list[str] = []
    contact_points: list[str] = []
    for public_id, address in people.desk_addresses(probe):
        if public_id == probe.contact_point_id or address.lower() in skip:
            continue
        skip.add(address.lower())
        addresses.append(address)
        if public_id not in contact_points:
            contact_points.append(public_id)
    return coordinators, addresses, contact_points


def _escalate(probe: Probe, now: dt.datetime, people: _People | None = None) -> int:
    people = people or _People()
    with transaction.atomic():
        claimed = Probe.objects.filter(
            pk=probe.pk, status=ProbeStatus.SENT, escalated_at__isnull=True
        ).update(escalated_at=now)
        if not claimed:
            return 0
        coordinators, addresses, contact_points = escalation_recipients(probe, people)
        to_secretariat = not coordinators and not addresses
        told = coordinators or (people.secretariat(probe) if to_secretariat else [])
        texts = _Texts(escalation_email, probe)
        rows = notify_people(
            users=told,
            subject=texts.subject,
            body=texts.body,
            kind=ESCALATION_KIND,
            network=probe.network,
            obj=probe,
        )
        for address in addresses:
            enqueue_email(
                to=address,
                subject=texts.subject(None),
                body=texts.body(None),
                kind=ESCALATION_KIND,
                network=probe.network,
                obj=probe,
            )
        record_event(
            None,
            "pingtest.escalation",
            obj=probe,
            network=probe.network,
            details={
                "test": probe.ping_test.public_id,
                "member": probe.member.code,
                "people": [u.public_id for u in told],
                "contact_points": contact_points,
                "emails": len(rows) + len(addresses),
                "to_secretariat": to_secretariat,
            },
        )
    return 1


def escalation_email(probe: Probe) -> tuple[str, str]:
    """What the member's other desks and coordinators are told: who stayed silent since when."""
    values = {
        "network": probe.network.name,
        "institution": probe.institution,
        "sent": _utc(probe.sent_at),
        "url": _test_url(probe),
    }
    subject = _("Unconfirmed reachability test: %(institution)s") % values
    body = (
        _(
            "The contact point %(institution)s did not confirm the reachability test of the "
            "%(network)s started on %(sent)s UTC. Please check that the desk receives its messages "
            "and that its details in the directory are right.\n\n"
            "Liaison: %(url)s"
        )
        % values
    )
    return _subject(subject), body


# --- expiry and closing ------------------------------------------------------------------------


def expire_probes(now: dt.datetime) -> int:
    """Scheduled and sent probes past their expiry become expired; one audit event per test."""
    test_ids = set(
        Probe.objects.filter(status__in=_EXPIRABLE, expires_at__lte=now)
        .exclude(ping_test__status=PingTestStatus.CANCELLED)
        .values_list("ping_test_id", flat=True)
    )
    handled = 0
    for test in PingTest.objects.filter(pk__in=test_ids).select_related("network"):
        with transaction.atomic():
            expired = Probe.objects.filter(
                ping_test=test, status__in=_EXPIRABLE, expires_at__lte=now
            ).update(status=ProbeStatus.EXPIRED)
            if expired:
                record_event(
                    None,
                    "pingtest.probes_expired",
                    obj=test,
                    network=test.network,
                    details={"expired": expired},
                )
        handled += expired
    return handled


def close_tests(now: dt.datetime) -> int:
    """Running tests whose end passed or whose probes are all final; scheduled ones whose end
    passed (their probes were never sent: expired above)."""
    still_open = Probe.objects.filter(ping_test=OuterRef("pk"), status__in=_OPEN)
    due = PingTest.objects.filter(
        Q(status__in=(PingTestStatus.RUNNING, PingTestStatus.SCHEDULED), ends_at__lte=now)
        | (Q(status=PingTestStatus.RUNNING) & ~Exists(still_open))
    ).select_related("network")
    handled = 0
    for test in due:
        with transaction.atomic():
            if not PingTest.objects.filter(pk=test.pk, status=test.status).update(
                status=PingTestStatus.CLOSED
            ):
                continue
            counts = dict.fromkeys(ProbeStatus.values, 0)
            for status in test.probes.values_list("status", flat=True):
                counts[status] += 1
            record_event(
                None,
                "pingtest.closed",
                obj=test,
                network=test.network,
                details={"reason": "ended" if test.ends_at <= now else "all final", **counts},
            )
        handled += 1
    return handled


# --- helpers -----------------------------------------------------------------------------------


class _People:
    """Who to tell, read once per member and sweep (a big test has many probes per member)."""

    def __init__(self) -> None:
        self._roles: dict[tuple, list] = {}
        self._desks: dict[int, list[tuple[str, str]]] = {}

    def of_member(self, probe: Probe, roles: Iterable[str]) -> list:
        """Active people holding one of `roles` for the probe's member, each once."""
        key = (probe.network_id, probe.member_id, tuple(sorted(roles)))
        if key not in self._roles:
            self._roles[key] = self._people(
                network_id=probe.network_id, member_id=probe.member_id, role__in=key[2]
            )
        return self._roles[key]

    def secretariat(self, probe: Probe) -> list:
        key = (probe.network_id, None, (Role.SECRETARIAT,))
        if key not in self._roles:
            self._roles[key] = self._people(network_id=probe.network_id, role=Role.SECRETARIAT)
        return self._roles[key]

    def desk_addresses(self, probe: Probe) -> list[tuple[str, str]]:
        """(public id, address) of every e-mail channel of the member's published desks."""
        if probe.member_id not in self._desks:
            desks = (
                ContactPoint.objects.filter(
                    network_id=probe.network_id, layer=Layer.PUBLISHED, member_id=probe.member_id
                )
                .prefetch_related("channels")
                .order_by("position", "public_id")
            )
            self._desks[probe.member_id] = [
                (cp.public_id, channel.value.strip())
                for cp in desks
                for channel in cp.channels.all()
                if channel.kind == ChannelKind.EMAIL and channel.value.strip()
            ]
        return self._desks[probe.member_id]

    @staticmethod
    def _people(**filters) -> list:
        assignments = (
            RoleAssignment.objects.filter(user__is_active=True, **filters)
            .select_related("user")
            .order_by("user__email")
        )
        return list({ra.user_id: ra.user for ra in assignments}.values())


class _Texts:
    """A message built once per language: `subject(user)` and `body(user)` for notify_people
    (None: the deployment's language, for addresses that are not people)."""

    def __init__(self, build, probe: Probe):
        self.build, self.probe = build, probe
        self._cache: dict[str, tuple[str, str]] = {}

    def _get(self, user) -> tuple[str, str]:
        language = getattr(user, "language", None) or settings.LANGUAGE_CODE
        if language not in self._cache:
            with translation.override(language):
                self._cache[language] = self.build(self.probe)
        return self._cache[language]

    def subject(self, user) -> str:
        return self._get(user)[0]

    def body(self, user) -> str:
        return self._get(user)[1]


def _subject(text: str) -> str:
    """One line of at most 255 characters (the outbox refuses others): names can be long."""
    line = " ".join((settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + text).split())
    return line if len(line) <= 255 else line[:254] + "\u2026"


def _utc(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if moment else "?"


def _home_url() -> str:
    return settings.BASE_URL.rstrip("/") + "/"


def _test_url(probe: Probe) -> str:
    """The test's page in Liaison (access is checked there), else the network's home page."""
    slug = probe.network.slug
    for name, args in (
        ("reachability:detail", [slug, probe.ping_test.public_id]),
        ("networks:detail", [slug]),
    ):
        try:
            return settings.BASE_URL.rstrip("/") + reverse(name, args=args)
        except NoReverseMatch:
            continue
    return _home_url()
