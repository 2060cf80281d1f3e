"""`liaison directory import|export …`: the directory from a shell.

Each action lives in its own module under directory/management/actions/ (NAME, HELP,
add_arguments, run); adding one (publish, diff, verify…) means adding a module to ACTIONS.
"""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandParser

from liaison.directory.management.actions import ACTIONS


class Command(BaseCommand):
    help = "Import and export a network's directory (`liaison directory ACTION --help`)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action in ACTIONS:
            action.add_arguments(
                sub.add_parser(
                    action.NAME,
                    help=action.HELP,
                    description=action.DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                )
            )

    def handle(self, *args, **options) -> None:
        by_name = {action.NAME: action for action in ACTIONS}
        by_name[options["action"]].run(self, options)
