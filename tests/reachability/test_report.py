"""Ping-test report figures, checked against figures computed by hand; scoping; PDF and XLSX."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import statistics
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied

from liaison.audit.models import AuditEvent
from liaison.directory.exporting import console_access
from liaison.networks.queries import resolve_access
from liaison.reachability import services
from liaison.reachability.models import Probe, ProbeStatus
from liaison.reachability.report import (
    anonymised,
    compute_report,
    consult_report,
    median,
    member_distribution,
    percentile,
    report_for,
    trend,
)
from liaison.reachability.report_export import as_text, duration, export_report
from tests.factories import ContactPointFactory
from tests.fixtures import publish

NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday


# --- percentiles -------------------------------------------------------------------------------
# Linear interpolation between closest ranks: sorted x[0..n-1], h = (n - 1)·q,
# value = x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]).


def test_percentile_of_nothing_is_null():
    assert median([]) is None
    assert percentile([], 0.9) is None


def test_percentile_of_one_value_is_that_value():
    assert median([42]) == 42
    assert percentile([42], 0.9) == 42
    assert percentile([42], 0) == 42


def test_percentile_of_an_odd_count():
    # [10, 20, 40]: median h = 2·0.5 = 1 → 20; p90 h = 2·0.9 = 1.8 → 20 + 0.8·(40-20) = 36.
    assert median([40, 10, 20]) == 20
    assert percentile([40, 10, 20], 0.9) == 36


def test_percentile_of_an_even_count():
    # [30, 90, 600, 3600]: median h = 3·0.5 = 1.5 → 90 + 0.5·(600-90) = 345;
    # p90 h = 3·0.9 = 2.7 → 600 + 0.7·(3600-600) = 2700 (exactly, not 2700.0000000000005).
    assert median([3600, 30, 600, 90]) == 345
    assert percentile([3600, 30, 600, 90], 0.9) == 2700
    assert percentile([30, 90], 0.5) == 60


def test_percentile_matches_the_inclusive_method_of_the_standard_library():
    rng = random.Random(7)
    for _ in range(200):
        values = [rng.randint(0, 100_000) for _ in range(rng.randint(2, 40))]
        p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
        assert percentile(values, 0.9) == pytest.approx(p90, abs=0.051)
        assert median(values) == pytest.approx(statistics.median(values), abs=0.051)


def test_percentile_refuses_a_quantile_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1, 2], 1.5)


# --- figures over constructed probes ---------------------------------------------------------


def row(code, status, *, seconds=None, via="", type_="police", in_hours=True, failure=""):
    return SimpleNamespace(
        member_code=code,
        status=status,
        seconds_to_confirm=seconds,
        confirmed_via=via,
        contact_point_type=type_,
        in_hours=in_hours,
        contact_point_id=f"cp_{code}_{status}_{seconds}",
        institution=f"Institution {code}",
        unit="",
        failure=failure,
    )


SEVEN = [
    # FR: 4 probes — 2 confirmed (30 s link, 90 s reply), 1 bounce, 1 still pending.
    row("FR", "confirmed", seconds=30, via="link", in_hours=True),
    row("FR", "confirmed", seconds=90, via="reply", in_hours=False),
    row("FR", "failed", type_="prosecution", failure="550 mailbox unknown (bounce)"),
    row("FR", "sent", in_hours=False),
    # DE: 3 probes — 2 confirmed (600 s in Liaison, 3600 s by phone), 1 expired.
    row("DE", "confirmed", seconds=600, via="app", in_hours=True),
    row("DE", "confirmed", seconds=3600, via="manual", type_="cybersecurity", in_hours=False),
    row("DE", "expired", in_hours=True),
]


def fake_test(**overrides):
    fields = {
        "public_id": "pt_hand",
        "network": SimpleNamespace(slug="budapest"),
        "status": "closed",
        "timing": "now",
        "channels": ["email", "app", "manual"],
        "members": [],
        "types": [],
        "off_hours": False,
        "starts_at": NOW,
        "window_ends_at": None,
        "ends_at": NOW + dt.timedelta(days=7),
        "created_at": NOW,
        "note": "",
    }
    return SimpleNamespace(**(fields | overrides))


def test_figures_of_seven_probes_computed_by_hand():
    report = compute_report(fake_test(), SEVEN)
    # Contract keys.
    assert report["id"] == "pt_hand"
    assert report["network"] == "budapest"
    assert report["probes"] == 7
    assert report["acknowledged"] == 4
    assert report["failed"] == 1
    assert report["expired"] == 1
    assert report["pending"] == 1
    # 4 of 7: failed probes count in the denominator (a wrong address is a finding).
    assert report["response_rate"] == pytest.approx(4 / 7)
    # Seconds [30, 90, 600, 3600]: median 345, p90 2700 (see test_percentile_of_an_even_count).
    assert report["median_seconds"] == 345
    assert report["p90_seconds"] == 2700
    assert report["by_status"] == {
        "scheduled": 0,
        "sent": 1,
        "failed": 1,
        "confirmed": 4,
        "expired": 1,
    }
    # FR: 2 of 4, median of [30, 90] = 60. DE: 2 of 3, median of [600, 3600] = 2100.
    assert list(report["by_member"]) == ["DE", "FR"]
    assert report["by_member"]["FR"] == {
        "probes": 4,
        "acknowledged": 2,
        "response_rate": 0.5,
        "median_seconds": 60,
        "failed": 1,
        "expired": 0,
        "pending": 1,
    }
    assert report["by_member"]["DE"]["probes"] == 3
    assert report["by_member"]["DE"]["acknowledged"] == 2
    assert report["by_member"]["DE"]["response_rate"] == pytest.approx(2 / 3)
    assert report["by_member"]["DE"]["median_seconds"] == 2100
    assert report["by_member"]["DE"]["expired"] == 1
    # Police: 5 probes (FR 30, FR 90, FR pending, DE 600, DE expired), 3 confirmed,
    # median of [30, 90, 600] = 90; prosecution: the bounce; cybersecurity: the call.
    assert report["by_type"]["police"]["probes"] == 5
    assert report["by_type"]["police"]["acknowledged"] == 3
    assert report["by_type"]["police"]["response_rate"] == pytest.approx(3 / 5)
    assert report["by_type"]["police"]["median_seconds"] == 90
    assert report["by_type"]["police"]["members"] == 2
    assert report["by_type"]["prosecution"]["failed"] == 1
    assert report["by_type"]["prosecution"]["median_seconds"] is None
    assert report["by_type"]["cybersecurity"]["median_seconds"] == 3600
    # One confirmation through each channel: a quarter each.
    assert {via: c["acknowledged"] for via, c in report["by_channel"].items()} == {
        "link": 1,
        "reply": 1,
        "app": 1,
        "manual": 1,
    }
    assert report["by_channel"]["reply"]["share"] == 0.25
    assert report["by_channel"]["manual"]["median_seconds"] == 3600
    # In hours: FR 30, FR bounce, DE 600, DE expired → 2 of 4, median of [30, 600] = 315.
    # Off hours: FR 90, FR pending, DE 3600 → 2 of 3, median of [90, 3600] = 1845.
    assert report["in_hours"] == {
        "probes": 4,
        "acknowledged": 2,
        "response_rate": 0.5,
        "median_seconds": 315,
    }
    assert report["off_hours"]["probes"] == 3
    assert report["off_hours"]["response_rate"] == pytest.approx(2 / 3)
    assert report["off_hours"]["median_seconds"] == 1845
    assert report["hours_unknown"]["probes"] == 0
    assert report["findings"] == [
        {
            "member": "FR",
            "contact_point": "cp_FR_failed_None",
            "type": "prosecution",
            "institution": "Institution FR",
            "unit": "",
            "failure": "550 mailbox unknown (bounce)",
        }
    ]
    json.dumps(report)  # serialisable as the CLI prints it


def test_a_link_fetched_but_not_confirmed_is_not_acknowledged():
    # A probe whose link a mail scanner fetched stays "sent": no deliberate act, no count.
    report = compute_report(fake_test(), [row("FR", "sent"), row("FR", "confirmed", seconds=5)])
    assert report["acknowledged"] == 1
    assert report["response_rate"] == 0.5


def test_no_probe_gives_zeros_and_nulls():
    report = compute_report(fake_test(), [])
    assert report["probes"] == 0
    assert report["response_rate"] == 0.0
    assert report["median_seconds"] is None
    assert report["p90_seconds"] is None
    assert report["by_member"] == {}
    assert report["in_hours"]["response_rate"] == 0.0


def test_trend_is_oldest_first_with_each_tests_figures():
    older = fake_test(public_id="pt_old", starts_at=NOW - dt.timedelta(days=90))
    newer = fake_test(public_id="pt_new", starts_at=NOW)
    probes = {"pt_old": SEVEN[:2], "pt_new": SEVEN}
    rows = trend([newer, older], lambda test: probes[test.public_id])
    assert [r["id"] for r in rows] == ["pt_old", "pt_new"]
    assert rows[0]["probes"] == 2
    assert rows[0]["response_rate"] == 1.0
    assert rows[0]["median_seconds"] == 60  # [30, 90]
    assert rows[1]["response_rate"] == pytest.approx(4 / 7)
    assert rows[1]["median_seconds"] == 345
    assert rows[1]["started"] == NOW.isoformat()


def test_member_distribution_buckets_are_disjoint():
    by_member = {
        "AA": {"probes": 2, "acknowledged": 2},  # 100 %
        "BB": {"probes": 2, "acknowledged": 1},  # 50 %
        "CC": {"probes": 3, "acknowledged": 2},  # 67 %
        "DD": {"probes": 3, "acknowledged": 1},  # 33 %
        "EE": {"probes": 2, "acknowledged": 0},  # 0 %
        "FF": {"probes": 0, "acknowledged": 0},  # not probed: not counted
    }
    assert member_distribution(by_member) == {
        "members": 5,
        "all": 1,
        "half_or_more": 2,
        "under_half": 1,
        "none": 1,
    }


def test_anonymised_report_names_no_member():
    report = compute_report(fake_test(members=["FR", "DE"], note="FR first"), SEVEN)
    shared = anonymised(report)
    text = json.dumps(shared)
    assert "FR" not in text
    assert "DE" not in text
    assert "by_member" not in shared
    assert "findings" not in shared
    assert shared["member_distribution"] == {
        "members": 2,
        "all": 0,
        "half_or_more": 2,
        "under_half": 0,
        "none": 0,
    }
    # The same totals; types covered by fewer than three members are left out.
    assert shared["response_rate"] == report["response_rate"]
    assert shared["median_seconds"] == 345
    assert shared["by_type"] == {}
    assert shared["suppressed_types"] == 3


def test_text_report_has_summary_and_member_lines():
    text = as_text(compute_report(fake_test(), SEVEN))
    assert "57.1 %" in text
    assert "5 min 45 s" in text  # median 345 s
    assert "45 min" in text  # p90 2700 s
    assert "FR: 2 of 4 acknowledged (50.0 %), 1 failed, 0 expired, 1 pending" in text
    assert "DE: 2 of 3 acknowledged (66.7 %), 0 failed, 1 expired, 0 pending" in text
    assert "550 mailbox unknown (bounce)" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (30, "30 s"), (345, "5 min 45 s"), (2700, "45 min"), (5400, "1 h 30 min")],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert duration(seconds) == text


# --- over the database: scoping, audit, exports --------------------------------------------------


@pytest.fixture
def scenario(world):
    """The seven probes of SEVEN, made through the services: FR has 4 contact points, DE 3."""
    for type_ in ("police", "prosecution", "police"):
        ContactPointFactory(member=world.member_a, type=type_)
    for type_ in ("cybersecurity", "police"):
        ContactPointFactory(member=world.member_b, type=type_)
    publish(world.network, "more contact points")
    access = console_access(world.network)
    test = services.start_ping_test(None, access, channels=["manual"], now=NOW)
    probes = {code: list(test.probes.filter(member__code=code)) for code in ("FR", "DE")}
    later = NOW + dt.timedelta(hours=2)
    fr, de = probes["FR"], probes["DE"]
    for probe, seconds in ((fr[0], 30), (fr[1], 90), (de[0], 600), (de[1], 3600)):
        services.log_manual_call(
            world.secretariat,
            resolve_access(world.secretariat, world.network),
            probe,
            outcome="answered",
            seconds=seconds,
            now=later,
        )
    services.log_manual_call(
        world.secretariat,
        resolve_access(world.secretariat, world.network),
        fr[2],
        outcome="wrong_number",
        seconds=20,
        now=later,
    )
    # Expiry is the follow-up sweep's job (tested there); here only its outcome matters.
    Probe.objects.filter(pk=de[2].pk).update(status=ProbeStatus.EXPIRED)
    # fr[3] stays scheduled: pending.
    return test


def test_secretariat_report_over_the_database_matches_the_hand_computed_figures(world, scenario):
    access = resolve_access(world.secretariat, world.network)
    report = consult_report(world.secretariat, access, scenario)
    assert report["scope"] == "network"
    assert (report["probes"], report["acknowledged"], report["failed"]) == (7, 4, 1)
    assert (report["expired"], report["pending"]) == (1, 1)
    assert report["response_rate"] == pytest.approx(4 / 7)
    assert report["median_seconds"] == 345
    assert report["p90_seconds"] == 2700
    assert report["by_member"]["FR"]["median_seconds"] == 60
    assert report["by_member"]["DE"]["median_seconds"] == 2100
    assert report["by_channel"]["manual"]["acknowledged"] == 4
    assert report["findings"][0]["failure"] == "wrong number"
    assert [row["id"] for row in report["trend"]] == [scenario.public_id]
    event = AuditEvent.objects.get(action="pingtest.report_view")
    assert event.details["scope"] == "network"
    assert event.actor_label == "sec@coe.example"


def test_coordinator_and_officer_see_only_their_own_member(world, scenario):
    for user, code, other, probes in (
        (world.coordinator_a, "FR", "DE", 4),
        (world.officer_b, "DE", "FR", 3),
    ):
        report = consult_report(user, resolve_access(user, world.network), scenario)
        assert report["scope"] == "own_member"
        assert list(report["by_member"]) == [code]
        assert other not in json.dumps(report["findings"])
        assert report["probes"] == probes
        assert report["trend"][0]["probes"] == probes
    fr = report_for(resolve_access(world.coordinator_a, world.network), scenario)
    assert fr["median_seconds"] == 60
    assert fr["response_rate"] == 0.5


def test_who_may_not_read_a_report(world, scenario):
    auditor = resolve_access(world.auditor, world.network)
    with pytest.raises(PermissionDenied):
        consult_report(world.auditor, auditor, scenario)
    coordinator = resolve_access(world.coordinator_a, world.network)
    with pytest.raises(PermissionDenied):  # the anonymised whole is the Secretariat's to share
        consult_report(world.coordinator_a, coordinator, scenario, anonymise=True)
    with pytest.raises(PermissionDenied):
        export_report(world.auditor, auditor, scenario, "pdf")
    assert not AuditEvent.objects.filter(action__startswith="pingtest.report").exists()


def pdf_pages(content: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdf_holds_the_figures_and_is_marked_restricted_on_every_page(world, scenario):
    access = resolve_access(world.secretariat, world.network)
    export = export_report(world.secretariat, access, scenario, "pdf")
    assert export.content.startswith(b"%PDF")
    assert export.filename == f"budapest-ping-test-{scenario.public_id}.pdf"
    pages = pdf_pages(export.content)
    text = "\n".join(pages)
    for page in pages:
        assert "RESTRICTED" in page
    assert "Confidential — Secretariat" in text
    assert "57.1 %" in text  # 4 of 7
    assert "5 min 45 s" in text  # median 345 s
    assert "45 min" in text  # p90 2700 s
    assert "1 h" in text  # DE's median of 2100 s → 35 min; the call of 3600 s → 1 h
    assert "wrong number" in text
    assert "Trend across tests" in text
    event = AuditEvent.objects.get(action="pingtest.report_export")
    assert event.details == {
        "format": "pdf",
        "mark": export.mark,
        "scope": "network",
        "probes": 7,
        "anonymised": False,
    }
    assert export.mark in text  # the stamp naming who made the copy


def test_xlsx_reads_back(world, scenario):
    from openpyxl import load_workbook

    access = resolve_access(world.secretariat, world.network)
    export = export_report(world.secretariat, access, scenario, "xlsx")
    book = load_workbook(io.BytesIO(export.content))
    assert book.sheetnames == ["Summary", "By member", "Probes"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Probes"] == 7
    assert summary["Acknowledged"] == 4
    assert summary["Response rate"] == pytest.approx(4 / 7)
    assert summary["Median seconds to confirm"] == 345
    assert summary["90th percentile seconds to confirm"] == 2700
    members = list(book["By member"].iter_rows(values_only=True))
    assert members[0][:3] == ("Member", "Probes", "Acknowledged")
    assert [(m[0], m[1], m[2], m[7]) for m in members[1:]] == [
        ("DE", 3, 2, 2100),
        ("FR", 4, 2, 60),
    ]
    probes = list(book["Probes"].iter_rows(values_only=True))
    header = probes[0]
    assert len(probes) == 8
    seconds = sorted(
        r[header.index("Seconds to confirm")]
        for r in probes[1:]
        if r[header.index("Seconds to confirm")] is not None
    )
    assert seconds == [30, 90, 600, 3600]
    assert "Email" not in " ".join(str(h) for h in header)  # no contact details
    assert book.properties.keywords == f"liaison-mark={export.mark}"


def test_a_coordinators_export_covers_its_own_member_only(world, scenario):
    from openpyxl import load_workbook

    access = resolve_access(world.coordinator_a, world.network)
    export = export_report(world.coordinator_a, access, scenario, "xlsx")
    book = load_workbook(io.BytesIO(export.content))
    members = [r[0] for r in book["By member"].iter_rows(min_row=2, values_only=True)]
    assert members == ["FR"]
    assert {r[1] for r in book["Probes"].iter_rows(min_row=2, values_only=True)} == {"FR"}
    text = "\n".join(pdf_pages(export_report(world.coordinator_a, access, scenario, "pdf").content))
    assert "your own member only" in text
    assert "Germany" not in text


def test_anonymised_exports_name_no_member(world, scenario):
    from openpyxl import load_workbook

    access = resolve_access(world.secretariat, world.network)
    export = export_report(world.secretariat, access, scenario, "xlsx", anonymise=True)
    book = load_workbook(io.BytesIO(export.content))
    assert book.sheetnames == ["Summary", "By member"]
    cells = [str(v) for sheet in book for r in sheet.iter_rows(values_only=True) for v in r if v]
    assert "FR" not in cells
    assert "DE" not in cells
    text = "\n".join(
        pdf_pages(export_report(world.secretariat, access, scenario, "pdf", anonymise=True).content)
    )
    assert "Anonymised aggregate" in text
    assert "Answered at least half" in text
    # Findings name contact points: not in what the network is shown.
    assert "Findings" not in text
    assert "Police nationale" not in text
