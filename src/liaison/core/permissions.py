"""Roles, permissions and who may do what in a network: the single source of authorisation.

Every view and API endpoint declares one permission (see core/views.py and api/auth.py); a test
walks every URL pattern and fails on one that declares none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from liaison.networks.models import Member, Network


class Role(models.TextChoices):
    SECRETARIAT = "secretariat", _("Secretariat")
    COORDINATOR = "coordinator", _("National coordinator")
    OFFICER = "officer", _("Duty officer")
    AUDITOR = "auditor", _("Auditor")


# Roles that act for one member of the network (and need one).
MEMBER_ROLES = frozenset({Role.COORDINATOR, Role.OFFICER})


class Perm(StrEnum):
    NETWORK_VIEW = "network.view"  # see that the network exists, its name and policies
    NETWORK_MANAGE = "network.manage"  # edit policies, members, roles
    MEMBERS_VIEW = "members.view"
    DIRECTORY_VIEW = "directory.view"
    DIRECTORY_EDIT = "directory.edit"  # own member's entries for coordinators, all for secretariat
    DIRECTORY_IMPORT = "directory.import"
    DIRECTORY_EXPORT = "directory.export"
    DIRECTORY_PUBLISH = "directory.publish"  # review drafts, publish editions (secretariat)
    EDITION_ACKNOWLEDGE = "edition.acknowledge"  # acknowledge receipt for one's own member
    PINGTEST_MANAGE = "pingtest.manage"  # start ping tests, log calls, see every result
    PINGTEST_VIEW = "pingtest.view"  # see ping tests: every result (Secretariat) or own member's
    PINGTEST_VIEW_OWN = "pingtest.view"  # (alias of PINGTEST_VIEW)
    PINGTEST_RESPOND = "pingtest.respond"  # confirm a probe of one's own member in Liaison
    USERS_INVITE = "users.invite"  # secretariat: anyone; coordinator: own member's officers
    STATS_VIEW = "stats.view"
    AUDIT_VIEW = "audit.view"
    DELIVERIES_VIEW = "deliveries.view"  # the outbox (recipients, failures) and "retry now"


_ALL_READ = {Perm.NETWORK_VIEW, Perm.MEMBERS_VIEW, Perm.DIRECTORY_VIEW, Perm.DIRECTORY_EXPORT}

# Ping-test results are confidential: a member's people see their own member's only.
_PINGTEST_MEMBER = {Perm.PINGTEST_VIEW, Perm.PINGTEST_RESPOND}

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.SECRETARIAT: frozenset(Perm),
    Role.COORDINATOR: frozenset(
        _ALL_READ
        | {Perm.DIRECTORY_EDIT, Perm.USERS_INVITE, Perm.EDITION_ACKNOWLEDGE}
        | _PINGTEST_MEMBER
    ),
    Role.OFFICER: frozenset(_ALL_READ | {Perm.EDITION_ACKNOWLEDGE} | _PINGTEST_MEMBER),
    # The data-protection officer reads the trail and the figures, not the directory itself.
    Role.AUDITOR: frozenset({Perm.NETWORK_VIEW, Perm.AUDIT_VIEW, Perm.STATS_VIEW}),
}

# Permissions that give access to the directory's content, withheld from observers' people when
# the network's policy keeps the directory for parties only.
DIRECTORY_CONTENT = frozenset(
    {Perm.DIRECTORY_VIEW, Perm.DIRECTORY_EXPORT, Perm.DIRECTORY_EDIT, Perm.MEMBERS_VIEW}
)


@dataclass
class NetworkAccess:
    """What one user may do in one network, resolved once per request."""

    network: Network
    roles: set[str] = field(default_factory=set)
    member_ids: set[int] = field(default_factory=set)  # members the user acts for, any role
    members_by_role: dict[str, set[int]] = field(default_factory=dict)
    perms: frozenset[Perm] = frozenset()

    @property
    def is_secretariat(self) -> bool:
        return Role.SECRETARIAT in self.roles

    def has(self, perm: Perm | str) -> bool:
        return Perm(perm) in self.perms

    def acts_for(self, member: Member) -> bool:
        return member.pk in self.member_ids

    def can_edit_member(self, member: Member) -> bool:
        """Secretariat edits every member's entries; a coordinator only its own member's."""
        if member.network_id != self.network.pk or not self.has(Perm.DIRECTORY_EDIT):
            return False
        if self.is_secretariat:
            return True
        return member.pk in self.members_by_role.get(Role.COORDINATOR, set())

    def can_invite(self, role: str, member: Member | None) -> bool:
        """Secretariat invites anyone; a coordinator invites officers of its own member."""
        if not self.has(Perm.USERS_INVITE):
            return False
        if self.is_secretariat:
            return True
        return (
            role == Role.OFFICER
            and member is not None
            and member.pk in self.members_by_role.get(Role.COORDINATOR, set())
        )
