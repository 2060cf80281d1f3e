"""The only write path of the directory: create, update, delete and replace contact points."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from liaison.audit.services import record_event
from liaison.core.permissions import NetworkAccess, Perm
from liaison.directory.models import (
    AvailabilityExceptionRow,
    AvailabilityWindow,
    Channel,
    ContactPoint,
)
from liaison.directory.schemas import ContactPointData, current_data, validate_contact_point
from liaison.networks.models import Member, Network

REVIEW_PERIOD = timedelta(days=365)


def _region(member: Member) -> str | None:
    return member.code if member.kind == "state" and len(member.code) == 2 else None


def _require_edit(access: NetworkAccess, member: Member) -> None:
    if not access.can_edit_member(member):
        raise PermissionDenied("you may not edit this member's entries")


def _apply(cp: ContactPoint, data: ContactPointData) -> None:
    cp.type = data.type
    cp.institution = data.institution
    cp.unit = data.unit
    cp.availability = data.availability
    cp.always_available = data.schedule.always
    cp.availability_exceptions = data.availability_exceptions
    cp.timezone = data.timezone
    cp.languages = data.languages
    cp.instructions = data.instructions
    cp.pgp_key = data.pgp_key
    cp.review_date = data.review_date or (timezone.now() + REVIEW_PERIOD).date()


def _derived_rows(cp: ContactPoint, data: ContactPointData):
    """Channels, weekly windows and exception rows: what SQL filters and pages read."""
    channels = [
        Channel(contact_point=cp, kind=ch.kind, value=ch.value, notes=ch.notes, position=i)
        for i, ch in enumerate(data.channels)
    ]
    windows = [
        AvailabilityWindow(
            contact_point=cp, weekday=w.weekday, start_minute=w.start, end_minute=w.end
        )
        for w in data.schedule.windows
    ]
    exceptions = []
    for exc in data.exceptions:
        hours = exc.hours or ((None, None),)
        exceptions += [
            AvailabilityExceptionRow(
                contact_point=cp,
                start_date=exc.start,
                end_date=exc.end,
                start_minute=start,
                end_minute=end,
            )
            for start, end in hours
        ]
    return channels, windows, exceptions


def _write_derived(cps_and_data: Sequence[tuple[ContactPoint, ContactPointData]]) -> None:
    channels: list[Channel] = []
    windows: list[AvailabilityWindow] = []
    exceptions: list[AvailabilityExceptionRow] = []
    for cp, data in cps_and_data:
        c, w, e = _derived_rows(cp, data)
        channels += c
        windows += w
        exceptions += e
    Channel.objects.bulk_create(channels, batch_size=1000)
    AvailabilityWindow.objects.bulk_create(windows, batch_size=1000)
    AvailabilityExceptionRow.objects.bulk_create(exceptions, batch_size=1000)


def _clear_derived(cp_ids: Iterable[int]) -> None:
    ids = list(cp_ids)
    Channel.objects.filter(contact_point_id__in=ids).delete()
    AvailabilityWindow.objects.filter(contact_point_id__in=ids).delete()
    AvailabilityExceptionRow.objects.filter(contact_point_id__in=ids).delete()


def create_contact_point(actor, access: NetworkAccess, member: Member, raw: dict[str, Any]):
    """Add a contact point to `member` from raw input (validated with the shared schema)."""
    _require_edit(access, member)
    data = validate_contact_point(raw, region=_region(member))
    with transaction.atomic():
        position = member.contact_points.count()
        cp = ContactPoint(
            network=member.network, member=member, position=position, updated_by=actor
        )
        _apply(cp, data)
        cp.save()
        _write_derived([(cp, data)])
        record_event(
            actor,
            "directory.contact_point.create",
            obj=cp,
            network=member.network,
            details={"member": member.code},
        )
    return cp


def update_contact_point(actor, access: NetworkAccess, cp: ContactPoint, changes: dict[str, Any]):
    """Partial update: `changes` overrides the stored values, and the whole is re-validated."""
    _require_edit(access, cp.member)
    before = current_data(cp)
    raw = {**before, **changes}
    data = validate_contact_point(raw, region=_region(cp.member))
    with transaction.atomic():
        cp = ContactPoint.objects.select_for_update().get(pk=cp.pk)
        _apply(cp, data)
        cp.updated_by = actor
        cp.save()
        _clear_derived([cp.pk])
        _write_derived([(cp, data)])
        after = current_data(cp)
        changed = sorted(k for k in after if _jsonable(after[k]) != _jsonable(before[k]))
        record_event(
            actor,
            "directory.contact_point.update",
            obj=cp,
            network=cp.network,
            details={"member": cp.member.code, "fields": changed},
        )
    return cp


def delete_contact_point(actor, access: NetworkAccess, cp: ContactPoint) -> None:
    _require_edit(access, cp.member)
    with transaction.atomic():
        record_event(
            actor,
            "directory.contact_point.delete",
            obj=cp,
            network=cp.network,
            details={"member": cp.member.code},
        )
        _clear_derived([cp.pk])
        cp.delete()


def confirm_contact_point(actor, access: NetworkAccess, cp: ContactPoint) -> ContactPoint:
    """'Still correct': moves the review date a period ahead."""
    _require_edit(access, cp.member)
    with transaction.atomic():
        now = timezone.now()
        cp.last_confirmed_at = now
        cp.review_date = (now + REVIEW_PERIOD).date()
        cp.save(update_fields=["last_confirmed_at", "review_date", "updated_at"])
        record_event(actor, "directory.contact_point.confirm", obj=cp, network=cp.network)
    return cp


@dataclass
class ReplaceResult:
    members_created: int
    members_updated: int
    contact_points_removed: int
    contact_points_created: int


def replace_member_entries(
    actor,
    network: Network,
    entries: Sequence[tuple[Member, Sequence[ContactPointData]]],
    *,
    source: str = "",
) -> ReplaceResult:
    """Each listed member ends up with exactly the given contact points (the import's rule).

    The caller has validated everything and upserted the members in the same transaction; this
    writes in bulk so that 10,000 rows cost a handful of statements per 1,000 rows.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("replace_member_entries must run inside the caller's transaction")
    member_ids = [m.pk for m, _ in entries]
    old_ids = list(
        ContactPoint.objects.filter(network=network, member_id__in=member_ids).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(old_ids), 900):  # SQLite's bound-parameter limit
        chunk = old_ids[start : start + 900]
        _clear_derived(chunk)
        ContactPoint.objects.filter(pk__in=chunk).delete()
    pairs: list[tuple[ContactPoint, ContactPointData]] = []
    for member, datas in entries:
        for position, data in enumerate(datas):
            cp = ContactPoint(network=network, member=member, position=position, updated_by=actor)
            _apply(cp, data)
            pairs.append((cp, data))
    created = ContactPoint.objects.bulk_create([cp for cp, _ in pairs], batch_size=1000)
    if any(cp.pk is None for cp in created):  # backends that don't return ids on bulk insert
        raise RuntimeError("the database did not return primary keys for bulk inserts")
    _write_derived(pairs)
    record_event(
        actor,
        "directory.import",
        network=network,
        details={
            "source": source,
            "members": sorted(m.code for m, _ in entries),
            "contact_points_removed": len(old_ids),
            "contact_points_created": len(pairs),
        },
    )
    return ReplaceResult(0, 0, len(old_ids), len(pairs))


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def require_perm(access: NetworkAccess, perm: Perm) -> None:
    if not access.has(perm):
        raise PermissionDenied
