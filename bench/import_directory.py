"""How long does `liaison directory import` take for a 10,000-row file? Prints figures.

Run: .venv/bin/python bench/import_directory.py [ROWS]
Uses a fresh SQLite database in a temporary data directory (migrated here), builds a CSV of
ROWS contact points spread over ~200 members with example phone numbers, then times reading and
validation, a dry run and the real import (twice: into an empty network, then replacing).
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import tempfile
import time

if __name__ == "__main__" or "LIAISON_DATA_DIR" not in os.environ:
    # Run on its own: a fresh data directory. Imported by another bench (for build_csv), that
    # bench's own directory stays: replacing it here would split its processes' databases.
    _DATA_DIR = tempfile.TemporaryDirectory(prefix="liaison-bench-")  # removed at exit
    os.environ["LIAISON_DATA_DIR"] = _DATA_DIR.name
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

import django

django.setup()

import phonenumbers  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from liaison.directory.importing import COLUMNS, import_directory, read_rows, validate_rows  # noqa: E402
from liaison.networks.models import Network  # noqa: E402

SCHEDULES = [
    "24/7",
    "Mon-Fri 08:00-18:00",
    "Mon-Fri 09:00-17:30; Sat 09:00-12:00",
    "24x7",
    "mon-fri 8:00-20:00",
    "Daily 07:00-23:00",
]
TYPES = [
    "police",
    "police",
    "police",
    "prosecution",
    "security_service",
    "cybersecurity",
    "ministry_of_justice",
]


def build_csv(rows: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    regions = sorted(
        r
        for r in phonenumbers.SUPPORTED_REGIONS
        if len(r) == 2 and phonenumbers.example_number(r) is not None
    )
    import pycountry

    regions = [r for r in regions if pycountry.countries.get(alpha_2=r)][:200]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for i in range(rows):
        region = regions[i % len(regions)]
        country = pycountry.countries.get(alpha_2=region)
        fixed = phonenumbers.example_number(region)
        mobile = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        fmt = rng.choice(
            [phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL]
        )
        writer.writerow(
            {
                "member_code": region,
                "member_name": country.name,
                "member_kind": "state",
                "member_status": rng.choice(["party", "party", "observer"])
                if i < len(regions)
                else None,
                "type": rng.choice(TYPES),
                "institution": f"National Police {region} (fictional)",
                "unit": f"Desk {i}",
                "phone": phonenumbers.format_number(fixed, fmt),
                "phone_2": phonenumbers.format_number(mobile, fmt) if mobile and i % 3 == 0 else "",
                "email": f"desk{i}@police.{region.lower()}.example",
                "email_2": f"duty{i}@police.{region.lower()}.example" if i % 4 == 0 else "",
                "fax": "",
                "secure_channel": "",
                "availability": rng.choice(SCHEDULES),
                "timezone": rng.choice(["Europe/Paris", "UTC", "America/New_York", "Asia/Tokyo"]),
                "languages": rng.choice(["en", "en,fr", "fr, en, de", "es;en"]),
                "instructions": "Call first, then confirm by e-mail." if i % 2 else "",
            }
        )
    text = out.getvalue()
    # Every row of a member carries the member's status (the first row's choice).
    status: dict[str, str] = {}
    lines = list(csv.DictReader(io.StringIO(text)))
    for line in lines:
        line["member_status"] = status.setdefault(
            line["member_code"], line["member_status"] or "party"
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue().encode()


def timed(label: str, fn):
    start, cpu = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        result = fn()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<44} {elapsed:7.2f} s wall {cpu:7.2f} s CPU {len(queries):6d} queries")
    return result


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    call_command("migrate", verbosity=0)
    network = Network.objects.create(slug="bench", name="Bench network")
    data = build_csv(rows)
    members = len({line.split(",", 1)[0] for line in data.decode().splitlines()[1:]})
    print(
        f"{rows} rows, {members} members, {len(data) / 1e6:.1f} MB, SQLite, {os.cpu_count()} CPUs"
    )
    parsed = timed("read CSV", lambda: list(read_rows(io.BytesIO(data), "bench.csv")))
    _plan, problems = timed("validate rows", lambda: validate_rows(parsed, network))
    assert not problems, problems[:5]
    reset_queries()
    timed(
        "import --dry-run (read + validate + diff)",
        lambda: import_directory(
            None, network, io.BytesIO(data), filename="bench.csv", dry_run=True
        ),
    )
    timed(
        "import into an empty network (end to end)",
        lambda: import_directory(None, network, io.BytesIO(data), filename="bench.csv"),
    )
    timed(
        "import again (replaces every entry)",
        lambda: import_directory(None, network, io.BytesIO(data), filename="bench.csv"),
    )


if __name__ == "__main__":
    main()
