"""The only read path of reachability tests. Results are confidential by design: the Secretariat
sees every probe; a member's coordinators and officers see their own member's probes only."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.networks.models import RoleAssignment
from liaison.reachability.models import PingTest, Probe, ProbeStatus


def own_member_ids(access: NetworkAccess) -> set[int]:
    return set(access.members_by_role.get(Role.COORDINATOR, set())) | set(
        access.members_by_role.get(Role.OFFICER, set())
    )


def sees_all_results(access: NetworkAccess) -> bool:
    return access.has(Perm.PINGTEST_MANAGE)


def visible_ping_tests(access: NetworkAccess) -> QuerySet[PingTest]:
    """Secretariat: every test of the network; others: the tests that probed their member."""
    if not access.has(Perm.PINGTEST_VIEW):
        return PingTest.objects.none()
    qs = PingTest.objects.filter(network=access.network)
    if sees_all_results(access):
        return qs
    own = own_member_ids(access)
    return qs.filter(pk__in=Probe.objects.filter(member_id__in=own).values("ping_test_id"))


def get_ping_test(access: NetworkAccess, public_id: str) -> PingTest:
    test = visible_ping_tests(access).filter(public_id=public_id).first()
    if test is None:
        raise Http404
    return test


def visible_probes(access: NetworkAccess, ping_test: PingTest) -> QuerySet[Probe]:
    """The probes of `ping_test` the actor may see (its own member's only, unless Secretariat)."""
    if ping_test.network_id != access.network.pk or not access.has(Perm.PINGTEST_VIEW):
        return Probe.objects.none()
    qs = Probe.objects.filter(ping_test=ping_test).select_related("member", "confirmed_by")
    if not sees_all_results(access):
        qs = qs.filter(member_id__in=own_member_ids(access))
    return qs


def get_probe(access: NetworkAccess, public_id: str) -> Probe:
    """A probe the actor may see (404 otherwise: another member's probe does not exist)."""
    probe = (
        Probe.objects.filter(public_id=public_id, network=access.network)
        .select_related("ping_test", "member", "network")
        .first()
    )
    if probe is None or not access.has(Perm.PINGTEST_VIEW):
        raise Http404
    if not sees_all_results(access) and probe.member_id not in own_member_ids(access):
        raise Http404
    return probe


def pending_app_probes(user) -> list[Probe]:
    """The in-app banner: sent, unconfirmed, unexpired probes of tests answered in Liaison, for
    the members the user is a coordinator or officer of (one query)."""
    if not getattr(user, "is_authenticated", False):
        return []
    members = RoleAssignment.objects.filter(
        user=user, role__in=[Role.COORDINATOR, Role.OFFICER], member__isnull=False
    ).values("member_id")
    return list(
        Probe.objects.filter(
            member_id__in=members,
            status__in=[ProbeStatus.SENT, ProbeStatus.FAILED],
            expires_at__gt=timezone.now(),
            ping_test__in_app=True,
        )
        .select_related("network", "member")
        .order_by("sent_at", "id")[:20]
    )
