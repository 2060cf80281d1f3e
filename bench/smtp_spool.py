"""A spooling SMTP server for the bench scripts, in a child process, as a local MTA would be.

Each accepted message's raw bytes are appended to a spool file before the server answers 250
(accept = stored, as in an MTA's queue), with no MIME parsing: the server costs little CPU, so a
bench measures the sender. The spool is flushed to the operating system at every message, not
fsynced. `SpoolServer(delay=0.002)` answers each DATA 2 ms after storing it (the connections
wait concurrently), as a remote relay or an MTA syncing its queue to disk would.

    from smtp_spool import SpoolServer

    with SpoolServer() as server:
        send_to("127.0.0.1", server.port)
        server.wait_for(100)
        raw = server.messages()  # list of bytes, in the order they were stored

`count()` is how many messages are stored so far; `messages()` reads them back from the spool.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import struct
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

_HOST = "127.0.0.1"
_LENGTH = struct.Struct(">I")  # each record: its length, then the raw message
_BIND_ATTEMPTS = 5


class _SpoolHandler:
    """aiosmtpd handler: store, count, then answer."""

    def __init__(self, spool, counter, delay: float) -> None:
        self.spool = spool
        self.counter = counter
        self.delay = delay

    async def handle_DATA(self, server, session, envelope) -> str:  # name dictated by aiosmtpd
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        self.spool.write(_LENGTH.pack(len(content)) + content)
        self.spool.flush()
        with self.counter.get_lock():
            self.counter.value += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 Stored"


def _serve(conn, spool_path: str, counter, delay: float) -> None:
    """Child process: serve until told to stop over `conn`; the port goes back over it first."""
    import errno
    import logging
    import socket

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with open(spool_path, "ab") as spool:
        handler = _SpoolHandler(spool, counter, delay)
        for attempt in range(_BIND_ATTEMPTS):
            with socket.socket() as probe:
                probe.bind((_HOST, 0))
                port = probe.getsockname()[1]
            controller = Controller(handler, hostname=_HOST, port=port)
            try:
                controller.start()
            except OSError as exc:
                controller.loop.close()
                if exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            break
        conn.send(port)
        conn.recv()  # any message: stop
        controller.stop()
    conn.send("stopped")


class SpoolServer:
    """The spooling server in a child process: `port`, `count()`, `wait_for(n)`, `messages()`."""

    host = _HOST

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.port = 0
        self._dir: tempfile.TemporaryDirectory | None = None
        self._process = None

    @property
    def spool_path(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the spool server is not running")
        return Path(self._dir.name) / "spool"

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._dir = tempfile.TemporaryDirectory(prefix="liaison-spool-")
        self.spool_path.touch()
        self._counter = context.Value("q", 0)
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, str(self.spool_path), self._counter, self.delay),
            daemon=True,
        )
        self._process.start()
        if not self._conn.poll(30):
            self._process.kill()
            raise RuntimeError("the spool server did not start")
        self.port = self._conn.recv()

    def stop(self) -> None:
        """Stop the child and remove the spool; safe to call twice."""
        if self._process is not None:
            try:
                self._conn.send("stop")
                if self._conn.poll(10):
                    self._conn.recv()
            except (BrokenPipeError, EOFError):
                pass
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def count(self) -> int:
        """Messages stored so far."""
        return int(self._counter.value)

    def wait_for(self, count: int, timeout: float = 30) -> int:
        """Wait until at least `count` messages are stored; returns how many are."""
        deadline = time.monotonic() + timeout
        while (stored := self.count()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} mails in the spool, got {stored}")
            time.sleep(0.02)
        return stored

    def messages(self) -> list[bytes]:
        """Every message stored so far, raw, in the order stored (read from the spool file)."""
        data = self.spool_path.read_bytes()
        found: list[bytes] = []
        offset = 0
        while offset + _LENGTH.size <= len(data):
            (length,) = _LENGTH.unpack_from(data, offset)
            start = offset + _LENGTH.size
            if start + length > len(data):
                break  # a record being written
            found.append(data[start : start + length])
            offset = start + length
        return found
