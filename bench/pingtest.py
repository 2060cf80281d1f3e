"""A ping test of 10,000 contact points: probes created and e-mails accepted by a local SMTP
server, then confirmations ingested per second. Prints figures.

Run: .venv/bin/python bench/pingtest.py [ROWS] [--server spool|thread] [--connections K]

Fresh SQLite database in a temporary data directory (under scripts/with-postgres: a fresh
PostgreSQL database). The local SMTP server is, by default,
bench/smtp_spool.py: aiosmtpd in a child process that stores each message before answering 250,
as a local MTA's queue does (`--server thread` runs tests/smtp_server.py's server in this process
instead: it parses every message and competes with the sender for the interpreter lock). The
outbox sends over `DELIVERY_CONNECTIONS` connections at once (`--connections` overrides it).

The clock starts before the test is created and stops when the last probe e-mail has been
accepted: creating the probes, queueing one e-mail per probe in the outbox (a fresh token each),
and the worker's sending, one after the other as `liaison worker` runs them.

Baselines measured in the same run: the bare outbox (the same number of plain e-mails queued and
sent, no probes) for the sending, and one audit event per confirmation (the least a confirmation
must write) for the ingestion. Confirmations are ingested through the service that the
confirmation page and the reply receiver call; a second figure posts them to the confirmation page
itself (Django's test client, so without a web server's own cost).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from smtp_spool import SpoolServer  # noqa: E402

from tests.smtp_server import SMTPTestServer  # noqa: E402

PARSER = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
PARSER.add_argument("rows", nargs="?", type=int, default=10_000)
PARSER.add_argument("--server", choices=["spool", "thread"], default="spool")
PARSER.add_argument("--connections", type=int, help="DELIVERY_CONNECTIONS (default: settings)")
PARSER.add_argument("--web", type=int, default=1000, help="confirmations posted to the page")
PARSER.add_argument(
    "--workers",
    type=int,
    default=1,
    help="`liaison worker` processes that queue and send the test (0: do it in this process)",
)
PARSER.add_argument("--confirmers", type=int, default=4, help="concurrent confirmers")
PARSER.add_argument("--replies", type=int, default=1000, help="confirmations replied by e-mail")

if __name__ == "__main__":  # not in the spool server's child process, which imports this module
    ARGS = PARSER.parse_args()
    _DATA_DIR = tempfile.TemporaryDirectory(prefix="liaison-bench-")
    SMTP = (SpoolServer() if ARGS.server == "spool" else SMTPTestServer()).__enter__()
    os.environ["LIAISON_DATA_DIR"] = _DATA_DIR.name
    os.environ["LIAISON_EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP.port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

    import django

    django.setup()

import io  # noqa: E402
import logging  # noqa: E402

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from import_directory import build_csv  # noqa: E402

if __name__ == "__main__":
    from liaison.audit.services import record_event
    from liaison.delivery.models import Delivery, DeliveryStatus
    from liaison.delivery.services import connection_count, deliver_due, enqueue_email
    from liaison.directory.exporting import console_access
    from liaison.directory.importing import import_directory
    from liaison.directory.services import publish_edition
    from liaison.networks.models import Network
    from liaison.reachability import services
    from liaison.reachability.inbound import process_message
    from liaison.reachability.models import Probe, ProbeStatus

logging.getLogger("liaison").setLevel(logging.WARNING)
TOKEN = re.compile(r"/p/([A-Za-z0-9_-]+)/")


def drain() -> int:
    sent = 0
    while True:
        n = deliver_due(limit=500)
        if not n:
            return sent
        sent += n


def accepted() -> int:
    return SMTP.count() if isinstance(SMTP, SpoolServer) else len(SMTP.messages)


def raw_messages(first: int) -> list[bytes | email.message.EmailMessage]:
    if isinstance(SMTP, SpoolServer):
        return SMTP.messages()[first:]
    return [received.message for received in SMTP.messages[first:]]


def parsed(message: bytes | email.message.EmailMessage) -> email.message.EmailMessage:
    if isinstance(message, bytes):
        return email.message_from_bytes(message, policy=email.policy.default)
    return message


def token_of(message: email.message.EmailMessage) -> str | None:
    match = TOKEN.search(message.get_body().get_content())
    return match.group(1) if match else None


def reply_to(probe_mail: email.message.EmailMessage, i: int) -> bytes:
    """What an officer's mail client sends back: the subject kept, the original quoted."""
    reply = email.message.EmailMessage()
    reply["From"] = f"Duty officer {i} <desk{i}@police.example>"
    reply["To"] = probe_mail["Reply-To"] or probe_mail["From"]
    reply["Subject"] = f"Re: {probe_mail['Subject']}"
    reply["Message-ID"] = f"<reply{i}@police.example>"
    reply["In-Reply-To"] = probe_mail["Message-ID"]
    quoted = "\n".join(f"> {line}" for line in probe_mail.get_body().get_content().splitlines())
    reply.set_content(f"Received, thank you.\n\n{quoted}\n")
    return reply.as_bytes()


def confirm_share(raws: list[str]) -> None:
    try:
        for raw in raws:
            services.confirm_probe_by_token(raw, via="link")
    finally:
        connection.close()  # this thread's own


def with_workers(network, received_before: int):
    """Start the test as the Secretariat's request does, and let real `liaison worker` processes
    queue and send it (the test's start wakes them). Clock: from the start of the request until
    the server accepted the last probe e-mail."""
    command = [str(ROOT / ".venv" / "bin" / "liaison"), "worker", "--interval", "0.2"]
    with tempfile.TemporaryFile() as log:  # the workers' log, shown if they fail
        workers = [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            for _ in range(ARGS.workers)
        ]
        try:
            time.sleep(3)  # started and idle
            start = time.perf_counter()
            test = services.start_ping_test(None, console_access(network), channels=["email"])
            created = time.perf_counter() - start
            expected = test.probes.count()
            queued = 0.0
            deadline = time.monotonic() + 300
            while accepted() < received_before + expected:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    log.seek(0)
                    sys.stderr.write(log.read().decode(errors="replace")[-3000:])
                    sent = accepted() - received_before
                    raise SystemExit(f"only {sent} of {expected} e-mails sent")
                if not queued and not test.probes.filter(status=ProbeStatus.SCHEDULED).exists():
                    queued = time.perf_counter() - start
                time.sleep(0.05)
            total = time.perf_counter() - start
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)
    return test, created, queued or total, total, expected


def main() -> None:
    rows = ARGS.rows
    if ARGS.connections is not None:
        settings.DELIVERY_CONNECTIONS = ARGS.connections
    connections = connection_count()
    call_command("migrate", verbosity=0)
    network = Network.objects.create(slug="bench", name="Bench network")
    import_directory(None, network, io.BytesIO(build_csv(rows)), filename="bench.csv")
    publish_edition(None, console_access(network), "bench")
    Delivery.objects.all().delete()
    print(
        f"{rows} published contact points, {connection.vendor}, {os.cpu_count()} CPUs, "
        f"SMTP server: {ARGS.server}, {connections} connection(s)"
    )

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
    received_before = accepted()

    if ARGS.workers:
        test, created, queued, total, sent = with_workers(network, received_before)
        how = f"{ARGS.workers} `liaison worker` process(es)"
    else:
        start = time.perf_counter()
        test = services.start_ping_test(None, console_access(network), channels=["email"])
        created = time.perf_counter() - start
        while services.send_due_probes():
            pass
        queued = time.perf_counter() - start
        sent = drain()
        total = time.perf_counter() - start
        how = "in this process, one step after the other"
    SMTP.wait_for(received_before + sent, timeout=60)
    failed = Delivery.objects.filter(kind=services.PROBE_KIND).exclude(status=DeliveryStatus.SENT)
    print(
        f"ping test ({how}): {test.probes.count()} probes created in {created:.2f} s, queued by "
        f"{queued:.2f} s, {sent} e-mails accepted by the SMTP server in {total:.2f} s "
        f"(target <= 20 s; baseline outbox alone {base:.2f} s; {failed.count()} not sent)"
    )

    mails = [parsed(m) for m in raw_messages(received_before)]
    web_tokens = [t for m in mails[: ARGS.web] if (t := token_of(m))]
    replies = [reply_to(m, i) for i, m in enumerate(mails[ARGS.web : ARGS.web + ARGS.replies])]
    service_tokens = [t for m in mails[ARGS.web + ARGS.replies :] if (t := token_of(m))]
    start = time.perf_counter()
    for i in range(len(service_tokens)):
        record_event(None, "bench.baseline", details={"i": i})
    baseline = len(service_tokens) / (time.perf_counter() - start)
    half = len(service_tokens) // 2
    start = time.perf_counter()
    for raw in service_tokens[:half]:
        services.confirm_probe_by_token(raw, via="link")
    rate = half / (time.perf_counter() - start)
    print(
        f"confirmations: {half} ingested one after the other at {rate:.0f}/s (target >= 500/s; "
        f"baseline one audit event each: {baseline:.0f}/s)"
    )
    rest = service_tokens[half:]
    start = time.perf_counter()
    with ThreadPoolExecutor(ARGS.confirmers) as pool:
        list(pool.map(confirm_share, [rest[i :: ARGS.confirmers] for i in range(ARGS.confirmers)]))
    rate = len(rest) / (time.perf_counter() - start)
    print(
        f"confirmations: {len(rest)} ingested by {ARGS.confirmers} concurrent confirmers "
        f"(threads, a database connection each, as web processes have) at {rate:.0f}/s"
    )

    if replies:
        start = time.perf_counter()
        outcomes = [process_message(raw, mail_from="desk@police.example") for raw in replies]
        rate = len(replies) / (time.perf_counter() - start)
        counted = sum(outcome.kind == "confirmed" for outcome in outcomes)
        print(
            f"replies by e-mail: {counted} of {len(replies)} read and confirmed at {rate:.0f}/s "
            "(the inbound receiver's work, without its SMTP conversation)"
        )
    if web_tokens:
        client = Client()
        start = time.perf_counter()
        for i, raw in enumerate(web_tokens):
            # One address per officer: the page allows 20 confirmations a minute per address.
            ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            response = client.post(f"/p/{raw}/", {"name": ""}, REMOTE_ADDR=ip)
            if response.status_code != 200:
                raise SystemExit(f"the confirmation page answered {response.status_code}")
        web = len(web_tokens) / (time.perf_counter() - start)
        print(f"confirmation page: {len(web_tokens)} POSTs confirmed at {web:.0f}/s")
    confirmed = Probe.objects.filter(ping_test=test, status=ProbeStatus.CONFIRMED).count()
    print(f"{confirmed} of {test.probes.count()} probes confirmed")
    SMTP.__exit__(None, None, None)


if __name__ == "__main__":
    main()
