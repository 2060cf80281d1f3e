"""Database triggers that make audit events and checkpoints append-only.

Installed by migration 0002 on SQLite and PostgreSQL. They stop the application (a bug, a stray
admin action, an SQL injection) from rewriting history; they do not stop someone who can run DDL
(DROP TRIGGER): that is what the hashes, the signed checkpoints and `liaison audit verify` are for.

`liaison flush` (Django's test runner uses it between transactional tests) lifts them for the
duration of the flush: see audit/management/commands/flush.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections

TABLES = {
    "audit_auditevent": "audit events are append-only",
    "audit_auditcheckpoint": "audit checkpoints are append-only",
    # Published directory editions and their acknowledgements never change either.
    "directory_edition": "published editions are immutable",
    "directory_editionacknowledgement": "edition acknowledgements are append-only",
}

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION liaison_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _names(table: str) -> list[str]:
    return [f"{table}_no_update", f"{table}_no_delete", f"{table}_no_truncate"]


def create_sql(vendor: str, tables: dict[str, str] | None = None) -> list[str]:
    tables = TABLES if tables is None else tables
    if vendor == "sqlite":
        sql = []
        for table, message in tables.items():
            for op in ("UPDATE", "DELETE"):
                sql.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        return sql
    if vendor == "postgresql":
        sql = [_PG_FUNCTION]
        for table, message in tables.items():
            sql += [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name in _names(table)]
            sql += [
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION liaison_audit_append_only('{message}')",
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION liaison_audit_append_only('{message}')",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION liaison_audit_append_only('{message}')",
            ]
        return sql
    return []  # other databases: the ORM guard and verification still hold


def drop_sql(vendor: str, tables: dict[str, str] | None = None) -> list[str]:
    tables = TABLES if tables is None else tables
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {n}" for t in tables for n in _names(t)[:2]]
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {n} ON {t}" for t in tables for n in _names(t)]
    return []


def _existing(using: str) -> dict[str, str]:
    """The guarded tables that exist (migrations of different apps create them in turn)."""
    present = set(connections[using].introspection.table_names())
    return {table: message for table, message in TABLES.items() if table in present}


def installed(using: str = "default") -> bool:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                ["audit_auditevent_no_update"],
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = %s",
                ["audit_auditevent_no_update"],
            )
        else:
            return False
        return cursor.fetchone()[0] > 0


def install(using: str = "default") -> None:
    connection = connections[using]
    tables = _existing(using)
    with connection.cursor() as cursor:
        for statement in create_sql(connection.vendor, tables):
            cursor.execute(statement)


def remove(using: str = "default") -> None:
    connection = connections[using]
    tables = _existing(using)
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor, tables):
            cursor.execute(statement)


@contextlib.contextmanager
def lifted(using: str = "default") -> Iterator[None]:
    """Remove the triggers for the block, and put them back afterwards if they were there."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    present = "audit_auditevent" in tables and installed(using)
    if present:
        remove(using)
    try:
        yield
    finally:
        if present:
            install(using)
