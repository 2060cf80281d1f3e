"""The directory: contact points of members, their channels, availability and languages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from liaison.core.ids import PublicIdField


class ContactPointType(models.TextChoices):
    POLICE = "police", _("Police")
    SECURITY_SERVICE = "security_service", _("Security service")
    PROSECUTION = "prosecution", _("Prosecution")
    MINISTRY_OF_JUSTICE = "ministry_of_justice", _("Ministry of justice")
    CYBERSECURITY = "cybersecurity", _("Cybersecurity")
    OTHER = "other", _("Other")


class ChannelKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    MOBILE = "mobile", _("Mobile")
    EMAIL = "email", _("E-mail")
    FAX = "fax", _("Fax")
    SECURE_PLATFORM = "secure_platform", _("Secure platform")
    OTHER = "other", _("Other")


class ContactPoint(models.Model):
    public_id = PublicIdField(prefix="cp")
    network = models.ForeignKey(
        "networks.Network", on_delete=models.PROTECT, related_name="contact_points"
    )
    member = models.ForeignKey(
        "networks.Member", on_delete=models.PROTECT, related_name="contact_points"
    )
    type = models.CharField(_("type"), max_length=24, choices=ContactPointType.choices)
    institution = models.CharField(_("institution"), max_length=300)
    unit = models.CharField(_("unit"), max_length=300, blank=True)
    # Canonical text of the weekly schedule (availability.format_availability); the windows below
    # are derived from it so that "available at T" is answered in SQL.
    availability = models.CharField(_("availability"), max_length=500, default="24/7")
    always_available = models.BooleanField(default=True)
    availability_exceptions = models.CharField(_("exceptions"), max_length=1000, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # ISO 639-1 codes, sorted, comma-separated ("en,fr"); filtered with exact token matches.
    languages = models.CharField(_("languages"), max_length=200, blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    pgp_key = models.TextField(_("OpenPGP key"), blank=True)
    review_date = models.DateField(_("review date"), null=True, blank=True)
    last_confirmed_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["member__name", "position", "id"]
        indexes = [
            models.Index(fields=["network", "member", "position"]),
            models.Index(fields=["network", "type"]),
            models.Index(fields=["network", "timezone"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=ContactPointType.values), name="contact_point_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} — {self.unit}" if self.unit else self.institution

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class Channel(models.Model):
    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=ChannelKind.choices)
    value = models.CharField(_("value"), max_length=300)
    notes = models.CharField(_("notes"), max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values), name="channel_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


class AvailabilityWindow(models.Model):
    """One weekly opening window in the contact point's local time (derived, not edited)."""

    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="windows"
    )
    weekday = models.PositiveSmallIntegerField()  # 0 = Monday
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["weekday", "start_minute", "end_minute"])]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start_minute}-{self.end_minute}"


class AvailabilityExceptionRow(models.Model):
    """A dated exception in local time: closed (no minutes) or open only in [start, end)."""

    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="exception_rows"
    )
    start_date = models.DateField()
    end_date = models.DateField()
    start_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    end_minute = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["start_date", "end_date"])]

    def __str__(self) -> str:
        return f"{self.start_date}..{self.end_date}"
