"""REST API of networks: the caller's networks and roles, and a network's members."""

from __future__ import annotations

from datetime import date

from ninja import Query, Router, Schema

from liaison.api.auth import requires, token_only
from liaison.api.common import (
    DEFAULT_PAGE_SIZE,
    ERRORS,
    MAX_PAGE_SIZE,
    ErrorOut,
    json_response,
    page_response,
    paginate,
)
from liaison.audit.services import record_event
from liaison.core.permissions import Perm
from liaison.networks.models import MemberKind, MemberStatus
from liaison.networks.queries import members_with_counts, resolve_access, visible_networks

router = Router(tags=["networks"])


class NetworkOut(Schema):
    id: str
    slug: str
    name: str
    legal_basis: str
    roles: list[str]
    permissions: list[str]


class MemberOut(Schema):
    id: str
    code: str
    name: str
    kind: str
    status: str
    status_since: date | None
    contact_points: int


class MemberPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[MemberOut]


@router.get(
    "/networks",
    response={200: list[NetworkOut], 401: ErrorOut},
    operation_id="list_networks",
    summary="The networks the token's user holds a role in, with its roles",
)
@token_only
def list_networks(request):
    user = request.user
    out = []
    # One access query per network: a person holds roles in a handful of networks at most.
    for network in visible_networks(user):
        access = resolve_access(user, network)
        out.append(
            {
                "id": network.public_id,
                "slug": network.slug,
                "name": network.name,
                "legal_basis": network.legal_basis,
                "roles": sorted(access.roles),
                "permissions": sorted(str(p) for p in access.perms),
            }
        )
    return json_response(out)


@router.get(
    "/networks/{slug}/members",
    response={200: MemberPage, **ERRORS},
    operation_id="list_members",
    summary="List the network's members",
)
@requires(Perm.MEMBERS_VIEW)
def list_members(
    request,
    slug: str,
    status: MemberStatus | None = None,
    kind: MemberKind | None = None,
    q: str = Query("", max_length=200, description="name or exact code"),
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
):
    access = request.access
    filters = {
        "status": status.value if status else "",
        "kind": kind.value if kind else "",
        "q": q.strip(),
    }
    qs = members_with_counts(access, **filters)
    count, members = paginate(qs, page, page_size)
    results = [
        {
            "id": m.public_id,
            "code": m.code,
            "name": m.name,
            "kind": m.kind,
            "status": m.status,
            "status_since": m.status_since.isoformat() if m.status_since else None,
            "contact_points": m.contact_point_count,
        }
        for m in members
    ]
    record_event(
        request.user,
        "api.members.list",
        network=access.network,
        details={"filters": {k: v for k, v in filters.items() if v}, "page": page, "count": count},
    )
    return page_response(count, page, page_size, results)
