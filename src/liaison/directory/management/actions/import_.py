"""`liaison directory import --network SLUG FILE [--dry-run] [--quiet]`."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.core.errors import ServiceError
from liaison.directory.importing import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    ImportRejected,
    ImportReport,
    import_directory,
)
from liaison.networks.models import Network

NAME = "import"
HELP = "import a CSV or XLSX directory file (all rows or nothing)"
DESCRIPTION = f"""\
Import a directory file (CSV or XLSX, one row per contact point) into a network.

Every member that appears in the file ends up with exactly the file's contact points (its draft
entries are replaced); members absent from the file are untouched. Members are created, or their
name, kind and status updated, from the member_* columns.

If any row is invalid, nothing is written and each problem is printed on standard error as
  row N, column C: message
where N is the row number a spreadsheet shows: the header is row 1, the first data row is row 2.

Columns (header names in any order, case-insensitive):
  {", ".join(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)}
  optional: {", ".join(OPTIONAL_COLUMNS)}
CSV: UTF-8 (with or without BOM), ',' or ';' delimited. XLSX: the first sheet.
See tests/directory/data/sample-directory.csv for an example.

Exit status: 0 imported (or dry run passed), 1 problems found or the file could not be read
(nothing written), 2 invalid command line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, metavar="SLUG")
    parser.add_argument("file", metavar="FILE", help="a .csv or .xlsx file")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and show what would change, without writing anything",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    network = Network.objects.filter(slug=options["network"]).first()
    if network is None:
        raise CommandError(_("unknown network '%(slug)s'") % {"slug": options["network"][:60]})
    path = options["file"]
    show_progress = not options["quiet"] and command.stderr.isatty()
    try:
        report = import_directory(
            None,
            network,
            path,
            filename=path,
            dry_run=options["dry_run"],
            progress=_progress_bar(command) if show_progress else None,
        )
    except ImportRejected as exc:
        for problem in exc.problems:
            command.stderr.write(str(problem), style_func=lambda text: text)
        raise CommandError(
            ngettext(
                "%(count)d problem found; nothing was imported",
                "%(count)d problems found; nothing was imported",
                len(exc.problems),
            )
            % {"count": len(exc.problems)}
        ) from None
    except FileNotFoundError:
        raise CommandError(_("cannot read %(file)s: no such file") % {"file": path}) from None
    except (IsADirectoryError, PermissionError) as exc:
        raise CommandError(
            _("cannot read %(file)s: %(reason)s") % {"file": path, "reason": exc.strerror}
        ) from None
    except ServiceError as exc:
        raise CommandError(str(exc)) from None
    for line in summary(report):
        command.stdout.write(line)


def _progress_bar(command: BaseCommand):
    from tqdm import tqdm

    stream = command.stderr._out

    def factory(description: str, total: int):
        return tqdm(total=total, desc=description, file=stream, leave=False, unit="")

    return factory


def summary(report: ImportReport) -> list[str]:
    """What the import did (or would do, in a dry run): one line per member in a dry run."""
    lines = []
    if report.dry_run:
        lines.append(
            _("Dry run: nothing was written. Importing %(file)s into %(network)s would:")
            % {"file": report.source, "network": report.network}
        )
        for member in report.members:
            lines.append("  " + _member_line(member))
    totals = _(
        "%(rows)s; members: %(created)d created, %(updated)d updated, %(unchanged)d unchanged; "
        "contact points: %(removed)d removed, %(added)d added."
    ) % {
        "rows": ngettext("%(count)d row", "%(count)d rows", report.rows) % {"count": report.rows},
        "created": report.members_created,
        "updated": report.members_updated,
        "unchanged": report.members_unchanged,
        "removed": report.contact_points_removed,
        "added": report.contact_points_added,
    }
    if report.dry_run:
        lines.append(_("Total: %(totals)s") % {"totals": totals})
    else:
        lines.append(
            _("Imported %(file)s into %(network)s: %(totals)s")
            % {"file": report.source, "network": report.network, "totals": totals}
        )
    return lines


def _member_line(member) -> str:
    if member.action == "created":
        what = _("create")
    elif member.action == "updated":
        what = _("update (%(fields)s)") % {"fields": ", ".join(member.fields)}
    else:
        what = _("keep")
    return _("%(code)s %(name)s: %(what)s; remove %(removed)d, add %(added)d contact point(s)") % {
        "code": member.code,
        "name": member.name,
        "what": what,
        "removed": member.contact_points_removed,
        "added": member.contact_points_added,
    }
