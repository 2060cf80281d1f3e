"""Probe tokens: the capability in a probe's link and the marker a reply carries back.

Only the SHA-256 of a token is stored: a copy of the database confirms nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets

MARKER_PREFIX = "LIAISON-PROBE-"
_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"([A-Za-z0-9_-]{20,64})")


def new_token() -> tuple[str, str]:
    """A fresh (raw, sha256 hex) pair: 160 random bits, URL-safe."""
    raw = secrets.token_urlsafe(20)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def marker(raw: str) -> str:
    return f"{MARKER_PREFIX}{raw}"


def find_token(text: str) -> str | None:
    """The token of the first probe marker in `text` (a reply's subject or body), if any."""
    match = _MARKER.search(text or "")
    return match.group(1) if match else None
