"""The Secretariat's figures: members by status and kind, contact points by type.

`network_stats` returns the contract shape of DESIGN.md ("Statistics") with every key present,
computed with a fixed number of aggregate queries however many members the network has.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q

from liaison.audit.services import record_event
from liaison.core.permissions import NetworkAccess, Perm
from liaison.directory.models import ContactPoint, ContactPointType
from liaison.networks.models import Member, MemberKind, MemberStatus, Network


def compute_network_stats(network: Network) -> dict[str, Any]:
    """The figures of `network`, unchecked: for callers that authorise themselves (CLI, API)."""
    # Per-member contact point counts, folded with the member counts into one aggregate over
    # the annotated rows (a subquery): one query for every member figure.
    per_member = (
        Member.objects.filter(network=network).annotate(n=Count("contact_points")).order_by()
    )
    member_row = per_member.aggregate(
        total=Count("pk"),
        **{f"status_{v}": Count("pk", filter=Q(status=v)) for v in MemberStatus.values},
        **{f"kind_{v}": Count("pk", filter=Q(kind=v)) for v in MemberKind.values},
        with_cp=Count("pk", filter=Q(n__gte=1)),
        multi_cp=Count("pk", filter=Q(n__gte=2)),
        parties_with_cp=Count("pk", filter=Q(n__gte=1, status=MemberStatus.PARTY)),
        parties_multi_cp=Count("pk", filter=Q(n__gte=2, status=MemberStatus.PARTY)),
    )
    cp_row = (
        ContactPoint.objects.filter(network=network)
        .order_by()
        .aggregate(
            total=Count("pk"),
            **{v: Count("pk", filter=Q(type=v)) for v in ContactPointType.values},
        )
    )
    return {
        "network": network.slug,
        "members": {
            "total": member_row["total"] or 0,
            "by_status": {v: member_row[f"status_{v}"] or 0 for v in MemberStatus.values},
            "by_kind": {v: member_row[f"kind_{v}"] or 0 for v in MemberKind.values},
        },
        "members_with_contact_points": member_row["with_cp"] or 0,
        "members_with_multiple_contact_points": member_row["multi_cp"] or 0,
        "contact_points": {
            "total": cp_row["total"] or 0,
            "by_type": {value: cp_row[value] or 0 for value in ContactPointType.values},
        },
        # Beyond the contract: the Secretariat's slides count parties only.
        "parties_with_contact_points": member_row["parties_with_cp"] or 0,
        "parties_with_multiple_contact_points": member_row["parties_multi_cp"] or 0,
    }


def network_stats(access_or_network: NetworkAccess | Network) -> dict[str, Any]:
    """The figures of a network: given an access, it must hold stats.view (else PermissionDenied);
    given a Network, the caller has authorised."""
    if isinstance(access_or_network, NetworkAccess):
        if not access_or_network.has(Perm.STATS_VIEW):
            raise PermissionDenied
        return compute_network_stats(access_or_network.network)
    return compute_network_stats(access_or_network)


def consult_network_stats(actor, access_or_network: NetworkAccess | Network) -> dict[str, Any]:
    """`network_stats`, recorded in the audit trail as a consultation ("stats.view")."""
    stats = network_stats(access_or_network)
    network = (
        access_or_network.network
        if isinstance(access_or_network, NetworkAccess)
        else access_or_network
    )
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    with transaction.atomic():
        record_event(actor if is_user else None, "stats.view", obj=network, network=network)
    return stats
