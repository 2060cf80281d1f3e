"""What other apps add to the outbox for their own kinds of message, without the outbox importing
them: extra headers at send time, and a callback when a row is dead-lettered.

Registered by kind with dotted paths (imported on first use), like the worker's periodic jobs.
A callback runs inside the transaction that marks the row dead, in a savepoint: if it fails, its
own writes are rolled back and logged, and the row is dead-lettered anyway — a bug in an app must
not leave the outbox retrying a message that was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils.module_loading import import_string

from liaison.delivery.models import Delivery

logger = logging.getLogger(__name__)

# kind → "module.function(delivery) -> None", called when a row of that kind becomes dead.
ON_DEAD: dict[str, str] = {
    "reachability.probe": "liaison.reachability.inbound.on_probe_delivery_dead",
    "reachability.reminder": "liaison.reachability.inbound.on_probe_delivery_dead",
}

# kind → "module.function(delivery) -> dict[str, str]": headers added when the row is sent.
HEADERS: dict[str, str] = {
    "reachability.probe": "liaison.reachability.inbound.reply_headers",
}


def _resolve(registry: dict[str, str], kind: str) -> Callable | None:
    path = registry.get(kind)
    return import_string(path) if path else None


def on_dead(delivery: Delivery) -> None:
    """Tell the app that owns `delivery`'s kind that it will not be delivered."""
    callback = _resolve(ON_DEAD, delivery.kind)
    if callback is None:
        return
    try:
        with transaction.atomic():
            callback(delivery)
    except Exception:
        # No body and no recipient in the log: the id finds the row.
        logger.exception(
            "delivery %s: the dead-letter hook of %s failed", delivery.public_id, delivery.kind
        )


def extra_headers(delivery: Delivery) -> dict[str, str]:
    """Headers the owning app adds to `delivery` (e.g. Reply-To); {} when none."""
    try:
        callback = _resolve(HEADERS, delivery.kind)
        headers = (callback(delivery) or {}) if callback else {}
    except Exception:
        # The message still goes out, without them: a reply then reaches the From address.
        logger.exception(
            "delivery %s: the headers hook of %s failed", delivery.public_id, delivery.kind
        )
        return {}
    # A header value with a line break would inject headers: refuse it here, once for all apps.
    return {
        name: value
        for name, value in headers.items()
        if value and "\n" not in value and "\r" not in value
    }
