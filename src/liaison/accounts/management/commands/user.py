"""`liaison user add|list`: create accounts and give them roles from a shell.

    liaison user add EMAIL --network SLUG --role secretariat|coordinator|officer|auditor
                     [--member CODE] [--password P] [--totp-secret BASE32] [--name NAME]

`--password -` (and `--totp-secret -`) read the value from standard input, so that it does not
show in the process list or the shell history.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liaison.accounts import services
from liaison.accounts.models import User
from liaison.core.errors import ServiceError
from liaison.core.permissions import MEMBER_ROLES, Role
from liaison.networks.models import Member, Network, RoleAssignment


def _secret(value: str | None, what: str) -> str | None:
    if value != "-":
        return value
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CommandError(f"{what}: nothing on standard input")
    return line


class Command(BaseCommand):
    help = "Create accounts and give them roles in a network."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        add = sub.add_parser(
            "add",
            help="create an account (or reuse it) and give it a role",
            description="Create an account, or reuse the existing one with this e-mail "
            "address, and give it a role in a network. Re-adding a role the person already "
            "holds is an error.",
        )
        add.add_argument("email", metavar="EMAIL")
        add.add_argument("--network", required=True, metavar="SLUG")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument(
            "--member", metavar="CODE", help="member code; required for coordinator and officer"
        )
        add.add_argument(
            "--password",
            metavar="P",
            help="initial password of a new account ('-' reads it from standard input); "
            "without it the person sets one through 'forgotten password'",
        )
        add.add_argument(
            "--totp-secret",
            metavar="BASE32",
            help="enrol an authenticator app with this base32 secret (at least 16 characters; "
            "'-' reads it from standard input)",
        )
        add.add_argument("--name", default="", metavar="NAME", help="the person's full name")

        lst = sub.add_parser("list", help="list the people holding a role in a network")
        lst.add_argument("--network", required=True, metavar="SLUG")

    def handle(self, *args, **options) -> None:
        handler = {"add": self._add, "list": self._list}[options["action"]]
        try:
            handler(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _network(self, slug: str) -> Network:
        network = Network.objects.filter(slug=slug).first()
        if network is None:
            raise CommandError(f"unknown network '{slug}'")
        return network

    def _add(self, options) -> None:
        network = self._network(options["network"])
        role = options["role"]
        code = options["member"]
        member = None
        if role in MEMBER_ROLES:
            if not code:
                raise CommandError(f"--member is required for role {role}")
            member = Member.objects.filter(network=network, code=code.strip().upper()).first()
            if member is None:
                raise CommandError(f"member '{code}' not found in network '{network.slug}'")
        elif code:
            raise CommandError(
                f"--member is not used for role {role} (it acts for the whole network)"
            )
        existed = User.objects.filter(email=options["email"].strip().lower()).exists()
        user = services.create_user(
            None,
            options["email"],
            network=network,
            role=role,
            member=member,
            password=_secret(options["password"], "--password"),
            totp_secret=_secret(options["totp_secret"], "--totp-secret"),
            full_name=options["name"],
        )
        where = f"{role} for {member.code}" if member else role
        verb = "added role" if existed else "created user"
        line = f"{verb} {user.email}: {where} in {network.slug}"
        if options["totp_secret"]:
            line += "; authenticator app enrolled"
        elif not existed:
            line += "; a second factor will be set up at first sign-in"
        self.stdout.write(line)

    def _list(self, options) -> None:
        network = self._network(options["network"])
        rows = [
            (ra.user.email, ra.role, ra.member.code if ra.member else "-", ra.user.full_name)
            for ra in RoleAssignment.objects.filter(network=network)
            .select_related("user", "member")
            .order_by("user__email", "role")
        ]
        if not rows:
            self.stdout.write(f"nobody holds a role in {network.slug} yet")
            return
        header = ("EMAIL", "ROLE", "MEMBER", "NAME")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        for row in [header, *rows]:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            self.stdout.write("  ".join([*cells, row[3]]).rstrip())
