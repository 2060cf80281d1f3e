"""A ping test of 10,000 contact points: probes created and e-mails accepted by a local SMTP
server, then confirmations ingested per second. Prints figures.

Run: .venv/bin/python bench/pingtest.py [ROWS]

Fresh SQLite database in a temporary data directory, a real SMTP server (aiosmtpd) on loopback.
Baselines measured in the same run: the bare outbox (the same number of plain e-mails queued
and sent, no probes) for the sending, and one audit event per confirmation (the least a
confirmation must write) for the ingestion.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.smtp_server import SMTPTestServer  # noqa: E402

_DATA_DIR = tempfile.TemporaryDirectory(prefix="liaison-bench-")
SMTP = SMTPTestServer().__enter__()
os.environ["LIAISON_DATA_DIR"] = _DATA_DIR.name
os.environ["LIAISON_EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP.port}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

import django  # noqa: E402

django.setup()

import io  # noqa: E402
import logging  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from import_directory import build_csv  # noqa: E402

from liaison.audit.services import record_event  # noqa: E402
from liaison.delivery.models import Delivery, DeliveryStatus  # noqa: E402
from liaison.delivery.services import deliver_due, enqueue_email  # noqa: E402
from liaison.directory.exporting import console_access  # noqa: E402
from liaison.directory.importing import import_directory  # noqa: E402
from liaison.directory.services import publish_edition  # noqa: E402
from liaison.networks.models import Network  # noqa: E402
from liaison.reachability import services  # noqa: E402

logging.getLogger("liaison").setLevel(logging.WARNING)
TOKEN = re.compile(r"/p/([A-Za-z0-9_-]+)/")


def drain() -> int:
    sent = 0
    while True:
        n = deliver_due(limit=500)
        if not n:
            return sent
        sent += n


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    call_command("migrate", verbosity=0)
    network = Network.objects.create(slug="bench", name="Bench network")
    import_directory(None, network, io.BytesIO(build_csv(rows)), filename="bench.csv")
    publish_edition(None, console_access(network), "bench")
    Delivery.objects.all().delete()
    print(f"{rows} published contact points, SQLite, {os.cpu_count()} CPUs")

    # Baseline: the same number of plain e-mails through the outbox.
    start = time.perf_counter()
    with transaction.atomic():
        for i in range(rows):
            enqueue_email(to=f"x{i}@bench.example", subject="baseline", body="hello", kind="bench")
    queued = time.perf_counter() - start
    sent = drain()
    base = time.perf_counter() - start
    print(
        f"baseline outbox: {sent} plain e-mails queued in {queued:.2f} s, all sent in {base:.2f} s"
    )
    SMTP.wait_for(sent, timeout=60)
    received_before = len(SMTP.messages)

    start = time.perf_counter()
    test = services.start_ping_test(None, console_access(network), channels=["email"])
    created = time.perf_counter() - start
    while services.send_due_probes():
        pass
    queued = time.perf_counter() - start
    sent = drain()
    total = time.perf_counter() - start
    SMTP.wait_for(received_before + sent, timeout=60)
    failed = Delivery.objects.filter(kind=services.PROBE_KIND).exclude(status=DeliveryStatus.SENT)
    print(
        f"ping test: {test.probes.count()} probes created in {created:.2f} s, queued by "
        f"{queued:.2f} s, {sent} e-mails accepted by the SMTP server in {total:.2f} s "
        f"(target <= 20 s; baseline outbox alone {base:.2f} s; {failed.count()} not sent)"
    )

    raw_tokens = [
        match.group(1)
        for received in SMTP.messages[received_before:]
        if (match := TOKEN.search(received.message.get_body().get_content()))
    ]
    start = time.perf_counter()
    for i in range(len(raw_tokens)):
        record_event(None, "bench.baseline", details={"i": i})
    baseline = len(raw_tokens) / (time.perf_counter() - start)
    start = time.perf_counter()
    for raw in raw_tokens:
        services.confirm_probe_by_token(raw, via="link")
    rate = len(raw_tokens) / (time.perf_counter() - start)
    print(
        f"confirmations: {len(raw_tokens)} ingested at {rate:.0f}/s (target >= 500/s; "
        f"baseline one audit event each: {baseline:.0f}/s)"
    )
    SMTP.__exit__(None, None, None)


if __name__ == "__main__":
    main()
