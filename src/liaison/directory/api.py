"""REST API of the directory: contact points (list with filters, read, partial update)."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Annotated, Any

from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import AwareDatetime, BeforeValidator, ConfigDict

from liaison.api.auth import requires
from liaison.api.common import (
    DEFAULT_PAGE_SIZE,
    ERRORS,
    MAX_PAGE_SIZE,
    json_response,
    page_response,
)
from liaison.audit.services import record_event
from liaison.core.permissions import Perm
from liaison.directory import availability as av
from liaison.directory.models import ContactPoint, ContactPointType
from liaison.directory.queries import (
    DirectoryFilters,
    filter_contact_points,
    get_contact_point,
    get_draft,
    visible_contact_points,
)
from liaison.directory.schemas import FieldErrors
from liaison.directory.services import update_contact_point

router = Router(tags=["directory"])


# --- schemas -------------------------------------------------------------------------------


class MemberRef(Schema):
    code: str
    name: str
    status: str


class ChannelOut(Schema):
    kind: str
    value: str
    notes: str


class ContactPointOut(Schema):
    id: str
    member: MemberRef
    type: str
    institution: str
    unit: str
    channels: list[ChannelOut]
    availability: str
    availability_exceptions: str
    timezone: str
    languages: list[str]
    instructions: str
    review_date: date | None
    last_confirmed_at: datetime | None
    updated_at: datetime
    available_now: bool | None  # None when the stored schedule cannot be read


class ContactPointDetailOut(ContactPointOut):
    pgp_key: str
    # "published" (the current edition, what GET returns) or "draft" (what PATCH returns: the
    # change is read by everyone once the Secretariat publishes the next edition).
    layer: str


class ContactPointPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[ContactPointOut]


def _split_languages(value: Any) -> Any:
    return (
        [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str)
        else value
    )


class ChannelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str
    value: str
    notes: str = ""


class ContactPointPatch(Schema):
    """Only the fields given change; the result is validated as a whole (as in the forms)."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = None
    institution: str | None = None
    unit: str | None = None
    availability: str | None = None
    availability_exceptions: str | None = None
    timezone: str | None = None
    # ISO 639-1 codes, as a list or a comma-separated string.
    languages: Annotated[list[str], BeforeValidator(_split_languages)] | None = None
    instructions: str | None = None
    pgp_key: str | None = None
    review_date: date | None = None
    channels: list[ChannelIn] | None = None


# --- serialisation -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _schedule(text: str) -> av.Schedule | None:
    try:
        return av.parse_availability(text)
    except av.AvailabilityError:
        return None


@functools.lru_cache(maxsize=4096)
def _exceptions(text: str) -> tuple[av.AvailabilityException, ...] | None:
    try:
        return av.parse_exceptions(text)
    except av.AvailabilityError:
        return None


def available_now(availability: str, exceptions_text: str, tz: str, now: datetime) -> bool | None:
    """From the stored texts (each distinct text parsed once per process), without a query."""
    schedule, exceptions = _schedule(availability), _exceptions(exceptions_text)
    if schedule is None or exceptions is None:
        return None
    try:
        return av.is_available(schedule, tz, now, exceptions)
    except av.AvailabilityError:  # unknown time zone
        return None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def contact_point_dict(cp: ContactPoint, now: datetime, *, detail: bool = False) -> dict:
    """One contact point (model instance with member and channels loaded) as the API shows it."""
    member = cp.member
    data = {
        "id": cp.public_id,
        "member": {"code": member.code, "name": member.name, "status": member.status},
        "type": cp.type,
        "institution": cp.institution,
        "unit": cp.unit,
        "channels": [
            {"kind": ch.kind, "value": ch.value, "notes": ch.notes} for ch in cp.channels.all()
        ],
        "availability": cp.availability,
        "availability_exceptions": cp.availability_exceptions,
        "timezone": cp.timezone,
        "languages": cp.language_list,
        "instructions": cp.instructions,
        "review_date": _iso(cp.review_date),
        "last_confirmed_at": _iso(cp.last_confirmed_at),
        "updated_at": _iso(cp.updated_at),
        "available_now": available_now(
            cp.availability, cp.availability_exceptions, cp.timezone, now
        ),
    }
    if detail:
        data["pgp_key"] = cp.pgp_key
        data["layer"] = cp.layer
    return data


# The list reads plain rows rather than model instances: building 200 ContactPoint, Member and
# Channel objects per page costs more than the queries (bench: the list endpoint against a
# raw-SQL baseline). The rows still come from visible_contact_points (the scoped read path).
_ROW_FIELDS = (
    "pk",
    "public_id",
    "member__code",
    "member__name",
    "member__status",
    "type",
    "institution",
    "unit",
    "availability",
    "availability_exceptions",
    "timezone",
    "languages",
    "instructions",
    "review_date",
    "last_confirmed_at",
    "updated_at",
)


def contact_point_rows(access, qs, start: int, stop: int, now: datetime) -> list[dict]:
    """The page [start, stop) of `qs` as API dicts: two queries (rows, then their channels)."""
    rows = list(qs.prefetch_related(None).values_list(*_ROW_FIELDS)[start:stop])
    if not rows:
        return []
    channels: dict[int, list[dict]] = {row[0]: [] for row in rows}
    channel_rows = (
        visible_contact_points(access)
        .prefetch_related(None)
        .filter(pk__in=list(channels), channels__isnull=False)
        .order_by("pk", "channels__position", "channels__id")
        .values_list("pk", "channels__kind", "channels__value", "channels__notes")
    )
    for pk, kind, value, notes in channel_rows:
        channels[pk].append({"kind": kind, "value": value, "notes": notes})
    # `now` is fixed for the request, so each distinct (schedule, exceptions, zone) is evaluated
    # once per page.
    memo: dict[tuple[str, str, str], bool | None] = {}

    def is_open(availability: str, exceptions: str, tz: str) -> bool | None:
        key = (availability, exceptions, tz)
        if key not in memo:
            memo[key] = available_now(availability, exceptions, tz, now)
        return memo[key]

    return [
        {
            "id": public_id,
            "member": {"code": code, "name": name, "status": status},
            "type": type_,
            "institution": institution,
            "unit": unit,
            "channels": channels[pk],
            "availability": availability,
            "availability_exceptions": exceptions,
            "timezone": tz,
            "languages": [code for code in languages.split(",") if code],
            "instructions": instructions,
            "review_date": _iso(review_date),
            "last_confirmed_at": _iso(last_confirmed_at),
            "updated_at": _iso(updated_at),
            "available_now": is_open(availability, exceptions, tz),
        }
        for (
            pk,
            public_id,
            code,
            name,
            status,
            type_,
            institution,
            unit,
            availability,
            exceptions,
            tz,
            languages,
            instructions,
            review_date,
            last_confirmed_at,
            updated_at,
        ) in rows
    ]


# --- operations ----------------------------------------------------------------------------

CP_PATH = "/networks/{slug}/contact-points/{id}"


@router.get(
    "/networks/{slug}/contact-points",
    response={200: ContactPointPage, **ERRORS},
    operation_id="list_contact_points",
    summary="List the network's contact points",
)
@requires(Perm.DIRECTORY_VIEW)
def list_contact_points(
    request,
    slug: str,
    member: str = Query("", max_length=64, description="member code (FR) or public id"),
    type: ContactPointType | None = None,
    language: str = Query("", pattern="^[A-Za-z]{2}$", description="ISO 639-1 code"),
    available_at: Annotated[
        AwareDatetime | None,
        Query(description="ISO 8601 instant with a UTC offset, e.g. 2025-01-31T22:00:00+01:00"),
    ] = None,
    q: str = Query("", max_length=200, description="institution, unit, member or instructions"),
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
):
    access = request.access
    filters = DirectoryFilters(
        member=member.strip(),
        type=type.value if type else "",
        language=language,
        q=q.strip(),
        available_at=available_at,
    )
    qs = filter_contact_points(visible_contact_points(access), access, filters)
    count = qs.count()
    start = (page - 1) * page_size
    results = (
        contact_point_rows(access, qs, start, start + page_size, timezone.now())
        if start < count
        else []
    )
    record_event(
        request.user,
        "api.contact_points.list",
        network=access.network,
        details={
            "filters": {
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in vars(filters).items()
                if value
            },
            "page": page,
            "count": count,
        },
    )
    return page_response(count, page, page_size, results)


@router.get(
    CP_PATH,
    response={200: ContactPointDetailOut, **ERRORS},
    operation_id="get_contact_point",
    summary="Read one contact point",
)
@requires(Perm.DIRECTORY_VIEW)
def read_contact_point(request, slug: str, id: str):
    access = request.access
    cp = get_contact_point(access, id)
    record_event(request.user, "api.contact_point.read", obj=cp, network=access.network)
    return json_response(contact_point_dict(cp, timezone.now(), detail=True))


@router.patch(
    CP_PATH,
    response={200: ContactPointDetailOut, **ERRORS},
    operation_id="update_contact_point",
    summary="Change some fields of a contact point's draft (needs a write token)",
    description="The change is a draft: the answer shows the draft (`layer` = draft); GET "
    "and everyone else read the published edition until the Secretariat publishes the next one.",
)
@requires(Perm.DIRECTORY_EDIT, write=True)
def patch_contact_point(request, slug: str, id: str, changes: ContactPointPatch):
    access = request.access
    cp = get_contact_point(access, id)
    given = changes.model_dump(exclude_unset=True)
    if not given:
        raise FieldErrors([("", "no field to change")])
    # Audited by the service, in its transaction.
    update_contact_point(request.user, access, cp, given)
    cp = get_draft(access, id)
    return json_response(contact_point_dict(cp, timezone.now(), detail=True))
