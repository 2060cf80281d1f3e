"""The only read path of the directory: what the acting user may see, and the search filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from liaison.audit.services import record_event
from liaison.core.permissions import NetworkAccess, Perm
from liaison.directory.models import (
    AvailabilityExceptionRow,
    AvailabilityWindow,
    Channel,
    ContactPoint,
)


@dataclass(frozen=True)
class DirectoryFilters:
    member: str = ""  # member code or public id
    type: str = ""
    language: str = ""
    q: str = ""
    available_at: datetime | None = None


def visible_contact_points(access: NetworkAccess) -> QuerySet[ContactPoint]:
    """Contact points of the network the actor may read (none without directory.view)."""
    if not access.has(Perm.DIRECTORY_VIEW):
        return ContactPoint.objects.none()
    return (
        ContactPoint.objects.filter(network=access.network)
        .select_related("member")
        .prefetch_related(Prefetch("channels", queryset=Channel.objects.order_by("position", "id")))
    )


def get_contact_point(access: NetworkAccess, public_id: str) -> ContactPoint:
    cp = visible_contact_points(access).filter(public_id=public_id).first()
    if cp is None:
        raise Http404
    return cp


def language_q(code: str) -> Q:
    code = code.strip().lower()
    return (
        Q(languages=code)
        | Q(languages__startswith=f"{code},")
        | Q(languages__endswith=f",{code}")
        | Q(languages__contains=f",{code},")
    )


def available_q(network_id: int, at: datetime) -> Q:
    """Contact points of the network available at the instant `at`, evaluated in SQL.

    For each time zone used in the network, `at` is turned into that zone's local weekday,
    minute and date once; a contact point is then available when (no exception covers its local
    date and it is 24/7 or a weekly window contains the minute) or an exception covering the
    date is open at that minute.
    """
    if at.tzinfo is None:
        raise ValueError("available_at must carry a time zone")
    zones = (
        ContactPoint.objects.filter(network_id=network_id)
        .order_by()
        .values_list("timezone", flat=True)
        .distinct()
    )
    clauses = Q(pk__in=[])
    for zone in zones:
        local = at.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        day = local.date()
        exception_today = AvailabilityExceptionRow.objects.filter(
            contact_point=OuterRef("pk"), start_date__lte=day, end_date__gte=day
        )
        open_exception = exception_today.filter(start_minute__lte=minute, end_minute__gt=minute)
        window_open = AvailabilityWindow.objects.filter(
            contact_point=OuterRef("pk"),
            weekday=local.weekday(),
            start_minute__lte=minute,
            end_minute__gt=minute,
        )
        regular = Q(~Exists(exception_today)) & (Q(always_available=True) | Q(Exists(window_open)))
        clauses |= Q(timezone=zone) & (regular | Q(Exists(open_exception)))
    return clauses


def filter_contact_points(
    qs: QuerySet[ContactPoint], access: NetworkAccess, filters: DirectoryFilters
) -> QuerySet[ContactPoint]:
    if filters.member:
        qs = qs.filter(Q(member__code=filters.member.upper()) | Q(member__public_id=filters.member))
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.language:
        qs = qs.filter(language_q(filters.language))
    if filters.q:
        term = filters.q.strip()
        qs = qs.filter(
            Q(institution__icontains=term)
            | Q(unit__icontains=term)
            | Q(member__name__icontains=term)
            | Q(member__code__iexact=term)
            | Q(instructions__icontains=term)
        )
    if filters.available_at is not None:
        qs = qs.filter(available_q(access.network.pk, filters.available_at))
    return qs


def filter_choices(access: NetworkAccess) -> tuple[list[tuple[str, str]], list[str]]:
    """For the list's filters, in one query: the members that have visible contact points, as
    (code, name) sorted by name, and the ISO 639-1 codes those contact points speak."""
    rows = (
        visible_contact_points(access)
        .prefetch_related(None)
        .order_by()
        .values_list("member__code", "member__name", "languages")
        .distinct()
    )
    members: set[tuple[str, str]] = set()
    languages: set[str] = set()
    for code, name, text in rows:
        members.add((code, name))
        languages.update(lang for lang in text.split(",") if lang)
    return sorted(members, key=lambda m: (m[1].casefold(), m[0])), sorted(languages)


def record_list_consultation(
    actor, access: NetworkAccess, filters: DirectoryFilters, result_count: int
) -> None:
    """Audit a consultation of the directory list: which filters, how many results."""
    used = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in vars(filters).items()
        if value not in ("", None)
    }
    record_event(
        actor,
        "directory.list",
        network=access.network,
        details={"filters": used, "results": result_count},
    )


def record_contact_point_view(actor, access: NetworkAccess, cp: ContactPoint) -> None:
    """Audit a consultation of one contact point's details."""
    record_event(
        actor,
        "directory.view_contact_point",
        obj=cp,
        network=access.network,
        details={"member": cp.member.code},
    )


def read_contact_point(actor, access: NetworkAccess, public_id: str) -> ContactPoint:
    """get_contact_point, audited as a consultation ("directory.view_contact_point")."""
    cp = get_contact_point(access, public_id)
    record_contact_point_view(actor, access, cp)
    return cp
