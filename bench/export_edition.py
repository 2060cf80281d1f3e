"""Export benchmark: a 10,000-contact-point edition document rendered and signed in each format.

Run:  .venv/bin/python bench/export_edition.py [--contact-points 10000] [--rounds 3]
Prints figures; asserts nothing. The document is built in memory in the edition format (no
database); the keys live in a throw-away data directory. Figures: signed JSON (canonical
serialisation + Ed25519) and its verification, PDF rendering (reportlab), signing (pyHanko) and
verification, and the unsigned formats. The baseline, measured in the same run, is the least a
JSON export must do: json.dumps of the document.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("LIAISON_DATA_DIR", tempfile.mkdtemp(prefix="liaison-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

import django

django.setup()

from liaison.directory.exporting import Stamp, render_export  # noqa: E402
from liaison.directory.pdf import render_pdf  # noqa: E402
from liaison.directory.signing import sign_pdf, verify_export  # noqa: E402

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
                    "institution": f"Institution {n} — Direction centrale",
                    "unit": f"Unit {n % 17}",
                    "channels": [
                        {"kind": "phone", "value": f"+3312345{n % 10000:04d}", "notes": "24h"},
                        {"kind": "mobile", "value": f"+3361234{n % 10000:04d}", "notes": ""},
                        {"kind": "email", "value": f"desk{n}@agency.example", "notes": ""},
                    ],
                    "availability": rng.choice(["24/7", "Mon-Fri 08:00-18:00"]),
                    "availability_exceptions": "",
                    "timezone": "Europe/Paris",
                    "languages": ["en", "fr"],
                    "instructions": "Call the duty desk first, then confirm by e-mail.",
                    "pgp_key": "",
                }
            )
        members.append(
            {
                "code": f"M{code:04d}",
                "name": f"Member {code}",
                "kind": "state",
                "status": "party",
                "contact_points": entries,
            }
        )
    return {
        "format": "liaison-directory-edition/1",
        "network": {"slug": "bench", "name": "Benchmark 24/7 Network"},
        "edition": 12,
        "published_at": "2026-11-22T10:00:00+00:00",
        "note": "Benchmark edition.",
        "changed_members": [],
        "members": members,
    }


def timed(function, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-points", type=int, default=10_000)
    parser.add_argument("--per-member", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="rounds for the fast formats")
    args = parser.parse_args()
    document = build(args.contact_points, args.per_member, random.Random(7))
    stamp = Stamp.for_actor(None)
    verify_export(render_export(document, "json", stamp))  # keys and certificate made once
    print(f"document: {args.contact_points} contact points, {len(document['members'])} members")

    baseline, _ = timed(lambda: json.dumps(document).encode(), args.rounds)
    print(f"  baseline json.dumps               {baseline:8.3f} s")
    seconds, signed_json = timed(lambda: render_export(document, "json", stamp), args.rounds)
    print(f"  JSON render + sign                {seconds:8.3f} s  {len(signed_json) / 1e6:6.1f} MB")
    seconds, _ = timed(lambda: verify_export(signed_json), args.rounds)
    print(f"  JSON verify                       {seconds:8.3f} s")

    start = time.perf_counter()
    unsigned = render_pdf(document, stamp=str(stamp), mark=stamp.mark)
    rendered = time.perf_counter() - start
    start = time.perf_counter()
    signed_pdf = sign_pdf(unsigned)
    signing = time.perf_counter() - start
    start = time.perf_counter()
    verified = verify_export(signed_pdf)
    verifying = time.perf_counter() - start
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(signed_pdf)).pages)
    print(f"  PDF render (reportlab)            {rendered:8.3f} s  {len(signed_pdf) / 1e6:6.1f} MB")
    print(f"  PDF sign (pyHanko)                {signing:8.3f} s  {pages} pages")
    print(f"  PDF render + sign                 {rendered + signing:8.3f} s")
    print(f"  PDF verify                        {verifying:8.3f} s  ({verified})")

    for fmt in ("csv", "xlsx", "vcf"):
        seconds, data = timed(lambda fmt=fmt: render_export(document, fmt, stamp), 1)
        label = f"{fmt.upper()} render"
        print(f"  {label:<34}{seconds:8.3f} s  {len(data) / 1e6:6.1f} MB")


if __name__ == "__main__":
    main()
