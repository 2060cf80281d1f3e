"""The only write path of the audit trail: append an event inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from liaison.audit import hashing
from liaison.audit.models import AuditEvent, AuditHead
from liaison.core.context import current_origin


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The fields covered by the leaf hash (everything but the hashes themselves)."""
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "network": event.network_slug,
        "via": event.via,
        "ip": event.ip,
        "justification": event.justification,
        "details": event.details,
    }


def record_event(
    actor,
    action: str,
    *,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    network=None,
    details: dict[str, Any] | None = None,
    justification: str = "",
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it records.

    `actor` is a User, or None for the system (a worker acting on its own). `obj` fills the
    object type and public id; `network` is a Network or a slug.
    """
    origin = current_origin()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(getattr(obj, "public_id", obj.pk))
    network_slug = getattr(network, "slug", network) or ""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            seq=head.size,
            # Truncated to microseconds so that the value read back hashes identically.
            occurred_at=timezone.now(),
            actor=actor if is_user else None,
            actor_label=actor.email if is_user else "system",
            action=action,
            object_type=object_type,
            object_id=object_id,
            network_slug=network_slug,
            via=origin.via,
            ip=origin.ip,
            justification=justification,
            details=details or {},
        )
        leaf = hashing.leaf_hash(hashing.canonical_bytes(event_fields(event)))
        chain = hashing.chain_hash(bytes.fromhex(head.chain_hash), leaf)
        event.leaf_hash = leaf.hex()
        event.chain_hash = chain.hex()
        event.save(force_insert=True)
        head.size += 1
        head.chain_hash = event.chain_hash
        head.save(update_fields=["size", "chain_hash"])
    return event
