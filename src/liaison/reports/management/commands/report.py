"""`liaison report stats --network SLUG --format json|text`: the Secretariat's figures."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liaison.networks.models import Network
from liaison.reports.queries import consult_network_stats
from liaison.reports.text import stats_as_text


class Command(BaseCommand):
    help = "Reports on a network (statistics)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        stats = sub.add_parser(
            "stats", help="members and contact points, as the Secretariat counts"
        )
        stats.add_argument("--network", required=True, metavar="SLUG")
        stats.add_argument("--format", choices=["json", "text"], default="text")

    def handle(self, *args, **options) -> None:
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            raise CommandError(f"unknown network '{options['network']}'")
        # Whoever runs the command controls the deployment; the consultation is still audited.
        stats = consult_network_stats(None, network)
        if options["format"] == "json":
            self.stdout.write(json.dumps(stats, indent=2))
        else:
            self.stdout.write(stats_as_text(stats, network_name=network.name))
