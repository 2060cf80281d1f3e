"""`liaison network create|list|add-member`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.audit.models import AuditEvent
from liaison.networks.models import Member, Network

pytestmark = pytest.mark.django_db


def test_create_then_create_again_is_a_clear_error(capsys):
    call_command(
        "network",
        "create",
        "budapest",
        "--name",
        "Budapest 24/7 Network",
        "--legal-basis",
        "ETS No. 185, Art. 35",
    )
    assert "created network budapest" in capsys.readouterr().out
    network = Network.objects.get(slug="budapest")
    assert network.legal_basis == "ETS No. 185, Art. 35"
    assert AuditEvent.objects.filter(action="network.create", via="cli").count() == 1
    with pytest.raises(CommandError) as info:
        call_command("network", "create", "budapest", "--name", "Again")
    assert str(info.value) == "a network with the slug 'budapest' already exists"
    assert Network.objects.count() == 1


def test_create_with_a_bad_slug():
    with pytest.raises(CommandError, match="invalid slug 'Budapest 247'"):
        call_command("network", "create", "Budapest 247", "--name", "X")


def test_create_parties_only():
    call_command("network", "create", "t-cy", "--name", "T-CY directory", "--parties-only")
    assert Network.objects.get(slug="t-cy").observers_see_directory is False


def test_list(capsys):
    call_command("network", "list")
    assert "no networks yet" in capsys.readouterr().out
    call_command("network", "create", "budapest", "--name", "Budapest 24/7 Network")
    call_command(
        "network", "add-member", "budapest", "--code", "FR", "--kind", "state", "--status", "party"
    )
    capsys.readouterr()
    call_command("network", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SLUG", "MEMBERS", "NAME"]
    assert lines[1].split()[:2] == ["budapest", "1"]


def test_add_member(capsys):
    call_command("network", "create", "budapest", "--name", "Budapest")
    call_command(
        "network",
        "add-member",
        "budapest",
        "--code",
        "FR",
        "--name",
        "France",
        "--kind",
        "state",
        "--status",
        "party",
        "--since",
        "2006-01-01",
    )
    assert "added FR (France) to budapest as party since 2006-01-01" in capsys.readouterr().out
    member = Member.objects.get(code="FR")
    assert member.status_changes.get().effective_on.isoformat() == "2006-01-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "--code", "FR"], "unknown network 'nowhere'"),
        (["budapest", "--code", "XX"], "unknown country code 'XX'"),
        (["budapest", "--code", "FR", "--since", "yesterday"], "invalid date 'yesterday'"),
    ],
)
def test_add_member_errors(args, message):
    call_command("network", "create", "budapest", "--name", "Budapest")
    with pytest.raises(CommandError, match=message):
        call_command("network", "add-member", *args, "--kind", "state", "--status", "party")
    assert not Member.objects.exists()
