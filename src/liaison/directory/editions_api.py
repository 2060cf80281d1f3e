"""REST API of the directory's editions: the list, one edition's metadata, and the diff of two.

Everyone who reads the directory reads its editions (directory.view). An unknown edition is a
404 whose detail names the numbers that do not exist and those that do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from ninja import Query, Router, Schema
from ninja.errors import HttpError

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
from liaison.core.permissions import Perm
from liaison.directory import edition_queries, queries
from liaison.directory.edition_queries import UnknownEditions
from liaison.directory.models import Edition

router = Router(tags=["editions"])


# --- schemas -------------------------------------------------------------------------------


class EditionOut(Schema):
    id: str
    number: int
    current: bool
    published_at: datetime
    published_by: str | None  # the publisher's name; None when published from the console
    note: str
    changed_members: list[str]
    contact_point_count: int
    content_sha256: str


class EditionPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[EditionOut]


class FieldChangeOut(Schema):
    field: str
    old: Any
    new: Any


class ContactPointChangeOut(Schema):
    id: str
    change: str  # added | removed | edited
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    fields: list[FieldChangeOut]


class MemberDiffOut(Schema):
    code: str
    name: str
    change: str  # added | removed | edited
    member_fields: list[FieldChangeOut]
    contact_points: list[ContactPointChangeOut]


class DiffOut(Schema):
    format: str
    from_edition: int | None
    to_edition: int | None
    changed_members: list[str]
    totals: dict[str, Any]
    members: list[MemberDiffOut]


def edition_dict(edition: Edition, current: int | None) -> dict:
    publisher = edition.published_by
    return {
        "id": edition.public_id,
        "number": edition.number,
        "current": edition.number == current,
        "published_at": edition.published_at.isoformat(),
        "published_by": publisher.get_full_name() if publisher is not None else None,
        "note": edition.note,
        "changed_members": list(edition.changed_members),
        "contact_point_count": edition.contact_point_count,
        "content_sha256": edition.content_sha256,
    }


def _not_found(exc: UnknownEditions) -> HttpError:
    return HttpError(404, exc.message)


# --- operations ----------------------------------------------------------------------------


@router.get(
    "/networks/{slug}/editions",
    response={200: EditionPage, **ERRORS},
    operation_id="list_editions",
    summary="List the directory's published editions, newest first",
)
@requires(Perm.DIRECTORY_VIEW)
def list_editions(
    request,
    slug: str,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
):
    access = request.access
    qs = queries.editions(access)
    count, items = paginate(qs, page, page_size)
    current = (
        items[0].number if items and page == 1 else qs.values_list("number", flat=True).first()
    )
    with transaction.atomic():
        record_event(
            request.user,
            "directory.editions",
            network=access.network,
            details={"page": page, "count": count},
        )
    return page_response(count, page, page_size, [edition_dict(e, current) for e in items])


@router.get(
    "/networks/{slug}/editions/{number}",
    response={200: EditionOut, **ERRORS},
    operation_id="get_edition",
    summary="Read one edition's metadata and the members whose entries it changed",
)
@requires(Perm.DIRECTORY_VIEW)
def read_edition(request, slug: str, number: int):
    access = request.access
    try:
        edition = edition_queries.resolve_editions(access, [number], content=False)[number]
    except UnknownEditions as exc:
        raise _not_found(exc) from None
    current = queries.editions(access).values_list("number", flat=True).first()
    with transaction.atomic():
        record_event(
            request.user,
            "directory.edition",
            obj=edition,
            network=access.network,
            details={"number": number},
        )
    return json_response(edition_dict(edition, current))


@router.get(
    "/networks/{slug}/editions/{a}/diff/{b}",
    response={200: DiffOut, **ERRORS},
    operation_id="diff_editions",
    summary="What changed from edition a to edition b, member by member and field by field",
)
@requires(Perm.DIRECTORY_VIEW)
def diff_editions(request, slug: str, a: int, b: int):
    try:
        diff = edition_queries.diff_editions(request.user, request.access, a, b)
    except UnknownEditions as exc:
        raise _not_found(exc) from None
    return json_response(diff.as_json())
