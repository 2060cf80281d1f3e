"""Verification of the whole audit trail from its rows (`liaison audit verify`, the audit page).

What it proves, given the signing key was not stolen:
- no event was altered: each leaf hash is recomputed from the row's fields;
- none was removed from the middle: seq numbers are contiguous from 0;
- none was altered, removed or reordered up to the last signed checkpoint, even by someone who
  recomputed every leaf and chain hash: the Merkle root recomputed at each checkpoint's size must
  equal the signed root;
- the tail after the last checkpoint is covered by the chain and the head (size, chain hash,
  frontier). Someone able to rewrite the head too can cut events after the last checkpoint
  unnoticed: that is why checkpoints are signed every AUDIT_CHECKPOINT_EVERY events and
  `liaison audit verify --checkpoint` signs a fresh one after a clean verification.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import Max

from liaison.audit import hashing
from liaison.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from liaison.audit.services import (
    CHECKPOINT_LABEL,
    LEAF_COLUMNS,
    checkpoint_text,
    compute_leaf,
    iso_utc,
    leaf_fields,
)
from liaison.core import keys

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = None
    problem: str = ""
    root_hash: str = ""  # the Merkle root recomputed over the events read (when ok)
    key_ids: tuple[str, ...] = ()  # the keys whose checkpoint signatures were checked

    def summary(self) -> str:
        if self.ok:
            return (
                f"audit trail intact: {self.events} events, {self.checkpoints} checkpoints, "
                f"root {self.root_hash}"
            )
        where = f" at event {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"audit trail BROKEN{where}: {self.problem}"


def witness_line(cp: AuditCheckpoint) -> str:
    """One line holding a whole signed checkpoint, to keep outside the deployment."""
    return " ".join(
        [
            CHECKPOINT_LABEL,
            str(cp.tree_size),
            cp.root_hash,
            iso_utc(cp.created_at),
            cp.key_id,
            cp.signature,
        ]
    )


def parse_witness_line(line: str) -> AuditCheckpoint:
    """The checkpoint of a witness_line(); ValueError when the line is not one."""
    parts = line.split()
    if len(parts) != 6 or parts[0] != CHECKPOINT_LABEL:
        raise ValueError("not a checkpoint line (liaison-audit-checkpoint SIZE ROOT TIME KEY SIG)")
    _, size, root, created, key_id, signature = parts
    created_at = dt.datetime.fromisoformat(created)
    if created_at.tzinfo is None or not size.isdigit() or len(root) != 64:
        raise ValueError("malformed checkpoint line")
    bytes.fromhex(root + signature)
    return AuditCheckpoint(
        tree_size=int(size),
        root_hash=root,
        created_at=created_at,
        key_id=key_id,
        signature=signature,
    )


class _Broken(Exception):
    def __init__(self, problem: str, seq: int | None):
        super().__init__(problem)
        self.problem = problem
        self.seq = seq


def _label(cp: AuditCheckpoint) -> str:
    return f"checkpoint at size {cp.tree_size}" if cp.pk else f"witness at size {cp.tree_size}"


def _check_signature(cp: AuditCheckpoint, trusted: Mapping[str, Ed25519PublicKey]) -> None:
    key = trusted.get(cp.key_id)
    if key is None:
        raise _Broken(f"{_label(cp)} is signed by an unknown key {cp.key_id}", None)
    try:
        signature = bytes.fromhex(cp.signature)
    except ValueError:
        signature = b""
    text = checkpoint_text(cp.tree_size, cp.root_hash, cp.created_at)
    if not keys.verify(text, signature, key):
        raise _Broken(f"{_label(cp)} has an invalid signature", None)


def verify_trail(
    *,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    witnesses: Iterable[AuditCheckpoint] = (),
    chunk_size: int = CHUNK_SIZE,
) -> VerifyResult:
    """Recompute the whole trail from its rows; the first problem found, in seq order.

    Streams the events (constant memory). `trusted_keys` (key id → public key) defaults to the
    deployment's key and DATA_DIR/keys/trusted/*.pub; pass a single key kept elsewhere to pin it.
    `witnesses` are checkpoints kept outside the database (parse_witness_line): they are checked
    like stored ones, and catch a rewrite that also deleted the stored checkpoints.
    Safe while events are being appended: the head and checkpoints are read first, and only the
    events they cover are checked.
    """
    trusted = dict(keys.trusted_public_keys() if trusted_keys is None else trusted_keys)
    # Checkpoints before the head, the head before the events: each is signed from, or lags,
    # what follows it, so concurrent appends never look like a truncation.
    stored = list(AuditCheckpoint.objects.order_by("tree_size"))
    checkpoints = sorted([*stored, *witnesses], key=lambda cp: cp.tree_size)
    head = AuditHead.objects.filter(pk=1).first()
    frontier = hashing.Frontier()
    chain = hashing.GENESIS_CHAIN
    seen_keys: set[str] = set()
    last_good_checkpoint = 0
    pending = iter(checkpoints)
    next_cp = next(pending, None)

    def reached(size: int) -> None:
        nonlocal next_cp, last_good_checkpoint
        while next_cp is not None and next_cp.tree_size <= size:
            cp = next_cp
            _check_signature(cp, trusted)
            seen_keys.add(cp.key_id)
            if cp.tree_size < size or frontier.root().hex() != cp.root_hash:
                # (tree_size < size only for a negative size: never signed by this code.)
                raise _Broken(
                    f"{_label(cp)} does not match: events "
                    f"{last_good_checkpoint}–{cp.tree_size - 1} were altered, reordered or "  # noqa: RUF001
                    "removed",
                    last_good_checkpoint,
                )
            last_good_checkpoint = cp.tree_size
            next_cp = next(pending, None)

    events = AuditEvent.objects.order_by("seq")
    if head is not None:
        events = events.filter(seq__lt=head.size)
    rows = events.values_list(*LEAF_COLUMNS, "leaf_hash", "chain_hash")
    expected = 0
    try:
        reached(0)
        for row in rows.iterator(chunk_size=chunk_size):
            seq = row[0]
            if seq != expected:
                if seq > expected:
                    raise _Broken(f"event {expected} is missing", expected)
                raise _Broken(f"event {seq} is out of sequence", seq)
            leaf = compute_leaf(leaf_fields(**dict(zip(LEAF_COLUMNS, row[:12], strict=True))))
            if row[12] != leaf.hex():
                raise _Broken(f"event {seq} was altered (leaf hash mismatch)", seq)
            chain = hashing.chain_hash(chain, leaf)
            if row[13] != chain.hex():
                raise _Broken(f"event {seq} was altered (chain hash mismatch)", seq)
            frontier.append(leaf)
            expected += 1
            if next_cp is not None and next_cp.tree_size <= expected:
                reached(expected)
        count = expected
        last = f"event {count - 1}" if count else "no event"
        if next_cp is not None:
            _check_signature(next_cp, trusted)
            raise _Broken(
                f"the trail ends at {last} but a signed "
                f"{'checkpoint' if next_cp.pk else 'witness'} covers {next_cp.tree_size} events",
                count,
            )
        if head is None:
            if count:
                raise _Broken("the head of the trail is missing", None)
        else:
            if head.size != count:
                raise _Broken(f"the trail ends at {last} but the head says {head.size}", count)
            if head.chain_hash != chain.hex():
                raise _Broken(f"the head's chain hash does not match {last}", None)
            if list(head.frontier) != frontier.to_hex():
                raise _Broken("the head's Merkle frontier does not match the events", None)
        # Rows beyond the head: read the highest seq first, then the head again — a legitimate
        # append commits its event and the head's new size together.
        highest = AuditEvent.objects.aggregate(top=Max("seq"))["top"]
        if highest is not None and highest >= count:
            current = AuditHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
            if highest >= current:
                raise _Broken(f"event {highest} lies beyond the head (size {current})", highest)
    except _Broken as broken:
        return VerifyResult(
            ok=False,
            events=expected,
            checkpoints=len(stored),
            first_bad_seq=broken.seq,
            problem=broken.problem,
            key_ids=tuple(sorted(seen_keys)),
        )
    return VerifyResult(
        ok=True,
        events=count,
        checkpoints=len(stored),
        root_hash=frontier.root().hex(),
        key_ids=tuple(sorted(seen_keys)),
    )
