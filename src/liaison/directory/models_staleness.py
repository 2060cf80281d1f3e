"""Reminders of contact points' review dates: one row per reminder sent, so none is sent twice.

Imported at the bottom of directory/models.py (the model belongs to the directory app).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReviewReminderKind(models.TextChoices):
    AHEAD = "ahead", _("Review due soon")
    OVERDUE = "overdue", _("Review overdue")


class ReviewReminder(models.Model):
    """The coordinators of a member were reminded of one contact point's review date.

    Keyed on the contact point's public id, not a foreign key: the draft and the published
    row of a contact point share that id, and the reminder is about the entry, whichever row
    carries it. A new review date (a confirmation, an edit) makes new keys, hence new
    reminders. `sequence` counts the weekly repeats of an overdue reminder (0 for "ahead").
    """

    network = models.ForeignKey("networks.Network", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("networks.Member", on_delete=models.CASCADE, related_name="+")
    contact_point = models.CharField(max_length=32)
    review_date = models.DateField()
    kind = models.CharField(max_length=16, choices=ReviewReminderKind.choices)
    sequence = models.PositiveSmallIntegerField(default=0)
    # When the e-mails went into the outbox (the outbox records when each one was sent).
    sent_at = models.DateTimeField()
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["network", "contact_point"])]
        constraints = [
            models.UniqueConstraint(
                fields=["contact_point", "review_date", "kind", "sequence"],
                name="review_reminder_once",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ReviewReminderKind.values), name="review_reminder_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_point} {self.kind} {self.review_date} #{self.sequence}"
