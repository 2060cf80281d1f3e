"""`liaison pingtest start|report|list`: reachability tests from a shell.

The console acts with the Secretariat's permissions (directory.exporting.console_access) and
every action is audited like the same action on the web.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q
from django.http import Http404
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.directory.exporting import console_access
from liaison.directory.management.actions.export import _write_private
from liaison.networks.models import Network
from liaison.reachability.models import PingTest, ProbeChannel, ProbeStatus, Timing

REPORT_FORMATS = ("json", "text", "pdf", "xlsx")
START_DESCRIPTION = """\
Start a ping test: one probe per published contact point of the network (or of the chosen
members and types), sent by the worker when due. Prints the test's id.

Timing: now (default); --at ISO for a set time; --random-until ISO for random instants between
--at (default: now) and that time — with --off-hours, only outside each contact point's
declared hours (in its own time zone). Times are ISO 8601; one without a time zone is UTC."""


def _iso(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("'%(value)s' is not an ISO 8601 date and time (e.g. 2025-03-01T02:00Z)")
            % {"value": value[:40]}
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _hours(value: str) -> dt.timedelta:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("'%(value)s' is not a number of hours") % {"value": value[:20]}
        ) from None
    if not 0 < hours <= 24 * 366:
        raise argparse.ArgumentTypeError(_("a number of hours must be positive"))
    return dt.timedelta(hours=hours)


class Command(BaseCommand):
    help = "Reachability tests (`liaison pingtest ACTION --help`)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        start = sub.add_parser(
            "start",
            help="start a ping test; prints its id",
            description=START_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        start.add_argument("--network", required=True, metavar="SLUG")
        start.add_argument(
            "--channel",
            action="append",
            default=[],
            metavar="|".join(ProbeChannel.values),
            help="a channel (repeat for several; default: email)",
        )
        start.add_argument(
            "--member",
            action="append",
            default=[],
            metavar="CODE",
            help="probe this member only (repeat for several; default: every member)",
        )
        start.add_argument(
            "--type",
            action="append",
            default=[],
            metavar="TYPE",
            help="probe contact points of this type only (repeat; default: every type)",
        )
        start.add_argument("--at", type=_iso, metavar="ISO", help="send at this time")
        start.add_argument(
            "--random-until",
            type=_iso,
            metavar="ISO",
            help="send at random times between --at (or now) and this time",
        )
        start.add_argument(
            "--off-hours",
            action="store_true",
            help="random times outside each contact point's declared hours only",
        )
        start.add_argument("--remind-after", type=_hours, metavar="HOURS")
        start.add_argument("--escalate-after", type=_hours, metavar="HOURS")
        start.add_argument("--ends", type=_iso, metavar="ISO", help="when unanswered probes expire")
        start.add_argument("--note", default="", metavar="TEXT")

        report = sub.add_parser("report", help="a ping test's results")
        report.add_argument("id", metavar="ID")
        report.add_argument("--format", default="text", metavar="|".join(REPORT_FORMATS))
        report.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
        report.add_argument(
            "--anonymised",
            action="store_true",
            help="without member codes, for sharing with the network",
        )

        listing = sub.add_parser("list", help="a network's ping tests, newest first")
        listing.add_argument("--network", required=True, metavar="SLUG")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        try:
            if action == "start":
                self._start(options)
            elif action == "report":
                self._report(options)
            else:
                self._list(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc) or _("not allowed")) from None

    def _network(self, slug: str) -> Network:
        network = Network.objects.filter(slug=slug).first()
        if network is None:
            raise CommandError(_("unknown network '%(slug)s'") % {"slug": slug[:60]})
        return network

    def _start(self, options: dict[str, Any]) -> None:
        from liaison.reachability.services import start_ping_test

        network = self._network(options["network"])
        self._check_names(network, options)
        timing = Timing.NOW
        if options["random_until"] is not None:
            timing = Timing.RANDOM
        elif options["at"] is not None:
            timing = Timing.AT
        test = start_ping_test(
            None,
            console_access(network),
            channels=options["channel"] or [ProbeChannel.EMAIL],
            members=options["member"],
            types=options["type"],
            timing=timing,
            starts_at=options["at"],
            window_ends_at=options["random_until"],
            off_hours=options["off_hours"],
            reminder_after=options["remind_after"],
            escalate_after=options["escalate_after"],
            ends_at=options["ends"],
            note=options["note"],
        )
        self.stdout.write(test.public_id)

    def _check_names(self, network: Network, options: dict[str, Any]) -> None:
        """Every unknown member, channel and type at once (the service stops at the first)."""
        from liaison.directory.models import ContactPointType
        from liaison.networks.models import Member

        def unknown(values, allowed) -> list[str]:
            return [v for v in (str(v).strip() for v in values) if v and v.lower() not in allowed]

        codes = {str(c).strip().upper() for c in options["member"] if str(c).strip()}
        known = set(
            Member.objects.filter(network=network, code__in=codes).values_list("code", flat=True)
        )
        problems = []
        if missing := sorted(codes - known):
            problems.append(
                _("unknown members: %(codes)s") % {"codes": ", ".join(c[:20] for c in missing)}
            )
        for what, values, allowed in (
            ("channels", options["channel"], ProbeChannel.values),
            ("types", options["type"], ContactPointType.values),
        ):
            if bad := unknown(values, allowed):
                problems.append(
                    _("unknown %(what)s: %(names)s (expected: %(allowed)s)")
                    % {
                        "what": what,
                        "names": ", ".join(v[:30] for v in bad),
                        "allowed": ", ".join(allowed),
                    }
                )
        if problems:
            raise CommandError("\n".join(problems))

    def _report(self, options: dict[str, Any]) -> None:
        from liaison.reachability.queries import get_ping_test
        from liaison.reachability.report import consult_report
        from liaison.reachability.report_export import as_text, export_report

        fmt = (options["format"] or "").strip().lower()
        if fmt not in REPORT_FORMATS:
            raise CommandError(
                _("unknown format '%(format)s' (expected one of: %(formats)s)")
                % {"format": fmt[:20], "formats": ", ".join(REPORT_FORMATS)}
            )
        found = PingTest.objects.filter(public_id=options["id"]).select_related("network").first()
        if found is None:
            raise CommandError(_("unknown ping test '%(id)s'") % {"id": options["id"][:40]})
        access = console_access(found.network)
        try:
            test = get_ping_test(access, found.public_id)
        except Http404:
            raise CommandError(
                _("unknown ping test '%(id)s'") % {"id": options["id"][:40]}
            ) from None
        output = options.get("output")
        if fmt in ("pdf", "xlsx"):
            stream = getattr(self.stdout, "_out", None)
            if not output and (stream is None or stream.isatty()):
                raise CommandError(
                    _("%(format)s is a binary format: write it to a file with -o FILE")
                    % {"format": fmt.upper()}
                )
            export = export_report(None, access, test, fmt, anonymise=options["anonymised"])
            content = export.content
        else:
            report = consult_report(None, access, test, anonymise=options["anonymised"])
            text = json.dumps(report, indent=2, ensure_ascii=False) if fmt == "json" else None
            content = (text if text is not None else as_text(report)).encode("utf-8")
        if output:
            _write_private(Path(output), content)
            self.stderr.write(
                _("Wrote the report of %(id)s to %(file)s.")
                % {"id": test.public_id, "file": output},
                style_func=lambda text: text,
            )
            return
        stream = getattr(self.stdout, "_out", None)
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(content if fmt in ("pdf", "xlsx") else content + b"\n")
            buffer.flush()
        elif fmt in ("pdf", "xlsx"):
            raise CommandError(
                _("%(format)s is a binary format: write it to a file with -o FILE")
                % {"format": fmt.upper()}
            )
        else:  # a text stream (call_command(stdout=StringIO()))
            self.stdout.write(content.decode("utf-8"))

    def _list(self, options: dict[str, Any]) -> None:
        from liaison.reachability.queries import visible_ping_tests

        network = self._network(options["network"])
        confirmed = Q(probes__status=ProbeStatus.CONFIRMED)
        tests = visible_ping_tests(console_access(network)).annotate(
            n=Count("probes"), ack=Count("probes", filter=confirmed)
        )
        rows = list(tests)
        if not rows:
            self.stdout.write(_("No ping test in %(network)s.") % {"network": network.slug})
            return
        for test in rows:
            rate = f"{test.ack / test.n * 100:.1f} %" if test.n else "—"
            self.stdout.write(
                f"{test.public_id}  {test.status:<9}  "
                f"{test.starts_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC  "
                + _("%(ack)d of %(n)d acknowledged (%(rate)s)")
                % {"ack": test.ack, "n": test.n, "rate": rate}
                + (f"  {test.note.splitlines()[0][:60]}" if test.note else "")
            )
