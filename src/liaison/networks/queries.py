"""Reads of networks and roles, scoped to the acting user."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from liaison.core.permissions import DIRECTORY_CONTENT, ROLE_PERMS, NetworkAccess, Perm, Role
from liaison.networks.models import Member, MemberStatus, Network, RoleAssignment


def visible_networks(actor) -> QuerySet[Network]:
    if not actor.is_authenticated:
        return Network.objects.none()
    return Network.objects.filter(role_assignments__user=actor).distinct().order_by("name")


def resolve_access(actor, network: Network) -> NetworkAccess:
    """The union of the actor's roles in `network` (empty when it holds none)."""
    if not actor.is_authenticated or not actor.is_active:
        return NetworkAccess(network=network)
    assignments = RoleAssignment.objects.filter(user=actor, network=network).select_related(
        "member"
    )
    return _access_from(network, list(assignments))


def _access_from(network: Network, assignments: list[RoleAssignment]) -> NetworkAccess:
    access = NetworkAccess(network=network)
    perms: set[Perm] = set()
    only_observer_members = True
    for ra in assignments:
        access.roles.add(ra.role)
        if ra.member is not None:
            access.member_ids.add(ra.member.pk)
            access.members_by_role.setdefault(ra.role, set()).add(ra.member.pk)
            if ra.member.status != MemberStatus.OBSERVER:
                only_observer_members = False
        else:
            only_observer_members = False
        perms |= ROLE_PERMS[ra.role]
    if access.roles and only_observer_members and not network.observers_see_directory:
        perms -= DIRECTORY_CONTENT
    access.perms = frozenset(perms)
    return access


def network_access(actor, slug: str) -> NetworkAccess:
    """The actor's access to the network `slug`; Http404 when it holds no role there.

    One query on every network-scoped request: the actor's role assignments in the network,
    joined with the network and the member. No assignment, or no such network, is the same 404.
    """
    if not actor.is_authenticated or not actor.is_active:
        raise Http404
    assignments = list(
        RoleAssignment.objects.filter(user=actor, network__slug=slug).select_related(
            "network", "member"
        )
    )
    if not assignments:
        raise Http404  # outsiders learn nothing, not even that the network exists
    return _access_from(assignments[0].network, assignments)


def visible_members(access: NetworkAccess) -> QuerySet[Member]:
    if not access.has(Perm.MEMBERS_VIEW):
        return Member.objects.none()
    return Member.objects.filter(network=access.network)


def get_member(access: NetworkAccess, code_or_id: str) -> Member:
    members = visible_members(access)
    member = members.filter(public_id=code_or_id).first() or members.filter(code=code_or_id).first()
    if member is None:
        raise Http404
    return member


def members_with_counts(
    access: NetworkAccess, *, status: str = "", kind: str = "", q: str = ""
) -> QuerySet[Member]:
    """Visible members with `contact_point_count`, filtered by status, kind and name/code."""
    members = visible_members(access)
    if status:
        members = members.filter(status=status)
    if kind:
        members = members.filter(kind=kind)
    q = q.strip()
    if q:
        members = members.filter(Q(name__icontains=q) | Q(code__iexact=q))
    published = Q(contact_points__layer="published")  # the current edition, not the drafts
    return members.annotate(contact_point_count=Count("contact_points", filter=published)).order_by(
        "name", "code"
    )


def network_counts(access: NetworkAccess) -> dict[str, int]:
    """How many members (parties among them) and contact points the network has."""
    from liaison.directory.models import ContactPoint

    network = access.network
    row = Member.objects.filter(network=network).aggregate(
        members=Count("pk"), parties=Count("pk", filter=Q(status=MemberStatus.PARTY))
    )
    return {
        "members": row["members"],
        "parties": row["parties"],
        "contact_points": ContactPoint.objects.filter(
            network=network, layer=ContactPoint.Layer.PUBLISHED
        ).count(),
    }


def acting_for_members(access: NetworkAccess) -> QuerySet[Member]:
    """The members the actor itself acts for (its own, whatever the directory policy)."""
    return Member.objects.filter(network=access.network, pk__in=access.member_ids).order_by("name")


def member_people(access: NetworkAccess, member: Member) -> QuerySet[RoleAssignment]:
    """People acting for `member`: shown to the Secretariat and to the member's own coordinator."""
    if not can_see_member_people(access, member) or member.network_id != access.network.pk:
        return RoleAssignment.objects.none()
    return (
        RoleAssignment.objects.filter(network=access.network, member=member)
        .select_related("user")
        .order_by("role", "user__email")
    )


def can_see_member_people(access: NetworkAccess, member: Member) -> bool:
    return access.is_secretariat or member.pk in access.members_by_role.get(Role.COORDINATOR, set())
