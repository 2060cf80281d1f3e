"""Reads of people, roles, invitations and tokens, scoped to what the acting user may see.

The Secretariat sees everyone in its network; a national coordinator sees only the people and
invitations of its own member(s); other roles see nobody.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from liaison.accounts.models import ApiToken, Invitation, InvitationStatus
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.networks.models import Member, RoleAssignment


def managed_member_ids(access: NetworkAccess) -> set[int] | None:
    """Members whose people the actor manages: None means all (Secretariat)."""
    if access.is_secretariat:
        return None
    return set(access.members_by_role.get(Role.COORDINATOR, set()))


def people(access: NetworkAccess) -> QuerySet[RoleAssignment]:
    """Role assignments in the network that the actor may see and manage."""
    if not access.has(Perm.USERS_INVITE):
        return RoleAssignment.objects.none()
    qs = RoleAssignment.objects.filter(network=access.network).select_related("user", "member")
    members = managed_member_ids(access)
    if members is not None:
        qs = qs.filter(member_id__in=members)
    return qs.order_by("user__email", "role", "member__code")


def pending_invitations(access: NetworkAccess) -> QuerySet[Invitation]:
    if not access.has(Perm.USERS_INVITE):
        return Invitation.objects.none()
    qs = Invitation.objects.filter(
        network=access.network, status=InvitationStatus.PENDING
    ).select_related("member", "invited_by")
    members = managed_member_ids(access)
    if members is not None:
        qs = qs.filter(member_id__in=members)
    return qs.order_by("-created_at")


def get_invitation(access: NetworkAccess, public_id: str) -> Invitation:
    invitation = pending_invitations(access).filter(public_id=public_id).first()
    if invitation is None:
        raise Http404
    return invitation


def get_assignment(access: NetworkAccess, public_id: str) -> RoleAssignment:
    assignment = people(access).filter(public_id=public_id).first()
    if assignment is None:
        raise Http404
    return assignment


def invitable_roles(access: NetworkAccess) -> list[tuple[str, str]]:
    """The (value, label) roles the actor may invite someone to."""
    if not access.has(Perm.USERS_INVITE):
        return []
    if access.is_secretariat:
        return [(value, str(label)) for value, label in Role.choices]
    if access.members_by_role.get(Role.COORDINATOR):
        return [(Role.OFFICER.value, str(Role.OFFICER.label))]
    return []


def invitable_members(access: NetworkAccess) -> QuerySet[Member]:
    if not access.has(Perm.USERS_INVITE):
        return Member.objects.none()
    qs = Member.objects.filter(network=access.network).order_by("name")
    members = managed_member_ids(access)
    if members is not None:
        qs = qs.filter(pk__in=members)
    return qs


def own_roles(user) -> QuerySet[RoleAssignment]:
    """The signed-in person's own roles, in every network."""
    return (
        RoleAssignment.objects.filter(user=user)
        .select_related("network", "member")
        .order_by("network__name", "role")
    )


def own_tokens(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def get_own_token(user, public_id: str) -> ApiToken:
    token = own_tokens(user).filter(public_id=public_id).first()
    if token is None:
        raise Http404
    return token
