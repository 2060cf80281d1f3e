"""Helpers for audit tests: append events, and tamper with the database as an attacker would.

Tampering goes through raw SQL after dropping the append-only triggers (inside the test's
transaction, so they come back on rollback): exactly what someone holding the database can do, and
what verify_trail must detect.
"""

from __future__ import annotations

from django.db import connection, transaction

from liaison.audit import hashing, triggers
from liaison.audit.models import AuditEvent
from liaison.audit.services import LEAF_COLUMNS, compute_leaf, leaf_fields, record_event


def append(n: int, *, network: str = "budapest", action: str = "test.event", actor=None):
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(
                record_event(actor, action, network=network, details={"i": i, "note": f"n{i}"})
            )
    return events


def sql(statement: str, params=()) -> None:
    """Run raw SQL with the append-only triggers lifted."""
    triggers.remove()
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    finally:
        triggers.install()


def rehash_everything() -> None:
    """Recompute every leaf and chain hash and the head from the rows as they now are.

    What a careful attacker does after rewriting events: only a signed checkpoint (or a witness
    kept elsewhere) still tells.
    """
    rows = list(AuditEvent.objects.order_by("seq").values_list("pk", *LEAF_COLUMNS))
    chain = hashing.GENESIS_CHAIN
    frontier = hashing.Frontier()
    triggers.remove()
    try:
        with connection.cursor() as cursor:
            for pk, *values in rows:
                leaf = compute_leaf(leaf_fields(**dict(zip(LEAF_COLUMNS, values, strict=True))))
                chain = hashing.chain_hash(chain, leaf)
                frontier.append(leaf)
                cursor.execute(
                    "UPDATE audit_auditevent SET leaf_hash = %s, chain_hash = %s WHERE id = %s",
                    [leaf.hex(), chain.hex(), pk],
                )
            cursor.execute(
                "UPDATE audit_audithead SET size = %s, chain_hash = %s, frontier = %s WHERE id = 1",
                [frontier.size, chain.hex(), _json(frontier.to_hex())],
            )
    finally:
        triggers.install()


def _json(value) -> str:
    import json

    return json.dumps(value)
