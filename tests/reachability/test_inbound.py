"""Inbound mail of ping tests: replies confirm, bounces and dead deliveries fail, the rest is
ignored and logged without content. Over real SMTP/LMTP conversations on loopback."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import threading
import time
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from liaison.audit.models import AuditEvent
from liaison.delivery import hooks
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, enqueue_email
from liaison.networks.queries import resolve_access
from liaison.reachability import inbound, services, tokens
from liaison.reachability.inbound import InboundServer, Outcome, process_message
from liaison.reachability.management.commands.inbound import Command as InboundCommand
from liaison.reachability.models import Probe, ProbeStatus

ADDRESS = "cyber@police.fr.example"
SECRET_LINE = "Our duty officer is Jean Dupont, mobile +33 6 12 34 56 78"
LOGGER = "liaison.reachability.inbound"


# --- helpers -----------------------------------------------------------------------------------


def send_probe(world, member: str = "FR") -> tuple[Probe, str, Delivery]:
    """A sent e-mail probe, its raw token (as its recipient reads it) and its outbox row."""
    access = resolve_access(world.secretariat, world.network)
    test = services.start_ping_test(world.secretariat, access, channels=["email"], members=[member])
    services.send_due_probes()
    probe = test.probes.get()
    delivery = Delivery.objects.get(pk=probe.delivery_id)
    raw = tokens.find_token(delivery.subject)
    assert raw
    return probe, raw, delivery


def reply(
    subject: str,
    body: str,
    *,
    sender: str = f"Night Desk <{ADDRESS}>",
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "pingtest@liaison.example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="police.fr.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and not body:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def original_probe_mail(delivery: Delivery, raw: str) -> EmailMessage:
    """The probe e-mail as it left (the outbox blanks a sent body: rebuild it)."""
    msg = EmailMessage()
    msg["From"] = "Liaison <liaison@localhost>"
    msg["To"] = delivery.recipient
    msg["Subject"] = delivery.subject
    msg["Message-ID"] = delivery.message_id
    msg.set_content(f"This is a reachability test.\n\nReference: {tokens.marker(raw)}\n")
    return msg


def dsn(
    original: Message,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = f"smtp; 550 5.1.1 <{ADDRESS}>: Recipient address rejected: User unknown",
    headers_only: bool = False,
) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one, built with `email`."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.police.fr.example (Mail Delivery System)"
    report["To"] = "liaison@localhost"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = make_msgid(domain="mx.police.fr.example")
    report.attach(
        MIMEText(
            "I'm sorry to have to inform you that your message could not be\n"
            f"delivered to one or more recipients: <{ADDRESS}>\n"
        )
    )
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.police.fr.example"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {ADDRESS}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part = Message()
    status_part.set_type("message/delivery-status")
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    if headers_only:
        returned = "".join(f"{name}: {value}\n" for name, value in original.items())
        report.attach(MIMEText(returned, "rfc822-headers"))
    else:
        report.attach(MIMEMessage(original))
    return report.as_bytes()


def assert_log_is_clean(caplog, *secrets: str) -> None:
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (SECRET_LINE, ADDRESS, "Night Desk", *secrets):
        assert secret not in text


@contextlib.contextmanager
def sending(server: InboundServer, *, lmtp: bool = False):
    client_class = smtplib.LMTP if lmtp else smtplib.SMTP
    with client_class(server.host, server.port, timeout=10) as client:
        yield client


def send(server: InboundServer, raw: bytes, *, mail_from: str = ADDRESS, lmtp: bool = False):
    raw = re.sub(rb"\r?\n", b"\r\n", raw)  # smtplib sends bytes as they are: CRLF on the wire
    with sending(server, lmtp=lmtp) as client:
        return client.sendmail(mail_from, ["pingtest@liaison.example.org"], raw)


# --- parsing: replies --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reply_with_the_marker_in_its_subject_confirms_via_reply(world):
    probe, _raw, delivery = send_probe(world)
    outcome = process_message(reply(f"Re: {delivery.subject}", "Received, all good."))
    assert outcome == Outcome("confirmed", probe.public_id, "reply")
    probe.refresh_from_db()
    assert (probe.status, probe.confirmed_via, probe.confirmed_name) == (
        ProbeStatus.CONFIRMED,
        "reply",
        "Night Desk",
    )
    event = AuditEvent.objects.get(action="pingtest.probe_confirmed")
    assert event.details["via"] == "reply"


@pytest.mark.django_db
def test_the_marker_in_the_quoted_body_or_an_html_only_reply_confirms(world):
    _, raw_fr, _ = send_probe(world, "FR")
    quoted = (
        "Confirmed.\n\nOn Monday Liaison wrote:\n> This is a test.\n"
        f"> Reference: {tokens.marker(raw_fr)}\n"
    )
    assert process_message(reply("Re: your test", quoted)).kind == "confirmed"
    probe_de, raw_de, _ = send_probe(world, "DE")
    html = f"<p>Received.</p><blockquote>Reference: <b>{tokens.marker(raw_de)}</b></blockquote>"
    outcome = process_message(reply("AW: Test", "", html=html, sender="desk@bka.de.example"))
    assert outcome.kind == "confirmed"
    probe_de.refresh_from_db()
    assert probe_de.confirmed_name == "desk@bka.de.example"  # no display name: the address


@pytest.mark.django_db
def test_an_automatic_reply_or_a_read_receipt_confirms_nothing(world):
    probe, raw, delivery = send_probe(world)
    subject = f"Re: {delivery.subject}"
    for headers, subj in [
        ({"Auto-Submitted": "auto-replied"}, subject),
        ({"X-Autoreply": "yes"}, subject),
        ({}, f"Automatic reply: {delivery.subject}"),
        ({}, f"Out of Office: {delivery.subject}"),
    ]:
        outcome = process_message(reply(subj, "I am away.", headers=headers))
        assert outcome == Outcome("ignored", None, "automatic reply")
    receipt = MIMEMultipart("report", report_type="disposition-notification")
    receipt["From"] = ADDRESS
    receipt["Subject"] = f"Read: {delivery.subject}"
    receipt.attach(MIMEText(f"Your message {tokens.marker(raw)} was displayed."))
    assert process_message(receipt.as_bytes()).kind == "ignored"
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


@pytest.mark.django_db
def test_a_message_without_token_is_ignored_and_logged_without_content(world, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    probe, raw, _ = send_probe(world)
    raw_mail = reply("Question about the directory", SECRET_LINE)
    outcome = process_message(raw_mail)
    assert outcome == Outcome("ignored", None, "no probe marker")
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO
    assert "no probe marker" in record.getMessage()
    assert "@police.fr.example>" in record.getMessage()  # the Message-ID, to find it in the MTA
    assert_log_is_clean(caplog, raw)
    assert not AuditEvent.objects.filter(action="pingtest.inbound_ignored").exists()
    # Garbage is no crash either.
    assert process_message(b"\x00\xff not a mail \r\n\r\n").kind == "ignored"
    assert process_message(b"").kind == "ignored"
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


@pytest.mark.django_db
def test_a_forged_or_reused_token_records_nothing_but_is_audited(world, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    probe, raw, delivery = send_probe(world)
    forged = "A" * 27
    outcome = process_message(reply(f"Re: [{tokens.marker(forged)}]", SECRET_LINE))
    assert outcome == Outcome("ignored", None, "unknown token")
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT

    assert process_message(reply(f"Re: {delivery.subject}", "ok")).kind == "confirmed"
    probe.refresh_from_db()
    confirmed_at = probe.confirmed_at
    outcome = process_message(reply(f"Re: {delivery.subject}", "ok again", sender="x@evil.example"))
    assert outcome == Outcome("ignored", probe.public_id, "token already used")
    probe.refresh_from_db()
    assert (probe.confirmed_at, probe.confirmed_name) == (confirmed_at, "Night Desk")
    assert AuditEvent.objects.filter(action="pingtest.probe_confirmed").count() == 1

    ignored = list(AuditEvent.objects.filter(action="pingtest.inbound_ignored").order_by("seq"))
    assert [e.details["reason"] for e in ignored] == ["unknown token", "token already used"]
    assert ignored[1].object_id == probe.public_id
    assert ignored[1].network_slug == "budapest"
    for event in ignored:
        assert forged not in str(event.details)
        assert raw not in str(event.details)
    assert_log_is_clean(caplog, raw, forged, "evil.example")


@pytest.mark.django_db
def test_an_expired_token_is_ignored(world):
    probe, _raw, delivery = send_probe(world)
    Probe.objects.filter(pk=probe.pk).update(status=ProbeStatus.EXPIRED)
    outcome = process_message(reply(f"Re: {delivery.subject}", "late"))
    assert outcome == Outcome("ignored", probe.public_id, "token expired")


@settings_hypothesis(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(
            st.sampled_from(
                [
                    b"From: =?utf-8?q?=E2=80?= <",
                    b"Subject: Re: LIAISON-PROBE-",
                    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b",
                    b"Content-Type: message/delivery-status",
                    b"Content-Type: text/plain; charset=x-unknown",
                    b"Content-Transfer-Encoding: base64",
                    b"--b",
                    b"Action: failed",
                    b"Diagnostic-Code: smtp;",
                    b"From: MAILER-DAEMON@x",
                    b"",
                    b"\xff\xfe",
                    b"=?",
                ]
            ),
            max_size=40,
        ).map(b"\r\n".join),
    )
)
def test_reading_any_bytes_never_fails(raw):
    reading = inbound.read_message(raw, mail_from="")
    assert reading.kind in {"reply", "bounce", "ignored"}
    assert len(reading.message_id) <= 120


# --- parsing: bounces --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dsn_fails_the_probe_with_its_diagnostic_and_no_address(world, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    probe, raw, delivery = send_probe(world)
    outcome = process_message(dsn(original_probe_mail(delivery, raw)), mail_from="")
    assert outcome == Outcome("failed", probe.public_id, "bounce")
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.FAILED
    assert probe.failure == (
        "550 5.1.1 [address]: Recipient address rejected: User unknown (bounce)"
    )
    assert AuditEvent.objects.filter(action="pingtest.probe_failed").count() == 1
    assert_log_is_clean(caplog, raw)
    # The same bounce twice changes nothing more.
    again = process_message(dsn(original_probe_mail(delivery, raw)), mail_from="")
    assert again.kind == "ignored"
    assert AuditEvent.objects.filter(action="pingtest.probe_failed").count() == 1


@pytest.mark.django_db
def test_a_bounce_is_matched_by_the_returned_message_id_alone(world):
    probe, raw, delivery = send_probe(world)
    other, _, _ = send_probe(world, "DE")
    original = original_probe_mail(delivery, raw)
    del original["Subject"]  # no marker anywhere: only the Message-ID ties it to the probe
    outcome = process_message(
        dsn(original, headers_only=True, status="5.2.2", diagnostic="smtp; 552 5.2.2 mailbox full")
    )
    assert outcome == Outcome("failed", probe.public_id, "bounce")
    probe.refresh_from_db()
    other.refresh_from_db()
    assert (probe.failure, other.status) == ("552 5.2.2 mailbox full (bounce)", ProbeStatus.SENT)


@pytest.mark.django_db
def test_a_delay_notice_or_a_bounce_of_another_mail_fails_nothing(world):
    probe, raw, delivery = send_probe(world)
    delayed = dsn(original_probe_mail(delivery, raw), action="delayed", status="4.4.1")
    assert process_message(delayed).reason == "delivery report: delayed"
    # The bounce of an escalation e-mail (another contact point's address) is not this probe's.
    with transaction.atomic():
        escalation = enqueue_email(
            to="other@agency.example",
            subject="Escalation",
            body="A probe stays silent.",
            kind="reachability.escalation",
            obj=probe,
        )
    original = EmailMessage()
    original["Message-ID"] = escalation.message_id
    original["Subject"] = "Escalation"
    outcome = process_message(dsn(original, headers_only=True))
    assert outcome == Outcome("ignored", None, "bounce of no known probe")
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


@pytest.mark.django_db
def test_a_plain_mailer_daemon_bounce_fails_the_probe(world):
    probe, _raw, delivery = send_probe(world)
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.police.fr.example"
    bounce["Subject"] = "failure notice"
    bounce.set_content(
        f"Sorry, we were unable to deliver your message to <{ADDRESS}>.\n"
        "550 5.1.1 no such user\n\n--- Below this line is a copy of the message.\n\n"
        f"Subject: {delivery.subject}\nMessage-ID: {delivery.message_id}\n"
    )
    outcome = process_message(bounce.as_bytes(), mail_from="")
    assert outcome == Outcome("failed", probe.public_id, "bounce")
    probe.refresh_from_db()
    assert probe.failure == "550 5.1.1 undeliverable (bounce)"


@pytest.mark.django_db
def test_a_bounce_after_a_confirmation_leaves_the_probe_confirmed(world):
    probe, raw, delivery = send_probe(world)
    services.confirm_probe_by_token(raw, via="link")
    outcome = process_message(dsn(original_probe_mail(delivery, raw)))
    assert outcome.kind == "ignored"
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.CONFIRMED


# --- the outbox: dead deliveries and Reply-To ----------------------------------------------------


@pytest.fixture
def outgoing(settings, smtp_server):
    """Django's SMTP backend pointed at the loopback test server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


@pytest.mark.django_db
def test_a_probe_mail_refused_for_good_fails_the_probe(world, outgoing):
    outgoing.fail_with = 550
    probe, _, delivery = send_probe(world)
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    probe.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert probe.status == ProbeStatus.FAILED
    assert probe.failure == "SMTPDataError 550: 5.3.0 Simulated failure (not delivered)"
    event = AuditEvent.objects.get(action="pingtest.probe_failed")
    assert event.object_id == probe.public_id


@pytest.mark.django_db
def test_a_probe_mail_whose_attempts_run_out_fails_the_probe(world, outgoing):
    outgoing.fail_with = 451
    probe, _, delivery = send_probe(world)
    Delivery.objects.filter(pk=delivery.pk).update(max_attempts=1)
    deliver_due("w1")
    probe.refresh_from_db()
    assert (probe.status, probe.failure) == (
        ProbeStatus.FAILED,
        "SMTPDataError 451: 4.3.0 Simulated failure (not delivered)",
    )


@pytest.mark.django_db
def test_a_transient_failure_does_not_fail_the_probe_and_other_kinds_are_untouched(world, outgoing):
    outgoing.fail_with = 451
    probe, _, _ = send_probe(world)
    deliver_due("w1")
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT  # will be retried
    outgoing.fail_with = 550
    with transaction.atomic():
        enqueue_email(to="a@example.org", subject="s", body="b", kind="test.notice", obj=probe)
    assert deliver_due("w1") == 1  # the notice only: the probe mail waits for its retry
    assert Delivery.objects.get(kind="test.notice").status == DeliveryStatus.DEAD
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


@pytest.mark.django_db
def test_a_failing_dead_letter_hook_does_not_block_the_outbox(world, outgoing, monkeypatch):
    def broken(delivery):
        Probe.objects.filter(delivery=delivery).update(failure="half-written")
        raise RuntimeError("bug")

    monkeypatch.setattr("liaison.reachability.inbound.on_probe_delivery_dead", broken)
    outgoing.fail_with = 550
    probe, _, delivery = send_probe(world)
    deliver_due("w1")
    delivery.refresh_from_db()
    probe.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert (probe.status, probe.failure) == (ProbeStatus.SENT, "")  # its writes rolled back


@pytest.mark.django_db
def test_probe_mails_ask_for_replies_at_the_inbound_address(world, outgoing, settings):
    settings.INBOUND_ADDRESS = "pingtest@liaison.example.org"
    send_probe(world, "FR")
    with transaction.atomic():
        enqueue_email(to="a@example.org", subject="s", body="b", kind="test.notice")
    deliver_due("w1")
    settings.INBOUND_ADDRESS = ""
    send_probe(world, "DE")
    deliver_due("w1")
    mails = {m.rcpt_tos[0]: m.message for m in outgoing.wait_for(3)}
    fr, de, other = mails[ADDRESS], mails["desk@bka.de.example"], mails["a@example.org"]
    assert fr["Reply-To"] == "pingtest@liaison.example.org"
    assert fr["Message-ID"].startswith("<dl_")
    assert de["Reply-To"] is None
    assert other["Reply-To"] is None


def test_header_hooks_refuse_line_breaks(monkeypatch):
    monkeypatch.setitem(hooks.HEADERS, "test.kind", "tests.reachability.test_inbound._evil")
    row = Delivery(kind="test.kind", public_id="dl_x")
    assert hooks.extra_headers(row) == {"X-Ok": "fine"}
    assert hooks.extra_headers(Delivery(kind="unknown.kind")) == {}


def _evil(delivery):
    return {"Reply-To": "a@example.org\r\nBcc: b@example.org", "X-Ok": "fine"}


# --- the receiver, over real SMTP / LMTP conversations -------------------------------------------


def test_the_receiver_accepts_each_message_once_and_answers_451_on_an_internal_error():
    seen: list[tuple[bytes, str]] = []

    def fake(raw: bytes, *, mail_from: str) -> Outcome:
        if b"boom" in raw:
            raise RuntimeError("database is down")
        seen.append((raw, mail_from))
        return Outcome("ignored", None, "test")

    server = InboundServer("127.0.0.1", 0, process=fake, workers=1)
    with server, sending(server) as client:
        refused = client.sendmail("", ["a@x.example", "b@x.example"], reply("Hi", "hello"))
        assert refused == {}
        with pytest.raises(smtplib.SMTPDataError) as error:
            client.sendmail(ADDRESS, ["a@x.example"], reply("Hi", "boom"))
        assert error.value.smtp_code == 451
        # Over 1 MiB: refused by size, before any processing.
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as error:
            client.sendmail(ADDRESS, ["a@x.example"], reply("Big", "x" * 1_100_000))
        assert error.value.smtp_code == 552
    assert len(seen) == 1  # one message, two recipients: processed once
    assert seen[0][1] == ""
    assert b"hello" in seen[0][0]


def test_the_lmtp_receiver_answers_per_recipient():
    calls = []

    def fake(raw: bytes, *, mail_from: str) -> Outcome:
        calls.append(raw)
        return Outcome("ignored", None, "test")

    server = InboundServer("127.0.0.1", 0, lmtp=True, process=fake, workers=1)
    with server, socket.create_connection((server.host, server.port), timeout=5) as sock:
        stream = sock.makefile("rwb")

        def command(line: str) -> bytes:
            stream.write(line.encode() + b"\r\n")
            stream.flush()
            return stream.readline()

        assert stream.readline().startswith(b"220")
        assert command("LHLO mta.example").startswith(b"250")
        while True:  # the rest of the LHLO reply
            pass_line = stream.readline()
            if pass_line.startswith(b"250 "):
                break
        assert command("MAIL FROM:<a@x.example>").startswith(b"250")
        assert command("RCPT TO:<one@liaison.example.org>").startswith(b"250")
        assert command("RCPT TO:<two@liaison.example.org>").startswith(b"250")
        assert command("DATA").startswith(b"354")
        stream.write(b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        stream.flush()
        replies = [stream.readline(), stream.readline()]
        assert all(r.startswith(b"250") for r in replies)
        command("QUIT")
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_a_ping_test_over_smtp_replies_confirm_bounces_fail_and_the_rest_is_ignored(
    world, outgoing, settings, caplog
):
    """End to end: probe e-mails out through the outbox, replies and a bounce back in through
    `liaison inbound`'s receiver, each over a real SMTP conversation on loopback."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings.INBOUND_ADDRESS = "pingtest@liaison.example.org"
    access = resolve_access(world.secretariat, world.network)
    test = services.start_ping_test(world.secretariat, access, channels=["email"])
    assert services.send_due_probes() == 2
    assert deliver_due("w1") == 2
    sent = {m.rcpt_tos[0]: m.message for m in outgoing.wait_for(2)}
    fr_mail, de_mail = sent[ADDRESS], sent["desk@bka.de.example"]
    assert fr_mail["Reply-To"] == "pingtest@liaison.example.org"
    fr = test.probes.get(member__code="FR")
    de = test.probes.get(member__code="DE")
    fr_raw = tokens.find_token(fr_mail["Subject"])

    with InboundServer("127.0.0.1", 0) as server:
        # A reply quoting the probe, answering to Reply-To.
        answer = EmailMessage()
        answer["From"] = f"Night Desk <{ADDRESS}>"
        answer["To"] = fr_mail["Reply-To"]
        answer["Subject"] = "Re: " + fr_mail["Subject"]
        answer["In-Reply-To"] = fr_mail["Message-ID"]
        quoted = "\n".join("> " + line for line in fr_mail.get_content().splitlines())
        answer.set_content(f"Received at the desk.\n\n{quoted}\n")
        assert send(server, answer.as_bytes()) == {}
        # The German address bounces: a DSN returning the whole probe e-mail.
        assert send(server, dsn(de_mail), mail_from="") == {}
        # A stranger without a token, and one replaying the French token.
        assert send(server, reply("Hello", SECRET_LINE, sender="x@evil.example")) == {}
        assert send(server, reply("Re: " + fr_mail["Subject"], "again")) == {}

    fr.refresh_from_db()
    de.refresh_from_db()
    assert (fr.status, fr.confirmed_via, fr.confirmed_name) == ("confirmed", "reply", "Night Desk")
    assert fr.seconds_to_confirm is not None
    assert de.status == ProbeStatus.FAILED
    assert de.failure.endswith("(bounce)")
    assert "@" not in de.failure
    reasons = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum("ignored (no probe marker)" in m for m in reasons) == 1
    assert sum("ignored (token already used)" in m for m in reasons) == 1
    assert_log_is_clean(caplog, fr_raw, "evil.example")
    assert AuditEvent.objects.filter(action="pingtest.probe_confirmed").count() == 1
    assert AuditEvent.objects.get(action="pingtest.probe_failed").object_id == de.public_id


@pytest.mark.django_db(transaction=True)
def test_the_inbound_command_serves_lmtp_until_stopped(world):
    command = InboundCommand()
    port = inbound._free_port("127.0.0.1")
    out = []

    class Out:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    runner = threading.Thread(
        target=call_command,
        args=(command, "--listen", f"127.0.0.1:{port}", "--lmtp"),
        kwargs={"stdout": Out()},
        daemon=True,
    )
    runner.start()
    deadline = time.monotonic() + 10
    while command.server is None or command.server._controller is None:
        assert time.monotonic() < deadline, "the command did not start listening"
        time.sleep(0.05)
    probe, _raw, delivery = send_probe(world)
    send(command.server, reply(f"Re: {delivery.subject}", "ok"), lmtp=True)
    command.stopping.set()
    runner.join(10)
    assert not runner.is_alive()
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.CONFIRMED
    assert any(f"LMTP on 127.0.0.1:{port}" in line for line in out)


def test_the_listen_option_is_checked():
    from liaison.reachability.management.commands.inbound import parse_listen

    assert parse_listen("[::1]:2525") == ("::1", 2525)
    for bad in ("2525", "host:", "host:99999", ":25"):
        with pytest.raises(Exception, match="HOST:PORT"):
            parse_listen(bad)
