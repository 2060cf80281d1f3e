"""The tamper-evident audit trail: append-only events hashed into an RFC 6962 Merkle tree."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    # Position in the log (0-based leaf index of the Merkle tree); assigned under AuditHead's lock.
    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254)  # e-mail, or "system", kept if a user goes
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


class AuditHead(models.Model):
    """Singleton row locked by every append: serialises seq numbers and the hash chain."""

    size = models.BigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, default="0" * 64)


class AuditCheckpoint(models.Model):
    """A signed tree head: (size, root) signed with the deployment's Ed25519 key."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["tree_size"]
