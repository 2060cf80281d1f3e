"""`liaison audit verify|checkpoint|key|export`: the audit trail from the command line.

verify       exit 0 and "audit trail intact: N events, M checkpoints, root …"; exit 1 and
             "audit trail BROKEN at event K: …" otherwise. --checkpoint signs a fresh checkpoint
             after a clean verification; --public-key FILE pins the key checkpoints must be
             signed with; --witness FILE checks checkpoint lines kept outside the deployment.
checkpoint   sign the current tree head; prints it as a line to keep elsewhere (a witness).
key          the deployment's public key (PEM) and key id, to keep elsewhere.
export       one network's events as JSON lines, for the data-protection officer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from liaison.audit.queries import network_events_for_export
from liaison.audit.services import create_checkpoint, iso_utc, record_event
from liaison.audit.verification import parse_witness_line, verify_trail, witness_line
from liaison.core import keys

EXIT_BROKEN = 1
EXIT_USAGE = 2


def _export_line(event) -> dict:
    return {
        "seq": event.seq,
        "occurred_at": iso_utc(event.occurred_at),
        "actor": event.actor_label,
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "network": event.network_slug,
        "via": event.via,
        "ip": event.ip,
        "justification": event.justification,
        "details": event.details,
        "leaf_hash": event.leaf_hash,
        "chain_hash": event.chain_hash,
    }


class Command(BaseCommand):
    help = "Verify, checkpoint and export the tamper-evident audit trail."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        verify = sub.add_parser("verify", help="prove that no event was altered, removed or moved")
        verify.add_argument(
            "--checkpoint",
            action="store_true",
            help="sign a fresh checkpoint when the trail is intact",
        )
        verify.add_argument(
            "--public-key",
            metavar="FILE",
            help="accept only checkpoints signed with this public key (PEM, OpenSSH, raw, hex)",
        )
        verify.add_argument(
            "--witness",
            metavar="FILE",
            help="checkpoint lines printed earlier by `liaison audit checkpoint`, kept elsewhere",
        )

        sub.add_parser("checkpoint", help="sign the current tree head")
        sub.add_parser("key", help="print the deployment's public key and key id")

        export = sub.add_parser("export", help="one network's events as JSON lines")
        export.add_argument("--network", required=True, metavar="SLUG")
        export.add_argument("--since", metavar="DATE", help="YYYY-MM-DD or an ISO 8601 time")
        export.add_argument("--format", choices=["jsonl"], default="jsonl")
        export.add_argument("-o", "--output", metavar="FILE", help="default: standard output")

    def handle(self, *args, **options):
        return getattr(self, f"_{options['subcommand']}")(options)

    def _verify(self, options):
        trusted = None
        if options["public_key"]:
            try:
                key = keys.parse_public_key(Path(options["public_key"]).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--public-key: {exc}", returncode=EXIT_USAGE) from exc
            trusted = {keys.key_id_of(key): key}
        witnesses = []
        if options["witness"]:
            try:
                lines = Path(options["witness"]).read_text().splitlines()
            except OSError as exc:
                raise CommandError(f"--witness: {exc}", returncode=EXIT_USAGE) from exc
            for number, line in enumerate(lines, start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    witnesses.append(parse_witness_line(line))
                except ValueError as exc:
                    raise CommandError(
                        f"--witness line {number}: {exc}", returncode=EXIT_USAGE
                    ) from exc
        result = verify_trail(trusted_keys=trusted, witnesses=witnesses)
        if not result.ok:
            self.stdout.write(result.summary())
            sys.exit(EXIT_BROKEN)
        self.stdout.write(result.summary())
        if result.key_ids:
            self.stdout.write(f"checkpoints signed by: {', '.join(result.key_ids)}")
        if witnesses:
            self.stdout.write(f"witnesses checked: {len(witnesses)}")
        if options["checkpoint"]:
            checkpoint = create_checkpoint()
            if checkpoint is not None:
                self.stdout.write(witness_line(checkpoint))
        return None

    def _checkpoint(self, options):
        checkpoint = create_checkpoint()
        if checkpoint is None:
            self.stdout.write("nothing to sign: the audit trail is empty")
            return
        self.stdout.write(witness_line(checkpoint))

    def _key(self, options):
        self.stdout.write(f"key id: {keys.key_id()}")
        self.stdout.write(keys.public_key_pem().rstrip())

    def _export(self, options):
        from liaison.networks.models import Network

        slug = options["network"]
        if not Network.objects.filter(slug=slug).exists():
            raise CommandError(f"no network with slug {slug!r}", returncode=EXIT_USAGE)
        since = None
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None:
                day = parse_date(options["since"])
                if day is None:
                    raise CommandError(
                        "--since must be a date (YYYY-MM-DD) or an ISO 8601 time",
                        returncode=EXIT_USAGE,
                    )
                since = dt.datetime.combine(day, dt.time.min)
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)
        with contextlib.ExitStack() as stack:
            if options["output"]:
                fh = stack.enter_context(Path(options["output"]).open("w", encoding="utf-8"))
                write = lambda text: fh.write(text + "\n")  # noqa: E731
            else:
                write = self.stdout.write
            count = 0
            for event in network_events_for_export(slug, since):
                write(json.dumps(_export_line(event), cls=DjangoJSONEncoder, ensure_ascii=False))
                count += 1
        with transaction.atomic():
            record_event(
                None,
                "audit.export",
                network=slug,
                details={
                    "since": iso_utc(since) if since else None,
                    "format": options["format"],
                    "events": count,
                },
            )
        if options["output"]:
            self.stderr.write(f"{count} events written to {options['output']}")
