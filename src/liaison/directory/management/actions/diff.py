"""`liaison directory diff --network SLUG A B [--format json|text]`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.directory.diffing import diff_as_text
from liaison.directory.edition_queries import diff_editions, parse_edition_number
from liaison.directory.exporting import console_access
from liaison.networks.models import Network

NAME = "diff"
HELP = "what changed between two published editions, member by member"
DESCRIPTION = """\
Show what changed from edition A to edition B of a network's directory, member by member and
field by field. Either order works (B before A shows the change backwards); A = B shows nothing.

Text (the default), one block per member that changed:
  FR France: 1 edited, 1 added
    ~ cp_… Police nationale: unit: 'A' → 'B'      (edited; several fields: one per line)
    + cp_… Gendarmerie nationale                   (added)
    - cp_… Old desk                                (removed)
A contact point moved to another member is removed from one and added to the other.

JSON (--format json): {"format": "liaison-directory-diff/1", "from_edition", "to_edition",
"changed_members", "totals", "members": [{"code", "name", "change", "member_fields",
"contact_points": [{"id", "change", "old", "new", "fields": [{"field", "old", "new"}]}]}]}.

The output holds contact details. Every diff is recorded in the audit trail.
Exit status: 0 the diff was shown, 1 unknown network or edition(s), 2 invalid command line."""

FORMATS = ("text", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, metavar="SLUG")
    parser.add_argument("a", metavar="A", help="edition number (from)")
    parser.add_argument("b", metavar="B", help="edition number (to)")
    parser.add_argument(
        "--format", default="text", choices=FORMATS, help="output format (default: text)"
    )


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    try:
        a = parse_edition_number(options["a"])
        b = parse_edition_number(options["b"])
    except ServiceError as exc:
        raise CommandError(exc.message) from None
    network = Network.objects.filter(slug=options["network"]).first()
    if network is None:
        raise CommandError(_("unknown network '%(slug)s'") % {"slug": options["network"][:60]})
    try:
        diff = diff_editions(None, console_access(network), a, b)
    except ServiceError as exc:
        raise CommandError(exc.message) from None
    if options["format"] == "json":
        text = json.dumps(diff.as_json(), ensure_ascii=False, indent=2) + "\n"
    else:
        text = diff_as_text(diff)
    command.stdout.write(text, ending="")
