"""`liaison directory publish --network SLUG [--note TEXT]`: the drafts become the next edition."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.core.errors import ServiceError
from liaison.delivery.models import Delivery
from liaison.directory.exporting import console_access
from liaison.directory.services import publish_edition
from liaison.networks.models import Network

NAME = "publish"
HELP = "publish the drafts of a network's directory as its next edition"
DESCRIPTION = """\
Publish the current drafts of a network's directory as the next numbered edition, and print
its number. The edition is immutable; it lists the members whose entries changed since the
previous one. The network's coordinators and duty officers are told by e-mail (a link, no
directory content) through the outbox: `liaison worker` sends the messages.

Exits non-zero, changing nothing, when no draft differs from the current edition."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, metavar="SLUG")
    parser.add_argument("--note", default="", metavar="TEXT", help="what this edition changes")


def run(command: BaseCommand, options: dict[str, Any]) -> None:
    network = Network.objects.filter(slug=options["network"]).first()
    if network is None:
        raise CommandError(_("unknown network '%(slug)s'") % {"slug": options["network"][:60]})
    try:
        edition = publish_edition(None, console_access(network), options["note"])
    except ServiceError as exc:
        raise CommandError(exc.message) from None
    notified = Delivery.objects.filter(
        kind="directory.edition.published", related_id=edition.public_id
    ).count()
    command.stdout.write(str(edition.number))
    members = len(edition.changed_members)
    parts = [
        _("Published edition %(number)d of %(network)s:")
        % {"number": edition.number, "network": network.slug},
        ngettext("%(n)d member changed,", "%(n)d members changed,", members) % {"n": members},
        ngettext("%(n)d contact point,", "%(n)d contact points,", edition.contact_point_count)
        % {"n": edition.contact_point_count},
        ngettext("%(n)d person to notify.", "%(n)d people to notify.", notified) % {"n": notified},
    ]
    command.stderr.write(
        " ".join(parts),
        style_func=lambda text: text,
    )
