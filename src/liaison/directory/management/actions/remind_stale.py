"""`liaison directory remind-stale [--network SLUG] [--dry-run]`."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.directory.staleness import OVERDUE_REPEAT_DAYS, REMINDER_LEAD, send_review_reminders
from liaison.networks.models import Network

NAME = "remind-stale"
HELP = "e-mail the coordinators whose entries are due for review (the worker does it hourly)"
DESCRIPTION = f"""\
Remind the national coordinators of the members whose published contact points are due for
review: {REMINDER_LEAD.days} days ahead of the review date, then once it has passed, again every
{OVERDUE_REPEAT_DAYS} days while it stays passed. A member without a coordinator has its
reminders sent to the network's Secretariat. One e-mail per person and network, with counts and
a link (no directory content). A reminder is never sent twice: `liaison worker` runs this
every hour, and running it by hand as well sends nothing more.

Prints one line per member reminded."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", metavar="SLUG", help="only this network (default: all)")
    parser.add_argument(
        "--dry-run", action="store_true", help="show who would be reminded, send nothing"
    )


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    network = None
    if options.get("network"):
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            raise CommandError(_("unknown network '%(slug)s'") % {"slug": options["network"][:60]})
    result = send_review_reminders(network=network, dry_run=options["dry_run"])
    for reminder in result.reminders:
        command.stdout.write(
            _("%(network)s %(member)s: %(overdue)d stale, %(due)d due soon → %(people)s")
            % {
                "network": reminder.member.network.slug,
                "member": reminder.member.code,
                "overdue": reminder.overdue,
                "due": reminder.due_soon,
                "people": ", ".join(u.email for u in reminder.recipients) or _("nobody"),
            }
        )
    if options["dry_run"]:
        summary = ngettext(
            "dry run: %(emails)d e-mail would be sent, nothing written",
            "dry run: %(emails)d e-mails would be sent, nothing written",
            result.emails,
        )
    else:
        summary = ngettext("%(emails)d e-mail queued", "%(emails)d e-mails queued", result.emails)
    command.stdout.write(summary % {"emails": result.emails})
