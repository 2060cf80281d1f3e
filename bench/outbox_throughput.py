"""How fast the outbox hands e-mails to a local SMTP server, against bare smtplib.

Run: .venv/bin/python bench/outbox_throughput.py [N] [--batch-size B] [--workers K]
                                                  [--server thread|process|sink]

Fresh SQLite database in a temporary data directory; N e-mails (default 10,000, the ping test of
issue 4) queued in one transaction, then sent by `deliver_due` until the outbox is empty: lease,
SMTP over one connection per batch, one conditional UPDATE per accepted message, one audit event
per batch. The baseline, measured in the same run against the same server, is N messages of the
same size sent with smtplib over one connection with no bookkeeping at all.

The server is tests/smtp_server.py's SMTPTestServer (aiosmtpd, which parses every message).
`--server thread` (the default) runs it in this process, as bench/publish_edition.py does: it then
competes with the sender for the interpreter lock. `--server process` runs the same server in a
child process, as a local MTA would be. Parsing costs that server about 1.2 ms of CPU per message,
so on a small machine it is the bottleneck of both the outbox and the baseline; `--server sink`
runs an aiosmtpd server that only counts what it accepts (still a full SMTP conversation over
loopback, in a child process), to show what the sending side itself can do.

One worker sends over one connection at a time, so its ceiling is the baseline's: one SMTP
round trip after another. `--workers K` runs K worker processes on the same SQLite database, as
a deployment scales the outbox (each leases its own batches).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
import types
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.smtp_server import SMTPTestServer  # noqa: E402

BODY = (
    "This is a reachability check of the 24/7 network. Please confirm that this contact point "
    "is reachable by replying to this message or by opening the link below within 24 hours.\n\n"
    "https://liaison.example/pingtests/pt_0123456789abcdefghjk/confirm/\n\n"
    "This message was sent automatically by Liaison; do not forward it.\n"
)


class _Counter:
    """aiosmtpd handler that accepts every message and only counts it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # name dictated by aiosmtpd
        self.count += 1
        return "250 OK"


class SinkServer:
    """An SMTP server that parses nothing: the part of SMTPTestServer's interface used here."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from tests.smtp_server import _free_port

        self._handler = _Counter()
        self.port = _free_port()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        self.messages = self

    def __len__(self) -> int:
        return self._handler.count

    def clear(self) -> None:
        self._handler.count = 0

    def stop(self) -> None:
        self._controller.stop()


def _serve(conn, kind: str) -> None:
    """Child process: a server answering "count", "clear" and "stop" over a pipe."""
    server = SinkServer() if kind == "sink" else SMTPTestServer().__enter__()
    conn.send(server.port)
    while True:
        command = conn.recv()
        if command == "count":
            conn.send(len(server.messages))
        elif command == "clear":
            server.clear()
            conn.send(0)
        else:
            server.stop()
            conn.send(0)
            return


class ProcessServer:
    """The same server in a child process; the part of SMTPTestServer's interface used here."""

    host = "127.0.0.1"

    def __init__(self, kind: str = "process") -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, kind), daemon=True)
        self._process.start()
        self.port = self._conn.recv()

    def _ask(self, command: str) -> int:
        self._conn.send(command)
        return self._conn.recv()

    def clear(self) -> None:
        self._ask("clear")

    def wait_for(self, count: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while (received := self._ask("count")) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} mails, got {received}")
            time.sleep(0.05)
        return received

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(timeout=10)


class ThreadServer:
    def __init__(self) -> None:
        self._server = SMTPTestServer().__enter__()
        self.host, self.port = self._server.host, self._server.port

    def clear(self) -> None:
        self._server.clear()

    def wait_for(self, count: int, timeout: float = 30) -> int:
        return len(self._server.wait_for(count, timeout=timeout))

    def stop(self) -> None:
        self._server.__exit__(None, None, None)


def _setup_django(data_dir: str, email_url: str, batch_size: int | None) -> None:
    os.environ["LIAISON_DATA_DIR"] = data_dir
    os.environ["LIAISON_EMAIL_URL"] = email_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")
    import django

    django.setup()
    if batch_size:
        from django.conf import settings

        settings.DELIVERY_BATCH_SIZE = batch_size


def _worker(setup: tuple, number: int, ready, go, results) -> None:
    """Child process: a worker draining the outbox once `go` is set."""
    _setup_django(*setup)
    from liaison.delivery.services import deliver_due

    ready.put(number)
    go.wait()
    handled = 0
    while count := deliver_due(f"bench-{number}"):
        handled += count
    results.put((handled, time.monotonic()))


def drain(setup: tuple, workers: int) -> float:
    """Seconds for `workers` processes (or this one) to empty the outbox."""
    from liaison.delivery.services import deliver_due

    if workers == 1:
        start = time.monotonic()
        while deliver_due("bench"):
            pass
        return time.monotonic() - start
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(target=_worker, args=(setup, n, ready, go, results)) for n in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=60)
    start = time.monotonic()
    go.set()
    finished = [results.get(timeout=600)[1] for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return max(finished) - start


def baseline(server, count: int) -> float:
    """Seconds to send `count` messages of the same size with smtplib over one connection."""
    server.clear()
    start = time.perf_counter()
    with smtplib.SMTP(server.host, server.port) as client:
        for i in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"] = "liaison@bench.example", f"cp{i}@bench.example"
            msg["Subject"], msg["Message-ID"] = "Reachability check", f"<b{i}@bench>"
            msg.set_content(BODY)
            client.send_message(msg)
    server.wait_for(count)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=None, help="DELIVERY_BATCH_SIZE")
    parser.add_argument("--server", choices=["thread", "process", "sink"], default="thread")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args()

    server = ThreadServer() if args.server == "thread" else ProcessServer(args.server)
    data_dir = tempfile.TemporaryDirectory(prefix="liaison-bench-")
    setup = (data_dir.name, f"smtp://{server.host}:{server.port}", args.batch_size)
    _setup_django(*setup)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from liaison.audit.models import AuditEvent
    from liaison.delivery import services
    from liaison.delivery.models import Delivery, DeliveryStatus
    from liaison.networks.models import Network

    batch = getattr(settings, "DELIVERY_BATCH_SIZE", services.BATCH_SIZE)
    call_command("migrate", verbosity=0)
    network = Network.objects.create(slug="bench", name="Bench network")
    people = [
        types.SimpleNamespace(email=f"cp{i}@bench.example", is_active=True)
        for i in range(args.count)
    ]
    start = time.perf_counter()
    with transaction.atomic():
        services.notify_people(
            users=people,
            subject="Reachability check",
            body=BODY,
            kind="bench.notice",
            network=network,
        )
    queued = time.perf_counter() - start
    events_before = AuditEvent.objects.filter(action="delivery.sent").count()
    print(
        f"{args.count} e-mails queued in {queued:.2f} s; SQLite, batch {batch}, "
        f"SMTP server: {args.server}, {args.workers} worker(s), {os.cpu_count()} CPUs"
    )

    elapsed = drain(setup, args.workers)
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
    server.wait_for(sent)
    events = AuditEvent.objects.filter(action="delivery.sent").count() - events_before
    owed = Delivery.objects.filter(status=DeliveryStatus.SENT, lease_expires_at__isnull=False)
    assert sent == args.count, (sent, args.count)
    assert not owed.exists()
    assert not Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(body_text="").exists()

    raw = baseline(server, args.count)
    print(
        f"outbox: {sent}/{args.count} sent in {elapsed:.2f} s = {sent / elapsed:.0f} e-mails/s, "
        f"{events} delivery.sent audit events"
    )
    print(
        f"baseline smtplib, one connection, no bookkeeping: {args.count / raw:.0f} e-mails/s "
        f"(outbox/baseline {raw / elapsed:.2f})"
    )
    server.stop()
    data_dir.cleanup()


if __name__ == "__main__":
    main()
