"""The "Reach now" question: who at a member can be reached at an instant, in a shared language.

The duty officer's question at 3 a.m. The availability filter is SQL (`queries.available_q`, the
same rule as the directory's "available at" filter); for a desk that is closed, its next opening
is `availability.next_available`, the function behind the contact point page's "next available".
Everything is read through `queries.visible_contact_points` (the published directory, scoped to
the actor), and every reach query is audited as a consultation of restricted data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import BooleanField, Case, Value, When
from django.http import Http404

from liaison.audit.services import record_event
from liaison.core.permissions import NetworkAccess
from liaison.directory import availability as av
from liaison.directory.models import Channel, ContactPoint, ContactPointType
from liaison.directory.queries import available_q, visible_contact_points
from liaison.networks.models import Member
from liaison.networks.queries import get_member, visible_members

# Whom to call first: the order in which a member's desks are listed (then by their position).
TYPE_ORDER: tuple[str, ...] = (
    ContactPointType.POLICE,
    ContactPointType.PROSECUTION,
    ContactPointType.SECURITY_SERVICE,
    ContactPointType.MINISTRY_OF_JUSTICE,
    ContactPointType.CYBERSECURITY,
    ContactPointType.OTHER,
)
_TYPE_RANK = {str(value): rank for rank, value in enumerate(TYPE_ORDER)}


@dataclass
class ReachEntry:
    """One contact point of the member, as seen at the instant asked about."""

    cp: ContactPoint
    channels: list[Channel]
    available: bool
    # Whether the desk speaks the language asked for; None when no language was asked for.
    shares_language: bool | None
    local: datetime  # the desk's local time at the instant
    # Closed desks only: the next instant (UTC) they open, None beyond the 14-day horizon or
    # when the hours on record cannot be read.
    next_at: datetime | None = None


@dataclass
class Reach:
    member: Member
    at: datetime
    language: str  # ISO 639-1, "" for any language
    available: list[ReachEntry] = field(default_factory=list)
    available_no_shared_language: list[ReachEntry] = field(default_factory=list)
    not_available: list[ReachEntry] = field(default_factory=list)  # soonest opening first
    languages: list[str] = field(default_factory=list)  # spoken by the member's desks

    @property
    def count(self) -> int:
        return (
            len(self.available) + len(self.available_no_shared_language) + len(self.not_available)
        )

    @property
    def anyone_available(self) -> bool:
        return bool(self.available or self.available_no_shared_language)

    @property
    def next_at(self) -> datetime | None:
        """The soonest opening of a closed desk, when nobody is available."""
        return next((e.next_at for e in self.not_available if e.next_at is not None), None)


# --- pure functions ---------------------------------------------------------------------------


def type_rank(type_: str) -> int:
    """Position of a contact point type in TYPE_ORDER (an unknown type goes last)."""
    return _TYPE_RANK.get(str(type_), len(TYPE_ORDER))


def reach_order(cp: ContactPoint) -> tuple[int, int, int]:
    return (type_rank(cp.type), cp.position, cp.pk or 0)


def shares_language(languages: Iterable[str], language: str) -> bool | None:
    """Whether `language` is among `languages`; None when no language is asked for."""
    if not language:
        return None
    return language.lower() in {code.lower() for code in languages}


def split_by_language(
    entries: Sequence[ReachEntry],
) -> tuple[list[ReachEntry], list[ReachEntry]]:
    """(speaks the language or none asked for, does not), each in the order given."""
    shared = [e for e in entries if e.shares_language is not False]
    other = [e for e in entries if e.shares_language is False]
    return shared, other


def by_next_opening(entries: Iterable[ReachEntry]) -> list[ReachEntry]:
    """Closed desks, soonest opening first; those with no known opening last."""
    return sorted(
        entries,
        key=lambda e: (
            e.next_at is None,
            e.next_at or datetime.max.replace(tzinfo=UTC),
            *reach_order(e.cp),
        ),
    )


def spoken_languages(cps: Iterable[ContactPoint]) -> list[str]:
    return sorted({code for cp in cps for code in cp.language_list})


def local_time(cp: ContactPoint, at: datetime) -> datetime:
    """The desk's local time at `at` (UTC when its zone is unknown)."""
    try:
        return av.local_now(cp.timezone, at)
    except av.AvailabilityError:
        return at.astimezone(UTC)


def next_opening(cp: ContactPoint, at: datetime) -> datetime | None:
    """When a closed desk next opens, from its stored hours (None when they cannot be read)."""
    try:
        schedule = av.parse_availability(cp.availability)
        exceptions = av.parse_exceptions(cp.availability_exceptions)
        return av.next_available(schedule, cp.timezone, at, exceptions)
    except ValueError:  # AvailabilityError included: unreadable text or unknown zone
        return None


def build_reach(
    member: Member, at: datetime, language: str, rows: Iterable[tuple[ContactPoint, bool]]
) -> Reach:
    """The answer from (contact point, available at `at`) pairs; no database access."""
    language = language.strip().lower()
    rows = list(rows)
    cps = sorted((cp for cp, _open in rows), key=reach_order)
    is_open = {id(cp): open_ for cp, open_ in rows}
    entries = [
        ReachEntry(
            cp=cp,
            channels=list(cp.channels.all()),  # prefetched, in position order
            available=is_open[id(cp)],
            shares_language=shares_language(cp.language_list, language),
            local=local_time(cp, at),
        )
        for cp in cps
    ]
    for entry in entries:
        if not entry.available:
            entry.next_at = next_opening(entry.cp, at)
    shared, other = split_by_language([e for e in entries if e.available])
    return Reach(
        member=member,
        at=at,
        language=language,
        available=shared,
        available_no_shared_language=other,
        not_available=by_next_opening(e for e in entries if not e.available),
        languages=spoken_languages(cps),
    )


# --- the query --------------------------------------------------------------------------------


def find_member(access: NetworkAccess, code: str) -> Member:
    """The member by code (any case) or public id; Http404 when the actor cannot see it."""
    code = code.strip()
    if code.startswith("mb_"):
        return get_member(access, code)
    member = visible_members(access).filter(code=code.upper()).first()
    if member is None:
        raise Http404
    return member


def reach(actor, access: NetworkAccess, member: Member, at: datetime, language: str = "") -> Reach:
    """Who at `member` can be reached at `at`, in `language` (ISO 639-1, "" for any); audited.

    A fixed number of queries whatever the member's number of desks: the network's time zones
    (for the SQL availability rule), the contact points with their availability, their channels,
    then the audit event.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("'at' must be a timezone-aware datetime")
    qs = (
        visible_contact_points(access)
        .filter(member=member)
        .annotate(
            reach_open=Case(
                When(available_q(access.network.pk, at), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )
    rows = [(cp, bool(cp.reach_open)) for cp in qs]
    result = build_reach(member, at, language, rows)
    record_event(
        actor,
        "directory.reach",
        obj=member,
        network=access.network,
        details={
            "member": member.code,
            "at": at.astimezone(UTC).isoformat(),
            "language": result.language,
            "results": result.count,
            "available": len(result.available),
        },
    )
    return result
