"""`liaison directory diff --network SLUG A B [--format json|text]` on real editions."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.audit.models import AuditEvent
from tests.directory.editions_helpers import publish_two_more

pytestmark = pytest.mark.django_db


def diff(*args: str) -> str:
    out = io.StringIO()
    call_command("directory", "diff", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ids(world):
    return publish_two_more(world)


def test_text_diff_member_by_member(world, ids):
    text = diff("--network", "budapest", "1", "2")
    lines = text.splitlines()
    assert lines[0] == (
        "Changes from edition 1 to edition 2: 2 members; contact points: 1 edited, 1 added, "
        "0 removed."
    )
    assert "DE Germany: 1 added" in lines
    assert f"  + {ids['added']} Landeskriminalamt" in lines
    assert "FR France: 1 edited" in lines
    assert (
        f"  ~ {ids['fr']} Police nationale — Night desk: unit: 'Cybercrime desk' → 'Night desk'"
        in lines
    )
    assert lines.index("DE Germany: 1 added") < lines.index("FR France: 1 edited")


def test_removed_and_backwards(world, ids):
    text = diff("--network", "budapest", "2", "3")
    assert "DE Germany: 1 removed" in text
    assert f"  - {ids['de']} Bundeskriminalamt" in text
    backwards = diff("--network", "budapest", "3", "1")
    assert "Changes from edition 3 to edition 1" in backwards
    assert f"  + {ids['de']} Bundeskriminalamt" in backwards
    assert f"  - {ids['added']} Landeskriminalamt" in backwards


def test_json_diff(world, ids):
    data = json.loads(diff("--network", "budapest", "1", "3", "--format", "json"))
    assert data["format"] == "liaison-directory-diff/1"
    assert (data["from_edition"], data["to_edition"]) == (1, 3)
    assert data["changed_members"] == ["DE", "FR"]
    de, fr = data["members"]
    assert [(c["id"], c["change"]) for c in de["contact_points"]] == [
        (ids["added"], "added"),
        (ids["de"], "removed"),
    ]
    (edited,) = fr["contact_points"]
    assert edited["fields"] == [{"field": "unit", "old": "Cybercrime desk", "new": "Night desk"}]
    assert edited["new"]["channels"][0] == {
        "kind": "phone",
        "value": "+33123456789",
        "notes": "",
    }


def test_same_edition_is_an_empty_diff(world, ids):
    assert diff("--network", "budapest", "2", "2") == "No change from edition 2 to edition 2.\n"
    data = json.loads(diff("--network", "budapest", "2", "2", "--format", "json"))
    assert data["members"] == []


def test_every_diff_is_audited(world, ids):
    before = AuditEvent.objects.filter(action="directory.diff").count()
    diff("--network", "budapest", "1", "2")
    event = AuditEvent.objects.filter(action="directory.diff").latest("seq")
    assert AuditEvent.objects.filter(action="directory.diff").count() == before + 1
    assert event.details["from"] == 1
    assert event.details["to"] == 2
    assert event.network_slug == "budapest"
    assert event.actor_id is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("7", "9"), "unknown editions: 7, 9 (this network has editions 1–3)"),  # noqa: RUF001
        (("1", "9"), "unknown edition: 9 (this network has editions 1–3)"),  # noqa: RUF001
        (("0", "2"), "unknown edition: 0 (this network has editions 1–3)"),  # noqa: RUF001
        (("99999999999999999999", "1"), "unknown edition: 99999999999999999999"),
        (("two", "3"), "'two' is not an edition number"),
        (("1", "-2"), "is not an edition number"),
    ],
)
def test_bad_input_says_what_is_wrong(world, ids, args, message):
    with pytest.raises(CommandError) as exc:
        diff("--network", "budapest", *args)
    assert message in str(exc.value)


def test_unknown_network_and_no_editions(world):
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        diff("--network", "nowhere", "1", "2")
    with pytest.raises(CommandError) as exc:
        diff("--network", "other", "1", "2")
    assert "unknown editions: 1, 2 (no edition of this directory has been published yet)" in str(
        exc.value
    )
    with pytest.raises(CommandError) as exc:
        diff("--network", "budapest", "1", "2")
    assert "unknown edition: 2 (this network has only edition 1)" in str(exc.value)


def test_bad_format_is_refused(world):
    with pytest.raises(CommandError, match="invalid choice"):
        diff("--network", "budapest", "1", "1", "--format", "xml")
