"""Self-test for tests/smtp_server.py using plain smtplib."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tests.smtp_fixtures import smtp_server  # noqa: F401 - pytest fixture
from tests.smtp_server import SMTPTestServer


def _mail(subject: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(f"body of {subject} ✓")  # non-ASCII to exercise 8bit handling
    return msg


def _send(server: SMTPTestServer, msg: EmailMessage, *, mail_from: str, to: list[str]) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.send_message(msg, from_addr=mail_from, to_addrs=to)


def test_receives_messages_with_envelope(smtp_server: SMTPTestServer) -> None:  # noqa: F811
    assert smtp_server.url == f"smtp://127.0.0.1:{smtp_server.port}"

    _send(
        smtp_server,
        _mail("first", "a@example.com"),
        mail_from="bounce@example.com",
        to=["a@example.com"],
    )
    _send(
        smtp_server,
        _mail("second", "b@example.com"),
        mail_from="other@example.com",
        to=["b@example.com", "c@example.com"],
    )

    first, second = smtp_server.wait_for(2, timeout=5)
    assert first.mail_from == "bounce@example.com"
    assert first.rcpt_tos == ["a@example.com"]
    assert first.message["Subject"] == "first"
    assert first.message.get_content().strip() == "body of first ✓"
    assert second.mail_from == "other@example.com"
    assert second.rcpt_tos == ["b@example.com", "c@example.com"]
    assert second.message["Subject"] == "second"

    smtp_server.clear()
    assert smtp_server.messages == []


def test_fail_with_simulates_outage_until_switched_off(smtp_server: SMTPTestServer) -> None:  # noqa: F811
    smtp_server.fail_with = 451
    with pytest.raises(smtplib.SMTPDataError) as excinfo:
        _send(
            smtp_server,
            _mail("lost", "a@example.com"),
            mail_from="s@example.com",
            to=["a@example.com"],
        )
    assert excinfo.value.smtp_code == 451
    assert smtp_server.messages == []

    smtp_server.fail_with = None
    _send(
        smtp_server,
        _mail("retried", "a@example.com"),
        mail_from="s@example.com",
        to=["a@example.com"],
    )
    (received,) = smtp_server.wait_for(1, timeout=5)
    assert received.message["Subject"] == "retried"


def test_wait_for_times_out_with_clear_message() -> None:
    with SMTPTestServer() as server, pytest.raises(TimeoutError, match="expected 1 mail"):
        server.wait_for(1, timeout=0.1)


def test_rejects_non_error_codes() -> None:
    with pytest.raises(ValueError, match="4xx/5xx"):
        SMTPTestServer(fail_with=250)
