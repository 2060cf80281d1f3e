"""GET /api/v1/networks/{slug}/members/{code}/reach: the "Reach now" question over the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from liaison.accounts.services import create_token
from liaison.audit.models import AuditEvent
from liaison.directory.reach_api import ReachOut
from tests.directory.test_reach import desk
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PATH = "/api/v1/networks/budapest/members/{code}/reach"


@pytest.fixture
def member(world):
    return MemberFactory(network=world.network, code="KI", name="Kiribati")


def get(client, user, code="KI", **params):
    headers = {}
    if user is not None:
        _token, raw = create_token(user, user, can_write=False, days=1)
        headers["Authorization"] = f"Bearer {raw}"
    return client.get(PATH.format(code=code), params, headers=headers)


def test_reach_across_the_date_line(world, member, client):
    desk(
        world,
        member,
        institution="Line Islands",
        timezone="Pacific/Kiritimati",
        availability="Mon-Fri 09:00-17:00",
        languages="en,fr",
        channels=[
            {"kind": "phone", "value": "+33123456789", "notes": "24/7 switchboard"},
            {"kind": "email", "value": "desk@ki.example"},
        ],
    )
    desk(
        world,
        member,
        institution="Honolulu",
        timezone="Pacific/Honolulu",
        availability="Mon-Fri 09:00-17:00",
        languages="en",
    )
    desk(world, member, institution="Tarawa", timezone="Pacific/Tarawa", languages="de")
    response = get(client, world.officer_a, at="2026-03-01T20:00:00Z", language="fr")
    assert response.status_code == 200, response.content
    data = response.json()
    ReachOut.model_validate(data)  # the documented shape
    assert data["member"] == {"code": "KI", "name": "Kiribati", "status": "party"}
    assert data["at"] == "2026-03-01T20:00:00+00:00"
    assert data["language"] == "fr"
    [line] = data["available"]
    assert line["institution"] == "Line Islands"
    assert line["local_time"] == "2026-03-02T10:00:00+14:00"
    assert line["utc_offset"] == "+14:00"
    assert line["shares_language"] is True
    assert line["channels"][0] == {
        "kind": "phone",
        "value": "+33123456789",
        "notes": "24/7 switchboard",
    }
    assert [cp["institution"] for cp in data["available_without_shared_language"]] == ["Tarawa"]
    [honolulu] = data["not_available"]
    assert honolulu["local_time"] == "2026-03-01T10:00:00-10:00"
    assert honolulu["next_available_at"] == "2026-03-02T19:00:00+00:00"
    assert honolulu["next_available_in_seconds"] == 23 * 3600
    assert data["next_available_at"] is None  # somebody is available


def test_nobody_available_gives_the_soonest_opening(world, member, client):
    desk(world, member, institution="Office", availability="Mon-Fri 08:00-18:00")
    desk(world, member, institution="Weekend", availability="Sat 09:00-12:00")
    # Friday 27 March 2026, 20:00 in Paris (UTC+01:00): the weekend desk opens first.
    response = get(client, world.officer_b, at="2026-03-27T20:00:00+01:00")
    data = response.json()
    assert data["available"] == data["available_without_shared_language"] == []
    assert [cp["institution"] for cp in data["not_available"]] == ["Weekend", "Office"]
    assert data["next_available_at"] == "2026-03-28T08:00:00+00:00"
    # Monday 08:00 is in summer time (UTC+02:00) after the weekend's change.
    assert data["not_available"][1]["next_available_at"] == "2026-03-30T06:00:00+00:00"


def test_default_is_now_and_any_language(world, member, client):
    desk(world, member, institution="Always")
    data = get(client, world.officer_a, code="ki").json()  # codes in any case
    assert data["language"] is None
    assert [cp["institution"] for cp in data["available"]] == ["Always"]
    assert data["available"][0]["shares_language"] is None


def test_audited(world, member, client):
    desk(world, member, institution="Always")
    get(client, world.coordinator_b, at="2026-06-01T12:00:00+02:00", language="EN")
    event = AuditEvent.objects.get(action="directory.reach")
    assert event.actor == world.coordinator_b
    assert event.via == "api"
    assert event.details == {
        "member": "KI",
        "at": "2026-06-01T10:00:00+00:00",
        "language": "en",
        "results": 1,
        "available": 1,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"at": "2026-06-01T12:00:00"}, "utc offset"),  # no offset: which noon?
        ({"at": "tomorrow"}, "datetime"),
        ({"language": "french"}, "pattern"),
    ],
)
def test_bad_input_is_422_with_a_reason(world, member, client, params, message):
    response = get(client, world.officer_a, **params)
    assert response.status_code == 422
    assert message in response.content.decode().lower()
    assert not AuditEvent.objects.filter(action="directory.reach").exists()


@pytest.mark.parametrize(
    ("user_key", "code", "status"),
    [
        ("officer_a", "KI", 200),
        ("officer_a", "DE", 200),  # any member of the network, not only one's own
        ("officer_b", "FR", 200),
        ("coordinator_a", "DE", 200),
        ("secretariat", "KI", 200),
        ("auditor", "KI", 403),  # reads the trail, not the directory
        ("outsider", "KI", 404),
        ("officer_a", "IT", 404),  # a member of another network
        ("officer_a", "ZZ", 404),
    ],
)
def test_permissions(world, member, client, user_key, code, status):
    response = get(client, getattr(world, user_key), code=code)
    assert response.status_code == status, response.content


def test_no_token_is_401(world, member, client):
    assert get(client, None).status_code == 401


def test_query_count_does_not_grow(world, member, client):
    _token, raw = create_token(world.officer_a, world.officer_a, can_write=False, days=1)
    headers = {"Authorization": f"Bearer {raw}"}

    def count() -> int:
        params = {"at": "2026-06-01T12:00:00Z"}
        client.get(PATH.format(code="KI"), params, headers=headers)  # warm-up
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(PATH.format(code="KI"), params, headers=headers)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    desk(world, member, institution="One", availability="Sat 10:00-11:00")
    few = count()
    for i in range(10):
        desk(
            world,
            member,
            institution=f"Desk {i}",
            timezone=("Asia/Tokyo", "America/Lima")[i % 2],
            availability=("24/7", "Mon 08:00-09:00")[i % 2],
            channels=[{"kind": "email", "value": f"d{i}@ki.example"}],
        )
    assert count() == few
