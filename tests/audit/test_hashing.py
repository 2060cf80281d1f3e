"""The Merkle tree against an independent, recursive RFC 6962 §2.1 implementation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.audit import hashing


def reference_mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 §2.1 defines it, over the raw entries (not leaf hashes)."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:  # the largest power of two smaller than n
        k *= 2
    return hashlib.sha256(
        b"\x01" + reference_mth(entries[:k]) + reference_mth(entries[k:])
    ).digest()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=70))
def test_merkle_root_matches_rfc6962(entries):
    leaves = [hashing.leaf_hash(e) for e in entries]
    assert hashing.merkle_root(leaves) == reference_mth(entries)


@pytest.mark.parametrize("n", range(1, 71))
def test_frontier_root_at_every_size(n):
    entries = [f"entry {i}".encode() for i in range(n)]
    frontier = hashing.Frontier()
    for entry in entries:
        frontier.append(hashing.leaf_hash(entry))
    assert frontier.size == n
    assert len(frontier.hashes) == n.bit_count()
    assert frontier.root() == reference_mth(entries)
    # The stored form round-trips.
    again = hashing.Frontier.from_hex(n, frontier.to_hex())
    assert again.root() == frontier.root()


def test_empty_tree_and_known_vector():
    assert hashing.merkle_root([]) == hashlib.sha256(b"").digest()
    # RFC 6962 leaf of the empty entry (a well-known CT test vector).
    assert (
        hashing.leaf_hash(b"").hex()
        == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_frontier_rejects_wrong_shape():
    with pytest.raises(ValueError, match="frontier of size 3"):
        hashing.Frontier(3, [bytes(32)])


def test_canonical_bytes_normalises_numbers_and_orders_keys():
    assert hashing.canonical_bytes({"b": 1.0, "a": [2.5, 1e20]}) == (
        b'{"a":[2.5,100000000000000000000],"b":1}'
    )
    with pytest.raises(ValueError, match="Out of range float"):
        hashing.canonical_bytes({"x": float("nan")})
