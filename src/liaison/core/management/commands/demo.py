"""`liaison demo`: migrate, load the demo networks once, serve web + worker on LIAISON_ADDR.

Prints the address and the demo accounts with what it takes to pass the second factor: the TOTP
secret of each account, `liaison demo --totp EMAIL` for the current code, and recovery codes.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from liaison import config
from liaison.core import demo_data


class Command(BaseCommand):
    help = "Try Liaison: migrate, load the demo networks once, serve web + worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--totp",
            metavar="EMAIL",
            help="print the current 6-digit code of a demo account, and exit",
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="migrate, load the demo data and print the accounts, without serving",
        )

    def handle(self, *args, totp: str | None, no_serve: bool, **options) -> None:
        if totp is not None:
            self.print_code(totp)
            return
        out = self.stdout
        out.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        if demo_data.load_demo():
            out.write(
                f"Demo data loaded: networks {', '.join(demo_data.DEMO_SLUGS)} "
                "(fictional entries, real country names)."
            )
        else:
            out.write("demo data already loaded")
        self.print_accounts()
        if no_serve:
            return

        from liaison.core.management.commands.serve import run_server

        url = config.base_url()

        def ready() -> None:
            out.write(self.style.SUCCESS(f"\nLiaison demo ready: open {url}/  (Ctrl-C stops it)\n"))

        run_server(with_worker=True, on_ready=ready)

    def print_code(self, email: str) -> None:
        account = demo_data.demo_account(email)
        if account is None:
            known = ", ".join(a.email for a in demo_data.DEMO_ACCOUNTS)
            raise CommandError(f"{email!r} is not a demo account (demo accounts: {known})")
        code, seconds = demo_data.current_totp_code(account.totp_secret)
        self.stdout.write(code)
        self.stderr.write(f"valid for {seconds} more second(s)")

    def print_accounts(self) -> None:
        out = self.stdout
        url = config.base_url()
        out.write("")
        out.write(f"Sign in at {url}/accounts/login/ with a demo account (one per role).")
        out.write(f"Password of every demo account: {demo_data.DEMO_PASSWORD}")
        out.write(
            "Second factor: add the account's TOTP secret to an authenticator app, or run\n"
            "  liaison demo --totp EMAIL\n"
            "which prints the current 6-digit code. Each recovery code works once."
        )
        for account in demo_data.DEMO_ACCOUNTS:
            codes = demo_data.recovery_codes(account.email)
            out.write("")
            out.write(f"  {self.style.MIGRATE_HEADING(account.email)}")
            out.write(f"    roles:          {account.describe()}")
            out.write(f"    TOTP secret:    {account.totp_secret}")
            if codes:
                out.write(f"    recovery codes: {' '.join(codes)}")
