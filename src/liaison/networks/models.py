"""Networks, their members (with dated status history) and who holds which role in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from liaison.core.ids import PublicIdField
from liaison.core.permissions import MEMBER_ROLES, Role


class Network(models.Model):
    public_id = PublicIdField(prefix="nw")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    legal_basis = models.CharField(
        _("legal basis"), max_length=300, blank=True, help_text=_("e.g. ETS No. 185, Art. 35")
    )
    description = models.TextField(_("description"), blank=True)
    secretariat_name = models.CharField(_("secretariat"), max_length=200, blank=True)
    observers_see_directory = models.BooleanField(
        _("observers see the directory"),
        default=True,
        help_text=_("When off, the directory is for parties only."),
    )
    justification_required = models.BooleanField(
        _("justification required for exports"), default=False
    )
    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MemberKind(models.TextChoices):
    STATE = "state", _("State")
    ORGANISATION = "organisation", _("Organisation")


class MemberStatus(models.TextChoices):
    PARTY = "party", _("Party")
    OBSERVER = "observer", _("Observer")
    NON_PARTY = "non_party", _("Non-party")


class Member(models.Model):
    public_id = PublicIdField(prefix="mb")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="members")
    code = models.CharField(
        _("code"), max_length=16, help_text=_("ISO 3166-1 alpha-2, or an organisation code")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=MemberKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=MemberStatus.choices)
    status_since = models.DateField(_("status since"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="member_code_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=MemberKind.values), name="member_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MemberStatus.values), name="member_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class MemberStatusChange(models.Model):
    """One dated change of a member's status: the history the Secretariat reports on."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=16, choices=MemberStatus.choices)
    effective_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["effective_on", "recorded_at"]

    def __str__(self) -> str:
        return f"{self.member_id} {self.status} {self.effective_on}"


class RoleAssignment(models.Model):
    public_id = PublicIdField(prefix="ra")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=16, choices=Role.choices)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="role_valid"),
            # Coordinators and officers act for one member; the others for the whole network.
            models.CheckConstraint(
                condition=(Q(role__in=sorted(MEMBER_ROLES)) & Q(member__isnull=False))
                | (~Q(role__in=sorted(MEMBER_ROLES)) & Q(member__isnull=True)),
                name="role_member_required",
            ),
            models.UniqueConstraint(
                fields=["user", "network", "role", "member"], name="role_unique_with_member"
            ),
            models.UniqueConstraint(
                fields=["user", "network", "role"],
                condition=Q(member__isnull=True),
                name="role_unique_without_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.network.slug}"
