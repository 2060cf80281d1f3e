"""Quoted identifiers for the few hot paths written as plain SQL (audit append, probe sending
and confirmation, the outbox's sent mark): always taken from the models' _meta, never from input,
so the statements stay in step with the models and their migrations."""

from __future__ import annotations

from django.db import connection, models


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of field `name` (a foreign key gives its `_id` column)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{name} is not a column of {model._meta.label}")
    return connection.ops.quote_name(field.column)


def columns(fields: list[models.Field] | tuple[models.Field, ...], prefix: str = "") -> str:
    """The quoted columns of `fields`, comma-separated, each after `prefix` (a table alias)."""
    quote = connection.ops.quote_name
    return ", ".join(prefix + quote(f.column) for f in fields if f.column)
