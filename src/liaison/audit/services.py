"""The only write path of the audit trail: append events, sign checkpoints.

Appending takes the AuditHead row's lock until the caller's transaction ends: seq numbers, the
chain and the Merkle frontier advance in the same transaction as the change they record, so a
rollback leaves neither an event nor a hole. The price is that audited writes are serialised —
keep transactions that record events short.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import logging
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from liaison.audit import hashing
from liaison.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from liaison.core import keys, sql
from liaison.core.context import current_origin

logger = logging.getLogger(__name__)

CHECKPOINT_LABEL = "liaison-audit-checkpoint"


def iso_utc(value: dt.datetime) -> str:
    """One spelling of an instant for everything that is hashed or signed: UTC, microseconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def leaf_fields(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    network_slug: str,
    via: str,
    ip: str | None,
    justification: str,
    details: Any,
) -> dict[str, Any]:
    """The fields covered by the leaf hash (everything but the hashes themselves)."""
    return {
        "seq": seq,
        "occurred_at": iso_utc(occurred_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "network": network_slug,
        "via": via,
        "ip": ip,
        "justification": justification,
        "details": details,
    }


# The columns leaf_fields() needs, in its keyword order (verification reads them as tuples).
LEAF_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "network_slug",
    "via",
    "ip",
    "justification",
    "details",
)


def event_fields(event: AuditEvent) -> dict[str, Any]:
    return leaf_fields(**{name: getattr(event, name) for name in LEAF_COLUMNS})


def compute_leaf(fields: dict[str, Any]) -> bytes:
    return hashing.leaf_hash(hashing.canonical_bytes(fields))


def _json_safe(details: dict[str, Any] | None) -> Any:
    """What the database will give back: dates as ISO strings, tuples as lists, str keys.

    Hashing the value as stored — not as passed — keeps the leaf reproducible from the row.
    """
    if not details:
        return {}
    return json.loads(json.dumps(details, cls=DjangoJSONEncoder, allow_nan=False))


def _normal_ip(raw: str | None) -> str | None:
    """The address as the database returns it; None when it is not an IP address at all.

    X-Forwarded-For is client-supplied: a junk value must not make the audited change fail (it
    would on PostgreSQL's inet column).
    """
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None  # a link-local zone ("%eth0") is not storable in PostgreSQL's inet
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


# Column widths: a value is clipped before it is hashed, so the row read back hashes identically.
_MAX_LENGTH: dict[str, int] = {
    f.name: f.max_length for f in AuditEvent._meta.concrete_fields if f.max_length
}


def _clip(value: str, field: str) -> str:
    return value[: _MAX_LENGTH[field]]


def checkpoint_every() -> int:
    return max(1, int(getattr(settings, "AUDIT_CHECKPOINT_EVERY", 256)))


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

    `actor` is a User, None for the system (a worker acting on its own), or an anonymous user (a
    failed sign-in). `obj` fills the object type and public id; `network` is a Network or a slug.
    `details` must be JSON-serialisable (dates and UUIDs are turned into strings).
    """
    if not action or len(action) > _MAX_LENGTH["action"]:
        raise ValueError(f"invalid audit action {action!r}")
    origin = current_origin()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(getattr(obj, "public_id", None) or obj.pk)
    network_slug = getattr(network, "slug", network) or ""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    if is_user:
        label = actor.email
    elif actor is None:
        label = "system"
    else:
        label = "anonymous"
    # No savepoint of its own: the event is part of the change it records, and if appending it
    # fails, that change must fail with it (the caller's transaction rolls back).
    with transaction.atomic(savepoint=False):
        size, chain_hex, frontier_hex = _lock_head()
        frontier = hashing.Frontier.from_hex(size, frontier_hex)
        event = AuditEvent(
            seq=size,
            # A database stores microseconds at most: the value read back hashes identically.
            occurred_at=timezone.now(),
            actor=actor if is_user else None,
            actor_label=_clip(label, "actor_label"),
            action=action,
            object_type=_clip(object_type, "object_type"),
            object_id=_clip(object_id, "object_id"),
            network_slug=_clip(network_slug, "network_slug"),
            via=_clip(origin.via, "via"),
            ip=_normal_ip(origin.ip),
            justification=justification,
            details=_json_safe(details),
        )
        leaf = compute_leaf(event_fields(event))
        chain = hashing.chain_hash(bytes.fromhex(chain_hex), leaf)
        event.leaf_hash = leaf.hex()
        event.chain_hash = chain.hex()
        frontier.append(leaf)
        _append_row(event, frontier)
        if frontier.size % checkpoint_every() == 0:
            # After commit: a rolled-back transaction must not leave a signed checkpoint of a
            # tree that never existed. The root is taken now, so the checkpoint is exactly at the
            # multiple of N even if other appends commit before the callback runs. robust: a
            # failure is logged, never raised at the caller whose change did commit.
            transaction.on_commit(
                functools.partial(_sign_checkpoint, frontier.size, frontier.root().hex()),
                robust=True,
            )
    return event


# --- the append itself: three statements written once ------------------------------------------
# Every audited change pays for the append while holding the head's lock, so it is kept to three
# plain statements (lock and read the head, insert the event, advance the head) instead of three
# ORM queries, whose compilation took longer than running them. The values still go through each
# field's own conversion (get_db_prep_save), so a row reads back exactly as the ORM would have
# written it and hashes identically.


@functools.cache
def _append_sql(vendor: str) -> tuple[str, str, str, tuple[models.Field, ...]]:
    head = sql.table(AuditHead)
    size, chain, frontier, pk = (
        sql.column(AuditHead, name) for name in ("size", "chain_hash", "frontier", "id")
    )
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select_head = f"SELECT {size}, {chain}, {frontier} FROM {head} WHERE {pk} = 1{lock}"  # noqa: S608
    fields = tuple(f for f in AuditEvent._meta.concrete_fields if not f.primary_key)
    insert_event = (
        f"INSERT INTO {sql.table(AuditEvent)} ({sql.columns(fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {sql.column(AuditEvent, 'id')}"
    )
    update_head = f"UPDATE {head} SET {size} = %s, {chain} = %s, {frontier} = %s WHERE {pk} = 1"  # noqa: S608
    return select_head, insert_event, update_head, fields  # identifiers from _meta only


def _lock_head() -> tuple[int, str, list[str]]:
    """Lock the head row until the transaction ends and read it: (size, chain, frontier)."""
    select_head = _append_sql(connection.vendor)[0]
    with connection.cursor() as cursor:
        cursor.execute(select_head)
        row = cursor.fetchone()
    if row is None:
        # Migration 0002 creates the row; only a flushed test database lacks it.
        head, _created = AuditHead.objects.select_for_update().get_or_create(pk=1)
        return head.size, head.chain_hash, list(head.frontier)
    size, chain_hex, frontier = row
    if isinstance(frontier, str | bytes):
        frontier = json.loads(frontier)
    return int(size), chain_hex, list(frontier)


def _append_row(event: AuditEvent, frontier: hashing.Frontier) -> None:
    """Insert `event` and move the head to `frontier` (the caller holds the head's lock)."""
    _select, insert_event, update_head, fields = _append_sql(connection.vendor)
    frontier_field = AuditHead._meta.get_field("frontier")
    with connection.cursor() as cursor:
        cursor.execute(
            insert_event,
            [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields],
        )
        event.pk = cursor.fetchone()[0]
        cursor.execute(
            update_head,
            [
                frontier.size,
                event.chain_hash,
                frontier_field.get_db_prep_save(frontier.to_hex(), connection),
            ],
        )
    event._state.adding = False
    event._state.db = connection.alias


def checkpoint_text(tree_size: int, root_hash: str, created_at: dt.datetime) -> bytes:
    """The exact bytes a checkpoint signs."""
    return f"{CHECKPOINT_LABEL}\n{tree_size}\n{root_hash}\n{iso_utc(created_at)}".encode()


def create_checkpoint() -> AuditCheckpoint | None:
    """Sign the current tree head; None when the trail is empty.

    O(log n): the root comes from the head's frontier, not from re-reading the leaves. Signing
    from the incrementally kept frontier also means a checkpoint never launders events rewritten
    in place since they were appended (verify_trail recomputes everything from the rows).
    """
    head = AuditHead.objects.filter(pk=1).first()
    if head is None or head.size == 0:
        return None
    frontier = hashing.Frontier.from_hex(head.size, head.frontier)
    return _sign_checkpoint(head.size, frontier.root().hex())


def _sign_checkpoint(tree_size: int, root: str) -> AuditCheckpoint:
    existing = AuditCheckpoint.objects.filter(tree_size=tree_size).first()
    if existing is not None:
        return existing
    created_at = timezone.now()
    checkpoint = AuditCheckpoint(
        tree_size=tree_size,
        root_hash=root,
        created_at=created_at,
        key_id=keys.key_id(),
        signature=keys.sign(checkpoint_text(tree_size, root, created_at)).hex(),
    )
    try:
        with transaction.atomic():
            checkpoint.save(force_insert=True)
    except IntegrityError:
        # Another process signed the same size meanwhile: one checkpoint per size is enough.
        return AuditCheckpoint.objects.get(tree_size=tree_size)
    logger.info("audit checkpoint at size %s, root %s", tree_size, root)
    return checkpoint


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-tree_size").first()
