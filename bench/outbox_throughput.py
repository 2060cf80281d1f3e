"""How fast the outbox hands e-mails to a local SMTP server, against bare smtplib.

Run: .venv/bin/python bench/outbox_throughput.py [N] [--batch-size B] [--connections C]
                        [--workers K] [--server thread|process|sink|spool] [--spool-delay MS]

Fresh SQLite database in a temporary data directory; N e-mails (default 10,000, the ping test of
issue 4) queued in one transaction, then sent by `deliver_due` until the outbox is empty: lease,
SMTP over `--connections` connections at once per batch (DELIVERY_CONNECTIONS, default the
setting's), one conditional UPDATE per accepted message, one audit event per batch. The baseline,
measured in the same run against the same server, is N messages of the same size sent with
smtplib over one connection with no bookkeeping at all.

The server is tests/smtp_server.py's SMTPTestServer (aiosmtpd, which parses every message).
`--server thread` (the default) runs it in this process, as bench/publish_edition.py does: it then
competes with the sender for the interpreter lock. `--server process` runs the same server in a
child process, as a local MTA would be. Parsing costs that server about 1.2 ms of CPU per message,
so on a small machine it is the bottleneck of both the outbox and the baseline; `--server sink`
runs an aiosmtpd server that only counts what it accepts (still a full SMTP conversation over
loopback, in a child process), to show what the sending side itself can do. `--server spool`
(bench/smtp_spool.py) is a local MTA's queue: a child process that appends each message's raw
bytes to a spool file before answering 250, without parsing it; the run then checks that the
spool holds every message exactly once. `--spool-delay MS` makes it answer each DATA MS
milliseconds after storing it, as a remote relay or an MTA syncing its queue to disk would.

Over one connection a worker's ceiling is the baseline's: one SMTP round trip after another.
`--connections C` sends each batch over C connections at once from the one worker; `--workers
K` runs K worker processes on the same SQLite database, as a deployment scales the outbox (each
leases its own batches).
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

from smtp_spool import SpoolServer  # noqa: E402

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


class SpoolProcessServer:
    """bench/smtp_spool.py's server; the part of SMTPTestServer's interface used here."""

    def __init__(self, delay: float = 0.0) -> None:
        self.spool = SpoolServer(delay=delay).__enter__()
        self.host, self.port = self.spool.host, self.spool.port
        self._base = 0

    def clear(self) -> None:
        self._base = self.spool.count()

    def wait_for(self, count: int, timeout: float = 30) -> int:
        return self.spool.wait_for(self._base + count, timeout=timeout) - self._base

    def message_ids(self) -> list[bytes]:
        """The Message-ID of every message in the spool since the last `clear`."""
        found = []
        for raw in self.spool.messages()[self._base :]:
            headers = raw.split(b"\r\n\r\n", 1)[0]
            found += [
                line.split(b":", 1)[1].strip()
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"message-id:")
            ]
        return found

    def stop(self) -> None:
        self.spool.stop()


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


def _setup_django(
    data_dir: str, email_url: str, batch_size: int | None, connections: int | None
) -> None:
    os.environ["LIAISON_DATA_DIR"] = data_dir
    os.environ["LIAISON_EMAIL_URL"] = email_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")
    import django

    django.setup()
    from django.conf import settings

    if batch_size:
        settings.DELIVERY_BATCH_SIZE = batch_size
    if connections:
        settings.DELIVERY_CONNECTIONS = connections


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
    parser.add_argument(
        "--connections", type=int, default=None, help="DELIVERY_CONNECTIONS (SMTP connections)"
    )
    parser.add_argument(
        "--server", choices=["thread", "process", "sink", "spool"], default="thread"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--spool-delay", type=float, default=0.0, help="ms the spool server waits before 250"
    )
    args = parser.parse_args()

    server: ThreadServer | ProcessServer | SpoolProcessServer
    if args.server == "thread":
        server = ThreadServer()
    elif args.server == "spool":
        server = SpoolProcessServer(args.spool_delay / 1000)
    else:
        server = ProcessServer(args.server)
    data_dir = tempfile.TemporaryDirectory(prefix="liaison-bench-")
    setup = (
        data_dir.name,
        f"smtp://{server.host}:{server.port}",
        args.batch_size,
        args.connections,
    )
    _setup_django(*setup)

    from django.core.management import call_command
    from django.db import transaction

    from liaison.audit.models import AuditEvent
    from liaison.delivery import services
    from liaison.delivery.models import Delivery, DeliveryStatus
    from liaison.networks.models import Network

    batch = services.batch_size()
    connections = services.connection_count()
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
        f"{connections} connection(s), SMTP server: {args.server}"
        + (f" ({args.spool_delay:g} ms per DATA)" if args.spool_delay else "")
        + f", {args.workers} worker(s), "
        f"{os.cpu_count()} CPUs"
    )

    elapsed = drain(setup, args.workers)
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
    server.wait_for(sent)
    events = AuditEvent.objects.filter(action="delivery.sent").count() - events_before
    owed = Delivery.objects.filter(status=DeliveryStatus.SENT, lease_expires_at__isnull=False)
    assert sent == args.count, (sent, args.count)
    assert not owed.exists()
    assert not Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(body_text="").exists()
    if isinstance(server, SpoolProcessServer):
        # Every message in the spool, exactly once.
        stored = sorted(server.message_ids())
        expected = sorted(m.encode() for m in Delivery.objects.values_list("message_id", flat=True))
        assert stored == expected, (len(stored), len(expected))

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
