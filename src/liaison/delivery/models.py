"""The outbox: one row per message to send, written in the transaction of the change that causes it.

Bodies carry no restricted directory content (contact details): a mail says that something
happened and links to Liaison, where access is checked. Callers of services.enqueue_email are
responsible for that. One kind of body does carry a secret — an invitation's single-use link —
so bodies are never shown, logged or put in an error, and a sent row's body is blanked (a check
constraint holds it). See docs/adr/0003 and 0004.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from liaison.core.ids import PublicIdField


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Dead")


class DeliveryState(models.TextChoices):
    """What the Secretariat sees: the status, with failing-but-retrying rows told apart."""

    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Failed, will retry")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Not delivered")


# The rows in each state; `last_error` is cleared when a row is sent, and kept when a dead row
# is retried, so a pending row with an error has failed at least once.
STATE_FILTERS: dict[str, Q] = {
    DeliveryState.PENDING: Q(status=DeliveryStatus.PENDING, last_error=""),
    DeliveryState.RETRYING: Q(status=DeliveryStatus.PENDING) & ~Q(last_error=""),
    DeliveryState.SENDING: Q(status=DeliveryStatus.SENDING),
    DeliveryState.SENT: Q(status=DeliveryStatus.SENT),
    DeliveryState.DEAD: Q(status=DeliveryStatus.DEAD),
}


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")


class Delivery(models.Model):
    """One outgoing message and the state of its delivery (leases, attempts, outcome)."""

    # sending → sending: an expired lease is taken over by another worker.
    # dead → pending: the Secretariat retries it ("retry now", services.retry_delivery).
    TRANSITIONS = {
        DeliveryStatus.PENDING: {DeliveryStatus.SENDING},
        DeliveryStatus.SENDING: {
            DeliveryStatus.SENDING,
            DeliveryStatus.SENT,
            DeliveryStatus.PENDING,
            DeliveryStatus.DEAD,
        },
        DeliveryStatus.SENT: set(),
        DeliveryStatus.DEAD: {DeliveryStatus.PENDING},
    }

    public_id = PublicIdField(prefix="dl")
    channel = models.CharField(
        max_length=16, choices=DeliveryChannel.choices, default=DeliveryChannel.EMAIL
    )
    recipient = models.EmailField()
    subject = models.CharField(max_length=255)
    # Never shown on a page, in a log or in an error; blanked once the row is sent.
    body_text = models.TextField(blank=True)
    kind = models.CharField(max_length=64)
    network = models.ForeignKey(
        "networks.Network", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    related_type = models.CharField(max_length=100, blank=True)
    related_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["status", "lease_expires_at"], name="delivery_lease"),
            # The Deliveries page's counts and the navigation's "not delivered" badge.
            models.Index(fields=["network", "status"], name="delivery_network_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=DeliveryChannel.values), name="delivery_channel_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SENT) | Q(sent_at__isnull=False),
                name="delivery_sent_has_time",
            ),
            # A sent message's body is gone: an invitation's link must not outlive its sending.
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SENT) | Q(body_text=""),
                name="delivery_sent_has_no_body",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SENDING) | Q(lease_expires_at__isnull=False),
                name="delivery_sending_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id} ({self.status})"

    @property
    def state(self) -> DeliveryState:
        if self.status == DeliveryStatus.PENDING and self.last_error:
            return DeliveryState.RETRYING
        return DeliveryState(self.status)
