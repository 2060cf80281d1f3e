"""`liaison directory verify FILE`: is FILE an unaltered export signed by this deployment?"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from liaison.directory.signing import VerificationFailed, verify_export

NAME = "verify"
HELP = "check the signature of a JSON or PDF export"
DESCRIPTION = """\
Check that FILE is a JSON or PDF export of a directory edition, unaltered since it was signed,
by this deployment's key or a key it trusts (public keys in DATA_DIR/keys/trusted/*.pub).

Exit status 0 and "valid: edition N of NETWORK, signed by key KID (…)" when it is; 1 and the
reason otherwise: not a Liaison export, signed by an unknown key (another deployment?), the
content was altered after signing, or a CSV/XLSX/vCard export (those are not signed).
The file's content is never printed."""

MAX_SIZE = 512 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a JSON or PDF export")


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    path = options["file"]
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIZE + 1)
    except FileNotFoundError:
        raise CommandError(_("cannot read %(file)s: no such file") % {"file": path}) from None
    except OSError as exc:
        raise CommandError(
            _("cannot read %(file)s: %(reason)s") % {"file": path, "reason": exc.strerror}
        ) from None
    if len(data) > MAX_SIZE:
        raise CommandError(_("not a Liaison export (larger than any export)"))
    try:
        verified = verify_export(data)
    except VerificationFailed as exc:
        raise CommandError(exc.message) from None
    command.stdout.write(str(verified))
