"""`liaison delivery status [--network SLUG] [--format text|json]` and `liaison delivery retry ID…`.

`status` prints how many outbox rows are in each state and lists the ones that could not be
delivered, with their last error — never a message's body. Whoever runs the command controls
the deployment; reading recipients' addresses is still audited.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.delivery.kinds import kind_label
from liaison.delivery.models import STATE_FILTERS, Delivery, DeliveryState
from liaison.delivery.queries import LIST_COLUMNS
from liaison.delivery.services import retry_delivery
from liaison.networks.models import Network

DEAD_LISTED = 200


class Command(BaseCommand):
    help = "The outbox: what was sent, what is waiting, what could not be delivered."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        status = sub.add_parser(
            "status", help="counts per status, and the messages that could not be delivered"
        )
        status.add_argument("--network", metavar="SLUG", help="one network (default: all)")
        status.add_argument("--format", choices=["text", "json"], default="text")
        retry = sub.add_parser(
            "retry", help="send messages that could not be delivered (or are waiting) again now"
        )
        retry.add_argument("ids", nargs="+", metavar="ID", help="a delivery's id (dl_…)")

    def handle(self, *args, **options) -> None:
        if options["action"] == "status":
            self._status(options["network"], options["format"])
        else:
            self._retry(options["ids"])

    def _status(self, slug: str | None, fmt: str) -> None:
        rows = Delivery.objects.all()
        network = None
        if slug:
            network = Network.objects.filter(slug=slug).first()
            if network is None:
                raise CommandError(f"unknown network '{slug}'")
            rows = rows.filter(network=network)
        totals = rows.aggregate(
            **{state.value: Count("id", filter=STATE_FILTERS[state]) for state in DeliveryState}
        )
        counts = {state.value: totals[state.value] or 0 for state in DeliveryState}
        dead = list(
            rows.filter(STATE_FILTERS[DeliveryState.DEAD])
            .select_related("network")
            .only(*LIST_COLUMNS, "network__slug")
            .order_by("-created_at", "-id")[:DEAD_LISTED]
        )
        with transaction.atomic():
            record_event(
                None,
                "delivery.status",
                network=network,
                details={"network": slug or "*", "dead_listed": len(dead)},
            )
        if fmt == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "network": slug,
                        "counts": counts,
                        "dead": [
                            {
                                "id": d.public_id,
                                "network": d.network.slug if d.network else None,
                                "kind": d.kind,
                                "recipient": d.recipient,
                                "subject": d.subject,
                                "attempts": d.attempts,
                                "created_at": d.created_at.isoformat(),
                                "last_error": d.last_error,
                            }
                            for d in dead
                        ],
                    },
                    indent=2,
                )
            )
            return
        title = f"Deliveries of {slug}" if slug else "Deliveries (all networks)"
        self.stdout.write(title)
        width = max(len(str(state.label)) for state in DeliveryState)
        for state in DeliveryState:
            self.stdout.write(f"  {str(state.label).ljust(width)}  {counts[state.value]:>7}")
        if not dead:
            self.stdout.write("Every message was delivered or is on its way.")
            return
        self.stdout.write("")
        self.stdout.write(f"Not delivered ({counts[DeliveryState.DEAD]}):")
        for d in dead:
            where = f" [{d.network.slug}]" if d.network and not slug else ""
            self.stdout.write(
                f"  {d.public_id}{where}  {d.created_at:%Y-%m-%d %H:%M} UTC  "
                f"{kind_label(d.kind)} to {d.recipient}  after {d.attempts} attempt(s): "
                f"{d.last_error or '(no error recorded)'}"
            )
        if counts[DeliveryState.DEAD] > len(dead):
            self.stdout.write(f"  … and {counts[DeliveryState.DEAD] - len(dead)} more")
        self.stdout.write("Send one again with `liaison delivery retry ID`.")

    def _retry(self, ids: list[str]) -> None:
        problems = []
        for public_id in ids:
            delivery = Delivery.objects.filter(public_id=public_id).only("id").first()
            if delivery is None:
                problems.append(f"{public_id}: no such delivery")
                continue
            try:
                retry_delivery(None, None, delivery)
            except ServiceError as exc:
                problems.append(f"{public_id}: {exc.message}")
            else:
                self.stdout.write(f"{public_id}: will be sent again")
        if problems:
            raise CommandError("\n".join(problems))
