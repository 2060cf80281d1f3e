"""RFC 6962 (Certificate Transparency) hashing of audit events.

leaf = SHA-256(0x00 || canonical event bytes); node = SHA-256(0x01 || left || right); the tree
head over n leaves splits at the largest power of two smaller than n (RFC 6962 §2.1).

Besides the tree, each event carries a running chain hash SHA-256(previous chain || leaf): it names
the first event after which the log diverges, where a tree root only says "somewhere below".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() of the empty string
GENESIS_CHAIN = bytes(32)


def _normalise(value: Any) -> Any:
    """Numbers as PostgreSQL's jsonb gives them back: an integral float is an int.

    jsonb keeps numbers as decimals, so 1.0 may come back as 1 and 1e20 as 100000000000000000000;
    hashing the normalised value makes the leaf identical on SQLite and PostgreSQL.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value  # the common case first: this runs for every field of every event
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {k: _normalise(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_normalise(v) for v in value]
    return value


# One encoder for every event: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, integral floats as ints, no NaN."""
    return _ENCODER.encode({k: _normalise(v) for k, v in fields.items()}).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """A running hash over the leaves: names the first bad event when the tree head differs.

    Its input (64 bytes) can never be confused with a node's (65 bytes, 0x01 first) or a leaf's.
    """
    return hashlib.sha256(previous + leaf).digest()


class Frontier:
    """The compact range [0, size) of an append-only Merkle tree, as CT logs keep it.

    `hashes` are the roots of the perfect subtrees that `size` decomposes into, largest (leftmost)
    first: one per set bit of `size`, so at most 64 of them. Appending is amortised O(1) and the
    root of the whole tree is O(log n): a checkpoint of a 10^6-event log costs 20 hash operations.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()):
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")

    def append(self, leaf: bytes) -> None:
        node = leaf
        n = self.size
        # Each trailing 1 bit of the old size is a perfect subtree of equal height: merge.
        while n & 1:
            node = node_hash(self.hashes.pop(), node)
            n >>= 1
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """MTH(D[size]): the smaller right subtrees fold into the larger left ones."""
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    def to_hex(self) -> list[str]:
        return [h.hex() for h in self.hashes]

    @classmethod
    def from_hex(cls, size: int, hexes: Sequence[str]) -> Frontier:
        return cls(size, [bytes.fromhex(h) for h in hexes])


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1 over leaf hashes, in O(log n) memory (streams the leaves)."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()
