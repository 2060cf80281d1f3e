"""In-process SMTP server for tests, built on aiosmtpd.

Typical use::

    with SMTPTestServer() as server:
        send_mail_via("127.0.0.1", server.port)
        (received,) = server.wait_for(1)
        assert received.rcpt_tos == ["bob@example.com"]

Outages are simulated by setting ``server.fail_with = 451`` (every DATA is
answered with that code) and later ``server.fail_with = None`` to recover,
which lets tests exercise retry logic against a real SMTP conversation.
"""

from __future__ import annotations

import email
import email.policy
import errno
import logging
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# aiosmtpd logs every connection at INFO from its own thread, which can outlive a test's captured
# stderr ("I/O operation on closed file"); its warnings and errors still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)

__all__ = ["Received", "SMTPTestServer"]

_HOST = "127.0.0.1"
# Ports picked via bind(0) can be taken by someone else before aiosmtpd binds
# them (e.g. parallel test workers); a few retries make that race harmless.
_BIND_ATTEMPTS = 5


@dataclass(frozen=True)
class Received:
    """One accepted mail: the SMTP envelope plus the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Handler:
    """aiosmtpd handler; runs in the controller's event-loop thread."""

    def __init__(self, server: SMTPTestServer) -> None:
        self._server = server

    async def handle_DATA(  # name is dictated by aiosmtpd
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        # Read once: the test thread may flip fail_with at any moment.
        fail_with = self._server.fail_with
        if fail_with is not None:
            # Enhanced status 4.3.0 / 5.3.0 = "other mail system problem".
            return f"{fail_with} {fail_with // 100}.3.0 Simulated failure"

        # decode_data=False (aiosmtpd default) keeps the content as raw bytes,
        # which is what the email parser needs for non-ASCII/8bit messages.
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        # policy.default makes the parser return EmailMessage (not the legacy Message).
        message = email.message_from_bytes(content, policy=email.policy.default)
        self._server._record(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
            )
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


class SMTPTestServer:
    """A real SMTP server on 127.0.0.1 that records what it receives.

    Thread-safe: the server runs in a background thread while the test
    inspects ``messages`` / calls ``wait_for`` from the main thread.
    """

    def __init__(self, *, fail_with: int | None = None) -> None:
        self.host = _HOST
        self.port = 0  # assigned by start()
        self._fail_with: int | None = None
        self.fail_with = fail_with  # goes through validation
        self._received: list[Received] = []
        # A Condition (not just a Lock) so wait_for() can sleep until notified
        # instead of polling.
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    # -- configuration -----------------------------------------------------

    @property
    def fail_with(self) -> int | None:
        """SMTP code returned for every DATA, or None to accept mail."""
        return self._fail_with

    @fail_with.setter
    def fail_with(self, code: int | None) -> None:
        if code is not None and not 400 <= code <= 599:
            raise ValueError(f"fail_with must be a 4xx/5xx SMTP code, got {code}")
        self._fail_with = code

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("SMTPTestServer is already running")
        for attempt in range(_BIND_ATTEMPTS):
            port = _free_port()
            controller = Controller(_Handler(self), hostname=self.host, port=port)
            try:
                controller.start()
            except OSError as exc:
                # start() failed before the loop ran; close it to not leak fds.
                controller.loop.close()
                if exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            self._controller = controller
            self.port = port
            return

    def stop(self) -> None:
        """Stop the server; safe to call twice or when never started."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

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

    # -- received mail -------------------------------------------------------

    def _record(self, received: Received) -> None:
        with self._cond:
            self._received.append(received)
            self._cond.notify_all()

    @property
    def messages(self) -> list[Received]:
        """Snapshot of the mails received so far, oldest first."""
        with self._cond:
            return list(self._received)

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Block until at least ``count`` mails arrived; return them all.

        Raises TimeoutError if they do not arrive within ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} mail(s) on {self.url} within {timeout}s, "
                    f"got {len(self._received)}"
                    + (f" (server is failing with {self.fail_with})" if self.fail_with else "")
                )
            return list(self._received)
