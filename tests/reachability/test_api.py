"""The ping-test API: start (Secretariat, write token), list, report — scoped per member."""

from __future__ import annotations

import datetime as dt

import pytest

from liaison.accounts.services import create_token
from liaison.audit.models import AuditEvent
from liaison.reachability import services
from liaison.reachability.models import PingTest
from tests.api.conftest import ApiClient
from tests.reachability.test_pages import probe_of, sent_token, start

pytestmark = pytest.mark.django_db
LIST = "/api/v1/networks/budapest/pingtests"


@pytest.fixture
def api_as(client):
    """api_as(user, write=False) → a JSON client with the user's personal token."""

    def make(user, *, write: bool = False) -> ApiClient:
        _token, raw = create_token(user, user, can_write=write, days=1)
        return ApiClient(client, raw)

    return make


def report_url(test: PingTest) -> str:
    return f"{LIST}/{test.public_id}/report"


def test_the_secretariat_starts_a_test(world, api_as):
    response = api_as(world.secretariat, write=True).post(
        LIST,
        {
            "channels": ["email", "manual"],
            "members": ["de"],
            "timing": "at",
            "starts_at": "2031-03-10T02:30:00+01:00",
            "reminder_after_hours": 1.5,
            "note": "Spring cycle",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    test = PingTest.objects.get(public_id=body["id"])
    assert body["probes"] == 1
    assert body["starts_at"] == "2031-03-10T01:30:00+00:00"
    assert (test.members, test.channels, test.note) == (["DE"], ["email", "manual"], "Spring cycle")
    assert test.reminder_after == dt.timedelta(minutes=90)
    assert AuditEvent.objects.filter(action="pingtest.start", actor=world.secretariat).exists()


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"channels": ["email", "pigeon"]}, ["body", "channels"], "unknown channels: pigeon"),
        (
            {"channels": ["app"], "members": ["FR", "XX"]},
            ["body", "members"],
            "unknown members: XX",
        ),
        ({"channels": ["app"], "types": ["navy"]}, ["body", "types"], "unknown types: navy"),
        ({"channels": []}, ["body", "channels"], None),
        ({"channels": ["app"], "timing": "soon"}, ["body", "timing"], "unknown timing 'soon'"),
        (
            {"channels": ["app"], "starts_at": "2031-03-10T02:30:00", "timing": "at"},
            ["body", "starts_at"],
            "must include a UTC offset",
        ),
        (
            {"channels": ["app"], "timing": "random", "starts_at": "2031-03-10T02:30:00Z"},
            ["body", "window_ends_at"],
            "a random window needs an end after its start",
        ),
        ({"channels": ["app"], "reminder_after_hours": 0}, ["body", "reminder_after_hours"], None),
        ({"channels": ["app"], "surprise": 1}, ["body", "surprise"], "unknown field"),
    ],
)
def test_bad_input_is_named_back_and_starts_nothing(world, api_as, body, loc, message):
    response = api_as(world.secretariat, write=True).post(LIST, body)
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc
    if message:
        assert message in detail[0]["msg"]
    assert not PingTest.objects.exists()


def test_only_the_secretariat_with_a_write_token_starts_a_test(world, api_as):
    response = api_as(world.secretariat, write=False).post(LIST, {"channels": ["app"]})
    assert (response.status_code, response.json()) == (403, {"detail": "this token is read-only"})
    for user in (world.coordinator_a, world.officer_a, world.auditor):
        assert api_as(user, write=True).post(LIST, {"channels": ["app"]}).status_code == 403
    assert api_as(world.outsider, write=True).post(LIST, {"channels": ["app"]}).status_code == 404
    assert not PingTest.objects.exists()


def test_the_list_shows_each_caller_its_own_figures(world, api_as):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    start(world, members=["FR"])
    body = api_as(world.secretariat).get(LIST).json()
    assert body["count"] == 2
    rows = {row["id"]: row for row in body["results"]}
    assert (rows[test.public_id]["probes"], rows[test.public_id]["acknowledged"]) == (2, 1)
    assert rows[test.public_id]["response_rate"] == 0.5
    body = api_as(world.officer_b).get(LIST).json()
    assert [(r["id"], r["probes"], r["acknowledged"]) for r in body["results"]] == [
        (test.public_id, 1, 0)
    ]
    body = api_as(world.officer_a).get(LIST, page_size=1).json()
    assert (body["count"], len(body["results"])) == (2, 1)


def test_the_report_holds_the_contract(world, api_as):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    response = api_as(world.secretariat).get(report_url(test))
    assert response.status_code == 200
    report = response.json()
    assert {
        "id",
        "network",
        "probes",
        "acknowledged",
        "response_rate",
        "median_seconds",
        "p90_seconds",
        "by_member",
    } <= set(report)
    assert (report["id"], report["network"]) == (test.public_id, "budapest")
    assert (report["probes"], report["acknowledged"], report["response_rate"]) == (2, 1, 0.5)
    assert report["by_member"]["FR"]["acknowledged"] == 1
    assert report["by_member"]["DE"] == report["by_member"]["DE"] | {"probes": 1, "acknowledged": 0}
    assert AuditEvent.objects.filter(action="pingtest.report_view").count() == 1


def test_a_member_reads_its_own_members_report_only(world, api_as):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    report = api_as(world.coordinator_b).get(report_url(test)).json()
    assert (report["probes"], report["acknowledged"]) == (1, 0)
    assert list(report["by_member"]) == ["DE"]
    assert "Police nationale" not in str(report)
    only_france = start(world, members=["FR"])
    response = api_as(world.coordinator_b).get(report_url(only_france))
    assert (response.status_code, response.json()) == (404, {"detail": "not found"})
    assert api_as(world.coordinator_b).get(f"{LIST}/pt_nosuchtest/report").status_code == 404


def test_the_anonymised_report_is_the_secretariats(world, api_as):
    test = start(world)
    report = api_as(world.secretariat).get(report_url(test), anonymised="true").json()
    assert report["anonymised"] is True
    assert "by_member" not in report
    assert "findings" not in report
    assert "FR" not in str(report)
    assert "DE" not in str(report)
    response = api_as(world.coordinator_a).get(report_url(test), anonymised="true")
    assert response.status_code == 403
