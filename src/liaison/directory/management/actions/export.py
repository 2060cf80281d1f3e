"""`liaison directory export --network SLUG --format FORMAT [-o FILE] [--edition N]`."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.core.errors import ServiceError
from liaison.directory.exporting import (
    BINARY_FORMATS,
    FORMATS,
    check_format,
    export_directory,
)
from liaison.networks.models import Network

NAME = "export"
HELP = "export a published edition as CSV, XLSX, JSON, vCard or PDF"
DESCRIPTION = f"""\
Export a published edition of a network's directory (default: the current edition) to FILE (-o)
or to standard output.

CSV and XLSX have the columns of `liaison directory import`, so an export can be edited and
imported again. They hold two phones, two e-mail addresses, a fax and a secure channel per
contact point; anything else (more channels, channel notes, availability exceptions, OpenPGP
keys) is left out, with a warning naming the contact points concerned. JSON holds everything.
vcf is one vCard per contact point, for a phone's contacts. pdf is the printable directory.

JSON and PDF exports are signed with the deployment's key: check one with
`liaison directory verify FILE`. Each export carries a unique mark, printed on every PDF page
("exported at the console") and kept in the JSON, and is recorded in the audit trail.

Formats: {", ".join(FORMATS)}.
The file holds contact details: it is created readable by its owner only."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, metavar="SLUG")
    parser.add_argument(
        "--format",
        required=True,
        metavar="|".join(FORMATS),
        help="output format",
    )
    parser.add_argument(
        "--edition",
        type=int,
        metavar="N",
        help="the edition to export (default: the current edition)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument(
        "--justification",
        default="",
        metavar="TEXT",
        help="why the directory is exported (recorded in the audit trail; required by "
        "networks whose policy says so)",
    )


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    try:
        fmt = check_format(options["format"])
    except ServiceError as exc:
        raise CommandError(exc.message) from None
    network = Network.objects.filter(slug=options["network"]).first()
    if network is None:
        raise CommandError(_("unknown network '%(slug)s'") % {"slug": options["network"][:60]})
    output = options.get("output")
    stream = getattr(command.stdout, "_out", None)
    if not output and fmt in BINARY_FORMATS and (stream is None or stream.isatty()):
        raise CommandError(
            _(
                "%(format)s is a binary format: write it to a file with -o FILE "
                "(or redirect the output)"
            )
            % {"format": fmt.upper()}
        )
    try:
        export = export_directory(
            None,
            None,
            network,
            fmt,
            edition=options.get("edition"),
            justification=options["justification"],
        )
    except ServiceError as exc:
        raise CommandError(exc.message) from None
    if export.warnings:
        command.stderr.write(
            ngettext(
                "warning: %(count)d contact point has data that the %(format)s columns cannot "
                "hold (use --format json to keep everything):",
                "warning: %(count)d contact points have data that the %(format)s columns cannot "
                "hold (use --format json to keep everything):",
                len(export.warnings),
            )
            % {"count": len(export.warnings), "format": fmt.upper()},
            style_func=lambda text: text,
        )
        for warning in export.warnings:
            command.stderr.write(f"  {warning}", style_func=lambda text: text)
    if output:
        _write_private(Path(output), export.content)
        command.stdout.write(
            _(
                "Exported edition %(edition)s of %(network)s to %(file)s (%(format)s, "
                "mark %(mark)s)."
            )
            % {
                "edition": export.edition,
                "network": network.slug,
                "file": output,
                "format": fmt,
                "mark": export.mark,
            }
        )
    else:
        _write_stdout(command, stream, export.content, fmt)


def _write_private(path: Path, content: bytes) -> None:
    """Write atomically, readable by the owner only: the file holds contact details."""
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CommandError(
            _("cannot write %(file)s: %(reason)s") % {"file": path, "reason": exc.strerror}
        ) from None
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates the file with mode 0600
            out.write(content)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CommandError(
            _("cannot write %(file)s: %(reason)s") % {"file": path, "reason": exc.strerror}
        ) from None


def _write_stdout(command: BaseCommand, stream, content: bytes, fmt: str) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(content)
        buffer.flush()
    elif fmt in BINARY_FORMATS:
        raise CommandError(
            _("%(format)s is a binary format: write it to a file with -o FILE")
            % {"format": fmt.upper()}
        )
    else:  # a text stream (call_command(stdout=StringIO()))
        stream.write(content.decode("utf-8"))
