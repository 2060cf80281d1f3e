"""The Secretariat's figures: members by status and kind, contact points by type.

`network_stats` returns the contract shape of DESIGN.md ("Statistics") with every key present,
computed with a fixed number of aggregate queries however many members the network has.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from liaison.audit.services import record_event
from liaison.core.permissions import NetworkAccess, Perm
from liaison.directory import staleness
from liaison.directory.models import ContactPointType, Layer
from liaison.networks.models import Member, MemberKind, MemberStatus, Network


def compute_network_stats(network: Network, today: dt.date | None = None) -> dict[str, Any]:
    """The figures of `network`, unchecked: for callers that authorise themselves (CLI, API).

    They count the published directory (the current edition), not the drafts. `today` (for
    staleness) defaults to the current date.
    """
    today = today or timezone.localdate()
    # Per-member contact point counts, folded with the member counts into one aggregate over
    # the annotated rows (a subquery): one query for every member figure.
    published = Q(contact_points__layer=Layer.PUBLISHED)
    per_member = (
        Member.objects.filter(network=network)
        .annotate(n=Count("contact_points", filter=published))
        .order_by()
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
        staleness.published_contact_points(network)
        .order_by()
        .aggregate(
            total=Count("pk"),
            **{v: Count("pk", filter=Q(type=v)) for v in ContactPointType.values},
            stale=Count("pk", filter=staleness.stale_q(today)),
            due_soon=Count("pk", filter=staleness.due_soon_q(today)),
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
        # Review dates passed, and coming within the reminder lead (directory.staleness).
        "stale_contact_points": cp_row["stale"] or 0,
        "review_due_30_days": cp_row["due_soon"] or 0,
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
