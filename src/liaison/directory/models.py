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


class Layer(models.TextChoices):
    """Edits change drafts; everyone reads the published layer (the current edition)."""

    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class ContactPoint(models.Model):
    Layer = Layer

    # A draft and its published twin share the public id (unique per layer).
    public_id = PublicIdField(prefix="cp", unique=False)
    layer = models.CharField(max_length=10, choices=Layer.choices, default=Layer.DRAFT)
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
    # Last deliberate confirmation of a reachability test (record-keeping, on both layers).
    last_reachable_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["member__name", "position", "id"]
        indexes = [
            models.Index(fields=["network", "layer", "member", "position"]),
            models.Index(fields=["network", "layer", "type"]),
            models.Index(fields=["network", "layer", "timezone"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=ContactPointType.values), name="contact_point_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(layer__in=Layer.values), name="contact_point_layer_valid"
            ),
            models.UniqueConstraint(
                fields=["public_id", "layer"], name="contact_point_public_id_per_layer"
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


class Edition(models.Model):
    """An immutable, numbered publication of a network's directory.

    `content` holds the whole directory as published (the edition document, zlib-compressed
    canonical JSON), so that exports and diffs of any edition are exact; database triggers refuse
    UPDATE and DELETE (audit/triggers.py guards these tables too). The current edition is the
    highest number.
    """

    public_id = PublicIdField(prefix="ed")
    network = models.ForeignKey(
        "networks.Network", on_delete=models.PROTECT, related_name="editions"
    )
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    changed_members = models.JSONField(default=list)
    contact_point_count = models.PositiveIntegerField(default=0)
    content = models.BinaryField()
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["network", "number"], name="edition_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="edition_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.network_id} #{self.number}"

    def document(self) -> dict:
        from liaison.directory.snapshots import decode_content

        cached = getattr(self, "_document", None)
        if cached is None:
            cached = decode_content(bytes(self.content), self.content_sha256)
            self._document = cached
        return cached


class EditionAcknowledgement(models.Model):
    """A member's acknowledgement of receipt of an edition (once per member and edition)."""

    edition = models.ForeignKey(Edition, on_delete=models.PROTECT, related_name="acknowledgements")
    member = models.ForeignKey("networks.Member", on_delete=models.PROTECT, related_name="+")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["edition", "member"], name="edition_ack_once"),
        ]

    def __str__(self) -> str:
        return f"{self.edition} ack {self.member_id}"


from liaison.directory.models_staleness import ReviewReminder, ReviewReminderKind  # noqa: E402, F401
