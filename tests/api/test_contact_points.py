"""Contact points over the API: filters, pages, reads, partial updates, errors and the audit."""

from __future__ import annotations

import pytest

from liaison.audit.models import AuditEvent
from liaison.directory.api import ContactPointDetailOut, ContactPointPage
from liaison.directory.models import ContactPoint
from liaison.directory.services import create_contact_point
from liaison.networks.queries import network_access
from tests.fixtures import publish

LIST = "/api/v1/networks/budapest/contact-points"


def detail_url(cp) -> str:
    return f"{LIST}/{cp.public_id}"


@pytest.fixture
def directory(world):
    """Two more contact points built by the service (so the derived rows exist): a Paris desk
    open on weekdays only and a Berlin prosecution desk open 24/7, speaking Spanish."""
    access = network_access(world.secretariat, "budapest")
    office = create_contact_point(
        world.secretariat,
        access,
        world.member_a,
        {
            "type": "police",
            "institution": "Office central",
            "unit": "Weekday desk",
            "availability": "Mon-Fri 09:00-17:00",
            "timezone": "Europe/Paris",
            "languages": "fr",
            "channels": [{"kind": "email", "value": "jour@police.fr.example"}],
        },
    )
    always = create_contact_point(
        world.secretariat,
        access,
        world.member_b,
        {
            "type": "prosecution",
            "institution": "Generalstaatsanwaltschaft",
            "unit": "Cyber",
            "availability": "24/7",
            "timezone": "Europe/Berlin",
            "languages": "de,es",
            "instructions": "Call first, then send the request by e-mail",
            "channels": [{"kind": "phone", "value": "+49 30 1234567"}],
        },
    )
    publish(world.network)
    return {"office": office, "always": always}


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def test_list_shape_matches_the_documented_schema(world, directory, api_as):
    response = api_as(world.officer_a).get(LIST)
    body = response.json()
    ContactPointPage.model_validate(body)  # the declared schema describes the real output
    assert body["count"] == 4
    assert body["page"] == 1
    assert body["page_size"] == 50
    first = next(item for item in body["results"] if item["id"] == world.cp_a.public_id)
    assert first["member"] == {"code": "FR", "name": "France", "status": "party"}
    assert first["channels"] == [
        {"kind": "phone", "value": "+33123456789", "notes": ""},
        {"kind": "email", "value": "cyber@police.fr.example", "notes": ""},
    ]
    assert first["languages"] == ["en", "fr"]
    assert first["available_now"] is True  # 24/7
    assert "pgp_key" not in first


def test_filters(world, directory, api_as):
    caller = api_as(world.officer_b)
    office, always = directory["office"].public_id, directory["always"].public_id
    assert ids(caller.get(LIST, member="DE")) == {world.cp_b.public_id, always}
    assert ids(caller.get(LIST, member=world.member_a.public_id)) == {world.cp_a.public_id, office}
    assert ids(caller.get(LIST, type="prosecution")) == {always}
    assert ids(caller.get(LIST, language="es")) == {always}
    assert ids(caller.get(LIST, language="FR")) == {world.cp_a.public_id, office}
    assert ids(caller.get(LIST, q="weekday")) == {office}
    assert ids(caller.get(LIST, q="germany")) == {world.cp_b.public_id, always}
    assert ids(caller.get(LIST, member="DE", type="police")) == {world.cp_b.public_id}


@pytest.mark.parametrize(
    ("at", "office_open"),
    [
        ("2025-06-07T12:00:00+02:00", False),  # a Saturday in Paris
        ("2025-06-04T10:30:00+02:00", True),  # a Wednesday morning in Paris
        ("2025-06-04T07:30:00Z", True),  # 09:30 in Paris (summer time)
        ("2025-06-04T06:30:00Z", False),  # 08:30 in Paris: not yet open
    ],
)
def test_available_at(world, directory, api_as, at, office_open):
    found = ids(api_as(world.officer_a).get(LIST, available_at=at))
    assert directory["always"].public_id in found
    assert (directory["office"].public_id in found) is office_open


def test_naive_available_at_is_a_clear_422(world, api_as):
    response = api_as(world.officer_a).get(LIST, available_at="2025-06-07T12:00:00")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "available_at"]
    assert "UTC offset" in error["msg"]
    garbage = api_as(world.officer_a).get(LIST, available_at="tomorrow")
    assert garbage.status_code == 422
    assert garbage.json()["detail"][0]["loc"] == ["query", "available_at"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 201}, "page_size"),
        ({"page_size": 500}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"type": "spy"}, "type"),
        ({"language": "french"}, "language"),
    ],
)
def test_bad_query_parameters_are_422(world, api_as, params, field):
    response = api_as(world.officer_a).get(LIST, **params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", field]
    assert detail[0]["msg"]


def test_pagination(world, directory, api_as):
    caller = api_as(world.officer_a)
    seen = []
    for page in (1, 2):
        body = caller.get(LIST, page=page, page_size=3).json()
        assert body["count"] == 4
        assert body["page_size"] == 3
        seen += [item["id"] for item in body["results"]]
    assert len(seen) == len(set(seen)) == 4
    past_the_end = caller.get(LIST, page=9, page_size=3).json()
    assert past_the_end["results"] == []
    assert past_the_end["count"] == 4
    assert caller.get(LIST, page_size=200).status_code == 200


def test_list_read_and_stats_are_audited(world, directory, api_as):
    caller = api_as(world.officer_a)
    caller.get(LIST, member="FR", q="desk")
    event = AuditEvent.objects.filter(action="api.contact_points.list").latest("seq")
    assert event.actor == world.officer_a
    assert event.network_slug == "budapest"
    assert event.via == "api"
    assert event.details == {"filters": {"member": "FR", "q": "desk"}, "page": 1, "count": 2}

    caller.get(detail_url(world.cp_b))
    event = AuditEvent.objects.filter(action="api.contact_point.read").latest("seq")
    assert (event.object_id, event.actor) == (world.cp_b.public_id, world.officer_a)

    caller.get("/api/v1/networks/budapest/members")
    assert AuditEvent.objects.filter(action="api.members.list", actor=world.officer_a).exists()
    api_as(world.auditor).get("/api/v1/networks/budapest/stats")
    assert AuditEvent.objects.filter(action="api.stats.read", actor=world.auditor).exists()


def test_refused_reads_are_not_audited_as_reads(world, api_as):
    api_as(world.auditor).get(LIST)
    api_as(world.outsider).get(LIST)
    assert not AuditEvent.objects.filter(action="api.contact_points.list").exists()


def test_read_one(world, api_as):
    response = api_as(world.officer_b).get(detail_url(world.cp_a))
    assert response.status_code == 200
    body = response.json()
    ContactPointDetailOut.model_validate(body)
    assert body["id"] == world.cp_a.public_id
    assert body["institution"] == "Police nationale"
    assert body["pgp_key"] == ""


# --- PATCH ---------------------------------------------------------------------------------


def test_coordinator_patches_own_contact_point(world, api_as):
    caller = api_as(world.coordinator_a, write=True)
    response = caller.patch(
        detail_url(world.cp_a),
        {
            "unit": "Night desk",
            "languages": "fr, en, de",
            "availability": "mon-fri 08:00-20:00",
            "channels": [{"kind": "phone", "value": "+33 1 40 00 00 00", "notes": "night"}],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["unit"] == "Night desk"
    assert body["languages"] == ["de", "en", "fr"]
    assert body["availability"] == "Mon-Fri 08:00-20:00"
    assert body["channels"] == [{"kind": "phone", "value": "+33140000000", "notes": "night"}]
    assert body["layer"] == "draft"
    # Readers keep the published edition until the Secretariat publishes the change.
    published = caller.get(detail_url(world.cp_a)).json()
    assert (published["unit"], published["layer"]) == ("Cybercrime desk", "published")
    cp = ContactPoint.objects.get(public_id=world.cp_a.public_id, layer="draft")
    assert (cp.unit, cp.languages, cp.updated_by) == ("Night desk", "de,en,fr", world.coordinator_a)
    assert list(cp.channels.values_list("value", flat=True)) == ["+33140000000"]
    assert cp.windows.count() == 5  # derived rows rewritten by the service
    event = AuditEvent.objects.filter(action="directory.contact_point.update").latest("seq")
    assert event.via == "api"
    assert "unit" in event.details["fields"]


def test_languages_as_a_list(world, api_as):
    response = api_as(world.coordinator_a, write=True).patch(
        detail_url(world.cp_a), {"languages": ["it", "EN"]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["languages"] == ["en", "it"]


def test_coordinator_cannot_patch_another_members_contact_point(world, api_as):
    response = api_as(world.coordinator_a, write=True).patch(
        detail_url(world.cp_b), {"unit": "Hijacked"}
    )
    assert response.status_code == 403
    world.cp_b.refresh_from_db()
    assert world.cp_b.unit != "Hijacked"


def test_invalid_phone_is_422_naming_the_channel(world, api_as):
    response = api_as(world.coordinator_a, write=True).patch(
        detail_url(world.cp_a), {"channels": [{"kind": "phone", "value": "12"}]}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "channels[0].value"]
    assert "phone" in detail[0]["msg"]
    assert world.cp_a.channels.count() == 2  # nothing written


def test_several_service_errors_are_all_reported(world, api_as):
    response = api_as(world.coordinator_a, write=True).patch(
        detail_url(world.cp_a), {"timezone": "Mars/Olympus", "type": "spy", "institution": ""}
    )
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert fields == {("body", "timezone"), ("body", "type"), ("body", "institution")}


def test_unknown_fields_are_422_naming_them(world, api_as):
    response = api_as(world.coordinator_a, write=True).patch(
        detail_url(world.cp_a), {"unit": "x", "colour": "blue", "member": "DE"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(e["loc"]) for e in detail} == {("body", "colour"), ("body", "member")}
    assert all(e["msg"] == "unknown field" for e in detail)
    world.cp_a.refresh_from_db()
    assert world.cp_a.unit != "x"


def test_malformed_bodies_are_422(world, api_as):
    caller = api_as(world.coordinator_a, write=True)
    url = detail_url(world.cp_a)
    nested = caller.patch(url, {"channels": [{"kind": "phone"}]})
    assert nested.status_code == 422
    assert nested.json()["detail"][0]["loc"] == ["body", "channels[0].value"]
    bad_date = caller.patch(url, {"review_date": "soon"})
    assert bad_date.status_code == 422
    assert bad_date.json()["detail"][0]["loc"] == ["body", "review_date"]
    empty = caller.patch(url, {})
    assert empty.status_code == 422
    not_json = caller.client.patch(
        url, "{", content_type="application/json", headers=caller.headers
    )
    assert not_json.status_code in (400, 422)
    assert "Traceback" not in not_json.content.decode()


# --- errors --------------------------------------------------------------------------------


def test_internal_errors_are_json_without_a_trace(world, api_as, monkeypatch):
    def explode(access):
        raise RuntimeError("secret internals: /etc/passwd")

    monkeypatch.setattr("liaison.reports.api.network_stats", explode)
    response = api_as(world.secretariat).get("/api/v1/networks/budapest/stats")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert b"secret internals" not in response.content


def test_list_items_and_detail_agree(world, directory, api_as):
    caller = api_as(world.officer_a)
    for item in caller.get(LIST).json()["results"]:
        detail = caller.get(f"{LIST}/{item['id']}").json()
        detail.pop("pgp_key")
        assert detail.pop("layer") == "published"
        assert detail == item


@pytest.mark.parametrize(
    ("availability", "exceptions", "at", "expected"),
    [
        ("Mon-Fri 09:00-17:00", "", "2025-06-04T10:00:00+02:00", True),
        ("Mon-Fri 09:00-17:00", "2025-06-04 closed", "2025-06-04T10:00:00+02:00", False),
        ("Mon-Fri 09:00-17:00", "2025-06-07 10:00-12:00", "2025-06-07T11:00:00+02:00", True),
        ("Mon-Fri 09:00-17:00", "", "2025-06-04T12:00:00-04:00", False),  # 18:00 in Paris
        ("24/7", "2025-12-25 closed", "2025-12-25T12:00:00+01:00", False),
        ("24/7", "", "2025-12-25T12:00:00+01:00", True),
        ("not a schedule", "", "2025-12-25T12:00:00+01:00", None),
    ],
)
def test_available_now_reads_the_stored_texts(availability, exceptions, at, expected):
    from datetime import datetime

    from liaison.directory.api import available_now

    assert available_now(availability, exceptions, "Europe/Paris", datetime.fromisoformat(at)) is (
        expected
    )
