"""`liaison pingtest start|report|list`: happy paths and bad input named back."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.audit.models import AuditEvent
from liaison.networks.queries import resolve_access
from liaison.reachability import services
from liaison.reachability.models import PingTest, Probe

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("pingtest", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_start_prints_the_id_of_a_test_over_every_member(world):
    test_id = run("start", "--network", "budapest").strip()
    test = PingTest.objects.get(public_id=test_id)
    assert test.channels == ["email"]  # the default channel
    assert test.timing == "now"
    assert sorted(test.probes.values_list("member__code", flat=True)) == ["DE", "FR"]
    assert AuditEvent.objects.get(action="pingtest.start").actor_label == "system"


def test_start_with_every_option(world):
    test_id = run(
        "start",
        "--network",
        "budapest",
        "--channel",
        "email",
        "--channel",
        "manual",
        "--member",
        "fr",
        "--type",
        "police",
        "--at",
        "2031-01-06T00:00Z",
        "--random-until",
        "2031-01-08T00:00+01:00",
        "--off-hours",
        "--remind-after",
        "2",
        "--escalate-after",
        "6.5",
        "--ends",
        "2031-01-15T00:00",  # no zone: UTC
        "--note",
        "Winter cycle",
    ).strip()
    test = PingTest.objects.get(public_id=test_id)
    assert test.channels == ["email", "manual"]
    assert test.members == ["FR"]
    assert test.types == ["police"]
    assert test.timing == "random"
    assert test.off_hours is True
    assert test.starts_at == dt.datetime(2031, 1, 6, tzinfo=dt.UTC)
    assert test.window_ends_at == dt.datetime(2031, 1, 7, 23, 0, tzinfo=dt.UTC)
    assert test.ends_at == dt.datetime(2031, 1, 15, tzinfo=dt.UTC)
    assert test.reminder_after == dt.timedelta(hours=2)
    assert test.escalate_after == dt.timedelta(hours=6, minutes=30)
    assert test.note == "Winter cycle"
    assert list(test.probes.values_list("member__code", flat=True)) == ["FR"]


def test_start_at_a_set_time(world):
    test = PingTest.objects.get(
        public_id=run("start", "--network", "budapest", "--at", "2031-02-01T08:30Z").strip()
    )
    assert test.timing == "at"
    assert test.status == "scheduled"
    assert set(test.probes.values_list("scheduled_at", flat=True)) == {
        dt.datetime(2031, 2, 1, 8, 30, tzinfo=dt.UTC)
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--member", "FR", "--member", "XX"), "unknown members: XX"),
        (("--channel", "email", "--channel", "pigeon"), "unknown channels: pigeon"),
        (("--type", "navy"), "unknown types: navy"),
        (("--at", "tomorrow"), "'tomorrow' is not an ISO 8601 date and time"),
        (("--remind-after", "soon"), "'soon' is not a number of hours"),
        (("--off-hours",), "outside declared hours needs random times"),
    ],
)
def test_bad_start_input_is_named_back_and_nothing_is_created(world, args, message):
    with pytest.raises(CommandError, match=message):
        run("start", "--network", "budapest", *args)
    assert not PingTest.objects.exists()
    assert not Probe.objects.exists()


def test_bad_input_is_named_back_and_writes_nothing(world):
    # call_command, not execute_from_command_line: the latter closes the database connections
    # on exit (the test database's too, on PostgreSQL). `liaison` turns CommandError into a
    # message on stderr and exit status 1.
    with pytest.raises(CommandError, match="unknown members: XX"):
        run("start", "--network", "budapest", "--member", "XX", "--member", "FR")
    with pytest.raises(CommandError, match="unknown channels: pigeon"):
        run("start", "--network", "budapest", "--channel", "pigeon")
    # Every problem at once, not one per attempt.
    with pytest.raises(CommandError) as failed:
        run(
            "start",
            "--network",
            "budapest",
            "--member",
            "XX",
            "--channel",
            "pigeon",
            "--type",
            "navy",
        )
    message = str(failed.value)
    assert "unknown members: XX" in message
    assert "unknown channels: pigeon (expected: email, app, manual)" in message
    assert "unknown types: navy" in message
    assert not PingTest.objects.exists()


def test_unknown_network(world):
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        run("start", "--network", "nowhere")
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        run("list", "--network", "nowhere")


@pytest.fixture
def answered(world):
    """A manual test of FR and DE: FR answered in 120 s, DE silent."""
    test_id = run("start", "--network", "budapest", "--channel", "manual").strip()
    test = PingTest.objects.get(public_id=test_id)
    access = resolve_access(world.secretariat, world.network)
    services.log_manual_call(
        world.secretariat,
        access,
        test.probes.get(member__code="FR"),
        outcome="answered",
        seconds=120,
    )
    return test


def test_report_json_holds_the_contract(answered):
    report = json.loads(run("report", answered.public_id, "--format", "json"))
    assert report["id"] == answered.public_id
    assert report["network"] == "budapest"
    assert report["probes"] == 2
    assert report["acknowledged"] == 1
    assert report["response_rate"] == 0.5
    assert report["median_seconds"] == 120
    assert report["p90_seconds"] == 120
    assert report["by_member"]["FR"]["probes"] == 1
    assert report["by_member"]["FR"]["acknowledged"] == 1
    assert report["by_member"]["DE"]["acknowledged"] == 0
    assert report["pending"] == 1
    event = AuditEvent.objects.get(action="pingtest.report_view")
    assert event.object_id == answered.public_id


def test_report_text_is_readable(answered):
    text = run("report", answered.public_id, "--format", "text")
    assert f"Ping test {answered.public_id} — budapest" in text
    assert "50.0 %" in text
    assert "FR: 1 of 1 acknowledged (100.0 %), 0 failed, 0 expired, 0 pending, median 2 min" in (
        text
    )
    assert "DE: 0 of 1 acknowledged (0.0 %)" in text


def test_report_anonymised_names_no_member(answered):
    report = json.loads(run("report", answered.public_id, "--format", "json", "--anonymised"))
    assert "by_member" not in report
    assert report["member_distribution"]["all"] == 1
    assert report["member_distribution"]["none"] == 1


def test_report_pdf_and_xlsx_to_files_readable_by_the_owner_only(answered, tmp_path):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    pdf, xlsx = tmp_path / "r.pdf", tmp_path / "r.xlsx"
    run("report", answered.public_id, "--format", "pdf", "-o", str(pdf))
    run("report", answered.public_id, "--format", "xlsx", "-o", str(xlsx))
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "50.0 %" in text
    assert "RESTRICTED" in text
    assert load_workbook(xlsx)["By member"]["A2"].value == "DE"
    for path in (pdf, xlsx):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert AuditEvent.objects.filter(action="pingtest.report_export").count() == 2


def test_report_bad_input(answered):
    with pytest.raises(CommandError, match="unknown ping test 'pt_nope'"):
        run("report", "pt_nope", "--format", "json")
    with pytest.raises(CommandError, match=r"unknown format 'csv' \(expected one of: json"):
        run("report", answered.public_id, "--format", "csv")
    with pytest.raises(CommandError, match="binary format"):
        run("report", answered.public_id, "--format", "pdf")  # to a text stream


def test_list_shows_the_networks_tests(answered, world):
    assert run("list", "--network", "other").strip() == "No ping test in other."
    lines = run("list", "--network", "budapest").strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(answered.public_id)
    assert "1 of 2 acknowledged (50.0 %)" in lines[0]


def test_help_lists_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "liaison.cli", "help"], capture_output=True, text=True, check=True
    )
    assert "pingtest" in result.stdout
