"""Reads of networks and roles, scoped to the acting user."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from liaison.core.permissions import DIRECTORY_CONTENT, ROLE_PERMS, NetworkAccess, Perm
from liaison.networks.models import Member, MemberStatus, Network, RoleAssignment


def visible_networks(actor) -> QuerySet[Network]:
    if not actor.is_authenticated:
        return Network.objects.none()
    return Network.objects.filter(role_assignments__user=actor).distinct().order_by("name")


def resolve_access(actor, network: Network) -> NetworkAccess:
    """The union of the actor's roles in `network` (empty when it holds none)."""
    access = NetworkAccess(network=network)
    if not actor.is_authenticated or not actor.is_active:
        return access
    perms: set[Perm] = set()
    only_observer_members = True
    assignments = RoleAssignment.objects.filter(user=actor, network=network).select_related(
        "member"
    )
    for ra in assignments:
        access.roles.add(ra.role)
        role_perms = set(ROLE_PERMS[ra.role])
        if ra.member_id is not None:
            access.member_ids.add(ra.member_id)
            access.members_by_role.setdefault(ra.role, set()).add(ra.member_id)
            if ra.member.status != MemberStatus.OBSERVER:
                only_observer_members = False
        else:
            only_observer_members = False
        perms |= role_perms
    if access.roles and only_observer_members and not network.observers_see_directory:
        perms -= DIRECTORY_CONTENT
    access.perms = frozenset(perms)
    return access


def network_access(actor, slug: str) -> NetworkAccess:
    """The actor's access to the network `slug`; Http404 when it holds no role there."""
    network = Network.objects.filter(slug=slug).first()
    if network is None:
        raise Http404
    access = resolve_access(actor, network)
    if not access.roles:
        raise Http404  # outsiders learn nothing, not even that the network exists
    return access


def visible_members(access: NetworkAccess) -> QuerySet[Member]:
    if not access.has(Perm.MEMBERS_VIEW):
        return Member.objects.none()
    return Member.objects.filter(network=access.network)


def get_member(access: NetworkAccess, code_or_id: str) -> Member:
    members = visible_members(access)
    member = (
        members.filter(public_id=code_or_id).first() or members.filter(code=code_or_id).first()
    )
    if member is None:
        raise Http404
    return member
