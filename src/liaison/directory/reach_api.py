"""The "Reach now" question in the REST API: who at a member can be reached at an instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import AwareDatetime

from liaison.api.auth import requires
from liaison.api.common import ERRORS, json_response
from liaison.core.permissions import Perm
from liaison.directory.reach import Reach, ReachEntry, find_member, reach

router = Router(tags=["directory"])


class ReachMember(Schema):
    code: str
    name: str
    status: str


class ReachChannel(Schema):
    kind: str
    value: str
    notes: str


class ReachContactPoint(Schema):
    id: str
    type: str
    institution: str
    unit: str
    channels: list[ReachChannel]
    languages: list[str]
    shares_language: bool | None  # None when no language was asked for
    timezone: str
    local_time: datetime  # the desk's wall-clock time at `at`, with its UTC offset
    utc_offset: str  # "+01:00"
    available: bool
    next_available_at: datetime | None  # closed desks: next opening (UTC) within 14 days
    next_available_in_seconds: int | None


class ReachOut(Schema):
    member: ReachMember
    at: datetime
    language: str | None
    available: list[ReachContactPoint]
    available_without_shared_language: list[ReachContactPoint]
    not_available: list[ReachContactPoint]  # soonest opening first
    next_available_at: datetime | None  # when nobody is available: the soonest opening


def _offset(local: datetime) -> str:
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _entry(entry: ReachEntry, at: datetime) -> dict:
    cp = entry.cp
    return {
        "id": cp.public_id,
        "type": cp.type,
        "institution": cp.institution,
        "unit": cp.unit,
        "channels": [{"kind": c.kind, "value": c.value, "notes": c.notes} for c in entry.channels],
        "languages": cp.language_list,
        "shares_language": entry.shares_language,
        "timezone": cp.timezone,
        "local_time": entry.local.isoformat(),
        "utc_offset": _offset(entry.local),
        "available": entry.available,
        "next_available_at": entry.next_at.isoformat() if entry.next_at else None,
        "next_available_in_seconds": (
            int((entry.next_at - at).total_seconds()) if entry.next_at else None
        ),
    }


def reach_dict(result: Reach) -> dict:
    at = result.at
    member = result.member
    return {
        "member": {"code": member.code, "name": member.name, "status": member.status},
        "at": at.astimezone(UTC).isoformat(),
        "language": result.language or None,
        "available": [_entry(e, at) for e in result.available],
        "available_without_shared_language": [
            _entry(e, at) for e in result.available_no_shared_language
        ],
        "not_available": [_entry(e, at) for e in result.not_available],
        "next_available_at": (
            result.next_at.isoformat() if result.next_at and not result.anyone_available else None
        ),
    }


@router.get(
    "/networks/{slug}/members/{code}/reach",
    response={200: ReachOut, **ERRORS},
    operation_id="reach_member",
    summary="Who at a member can be reached now (or at `at`), in a shared language",
)
@requires(Perm.DIRECTORY_VIEW)
def reach_member(
    request,
    slug: str,
    code: str,
    at: Annotated[
        AwareDatetime | None,
        Query(description="ISO 8601 instant with a UTC offset; default: now"),
    ] = None,
    language: str = Query("", pattern="^[A-Za-z]{2}$", description="ISO 639-1 code"),
):
    access = request.access
    member = find_member(access, code)  # Http404 when not visible
    result = reach(request.user, access, member, at or timezone.now(), language)  # audited
    return json_response(reach_dict(result))
