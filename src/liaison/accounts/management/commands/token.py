"""`liaison token create|list|revoke`: personal API tokens from a shell.

    liaison token create EMAIL [--write] [--days N] [--name NAME]

`create` prints only the token on standard output, so that a script can capture it:
    TOKEN=$(liaison token create me@agency.example --days 30)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liaison.accounts import services
from liaison.accounts.models import ApiToken, User
from liaison.core.errors import ServiceError


class Command(BaseCommand):
    help = "Create, list and revoke personal API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = sub.add_parser(
            "create", help="create a token and print it (the only time it is shown)"
        )
        create.add_argument("email", metavar="EMAIL")
        create.add_argument("--write", action="store_true", help="allow changes (default: read)")
        create.add_argument(
            "--days", type=int, default=90, metavar="N", help="validity, 1 to 365 (default 90)"
        )
        create.add_argument("--name", default="", help="what the token is for")

        lst = sub.add_parser("list", help="list a person's tokens (never the tokens themselves)")
        lst.add_argument("email", metavar="EMAIL")

        revoke = sub.add_parser("revoke", help="revoke a token by its id (tk_…)")
        revoke.add_argument("token_id", metavar="ID")

    def handle(self, *args, **options) -> None:
        handler = {"create": self._create, "list": self._list, "revoke": self._revoke}[
            options["action"]
        ]
        try:
            handler(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _user(self, email: str) -> User:
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"unknown user '{email}'")
        return user

    def _create(self, options) -> None:
        user = self._user(options["email"])
        days = options["days"]
        if not 1 <= days <= services.TOKEN_DAYS_MAX:
            raise CommandError(
                f"--days must be between 1 and {services.TOKEN_DAYS_MAX}, got {days}"
            )
        _token, raw = services.create_token(
            None, user, can_write=options["write"], days=days, name=options["name"]
        )
        self.stdout.write(raw)

    def _list(self, options) -> None:
        user = self._user(options["email"])
        tokens = list(ApiToken.objects.filter(user=user).order_by("-created_at"))
        if not tokens:
            self.stdout.write(f"{user.email} has no tokens")
            return
        for t in tokens:
            access = "write" if t.can_write else "read"
            self.stdout.write(
                f"{t.public_id}  {t.prefix}…  {access:5}  {t.state:7}  "
                f"expires {t.expires_at:%Y-%m-%d}  {t.name}".rstrip()
            )

    def _revoke(self, options) -> None:
        token = ApiToken.objects.filter(public_id=options["token_id"]).first()
        if token is None:
            raise CommandError(f"unknown token '{options['token_id']}'")
        services.revoke_token(None, token)
        self.stdout.write(f"revoked {token.public_id}")
