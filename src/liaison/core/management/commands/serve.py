"""`liaison serve [--workers N] [--with-worker]`: the web application on LIAISON_ADDR (granian).

Static files are served by WhiteNoise from inside the application, so one process is a complete
deployment; behind a proxy, run several of these (or `--workers N`) and `liaison worker`s.
`--with-worker` also runs `liaison worker` in a child process, stopped with the server.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from liaison import config

logger = logging.getLogger("liaison.serve")

WSGI_TARGET = "liaison.wsgi:application"
WORKER_STOP_SECONDS = 10
# Granian's advice for WSGI: at most two request threads per core, plus one.
DEFAULT_THREADS = 2 * (os.cpu_count() or 1) + 1


class WorkerProcess:
    """`liaison worker` in a child process, started and stopped with the web server."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # A fresh interpreter rather than a fork: the server process holds sockets and threads
        # that a long-running worker must not inherit.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "liaison.cli", "worker"],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "liaison.settings"},
        )
        logger.info("worker started (pid %d)", self.process.pid)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("worker did not stop within %ds: killing it", WORKER_STOP_SECONDS)
            process.kill()
            process.wait()


def check_address(host: str, port: int) -> None:
    """Fail with a plain message, before any process starts, if the address is unusable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {host}:{port} (LIAISON_ADDR): {exc.strerror or exc}"
        ) from exc


def run_server(
    *,
    workers: int = 1,
    threads: int = DEFAULT_THREADS,
    with_worker: bool = False,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. `on_ready` runs once the address is bound."""
    from granian.constants import Interfaces
    from granian.server import Server

    host, port = config.addr()
    check_address(host, port)
    # WhiteNoise also serves from STATIC_ROOT (after `collectstatic`) and warns when it is missing.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # Granian forks its workers from this process: they must not share its database connections.
    connections.close_all()
    server = Server(
        WSGI_TARGET,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        # Each thread holds a database connection: keep well under PostgreSQL's limit.
        blocking_threads=threads,
        respawn_failed_workers=True,
        log_access=os.environ.get("LIAISON_ACCESS_LOG") == "1",
    )
    worker = WorkerProcess() if with_worker else None
    if worker is not None:
        server.on_startup(worker.start)
        server.on_shutdown(worker.stop)
    if on_ready is not None:
        server.on_startup(on_ready)
    try:
        server.serve()
    except (OSError, RuntimeError) as exc:
        # Granian reports a failed bind as RuntimeError("… (os error 98)").
        if isinstance(exc, RuntimeError) and "os error" not in str(exc):
            raise
        raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
    finally:
        if worker is not None:
            worker.stop()


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Serve Liaison on LIAISON_ADDR (default 127.0.0.1:8000) with granian."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--workers",
            type=positive,
            default=1,
            help="web worker processes (default 1)",
        )
        parser.add_argument(
            "--threads",
            type=positive,
            default=DEFAULT_THREADS,
            help=f"request threads per web worker (default {DEFAULT_THREADS}: 2 per core + 1)",
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="also run the background worker (`liaison worker`) in a child process",
        )

    def handle(self, *args, workers: int, threads: int, with_worker: bool, **options) -> None:
        run_server(workers=workers, threads=threads, with_worker=with_worker)
