"""Diff benchmark: two 10,000-contact-point edition documents with ~2% changes.

Run:  .venv/bin/python bench/diff_editions.py [--contact-points 10000] [--change 0.02] [--rounds 5]
Prints figures; asserts nothing. Pure Python (liaison.directory.diffing has no database access):
the documents are built in memory in the edition format, then diffed, rendered as text and as
JSON. The baseline, measured in the same run, is the least any diff must do: index both
documents' contact points by id and compare each pair with ==.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from django.conf import settings

if not settings.configured:
    settings.configure(USE_I18N=False)

from liaison.directory.diffing import diff_as_text, diff_documents

TYPES = ["police", "prosecution", "security_service", "cybersecurity"]


def build(contact_points: int, per_member: int, rng: random.Random) -> dict:
    members = []
    n = 0
    code = 0
    while n < contact_points:
        code += 1
        entries = []
        for _ in range(min(per_member, contact_points - n)):
            n += 1
            entries.append(
                {
                    "id": f"cp_{n:08d}",
                    "type": rng.choice(TYPES),
                    "institution": f"Institution {n}",
                    "unit": f"Unit {n % 17}",
                    "channels": [
                        {"kind": "phone", "value": f"+3312345{n:05d}", "notes": ""},
                        {"kind": "email", "value": f"desk{n}@agency.example", "notes": ""},
                    ],
                    "availability": "24/7",
                    "availability_exceptions": "",
                    "timezone": "Europe/Paris",
                    "languages": ["en", "fr"],
                    "instructions": "Call the duty desk first.",
                    "pgp_key": "",
                }
            )
        members.append(
            {
                "code": f"M{code:03d}",
                "name": f"Member {code}",
                "kind": "state",
                "status": "party",
                "contact_points": entries,
            }
        )
    return {
        "format": "liaison-directory-edition/1",
        "network": {"slug": "bench", "name": "Bench"},
        "edition": 1,
        "published_at": "2026-01-01T00:00:00+00:00",
        "note": "",
        "changed_members": [],
        "members": members,
    }


def change(doc: dict, fraction: float, rng: random.Random) -> tuple[dict, dict[str, int]]:
    """A copy with `fraction` of the contact points edited, removed, added or moved."""
    new = copy.deepcopy(doc)
    new["edition"] = 2
    entries = [(m, cp) for m in new["members"] for cp in m["contact_points"]]
    picked = rng.sample(entries, int(len(entries) * fraction))
    counts = {"edited": 0, "removed": 0, "added": 0, "moved": 0}
    extra = 0
    for member, cp in picked:
        what = rng.choices(["edited", "removed", "added", "moved"], weights=[70, 10, 10, 10])[0]
        counts[what] += 1
        if what == "edited":
            cp["unit"] = cp["unit"] + " (new)"
            if rng.random() < 0.3:
                cp["channels"][0]["value"] = cp["channels"][0]["value"][:-1] + "9"
        elif what == "removed":
            member["contact_points"].remove(cp)
        elif what == "added":
            extra += 1
            member["contact_points"].append({**copy.deepcopy(cp), "id": f"cp_new_{extra:06d}"})
        else:
            member["contact_points"].remove(cp)
            rng.choice(new["members"])["contact_points"].append(cp)
    return new, counts


def _baseline(old: dict, new: dict) -> int:
    before = {cp["id"]: cp for m in old["members"] for cp in m["contact_points"]}
    after = {cp["id"]: cp for m in new["members"] for cp in m["contact_points"]}
    return sum(1 for key, cp in after.items() if before.get(key) != cp)


def timed(func, rounds: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-points", type=int, default=10_000)
    parser.add_argument("--per-member", type=int, default=50)
    parser.add_argument("--change", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    old = build(args.contact_points, args.per_member, rng)
    new, counts = change(old, args.change, rng)
    print(
        f"documents: {args.contact_points} contact points in {len(old['members'])} members; "
        f"changes: {counts}"
    )
    baseline, _ = timed(lambda: _baseline(old, new), args.rounds)
    diff_time, diff = timed(lambda: diff_documents(old, new), args.rounds)
    text_time, text = timed(lambda: diff_as_text(diff), args.rounds)
    json_time, blob = timed(lambda: json.dumps(diff.as_json()), args.rounds)
    totals = diff.totals
    print(
        f"diff: {len(diff.members)} members changed; contact points {totals['edited']} edited, "
        f"{totals['added']} added, {totals['removed']} removed"
    )
    print(f"baseline (index, ==):   {baseline * 1000:8.1f} ms")
    print(f"diff_documents:         {diff_time * 1000:8.1f} ms  ({diff_time / baseline:.1f}x)")
    print(f"diff_as_text:           {text_time * 1000:8.1f} ms  ({len(text):,} characters)")
    print(f"as_json + json.dumps:   {json_time * 1000:8.1f} ms  ({len(blob):,} bytes)")
    big = build(args.contact_points * 10, args.per_member, random.Random(args.seed))
    big_new, _ = change(big, args.change, random.Random(args.seed))
    big_time, _ = timed(lambda: diff_documents(big, big_new), max(1, args.rounds // 2))
    print(
        f"diff_documents x10 ({args.contact_points * 10} contact points): "
        f"{big_time * 1000:.1f} ms ({big_time / diff_time:.1f}x the 1x time: linear is ~10x)"
    )


if __name__ == "__main__":
    main()
