"""REST API of reports: the Secretariat's figures (the contract shape of DESIGN.md)."""

from __future__ import annotations

from ninja import Router, Schema
from pydantic import ConfigDict

from liaison.api.auth import requires
from liaison.api.common import ERRORS, json_response
from liaison.audit.services import record_event
from liaison.core.permissions import Perm
from liaison.reports.queries import network_stats

router = Router(tags=["reports"])


class MemberCountsOut(Schema):
    total: int
    by_status: dict[str, int]
    by_kind: dict[str, int]


class ContactPointCountsOut(Schema):
    total: int
    by_type: dict[str, int]


class StatsOut(Schema):
    """The contract keys; more may be present (editions, ping tests…) and stay."""

    model_config = ConfigDict(extra="allow")

    network: str
    members: MemberCountsOut
    members_with_contact_points: int
    members_with_multiple_contact_points: int
    contact_points: ContactPointCountsOut


@router.get(
    "/networks/{slug}/stats",
    response={200: StatsOut, **ERRORS},
    operation_id="network_stats",
    summary="The network's statistics",
)
@requires(Perm.STATS_VIEW)
def stats(request, slug: str):
    access = request.access
    figures = network_stats(access)
    record_event(request.user, "api.stats.read", obj=access.network, network=access.network)
    return json_response(figures)
