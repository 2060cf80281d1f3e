"""Where the current action comes from (web, API, CLI, worker) and from which address.

Services read it to fill the audit trail, so that their signatures stay `do_thing(actor, …)` and
changes made outside a request are attributed too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    via: str  # "web", "api", "cli", "worker", "test"
    ip: str | None = None
    user_agent: str = ""


_origin: ContextVar[Origin] = ContextVar("liaison_origin", default=Origin(via="cli"))  # noqa: B039 (frozen)


def current_origin() -> Origin:
    return _origin.get()


@contextlib.contextmanager
def origin(value: Origin) -> Iterator[Origin]:
    token = _origin.set(value)
    try:
        yield value
    finally:
        _origin.reset(token)


def set_origin(value: Origin):
    """Set for the rest of the current context (a request); returns the reset token."""
    return _origin.set(value)


def reset_origin(token) -> None:
    _origin.reset(token)
