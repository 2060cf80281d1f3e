"""REST API of ping tests: start one (Secretariat, write token), list them, read a report.

Results are confidential: the list's figures and the report cover the probes the caller may see
(reachability.queries) — every probe for the Secretariat, its own member's for a coordinator or
an officer. A test that never probed the caller's member is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AwareDatetime, ConfigDict, Field

from liaison.api.auth import requires
from liaison.api.common import (
    DEFAULT_PAGE_SIZE,
    ERRORS,
    MAX_PAGE_SIZE,
    json_response,
    page_response,
    paginate,
)
from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.reachability import queries, services
from liaison.reachability.models import PingTest, ProbeStatus
from liaison.reachability.report import consult_report

router = Router(tags=["ping tests"])

# The service's field names → the request body's.
BODY_FIELD = {"reminder_after": "reminder_after_hours", "escalate_after": "escalate_after_hours"}


# --- schemas -------------------------------------------------------------------------------


class PingTestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(
        ..., min_length=1, description="email (a link and a reply marker), app, manual"
    )
    members: list[str] = Field(default_factory=list, description="member codes; empty: all")
    types: list[str] = Field(default_factory=list, description="contact point types; empty: all")
    timing: str = Field("now", description="now, at (starts_at) or random (in the window)")
    starts_at: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset")
    window_ends_at: AwareDatetime | None = None
    off_hours: bool = Field(
        False, description="random times outside each contact point's declared hours"
    )
    reminder_after_hours: float | None = Field(None, gt=0, le=24 * 90)
    escalate_after_hours: float | None = Field(None, gt=0, le=24 * 90)
    ends_at: AwareDatetime | None = Field(None, description="default: 7 days after the last probe")
    note: str = Field("", max_length=2000)


class PingTestOut(Schema):
    id: str
    status: str
    timing: str
    channels: list[str]
    members: list[str]
    types: list[str]
    off_hours: bool
    starts_at: dt.datetime
    window_ends_at: dt.datetime | None
    ends_at: dt.datetime
    created_at: dt.datetime
    probes: int  # the probes the caller may see (its own member's, unless Secretariat)
    acknowledged: int
    response_rate: float


class PingTestPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[PingTestOut]


class MemberFiguresOut(Schema):
    model_config = ConfigDict(extra="allow")

    probes: int
    acknowledged: int


class ReportOut(Schema):
    """DESIGN.md's contract keys; the other figures (by type, by channel, in/off hours,
    findings, trend…) are present too."""

    model_config = ConfigDict(extra="allow")

    id: str
    network: str
    probes: int
    acknowledged: int
    response_rate: float
    median_seconds: float | None
    p90_seconds: float | None
    by_member: dict[str, MemberFiguresOut] | None = None


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def test_dict(test: PingTest, probes: int, acknowledged: int) -> dict[str, Any]:
    return {
        "id": test.public_id,
        "status": test.status,
        "timing": test.timing,
        "channels": list(test.channels),
        "members": list(test.members),
        "types": list(test.types),
        "off_hours": test.off_hours,
        "starts_at": _iso(test.starts_at),
        "window_ends_at": _iso(test.window_ends_at),
        "ends_at": _iso(test.ends_at),
        "created_at": _iso(test.created_at),
        "probes": probes,
        "acknowledged": acknowledged,
        "response_rate": acknowledged / probes if probes else 0.0,
    }


# --- operations ----------------------------------------------------------------------------


@router.post(
    "/networks/{slug}/pingtests",
    response={201: PingTestOut, **ERRORS},
    operation_id="start_ping_test",
    summary="Start a ping test (Secretariat; needs a write token)",
)
@requires(Perm.PINGTEST_MANAGE, write=True)
def start(request, slug: str, ping_test: PingTestIn):
    access = request.access
    body = ping_test

    def hours(value: float | None) -> dt.timedelta | None:
        return dt.timedelta(hours=value) if value else None

    try:
        test = services.start_ping_test(
            request.user,
            access,
            channels=body.channels,
            members=body.members,
            types=body.types,
            timing=body.timing,
            starts_at=body.starts_at,
            window_ends_at=body.window_ends_at,
            off_hours=body.off_hours,
            reminder_after=hours(body.reminder_after_hours),
            escalate_after=hours(body.escalate_after_hours),
            ends_at=body.ends_at,
            note=body.note,
        )
    except ServiceError as exc:
        field = BODY_FIELD.get(exc.field or "", exc.field or "")
        loc = ["body", field] if field else ["body"]
        return json_response({"detail": [{"loc": loc, "msg": exc.message}]}, status=422)
    probes = test.probes.count()
    return json_response(test_dict(test, probes, 0), status=201)


@router.get(
    "/networks/{slug}/pingtests",
    response={200: PingTestPage, **ERRORS},
    operation_id="list_ping_tests",
    summary="List the ping tests, newest first, with the figures the caller may see",
)
@requires(Perm.PINGTEST_VIEW)
def list_tests(
    request,
    slug: str,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
):
    access = request.access
    scope = (
        Q()
        if queries.sees_all_results(access)
        else Q(probes__member_id__in=queries.own_member_ids(access))
    )
    qs = (
        queries.visible_ping_tests(access)
        .annotate(
            probe_count=Count("probes", filter=scope),
            confirmed_count=Count("probes", filter=scope & Q(probes__status=ProbeStatus.CONFIRMED)),
        )
        .order_by("-starts_at", "-id")
    )
    count, items = paginate(qs, page, page_size)
    with transaction.atomic():
        record_event(
            request.user,
            "api.pingtest.list",
            network=access.network,
            details={"page": page, "count": count},
        )
    return page_response(
        count,
        page,
        page_size,
        [test_dict(t, t.probe_count, t.confirmed_count) for t in items],
    )


@router.get(
    "/networks/{slug}/pingtests/{id}/report",
    response={200: ReportOut, **ERRORS},
    operation_id="ping_test_report",
    summary="A ping test's report (the caller's own member only, unless Secretariat)",
)
@requires(Perm.PINGTEST_VIEW)
def report(request, slug: str, id: str, anonymised: bool = False):
    access = request.access
    test = queries.get_ping_test(access, id)
    if anonymised and not queries.sees_all_results(access):
        raise HttpError(403, _("only the Secretariat reads the anonymised report of a whole test"))
    try:
        figures = consult_report(request.user, access, test, anonymise=anonymised)
    except PermissionDenied:
        raise HttpError(403, _("you may not read this report")) from None
    return json_response(figures)
