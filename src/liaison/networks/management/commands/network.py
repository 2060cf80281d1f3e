"""`liaison network create|list|add-member`: set up networks and their members from a shell."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from liaison.core.errors import ServiceError
from liaison.networks import services
from liaison.networks.models import MemberKind, MemberStatus, Network


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"invalid date '{value}': use YYYY-MM-DD") from exc


class Command(BaseCommand):
    help = "Create and list networks, add members to them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = sub.add_parser("create", help="create a network")
        create.add_argument("slug", metavar="SLUG", help="short name used in URLs, e.g. budapest")
        create.add_argument("--name", required=True, help="full name of the network")
        create.add_argument("--legal-basis", default="", help="e.g. 'ETS No. 185, Art. 35'")
        create.add_argument("--description", default="")
        create.add_argument("--secretariat-name", default="", help="body that runs the network")
        create.add_argument(
            "--parties-only",
            action="store_true",
            help="observers do not see the directory",
        )
        create.add_argument(
            "--justification-required",
            action="store_true",
            help="exports require a justification",
        )

        sub.add_parser("list", help="list the networks")

        add = sub.add_parser("add-member", help="add a state or organisation to a network")
        add.add_argument("slug", metavar="SLUG")
        add.add_argument("--code", required=True, help="ISO 3166-1 alpha-2 code, or e.g. EU")
        add.add_argument("--name", default="", help="default for states: the country's name")
        add.add_argument("--kind", required=True, choices=MemberKind.values)
        add.add_argument("--status", required=True, choices=MemberStatus.values)
        add.add_argument("--since", type=_date, default=None, help="YYYY-MM-DD (default today)")

    def handle(self, *args, **options) -> None:
        handler = {
            "create": self._create,
            "list": self._list,
            "add-member": self._add_member,
        }[options["action"]]
        try:
            handler(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, options) -> None:
        network = services.create_network(
            None,
            options["slug"],
            options["name"],
            legal_basis=options["legal_basis"],
            description=options["description"],
            secretariat_name=options["secretariat_name"],
            observers_see_directory=not options["parties_only"],
            justification_required=options["justification_required"],
        )
        self.stdout.write(f"created network {network.slug} ({network.name})")

    def _list(self, options) -> None:
        networks = Network.objects.annotate(member_count=Count("members", distinct=True)).order_by(
            "slug"
        )
        rows = [(n.slug, str(n.member_count), n.name) for n in networks]
        if not rows:
            self.stdout.write("no networks yet: liaison network create SLUG --name NAME")
            return
        header = ("SLUG", "MEMBERS", "NAME")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
        for slug, count, name in [header, *rows]:
            self.stdout.write(f"{slug.ljust(widths[0])}  {count.rjust(widths[1])}  {name}")

    def _add_member(self, options) -> None:
        network = Network.objects.filter(slug=options["slug"]).first()
        if network is None:
            raise CommandError(f"unknown network '{options['slug']}'")
        member = services.add_member(
            None,
            network,
            code=options["code"],
            name=options["name"],
            kind=options["kind"],
            status=options["status"],
            status_since=options["since"],
        )
        self.stdout.write(
            f"added {member.code} ({member.name}) to {network.slug} as {member.status} "
            f"since {member.status_since.isoformat()}"
        )
