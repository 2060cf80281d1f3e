"""`liaison inbound [--listen HOST:PORT] [--lmtp]`: replies to and bounces of probe e-mails."""

from __future__ import annotations

import argparse
import signal
import threading

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liaison.reachability.inbound import MAX_MESSAGE_BYTES, InboundServer

DEFAULT_LISTEN = "127.0.0.1:2525"

HELP = f"""\
Receive the replies to and the bounces of ping-test e-mails (reachability tests).

A reply that carries a probe's marker (LIAISON-PROBE-…, in its subject or in the quoted message)
confirms that probe; a bounce of a probe e-mail records the probe as failed (a wrong address is a
finding, not a silence). Anything else — no marker, a forged, expired or reused one, an automatic
reply — is accepted, ignored and logged (its Message-ID and a reason, never its content).
Messages over {MAX_MESSAGE_BYTES // 2**20} MiB are refused.

Set up:
  1. Choose an address for replies, e.g. pingtest@liaison.example.org, and set
     LIAISON_INBOUND_ADDRESS=pingtest@liaison.example.org for Liaison's web and worker
     processes: probe e-mails then carry "Reply-To: pingtest@liaison.example.org". Without it
     replies go to the From address (LIAISON_FROM_EMAIL): route that one instead.
  2. Have your MTA hand that address's mail to this command. With Postfix, over LMTP:
       /etc/postfix/transport:   pingtest@liaison.example.org   lmtp:inet:127.0.0.1:2525
       /etc/postfix/main.cf:     transport_maps = hash:/etc/postfix/transport
     (postmap /etc/postfix/transport; the domain must be one Postfix accepts mail for), and run
       liaison inbound --lmtp
     Bounces return to the envelope sender of Liaison's mail (LIAISON_FROM_EMAIL's address):
     route that address here too.
  3. Keep the listener on loopback (the default): the MTA in front does the filtering.

An internal error (e.g. the database is down) answers 451, so the MTA keeps the message and
retries; nothing is ever bounced back to a sender.
"""


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


class Command(BaseCommand):
    help = HELP

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Set by SIGINT/SIGTERM (or by a test running the command in a thread).
        self.stopping = threading.Event()
        self.server: InboundServer | None = None

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen",
            type=parse_listen,
            default=DEFAULT_LISTEN,
            metavar="HOST:PORT",
            help=f"where to listen (default {DEFAULT_LISTEN})",
        )
        parser.add_argument(
            "--lmtp", action="store_true", help="speak LMTP (RFC 2033) instead of SMTP"
        )

    def handle(self, *args, **options) -> None:
        host, port = options["listen"]
        protocol = "LMTP" if options["lmtp"] else "SMTP"
        self.server = InboundServer(host, port, lmtp=options["lmtp"])
        try:
            self.server.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stopping.set())
        self.stdout.write(f"liaison inbound: {protocol} on {host}:{self.server.port}")
        if host not in {"127.0.0.1", "::1", "localhost"}:
            self.stderr.write(
                "warning: listening beyond loopback; let only your MTA reach this port"
            )
        try:
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.server.stop()
        self.stdout.write("liaison inbound: stopped")
