"""Edition documents: a network's directory (one layer of it) as one plain, canonical dict.

An edition stores its document (zlib-compressed canonical JSON) so that exports and diffs of any
edition are exact and cheap; the draft layer is turned into the same shape to compare it with the
current edition. The document is built with three `values()` queries, never per-row ORM objects:
a 10,000-contact-point directory takes a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from typing import Any

from liaison.core.errors import ServiceError
from liaison.directory.models import Channel, ContactPoint, Layer
from liaison.networks.models import Member, Network

FORMAT = "liaison-directory-edition/1"
CONTACT_POINT_FIELDS = (
    "type",
    "institution",
    "unit",
    "availability",
    "availability_exceptions",
    "timezone",
    "instructions",
    "pgp_key",
)


def build_document(
    network: Network,
    layer: str,
    *,
    edition: int | None = None,
    published_at: str | None = None,
    note: str = "",
    changed_members: list[str] | None = None,
) -> dict[str, Any]:
    """The `layer` rows of `network` in the edition format (members by code, entries in order)."""
    rows = list(
        ContactPoint.objects.filter(network=network, layer=layer)
        .order_by("member_id", "position", "id")
        .values("id", "public_id", "member_id", "languages", *CONTACT_POINT_FIELDS)
    )
    channels: dict[int, list[dict[str, str]]] = defaultdict(list)
    for cp_id, kind, value, notes in (
        Channel.objects.filter(contact_point__network=network, contact_point__layer=layer)
        .order_by("contact_point_id", "position", "id")
        .values_list("contact_point_id", "kind", "value", "notes")
    ):
        channels[cp_id].append({"kind": kind, "value": value, "notes": notes})
    by_member: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        entry: dict[str, Any] = {"id": row["public_id"]}
        entry.update((name, row[name]) for name in CONTACT_POINT_FIELDS)
        entry["channels"] = channels.get(row["id"], [])
        entry["languages"] = [code for code in row["languages"].split(",") if code]
        by_member[row["member_id"]].append(entry)
    members = [
        {
            "code": m["code"],
            "name": m["name"],
            "kind": m["kind"],
            "status": m["status"],
            "contact_points": by_member.get(m["id"], []),
        }
        for m in Member.objects.filter(network=network)
        .order_by("code")
        .values("id", "code", "name", "kind", "status")
    ]
    return {
        "format": FORMAT,
        "network": {"slug": network.slug, "name": network.name},
        "edition": edition,
        "published_at": published_at,
        "note": note,
        "changed_members": changed_members or [],
        "members": members,
    }


def draft_document(network: Network) -> dict[str, Any]:
    return build_document(network, Layer.DRAFT)


def changed_members(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Codes of the members whose entry (details or contact points) differs between documents."""
    before = {m["code"]: m for m in (old or {}).get("members", [])}
    after = {m["code"]: m for m in new["members"]}
    changed = []
    for code in sorted(set(before) | set(after)):
        a, b = before.get(code), after.get(code)
        if a is None or b is None:
            # A member without contact points appearing or leaving is not a directory change.
            entry = a or b
            if entry and entry["contact_points"]:
                changed.append(code)
        elif a != b:
            changed.append(code)
    return changed


def encode_content(document: dict[str, Any]) -> tuple[bytes, str]:
    """Canonical JSON (sorted keys, no spaces), compressed; and the SHA-256 of the JSON."""
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return zlib.compress(raw, 6), hashlib.sha256(raw).hexdigest()


def decode_content(blob: bytes, sha256: str) -> dict[str, Any]:
    raw = zlib.decompress(blob)
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ServiceError("the stored edition does not match its hash: the database was altered")
    return json.loads(raw)
