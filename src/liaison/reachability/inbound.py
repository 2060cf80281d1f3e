"""Inbound mail of reachability tests: a reply carrying a probe's marker confirms it, a bounce
of a probe e-mail fails it (a wrong address is a finding, not a silence).

The MTA hands messages to `liaison inbound` (SMTP or LMTP on loopback, see that command); each
one goes through `process_message`. What is not a deliberate reply — an automatic reply, a read
receipt, a delay notice — confirms nothing. A message without a valid token is ignored and logged
with a short reason and its Message-ID only: never its body, a token or an address. When a token
was present but refused (forged, expired, already used), the attempt is also an audit event.

The receiver always answers 250 for a processed or ignored message: refusing it would make the
MTA bounce it back to its sender, telling a stranger which tokens are valid. 451 (the MTA retries
later) only on an internal error such as an unreachable database.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from liaison.audit.services import record_event
from liaison.core.context import Origin, origin
from liaison.core.errors import ServiceError
from liaison.delivery.models import Delivery
from liaison.reachability import services, tokens
from liaison.reachability.followup import REMINDER_KIND
from liaison.reachability.models import ConfirmedVia, Probe, ProbeStatus

logger = logging.getLogger(__name__)

# The outbox kinds sent to the probe's own address: their bounce or dead-lettering fails it.
# (An escalation goes to other addresses: its failure says nothing about this one.)
PROBE_MAIL_KINDS = (services.PROBE_KIND, REMINDER_KIND)

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_RECIPIENTS = 100
# Text scanned for a marker per message: a reply's marker sits in its first lines or its quote.
_MAX_SCAN_CHARS = 512 * 1024
_MAX_NAME = 200

CONFIRMED = "confirmed"
FAILED = "failed"
IGNORED = "ignored"

# The Message-ID of every outbox row (delivery/services.py): `<dl_…@liaison>`.
_OUTBOX_MESSAGE_ID = re.compile(r"<(dl_[0-9a-z]{8,40})@liaison>")
_ADDRESS = re.compile(r"<?[^\s<>@\"';,]+@[^\s<>\"';,]+>?")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]+([45]\.\d{1,3}\.\d{1,3})?")
_TAG = re.compile(r"<[^>]*>")

_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
_BOUNCE_SUBJECTS = (
    "undeliver",  # Undelivered Mail Returned to Sender, Undeliverable: …
    "delivery status notification",
    "delivery failure",
    "delivery has failed",
    "mail delivery failed",
    "failure notice",
    "returned mail",
    "non remis",
    "unzustellbar",
)
_DELAY_SUBJECTS = ("delay", "warning", "still being retried", "retard")
_AUTO_SUBJECTS = (
    "auto:",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "out of office",
    "réponse automatique",
    "abwesenheit",
    "risposta automatica",
    "respuesta automática",
)


@dataclass(frozen=True)
class Outcome:
    """What became of one inbound message: `kind` confirmed / failed / ignored, the probe's
    public id when one was found, and a short reason (for the log; no restricted content)."""

    kind: str
    probe: str | None
    reason: str


# --- reading a message -----------------------------------------------------------------------


def _read_header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return str(value) if value is not None else ""
    except Exception:
        return ""


class _Mail(EmailMessage):
    """An EmailMessage that parses each header once: policy.default parses on every access, and
    the checks below read Subject, From and Content-Type several times (a third of the time
    spent on a reply). Only once parsed (`_parse`): the parser itself reads them half-built."""

    _frozen = False

    def header(self, name: str) -> str:
        if not self._frozen:
            return _read_header(self, name)
        cache = self.__dict__.setdefault("_header_cache", {})
        key = name.lower()
        if key not in cache:
            cache[key] = _read_header(self, name)
        return cache[key]

    def get_content_type(self) -> str:
        if not self._frozen:
            return super().get_content_type()
        cache = self.__dict__.setdefault("_header_cache", {})
        if ":content-type" not in cache:
            cache[":content-type"] = super().get_content_type()
        return cache[":content-type"]


_POLICY = policy.default.clone(message_factory=_Mail)


def _parse(raw: bytes) -> Message:
    msg = message_from_bytes(raw, policy=_POLICY)
    for part in msg.walk():
        if isinstance(part, _Mail):
            part._frozen = True
    return msg


def _header(msg: Message, name: str) -> str:
    """A header as text; "" when absent or unparseable (malformed mail must not stop us)."""
    return msg.header(name) if isinstance(msg, _Mail) else _read_header(msg, name)


def _log_id(msg: Message | None) -> str:
    """The Message-ID for the log: printable ASCII only (no log injection), bounded."""
    raw = _header(msg, "Message-ID") if msg is not None else ""
    cleaned = "".join(c for c in raw.strip() if 32 < ord(c) < 127)[:120]
    return cleaned or "(no Message-ID)"


def _text(part: Message) -> str:
    try:
        content = part.get_content()
    except Exception:
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _texts(msg: Message, content_types: Iterable[str]) -> Iterator[str]:
    """The decoded text parts of the given types, nested messages (a quoted original) included."""
    wanted = set(content_types)
    budget = _MAX_SCAN_CHARS
    for part in msg.walk():
        if budget <= 0:
            return
        if part.is_multipart() or part.get_content_type() not in wanted:
            continue
        text = _text(part)[:budget]
        budget -= len(text)
        yield text


def _body_token(msg: Message) -> str | None:
    for text in _texts(msg, ["text/plain"]):
        if token := tokens.find_token(text):
            return token
    # An HTML-only reply: the marker is plain text between tags.
    for text in _texts(msg, ["text/html"]):
        if token := tokens.find_token(html.unescape(_TAG.sub(" ", text))):
            return token
    return None


def _sender(msg: Message) -> tuple[str, str]:
    """(display name, address) of the From header, ("", "") when unreadable."""
    try:
        pairs = getaddresses([_header(msg, "From")])
    except Exception:
        return "", ""
    name, address = pairs[0] if pairs else ("", "")
    return name.strip(), address.strip()


def _is_automatic(msg: Message) -> bool:
    """An out-of-office or other automatic answer (RFC 3834 and the usual vendor headers)."""
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return True
    if _header(msg, "Precedence").strip().lower() in {"auto_reply", "bulk", "junk", "list"}:
        return True
    subject = _header(msg, "Subject").strip().lower()
    return subject.startswith(_AUTO_SUBJECTS)


def _is_bounce(msg: Message, mail_from: str | None) -> bool:
    if msg.get_content_type() == "multipart/report":
        return True  # a DSN or a read receipt: never a deliberate reply
    _name, address = _sender(msg)
    local = address.rpartition("@")[0].lower() if "@" in address else address.lower()
    subject = _header(msg, "Subject").lower()
    null_sender = mail_from is not None and mail_from.strip("<> ") == ""
    return local in _BOUNCE_SENDERS or (null_sender and any(s in subject for s in _BOUNCE_SUBJECTS))


# --- bounces ---------------------------------------------------------------------------------


def _clean_diagnostic(text: str) -> str:
    """A bounce's diagnostic for the probe's `failure`: the MTA's words without any address."""
    text = text.strip()
    kind, sep, rest = text.partition(";")
    if sep and kind.strip().lower() in {"smtp", "x-postfix", "x-unix", "x-local"}:
        text = rest
    text = _ADDRESS.sub("[address]", text)
    return " ".join(text.split())[:200]


def _dsn_failure(msg: Message) -> tuple[str | None, str]:
    """(error, reason) from a multipart/report: an error when a recipient failed; else None and
    why the report is no failure (a delay, a success, a read receipt)."""
    report_type = (msg.get_param("report-type") or "").lower()
    if report_type != "delivery-status":
        return None, "not a delivery report"
    actions = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[1:]:  # the first block is per message, then one per recipient
            action = _header(block, "Action").strip().lower()
            actions.append(action)
            if action != "failed":
                continue
            status = _header(block, "Status").strip()
            diagnostic = _clean_diagnostic(_header(block, "Diagnostic-Code"))
            if status and not diagnostic.startswith(status) and status not in diagnostic[:12]:
                diagnostic = f"{status} {diagnostic}".strip()
            return (diagnostic or status or "undeliverable") + " (bounce)", "bounce"
    if not actions:
        return None, "delivery report without recipients"
    return None, f"delivery report: {'/'.join(sorted(set(actions)))[:40]}"


def _plain_bounce_failure(msg: Message) -> tuple[str | None, str]:
    """A bounce that is no DSN (older MTAs): the first 5xx code of its text."""
    subject = _header(msg, "Subject").lower()
    if any(word in subject for word in _DELAY_SUBJECTS):
        return None, "delivery delayed"
    for text in _texts(msg, ["text/plain"]):
        for code, enhanced in _SMTP_CODE.findall(text):
            if code.startswith("5"):
                return f"{code} {enhanced}".strip() + " undeliverable (bounce)", "bounce"
        break  # the explanation is the first text part; the rest is the returned message
    return "undeliverable (bounce)", "bounce"


def _returned_message_ids(msg: Message) -> set[str]:
    """Outbox Message-IDs a bounce refers to: the returned headers, In-Reply-To/References and,
    as a last resort, any `<dl_…@liaison>` in its text."""
    found: set[str] = set()
    for name in ("In-Reply-To", "References"):
        found.update(_OUTBOX_MESSAGE_ID.findall(_header(msg, name)))
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            for inner in payload if isinstance(payload, list) else []:
                found.update(_OUTBOX_MESSAGE_ID.findall(_header(inner, "Message-ID")))
        elif content_type == "text/rfc822-headers":
            headers = HeaderParser(policy=_POLICY).parsestr(_text(part))
            found.update(_OUTBOX_MESSAGE_ID.findall(_header(headers, "Message-ID")))
    if not found:
        for text in _texts(msg, ["text/plain", "text/rfc822-headers"]):
            found.update(_OUTBOX_MESSAGE_ID.findall(text))
    return {f"<{public_id}@liaison>" for public_id in found}


@dataclass(frozen=True)
class Reading:
    """What a message says, read without touching the database: a reply's token and sender's
    name, or a bounce's error and the references to what bounced, or why it is ignored."""

    message_id: str
    kind: str  # "reply", "bounce" or IGNORED
    reason: str = ""
    token: str | None = None
    name: str = ""
    error: str | None = None
    message_ids: frozenset[str] = frozenset()


def read_message(raw: bytes, *, mail_from: str | None = None) -> Reading:
    """Parse and classify one message. Anything unreadable is an ignored message, never an
    error: a retry by the MTA would not make it readable."""
    msg: Message | None = None
    try:
        msg = _parse(raw or b"")
        message_id = _log_id(msg)
        token = tokens.find_token(_header(msg, "Subject")) or _body_token(msg)
        if _is_bounce(msg, mail_from):
            if msg.get_content_type() == "multipart/report":
                error, reason = _dsn_failure(msg)
            else:
                error, reason = _plain_bounce_failure(msg)
            if error is None:
                return Reading(message_id, IGNORED, reason)
            return Reading(
                message_id,
                "bounce",
                reason,
                token=token,
                error=error,
                message_ids=frozenset(_returned_message_ids(msg)),
            )
        if _is_automatic(msg):
            return Reading(message_id, IGNORED, "automatic reply")
        if token is None:
            return Reading(message_id, IGNORED, "no probe marker")
        name, address = _sender(msg)
        return Reading(
            message_id, "reply", "reply", token=token, name=(name or address)[:_MAX_NAME]
        )
    except Exception:
        return Reading(_log_id(msg), IGNORED, "unreadable message")


def _bounced_probe(reading: Reading) -> Probe | None:
    """The probe whose e-mail bounced: by the returned marker (its token), else by the returned
    Message-ID of its outbox row."""
    if reading.token:
        probe = Probe.objects.filter(token_hash=tokens.hash_token(reading.token)).first()
        if probe is not None:
            return probe
    if not reading.message_ids:
        return None
    rows = list(
        Delivery.objects.filter(
            message_id__in=reading.message_ids, kind__in=PROBE_MAIL_KINDS
        ).values("id", "related_id")
    )
    if not rows:
        return None  # not a mail to the probe's address (an escalation, an invitation…)
    probe = Probe.objects.filter(delivery_id__in=[r["id"] for r in rows]).first()
    if probe is None:  # a reminder, written with obj=probe
        related = [r["related_id"] for r in rows if r["related_id"].startswith("pr_")]
        probe = Probe.objects.filter(public_id__in=related).first()
    return probe


def _fail_bounced(reading: Reading) -> Outcome:
    probe = _bounced_probe(reading)
    if probe is None:
        return Outcome(IGNORED, None, "bounce of no known probe")
    if probe.status not in (ProbeStatus.SCHEDULED, ProbeStatus.SENT):
        # Confirmed through another channel, or this bounce already came (MTAs resend).
        return Outcome(IGNORED, probe.public_id, f"bounce for a probe already {probe.status}")
    probe = services.record_delivery_failure(probe, reading.error or "undeliverable (bounce)")
    if probe.status != ProbeStatus.FAILED:
        return Outcome(IGNORED, probe.public_id, f"bounce for a probe already {probe.status}")
    return Outcome(FAILED, probe.public_id, "bounce")


# --- replies ---------------------------------------------------------------------------------


def _refusal_reason(token: str) -> tuple[str, Probe | None]:
    """Why a token was refused, told apart by reading the probe (the service says it in words)."""
    probe = (
        Probe.objects.select_related("network").filter(token_hash=tokens.hash_token(token)).first()
    )
    if probe is None or probe.status == ProbeStatus.SCHEDULED:
        return "unknown token", None
    if probe.status == ProbeStatus.CONFIRMED:
        return "token already used", probe
    return "token expired", probe


def _confirm_reply(reading: Reading) -> Outcome:
    token = reading.token or ""
    try:
        probe = services.confirm_probe_by_token(token, via=ConfirmedVia.REPLY, name=reading.name)
    except ServiceError:
        reason, probe = _refusal_reason(token)
        # A refused token is worth an audit event (someone holds or guesses tokens); the token
        # itself stays out of it, like the body and the addresses.
        with transaction.atomic():
            record_event(
                None,
                "pingtest.inbound_ignored",
                obj=probe,
                network=probe.network if probe is not None else None,
                details={"reason": reason, "message_id": reading.message_id},
            )
        return Outcome(IGNORED, probe.public_id if probe else None, reason)
    return Outcome(CONFIRMED, probe.public_id, "reply")


# --- the entry point -------------------------------------------------------------------------


def process_message(raw: bytes, *, mail_from: str | None = None) -> Outcome:
    """Handle one inbound message (its raw bytes; `mail_from` is the envelope sender if known).

    Reading it never fails (see `read_message`); database errors propagate, so that the
    receiver answers 451 and the MTA retries."""
    reading = read_message(raw, mail_from=mail_from)
    if reading.kind == "bounce":
        outcome = _fail_bounced(reading)
    elif reading.kind == "reply":
        outcome = _confirm_reply(reading)
    else:
        outcome = Outcome(IGNORED, None, reading.reason)
    if outcome.kind == IGNORED:
        logger.info("inbound %s: ignored (%s)", reading.message_id, outcome.reason)
    else:
        logger.info(
            "inbound %s: probe %s %s (%s)",
            reading.message_id,
            outcome.probe,
            outcome.kind,
            outcome.reason,
        )
    return outcome


# --- outbox hooks (registered in liaison.delivery.hooks) -------------------------------------


def on_probe_delivery_dead(delivery: Delivery) -> None:
    """A probe e-mail (or its reminder) was refused for good (5xx) or its attempts ran out: the
    probe fails."""
    if delivery.kind not in PROBE_MAIL_KINDS:
        return
    probes = Probe.objects.filter(delivery=delivery)
    if not probes.exists() and delivery.related_id.startswith("pr_"):
        probes = Probe.objects.filter(public_id=delivery.related_id)
    for probe in probes:
        error = f"{delivery.last_error or 'undeliverable'} (not delivered)"
        services.record_delivery_failure(probe, error)


def reply_headers(delivery: Delivery) -> dict[str, str]:
    """Probe e-mails ask for replies at the inbound address, when the deployment has one."""
    address = getattr(settings, "INBOUND_ADDRESS", "")
    return {"Reply-To": address} if address else {}


# --- the receiver ----------------------------------------------------------------------------


class InboundHandler:
    """aiosmtpd handler: every recipient accepted, each message handed to `process` in a worker
    thread (the ORM is synchronous), 250 once it is processed or ignored, 451 on an error."""

    def __init__(
        self,
        process: Callable[..., Outcome] = process_message,
        *,
        lmtp: bool = False,
        workers: int = 4,
    ) -> None:
        self.process = process
        self.lmtp = lmtp
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        mail_from = (envelope.mail_from or "").strip()
        mail_from = "" if mail_from == "<>" else mail_from  # the null sender of bounces
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self._run, content, mail_from, peer)
            status = "250 2.0.0 OK"
        except Exception as exc:
            logger.error(
                "inbound message not processed (%s): the MTA will retry",
                type(exc).__name__,
                exc_info=True,
            )
            status = "451 4.3.0 Temporary failure, try again later"
        if self.lmtp:  # LMTP answers once per recipient (RFC 2033)
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status

    def _run(self, content: bytes, mail_from: str, peer: str | None) -> Outcome:
        close_old_connections()
        try:
            with origin(Origin(via="worker", ip=peer)):
                return self.process(content, mail_from=mail_from)
        finally:
            close_old_connections()

    def close(self) -> None:
        """Close each worker thread's database connection (in its thread), then the pool."""
        # The barrier holds every task until all have started: one task per thread.
        barrier = threading.Barrier(self.workers)

        def close_connections() -> None:
            try:
                barrier.wait(timeout=10)
            finally:
                connections.close_all()

        futures = [self.executor.submit(close_connections) for _ in range(self.workers)]
        for future in futures:
            with contextlib.suppress(threading.BrokenBarrierError):
                future.result(timeout=15)
        self.executor.shutdown(wait=True)


class _Controller(Controller):
    def __init__(self, handler: InboundHandler, **kwargs) -> None:
        self._lmtp = handler.lmtp
        super().__init__(handler, **kwargs)

    def factory(self):
        return (LMTP if self._lmtp else SMTP)(self.handler, **self.SMTP_kwargs)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class InboundServer:
    """The SMTP (or LMTP) receiver in a background thread; port 0 picks a free one."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2525,
        *,
        lmtp: bool = False,
        process: Callable[..., Outcome] = process_message,
        workers: int = 4,
    ) -> None:
        self.host = host
        self.port = port
        self.lmtp = lmtp
        self.handler = InboundHandler(process, lmtp=lmtp, workers=workers)
        self._controller: _Controller | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        # aiosmtpd logs every sender and recipient at INFO: addresses stay out of Liaison's logs.
        mail_log = logging.getLogger("mail.log")
        if mail_log.level == logging.NOTSET:
            mail_log.setLevel(logging.WARNING)
        attempts = 5 if self.port == 0 else 1
        for attempt in range(attempts):
            port = self.port or _free_port(self.host)
            controller = _Controller(
                self.handler,
                hostname=self.host,
                port=port,
                data_size_limit=MAX_MESSAGE_BYTES,
                ident="Liaison",
            )
            try:
                controller.start()
            except OSError as exc:
                controller.loop.close()
                if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            with self._lock:
                self._controller = controller
                self.port = port
            return

    def stop(self) -> None:
        with self._lock:
            controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            self.handler.close()

    def __enter__(self) -> InboundServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
