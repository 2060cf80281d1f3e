"""The tamper-evident audit trail: append-only events hashed into an RFC 6962 Merkle tree.

Events and checkpoints are append-only three times over: the ORM refuses updates and deletes
(below), the database refuses them with triggers (audit/triggers.py, installed by migration 0002),
and `liaison audit verify` detects what someone with raw database access changed anyway.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyError(RuntimeError):
    """An attempt to change or remove an audit event or checkpoint through the ORM."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")

    def bulk_create(self, objs, *args, **kwargs):
        # Rows must go through record_event/create_checkpoint, which hash and sign them.
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are appended one by one")

    def _raw_delete(self, using):  # the deletion collector's fast path
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, force_insert=False, **kwargs):
        if not force_insert or not self._state.adding or args:
            raise AppendOnlyError(
                f"{self._meta.verbose_name_plural} are append-only: only save(force_insert=True) "
                "of a new row"
            )
        super().save(force_insert=True, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only")


class AuditEvent(AppendOnlyModel):
    # Position in the log (0-based leaf index of the Merkle tree); assigned under AuditHead's lock.
    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254)  # e-mail, "system" or "anonymous"
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    network_slug = models.CharField(max_length=60, blank=True, db_index=True)
    via = models.CharField(max_length=16)
    ip = models.GenericIPAddressField(null=True, blank=True)
    justification = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    leaf_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [
            # The audit page: one network's events, newest first, paged by seq (keyset).
            models.Index(fields=["network_slug", "-seq"], name="audit_event_network_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_label}"


class AuditHead(models.Model):
    """Singleton row (pk=1) locked by every append: serialises seq numbers and the hashes.

    `frontier` is the compact range of the tree at `size` (hashing.Frontier): the roots of the
    perfect subtrees, so that a checkpoint is O(log n) instead of re-reading every leaf.
    """

    size = models.BigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, default="0" * 64)
    frontier = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"audit head at size {self.size}"


class AuditCheckpoint(AppendOnlyModel):
    """A signed tree head: (size, root, time) signed with the deployment's Ed25519 key."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)  # hex of the 64-byte Ed25519 signature

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"checkpoint at size {self.tree_size}"
