"""Reachability tests ("ping tests"): a Secretariat campaign of probes, one per contact point.

A probe is acknowledged only through a deliberate act — a button pressed on the confirmation
page, a reply carrying its marker, a confirmation in Liaison, a call logged by the Secretariat —
never because a link was fetched (mail scanners fetch links). A bounce or a wrong number is a
finding (failed), not a silence (expired).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from liaison.core.ids import PublicIdField


class PingTestStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class Timing(models.TextChoices):
    NOW = "now", _("Now")
    AT = "at", _("At a set time")
    RANDOM = "random", _("At random times within a window")


class ProbeChannel(models.TextChoices):
    EMAIL = "email", _("E-mail (link or reply)")
    APP = "app", _("In Liaison")
    MANUAL = "manual", _("Phone call logged by the Secretariat")


class ConfirmedVia(models.TextChoices):
    LINK = "link", _("Confirmation page")
    REPLY = "reply", _("Reply by e-mail")
    APP = "app", _("In Liaison")
    MANUAL = "manual", _("Phone call")


class ProbeStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CONFIRMED = "confirmed", _("Confirmed")
    EXPIRED = "expired", _("Expired")


class ManualOutcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")


class PingTest(models.Model):
    public_id = PublicIdField(prefix="pt")
    network = models.ForeignKey(
        "networks.Network", on_delete=models.PROTECT, related_name="ping_tests"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    channels = models.JSONField(default=list)
    # Whether officers answer in Liaison (the banner's filter: JSON lookups differ per database).
    in_app = models.BooleanField(default=False)
    members = models.JSONField(default=list)  # member codes; [] = every member
    types = models.JSONField(default=list)  # contact point types; [] = every type
    timing = models.CharField(max_length=10, choices=Timing.choices, default=Timing.NOW)
    starts_at = models.DateTimeField()
    window_ends_at = models.DateTimeField(null=True, blank=True)
    off_hours = models.BooleanField(default=False)
    reminder_after = models.DurationField(null=True, blank=True)
    escalate_after = models.DurationField(null=True, blank=True)
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=PingTestStatus.choices, default=PingTestStatus.SCHEDULED
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PingTestStatus.values), name="ping_test_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(timing__in=Timing.values), name="ping_test_timing_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="ping_test_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class Probe(models.Model):
    TRANSITIONS = {
        ProbeStatus.SCHEDULED: {
            ProbeStatus.SENT,
            ProbeStatus.FAILED,
            ProbeStatus.CONFIRMED,
            ProbeStatus.EXPIRED,
        },
        ProbeStatus.SENT: {ProbeStatus.CONFIRMED, ProbeStatus.FAILED, ProbeStatus.EXPIRED},
        ProbeStatus.FAILED: {ProbeStatus.CONFIRMED, ProbeStatus.EXPIRED},
        ProbeStatus.CONFIRMED: set(),
        ProbeStatus.EXPIRED: set(),
    }

    public_id = PublicIdField(prefix="pr")
    ping_test = models.ForeignKey(PingTest, on_delete=models.CASCADE, related_name="probes")
    network = models.ForeignKey("networks.Network", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("networks.Member", on_delete=models.PROTECT, related_name="+")
    # Snapshots of the published contact point at the start: the report stays true to what was
    # tested even after the directory changes.
    contact_point_id = models.CharField(max_length=32)
    contact_point_type = models.CharField(max_length=24)
    institution = models.CharField(max_length=300)
    unit = models.CharField(max_length=300, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    email = models.CharField(max_length=300, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scheduled_at = models.DateTimeField()
    in_hours = models.BooleanField(null=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivery = models.ForeignKey(
        "delivery.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=ProbeStatus.choices, default=ProbeStatus.SCHEDULED
    )
    failure = models.CharField(max_length=255, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_name = models.CharField(max_length=200, blank=True)
    confirmed_via = models.CharField(max_length=10, choices=ConfirmedVia.choices, blank=True)
    seconds_to_confirm = models.PositiveIntegerField(null=True, blank=True)
    manual_outcome = models.CharField(max_length=16, choices=ManualOutcome.choices, blank=True)
    manual_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["member__code", "institution", "id"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="probe_due"),
            models.Index(fields=["ping_test", "member"], name="probe_test_member"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProbeStatus.values), name="probe_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ProbeStatus.CONFIRMED)
                | (Q(confirmed_at__isnull=False) & ~Q(confirmed_via="")),
                name="probe_confirmed_has_time_and_channel",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    def token_matches(self, raw: str) -> bool:
        import hmac

        from liaison.reachability.tokens import hash_token

        return hmac.compare_digest(self.token_hash, hash_token(raw))
