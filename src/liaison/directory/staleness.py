"""Staleness of directory entries: which ones are due for review, and the reminders about them.

A contact point's review date is the day after which its entry counts as stale (confirming it
"still correct" moves the date a year ahead: services.confirm_contact_point). Here:

- the definitions, as Q objects, shared by the pages, the statistics and the reminder sweep:
  *stale* (review date passed) and *due soon* (review date today or within REMINDER_LEAD);
- `send_review_reminders`, the sweep run by `liaison worker` (and `liaison directory
  remind-stale`): it e-mails the coordinators of the members whose published entries come due
  — REMINDER_LEAD ahead of the review date, then when it has passed, again every
  OVERDUE_REPEAT_DAYS while it stays overdue. Each reminder is a ReviewReminder row with a
  unique key, written in the transaction that enqueues the e-mails: none goes out twice, even
  with several workers sweeping at once. The e-mails hold counts and a link, never directory
  content.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from liaison.audit.services import record_event
from liaison.core.permissions import Role
from liaison.delivery.services import enqueue_email
from liaison.directory.models import ContactPoint, Layer
from liaison.directory.models_staleness import ReviewReminder, ReviewReminderKind
from liaison.networks.models import Member, MemberStatus, Network, RoleAssignment
from liaison.networks.queries import resolve_access

logger = logging.getLogger(__name__)

REMINDER_LEAD = dt.timedelta(days=30)
OVERDUE_REPEAT_DAYS = 7
EMAIL_KIND = "directory.review_reminder"
# The GET parameter of the directory list that keeps the entries due for review.
STALE_PARAM = "stale"


# --- definitions -------------------------------------------------------------------------------


def stale_q(today: dt.date) -> Q:
    """Entries whose review date has passed."""
    return Q(review_date__lt=today)


def due_soon_q(today: dt.date) -> Q:
    """Entries not stale yet whose review date is today or within REMINDER_LEAD."""
    return Q(review_date__gte=today, review_date__lte=today + REMINDER_LEAD)


def needs_review_q(today: dt.date) -> Q:
    """Stale or due soon: what the directory's "due for review" filter keeps."""
    return Q(review_date__lte=today + REMINDER_LEAD)


def filter_needing_review(qs: QuerySet[ContactPoint], today: dt.date) -> QuerySet[ContactPoint]:
    return qs.filter(needs_review_q(today))


@dataclass(frozen=True)
class ReviewStatus:
    """What the pages show about an entry's review: stale since a day, or due on a day."""

    stale: bool
    review_date: dt.date

    @property
    def stale_since(self) -> dt.date:
        return self.review_date + dt.timedelta(days=1)


def review_status(review_date: dt.date | None, today: dt.date) -> ReviewStatus | None:
    """None when nothing is due (no date, or a date beyond REMINDER_LEAD)."""
    if review_date is None or review_date > today + REMINDER_LEAD:
        return None
    return ReviewStatus(stale=review_date < today, review_date=review_date)


def published_contact_points(network: Network) -> QuerySet[ContactPoint]:
    """The published layer of `network`'s directory: what reminders and figures count (drafts
    are not reminded of). Unscoped: for the sweep and the statistics, which authorise
    themselves."""
    return ContactPoint.objects.filter(network=network, layer=Layer.PUBLISHED)


# --- the reminder sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReminder:
    """One reminder to send: its key in ReviewReminder."""

    contact_point: str  # public id
    member_id: int
    review_date: dt.date
    kind: str
    sequence: int


def reminder_key(review_date: dt.date, today: dt.date) -> tuple[str, int] | None:
    """(kind, sequence) of the reminder an entry is due for today, or None.

    "ahead" once, from REMINDER_LEAD before the review date until the date itself; "overdue"
    from the day after, with a new sequence number every OVERDUE_REPEAT_DAYS.
    """
    if review_date >= today:
        return (ReviewReminderKind.AHEAD, 0) if review_date <= today + REMINDER_LEAD else None
    days_overdue = (today - review_date).days
    return ReviewReminderKind.OVERDUE, (days_overdue - 1) // OVERDUE_REPEAT_DAYS


@dataclass
class MemberReminder:
    """What one member's people are told: the entries now due, and which are new reminders."""

    member: Member
    overdue: int = 0  # published entries of the member that are stale
    due_soon: int = 0  # … and that come due within REMINDER_LEAD
    new: list[DueReminder] = field(default_factory=list)
    recipients: list = field(default_factory=list)  # users
    to_secretariat: bool = False  # the member has no coordinator who can edit its entries

    def link(self) -> str:
        path = reverse("directory:list", args=[self.member.network.slug])
        query = urlencode({"member": self.member.code, STALE_PARAM: "1"})
        return f"{settings.BASE_URL}{path}?{query}"


@dataclass
class ReminderRun:
    """The outcome of a sweep (or what a dry run would do)."""

    reminders: list[MemberReminder] = field(default_factory=list)
    emails: int = 0
    skipped_networks: list[str] = field(default_factory=list)  # another worker was on them

    @property
    def entries(self) -> int:
        return sum(len(r.new) for r in self.reminders)


def plan_reminders(network: Network, today: dt.date) -> list[MemberReminder]:
    """The members of `network` with at least one reminder due today and not sent yet.

    Three queries: the published entries due, the reminders already sent for them, and the
    people to tell (plus one per coordinator of an observer when observers may not see the
    directory).
    """
    rows = list(
        published_contact_points(network)
        .filter(needs_review_q(today))
        .order_by("member_id", "review_date", "public_id")
        .values_list("public_id", "member_id", "review_date")
    )
    if not rows:
        return []
    sent = set(
        ReviewReminder.objects.filter(
            network=network, contact_point__in=[public_id for public_id, _m, _d in rows]
        ).values_list("contact_point", "review_date", "kind", "sequence")
    )
    new: dict[int, list[DueReminder]] = defaultdict(list)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # [overdue, due soon]
    for public_id, member_id, review_date in rows:
        totals[member_id][0 if review_date < today else 1] += 1
        key = reminder_key(review_date, today)
        if key is not None and (public_id, review_date, *key) not in sent:
            new[member_id].append(DueReminder(public_id, member_id, review_date, *key))
    if not new:
        return []
    reminders = [
        MemberReminder(
            member=member,
            overdue=totals[member.pk][0],
            due_soon=totals[member.pk][1],
            new=new[member.pk],
        )
        for member in Member.objects.filter(pk__in=new).select_related("network")
    ]
    _assign_recipients(network, reminders)
    return sorted(reminders, key=lambda r: (r.member.name.casefold(), r.member.code))


def _assign_recipients(network: Network, reminders: list[MemberReminder]) -> None:
    """The coordinators of each member who can edit its entries; else the Secretariat."""
    member_ids = [r.member.pk for r in reminders]
    assignments = (
        RoleAssignment.objects.filter(network=network, user__is_active=True)
        .filter(
            Q(role=Role.SECRETARIAT) | Q(role=Role.COORDINATOR, member_id__in=member_ids),
        )
        .select_related("user")
        .order_by("user__email")
    )
    secretariat = []
    coordinators: dict[int, list] = defaultdict(list)
    for ra in assignments:
        if ra.role == Role.SECRETARIAT:
            secretariat.append(ra.user)
        else:
            coordinators[ra.member_id].append(ra.user)
    can_edit: dict[int, bool] = {}

    def may_edit(user, member: Member) -> bool:
        # Coordinators of observers lose the directory when it is for parties only.
        if network.observers_see_directory or member.status != MemberStatus.OBSERVER:
            return True
        if user.pk not in can_edit:
            can_edit[user.pk] = resolve_access(user, network).can_edit_member(member)
        return can_edit[user.pk]

    for reminder in reminders:
        people = [u for u in coordinators[reminder.member.pk] if may_edit(u, reminder.member)]
        reminder.to_secretariat = not people
        reminder.recipients = people or list(secretariat)


def send_review_reminders(
    *, now: dt.datetime | None = None, network: Network | None = None, dry_run: bool = False
) -> ReminderRun:
    """Remind the people of every member whose published entries come due (all networks, or
    `network`); one e-mail per person and network, listing its members' counts and links.

    `now` defaults to the current time (tests pass theirs). A dry run plans and writes nothing.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    networks = [network] if network is not None else list(Network.objects.order_by("slug"))
    run = ReminderRun()
    for net in networks:
        reminders = plan_reminders(net, today)
        if not reminders:
            continue
        if dry_run:
            run.reminders += reminders
            run.emails += len({u.pk for r in reminders for u in r.recipients})
            continue
        try:
            emails = _send(net, reminders, now)
        except IntegrityError:
            # Another worker recorded some of these reminders first, and sent them.
            logger.info("review reminders of %s: another worker was first", net.slug)
            run.skipped_networks.append(net.slug)
            continue
        run.reminders += reminders
        run.emails += emails
    return run


def _send(network: Network, reminders: list[MemberReminder], now: dt.datetime) -> int:
    """Record the reminders, audit them and enqueue the e-mails, in one transaction."""
    by_user: dict[int, tuple[object, list[MemberReminder]]] = {}
    for reminder in reminders:
        for user in reminder.recipients:
            by_user.setdefault(user.pk, (user, []))[1].append(reminder)
    with transaction.atomic():
        # The unique key makes a concurrent sweep fail here, before anything is enqueued.
        ReviewReminder.objects.bulk_create(
            [
                ReviewReminder(
                    network=network,
                    member=reminder.member,
                    contact_point=due.contact_point,
                    review_date=due.review_date,
                    kind=due.kind,
                    sequence=due.sequence,
                    sent_at=now,
                    recipients=len(reminder.recipients),
                )
                for reminder in reminders
                for due in reminder.new
            ]
        )
        for reminder in reminders:
            record_event(
                None,
                EMAIL_KIND,
                obj=reminder.member,
                network=network,
                details={
                    "member": reminder.member.code,
                    "ahead": [
                        d.contact_point for d in reminder.new if d.kind == ReviewReminderKind.AHEAD
                    ],
                    "overdue": [
                        d.contact_point
                        for d in reminder.new
                        if d.kind == ReviewReminderKind.OVERDUE
                    ],
                    "recipients": [u.public_id for u in reminder.recipients],
                    "to_secretariat": reminder.to_secretariat,
                },
            )
        for user, items in by_user.values():
            subject, body = _message(network, user, items)
            enqueue_email(
                to=user.email,
                subject=subject,
                body=body,
                kind=EMAIL_KIND,
                network=network,
                obj=network,
            )
    return len(by_user)


def _message(network: Network, user, reminders: list[MemberReminder]) -> tuple[str, str]:
    """Subject and body in the person's language: counts and links only."""
    context = {
        "network_name": network.name,
        "members": [
            {
                "name": r.member.name,
                "code": r.member.code,
                "overdue": r.overdue,
                "due_soon": r.due_soon,
                "link": r.link(),
                "to_secretariat": r.to_secretariat,
            }
            for r in reminders
        ],
        "days": REMINDER_LEAD.days,
    }
    with translation.override(getattr(user, "language", None) or settings.LANGUAGE_CODE):
        subject = render_to_string("directory/email/review_reminder_subject.txt", context)
        body = render_to_string("directory/email/review_reminder_message.txt", context)
    subject = " ".join(subject.split())  # one line, whatever the template's line breaks
    return settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body


def sweep_review_reminders() -> int:
    """The worker's periodic job: the number of e-mails enqueued (0 when nothing was due)."""
    return send_review_reminders().emails
