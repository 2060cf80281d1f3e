"""`liaison delivery status [--network SLUG]` and `liaison delivery retry ID…`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from liaison.audit.models import AuditEvent
from liaison.cli import COMMANDS
from liaison.delivery.models import DeliveryStatus
from tests.delivery.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("delivery", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def outbox(world):
    DeliveryFactory.create_batch(2, network=world.network)
    DeliveryFactory(network=world.network, sent=True)
    DeliveryFactory(network=world.network, retrying=True)
    dead = DeliveryFactory(
        network=world.network,
        dead=True,
        kind="account.invitation",
        recipient="gone@fr.example",
        body_text="Open https://liaison.example/invitations/s3cr3t/",
    )
    DeliveryFactory(network=world.other_network, dead=True, recipient="x@it.example")
    return dead


def test_status_of_one_network_counts_and_lists_the_dead(outbox):
    text = run("status", "--network", "budapest")
    assert "Deliveries of budapest" in text
    lines = {line.split("  ")[1].strip(): line.split()[-1] for line in text.splitlines()[1:6]}
    assert lines == {
        "Pending": "2",
        "Failed, will retry": "1",
        "Sending": "0",
        "Sent": "1",
        "Not delivered": "1",
    }
    assert "Not delivered (1):" in text
    assert outbox.public_id in text
    assert "Invitation to gone@fr.example" in text
    assert "SMTPRecipientsRefused [550]" in text
    assert "x@it.example" not in text
    assert "s3cr3t" not in text
    (event,) = AuditEvent.objects.filter(action="delivery.status")
    assert event.network_slug == "budapest"
    assert event.actor_label == "system"


def test_status_of_all_networks_as_json(outbox):
    data = json.loads(run("status", "--format", "json"))
    assert data["counts"]["dead"] == 2
    assert data["counts"]["pending"] == 2
    assert {d["recipient"] for d in data["dead"]} == {"gone@fr.example", "x@it.example"}
    assert {d["network"] for d in data["dead"]} == {"budapest", "other"}
    assert "s3cr3t" not in json.dumps(data)


def test_status_when_all_is_well(world):
    DeliveryFactory(network=world.network, sent=True)
    text = run("status", "--network", "budapest")
    assert "Every message was delivered or is on its way." in text


def test_unknown_network_is_named(world):
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        run("status", "--network", "nowhere")


def test_retry_from_the_command_line(outbox, world):
    sent = DeliveryFactory(network=world.network, sent=True)
    with pytest.raises(CommandError) as excinfo:
        run("retry", outbox.public_id, sent.public_id, "dl_nothing")
    message = str(excinfo.value)
    assert f"{sent.public_id}: this message has already been delivered" in message
    assert "dl_nothing: no such delivery" in message
    outbox.refresh_from_db()
    assert outbox.status == DeliveryStatus.PENDING
    (event,) = AuditEvent.objects.filter(action="delivery.retry")
    assert event.actor_label == "system"
    assert event.via == "cli"


def test_registered_in_liaison_help():
    assert "delivery" in COMMANDS
