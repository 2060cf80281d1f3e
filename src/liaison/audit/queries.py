"""Reads of the audit trail, scoped to what the acting user may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from liaison.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from liaison.core import keys
from liaison.core.permissions import NetworkAccess, Perm

# The columns the audit page shows: enough for the table, nothing joined (no N+1).
LIST_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "network_slug",
    "via",
    "ip",
    "justification",
    "details",
)


@dataclass(frozen=True)
class EventFilters:
    actor: str = ""  # part of the actor's e-mail
    action: str = ""  # prefix: "directory." matches every directory action
    object_id: str = ""
    since: dt.date | None = None  # UTC days, inclusive
    until: dt.date | None = None
    via: str = ""

    def as_details(self) -> dict[str, str]:
        """The filters in use, for the audit event that records the consultation."""
        return {k: str(v) for k, v in self.__dict__.items() if v not in ("", None)}


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def visible_events(access: NetworkAccess, filters: EventFilters | None = None) -> QuerySet:
    """The events of the access's network the actor may read, newest first."""
    if not access.has(Perm.AUDIT_VIEW):
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.filter(network_slug=access.network.slug)
    f = filters or EventFilters()
    if f.actor:
        qs = qs.filter(actor_label__icontains=f.actor)
    if f.action:
        qs = qs.filter(action__startswith=f.action)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.since:
        qs = qs.filter(occurred_at__gte=_utc_midnight(f.since))
    if f.until:
        qs = qs.filter(occurred_at__lt=_utc_midnight(f.until + dt.timedelta(days=1)))
    if f.via:
        qs = qs.filter(via=f.via)
    return qs.order_by("-seq")


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    newer: int | None  # pass as ?after= to get the page before this one (newer events)
    older: int | None  # pass as ?before= to get the next page (older events)


def event_page(
    events: QuerySet,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = 50,
) -> EventPage:
    """One page by keyset on seq: two queries at most, whatever the page size or position."""
    rows = events.only(*LIST_COLUMNS)
    if after is not None:
        chunk = list(rows.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer = len(chunk) > size
        page = list(reversed(chunk[:size]))
        has_older = bool(page) and rows.filter(seq__lt=page[-1].seq).exists()
    else:
        if before is not None:
            rows = rows.filter(seq__lt=before)
        chunk = list(rows.order_by("-seq")[: size + 1])
        page = chunk[:size]
        has_older = len(chunk) > size
        has_newer = (
            before is not None and bool(page) and events.filter(seq__gt=page[0].seq).exists()
        )
    return EventPage(
        events=page,
        newer=page[0].seq if page and has_newer else None,
        older=page[-1].seq if page and has_older else None,
    )


@dataclass(frozen=True)
class TrailStatus:
    """The trail's integrity at a glance, without reading the events (two small queries)."""

    size: int
    checkpoint_size: int | None
    checkpoint_at: dt.datetime | None
    checkpoint_key_id: str
    current_key_id: str

    @property
    def unsigned_tail(self) -> int:
        return self.size - (self.checkpoint_size or 0)


def trail_status() -> TrailStatus:
    size = AuditHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
    cp = AuditCheckpoint.objects.order_by("-tree_size").first()
    return TrailStatus(
        size=size,
        checkpoint_size=cp.tree_size if cp else None,
        checkpoint_at=cp.created_at if cp else None,
        checkpoint_key_id=cp.key_id if cp else "",
        current_key_id=keys.key_id(),
    )


def network_events_for_export(
    network_slug: str, since: dt.datetime | None = None
) -> Iterator[AuditEvent]:
    """Every event of a network, oldest first, streamed (for `liaison audit export`).

    The command line runs with the operator's full trust: there is no acting user to scope by.
    """
    qs = AuditEvent.objects.filter(network_slug=network_slug).order_by("seq")
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return qs.iterator(chunk_size=2000)
