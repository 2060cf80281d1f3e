"""`liaison report stats --network SLUG --format json|text`."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.audit.models import AuditEvent
from liaison.cli import main
from tests.factories import MemberFactory, NetworkFactory, PublishedContactPointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def network():
    network = NetworkFactory(slug="budapest", name="Budapest 24/7 Network")
    fr = MemberFactory(network=network, code="FR", status="party")
    de = MemberFactory(network=network, code="DE", status="party")
    MemberFactory(network=network, code="JP", status="observer")
    PublishedContactPointFactory(member=fr, type="police")
    for kind in ("police", "prosecution", "ministry_of_justice"):
        PublishedContactPointFactory(member=de, type=kind)
    return network


def test_json_is_exactly_the_dict(network, capsys):
    call_command("report", "stats", "--network", "budapest", "--format", "json")
    out = capsys.readouterr().out
    data = json.loads(out)
    assert out.startswith('{\n  "network": "budapest",\n  "members": {\n    "total": 3,')
    assert data["members"] == {
        "total": 3,
        "by_status": {"party": 2, "observer": 1, "non_party": 0},
        "by_kind": {"state": 3, "organisation": 0},
    }
    assert data["members_with_contact_points"] == 2
    assert data["members_with_multiple_contact_points"] == 1
    assert data["contact_points"] == {
        "total": 4,
        "by_type": {
            "police": 2,
            "security_service": 0,
            "prosecution": 1,
            "ministry_of_justice": 1,
            "cybersecurity": 0,
            "other": 0,
        },
    }
    event = AuditEvent.objects.get(action="stats.view")
    assert (event.via, event.actor_label, event.network_slug) == ("cli", "system", "budapest")


def test_text_reads_like_the_secretariat_slides(network, capsys):
    call_command("report", "stats", "--network", "budapest", "--format", "text")
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == "Budapest 24/7 Network (budapest)"
    for expected in (
        "Members: 3",
        "Parties: 2",
        "Observers: 1",
        "Parties with contact points: 2",
        "Parties with more than 1 contact point: 1",
        "Types of contact point: 4",
        "Police: 2",
        "Security services: 0",
        "Prosecution: 1",
        "Ministry of Justice: 1",
        "Cybersecurity: 0",
    ):
        assert expected in lines


def test_unknown_network_is_a_clear_error():
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        call_command("report", "stats", "--network", "nowhere", "--format", "json")


def test_exit_codes_of_the_liaison_front(capsys, monkeypatch):
    """Through `liaison` itself: clear one-line errors and a non-zero exit, no traceback."""
    # A management command closes every connection when it ends; on PostgreSQL that would close
    # the test's own transaction-wrapped connection.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    main(["network", "create", "budapest", "--name", "Budapest"])
    with pytest.raises(SystemExit) as again:
        main(["network", "create", "budapest", "--name", "Budapest"])
    assert again.value.code != 0
    err = capsys.readouterr().err
    assert err.strip() == "CommandError: a network with the slug 'budapest' already exists"
    with pytest.raises(SystemExit) as missing:
        main(["report", "stats", "--network", "nowhere", "--format", "json"])
    assert missing.value.code != 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "CommandError: unknown network 'nowhere'"
    assert captured.out == ""
    main(["report", "stats", "--network", "budapest", "--format", "json"])
    assert json.loads(capsys.readouterr().out)["members"]["total"] == 0
