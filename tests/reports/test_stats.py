"""The Secretariat's figures: exact values on hand-built networks, constant query count."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from liaison.audit.models import AuditEvent
from liaison.networks.queries import resolve_access
from liaison.reports.queries import (
    compute_network_stats,
    consult_network_stats,
    network_stats,
)
from tests.factories import MemberFactory, NetworkFactory, PublishedContactPointFactory

pytestmark = pytest.mark.django_db


def test_three_members_exact_figures():
    network = NetworkFactory(slug="small")
    fr = MemberFactory(network=network, code="FR", status="party")
    de = MemberFactory(network=network, code="DE", status="party")
    MemberFactory(network=network, code="JP", status="observer")
    PublishedContactPointFactory(member=fr, type="police")
    PublishedContactPointFactory(member=de, type="police")
    PublishedContactPointFactory(member=de, type="prosecution")
    PublishedContactPointFactory(member=de, type="cybersecurity")
    # Another network's members and contact points must not count.
    other = MemberFactory(network=NetworkFactory(slug="elsewhere"), code="IT")
    PublishedContactPointFactory(member=other, type="police")

    assert network_stats(network) == {
        "network": "small",
        "members": {
            "total": 3,
            "by_status": {"party": 2, "observer": 1, "non_party": 0},
            "by_kind": {"state": 3, "organisation": 0},
        },
        "members_with_contact_points": 2,
        "members_with_multiple_contact_points": 1,
        "contact_points": {
            "total": 4,
            "by_type": {
                "police": 2,
                "security_service": 0,
                "prosecution": 1,
                "ministry_of_justice": 0,
                "cybersecurity": 1,
                "other": 0,
            },
        },
        "parties_with_contact_points": 2,
        "parties_with_multiple_contact_points": 1,
        "stale_contact_points": 0,
        "review_due_30_days": 0,
    }


def test_parties_and_members_are_counted_apart():
    network = NetworkFactory(slug="ftf")
    party = MemberFactory(network=network, code="FR", status="party")
    observer = MemberFactory(network=network, code="JP", status="observer")
    org = MemberFactory(
        network=network, code="INTERPOL", name="INTERPOL", kind="organisation", status="non_party"
    )
    PublishedContactPointFactory(member=party, type="police")
    for _ in range(2):
        PublishedContactPointFactory(member=observer, type="security_service")
    PublishedContactPointFactory(member=org, type="other")
    stats = network_stats(network)
    assert stats["members"]["by_kind"] == {"state": 2, "organisation": 1}
    assert stats["members"]["by_status"] == {"party": 1, "observer": 1, "non_party": 1}
    assert stats["members_with_contact_points"] == 3
    assert stats["members_with_multiple_contact_points"] == 1
    assert stats["parties_with_contact_points"] == 1
    assert stats["parties_with_multiple_contact_points"] == 0
    assert stats["contact_points"]["by_type"]["security_service"] == 2


def test_empty_network_has_every_key_at_zero():
    stats = compute_network_stats(NetworkFactory(slug="empty"))
    assert stats == {
        "network": "empty",
        "members": {
            "total": 0,
            "by_status": {"party": 0, "observer": 0, "non_party": 0},
            "by_kind": {"state": 0, "organisation": 0},
        },
        "members_with_contact_points": 0,
        "members_with_multiple_contact_points": 0,
        "contact_points": {
            "total": 0,
            "by_type": {
                "police": 0,
                "security_service": 0,
                "prosecution": 0,
                "ministry_of_justice": 0,
                "cybersecurity": 0,
                "other": 0,
            },
        },
        "parties_with_contact_points": 0,
        "parties_with_multiple_contact_points": 0,
        "stale_contact_points": 0,
        "review_due_30_days": 0,
    }


def _network_of(size: int, slug: str):
    network = NetworkFactory(slug=slug)
    codes = ["FR", "DE", "IT", "ES", "PT", "NL", "BE", "AT", "PL", "RO"]
    for i in range(size):
        member = MemberFactory(
            network=network,
            code=f"{codes[i % 10]}{i}",
            status=["party", "observer", "non_party"][i % 3],
            kind=["state", "organisation"][i % 2],
        )
        for _ in range(i % 3):
            PublishedContactPointFactory(
                member=member, type=["police", "prosecution", "other"][i % 3]
            )
    return network


def test_query_count_does_not_grow_with_members(django_assert_num_queries):
    small = _network_of(5, "five")
    large = _network_of(50, "fifty")
    with django_assert_num_queries(2) as small_queries:
        small_stats = compute_network_stats(small)
    with django_assert_num_queries(2) as large_queries:
        large_stats = compute_network_stats(large)
    assert len(small_queries.captured_queries) == len(large_queries.captured_queries)
    assert small_stats["members"]["total"] == 5
    assert large_stats["members"]["total"] == 50
    # 50 members: i % 3 contact points each → 16 with 1, 16 with 2 (i = 0..49).
    assert large_stats["members_with_contact_points"] == 33
    assert large_stats["members_with_multiple_contact_points"] == 16
    assert large_stats["contact_points"]["total"] == 17 + 2 * 16


def test_access_needs_stats_view(world):
    assert network_stats(resolve_access(world.auditor, world.network))["network"] == "budapest"
    assert network_stats(resolve_access(world.secretariat, world.network))["members"]["total"] == 2
    for who in ("officer_a", "coordinator_b", "outsider"):
        with pytest.raises(PermissionDenied):
            network_stats(resolve_access(getattr(world, who), world.network))


def test_consultation_is_audited(world):
    access = resolve_access(world.auditor, world.network)
    consult_network_stats(world.auditor, access)
    event = AuditEvent.objects.get(action="stats.view")
    assert event.actor_id == world.auditor.pk
    assert event.network_slug == "budapest"
    with pytest.raises(PermissionDenied):
        consult_network_stats(world.officer_a, resolve_access(world.officer_a, world.network))
    assert AuditEvent.objects.filter(action="stats.view").count() == 1
