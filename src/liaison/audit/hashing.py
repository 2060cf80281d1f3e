"""RFC 6962 (Certificate Transparency) hashing of audit events.

leaf = SHA-256(0x00 || canonical event bytes); node = SHA-256(0x01 || left || right); the tree
head over n leaves splits at the largest power of two smaller than n.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """A running hash over the leaves: names the first bad event when the tree head differs."""
    return hashlib.sha256(previous + leaf).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1, computed bottom-up without recursion."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    # Bottom-up with carried odd nodes gives the same tree as the recursive split definition.
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
