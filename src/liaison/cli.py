"""The `liaison` command: a thin front over Django management commands.

`liaison help` lists Liaison's own commands; any other Django command (migrate, shell…) passes
through unchanged.
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "demo": "migrate, load the demo networks once, start web + worker",
    "serve": "serve the web application (granian) [--workers N] [--with-worker]",
    "worker": "run the background worker [--until-idle]",
    "network": "network create SLUG --name NAME",
    "directory": "directory import|publish|diff|export|verify|remind-stale …",
    "user": "user add EMAIL --network SLUG --role ROLE [--member CODE] …",
    "token": "token create EMAIL [--write] [--days N]",
    "report": "report stats --network SLUG --format json|text",
    "audit": "audit verify [--checkpoint] | checkpoint | key | export --network SLUG",
    "delivery": "delivery status [--network SLUG] | retry ID…  (the outbox of e-mails)",
    "pingtest": "pingtest start --network SLUG … | report ID --format json|text|pdf|xlsx | list",
    "inbound": "inbound [--listen HOST:PORT] [--lmtp]  (replies to and bounces of ping tests)",
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: liaison COMMAND [ARGS…]", "", "Commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "Django's own commands (migrate, shell, …) also work.",
        "`liaison COMMAND --help` explains one command.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"help", "-h", "--help"}:
        if len(argv) > 1:
            argv = [argv[1], "--help"]
        else:
            print(_usage())
            return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")
    from liaison.config import ConfigError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["liaison", *argv])
    except ConfigError as exc:
        print(f"liaison: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
