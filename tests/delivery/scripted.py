"""A loopback SMTP server whose answers a test scripts, and helpers shared by the outbox tests
(the fixtures `scripted` and `connections` are in conftest.py)."""

from __future__ import annotations

import asyncio
import smtplib

from aiosmtpd.controller import Controller
from django.db import transaction

from liaison.audit.models import AuditEvent
from liaison.delivery.models import Delivery
from liaison.delivery.services import enqueue_email
from tests.smtp_server import SMTPTestServer, _free_port, _Handler


class ScriptedHandler(_Handler):
    """Answers the n-th DATA (counted from 1, over all connections) as `server.script` says:
    "drop" closes the connection without an answer, "421" says the server is closing the
    channel, "451" refuses this message for now, a number of seconds stalls before accepting;
    addresses in `server.refused` are refused at RCPT. Counts the DATA commands being answered
    at once (`server.peak`)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self._server.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        scripted = self._server
        scripted.data_count += 1
        action = scripted.script.get(scripted.data_count)
        if action == "drop":
            server.transport.close()
            return "250 OK"  # never reaches the client
        if action in ("421", "451"):
            return f"{action} 4.3.0 Not now"
        if isinstance(action, int | float):
            scripted.in_data += 1
            scripted.peak = max(scripted.peak, scripted.in_data)
            try:
                await asyncio.sleep(action)
            finally:
                scripted.in_data -= 1
        return await super().handle_DATA(server, session, envelope)


class ScriptedSMTPServer(SMTPTestServer):
    handler_class: type[_Handler] = ScriptedHandler

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[int, object] = {}
        self.refused: set[str] = set()
        self.data_count = 0
        self.in_data = self.peak = 0

    def start(self) -> None:
        self.port = _free_port()
        self._controller = Controller(self.handler_class(self), hostname=self.host, port=self.port)
        self._controller.start()


class Connections(list):
    """The SMTP connections opened, in order; after `refuse_after` of them, connecting fails."""

    refuse_after: int | None = None


def count_connections(monkeypatch) -> Connections:
    opened = Connections()
    real_connect = smtplib.SMTP.connect

    def connect(self, host="localhost", port=0, source_address=None):
        if opened.refuse_after is not None and len(opened) >= opened.refuse_after:
            raise ConnectionRefusedError
        opened.append((host, port))
        return real_connect(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    return opened


def queue(count: int, *, network=None, kind: str = "test.notice", prefix: str = "p"):
    with transaction.atomic():
        return [
            enqueue_email(
                to=f"{prefix}{i}@agency.example",
                subject=f"Notice {i}",
                body="Something changed; open Liaison to see it.",
                kind=kind,
                network=network,
            )
            for i in range(count)
        ]


def sent_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="delivery.sent").order_by("seq"))


def rows(deliveries) -> list[Delivery]:
    return [Delivery.objects.get(pk=d.pk) for d in deliveries]
