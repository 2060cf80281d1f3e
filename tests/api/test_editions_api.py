"""Editions over the API: the list, one edition's metadata, the diff of two; 404s; audit."""

from __future__ import annotations

import pytest

from liaison.audit.models import AuditEvent
from liaison.directory.editions_api import DiffOut, EditionOut, EditionPage
from liaison.directory.models import Edition
from tests.directory.editions_helpers import publish_two_more

BASE = "/api/v1/networks/budapest/editions"


@pytest.fixture
def ids(world):
    return publish_two_more(world)


def test_list_newest_first(world, ids, api_as):
    response = api_as(world.officer_b).get(BASE)
    assert response.status_code == 200, response.content
    data = response.json()
    EditionPage.model_validate(data)
    assert data["count"] == 3
    assert [e["number"] for e in data["results"]] == [3, 2, 1]
    assert [e["current"] for e in data["results"]] == [True, False, False]
    second = data["results"][1]
    assert second["note"] == "Second edition"
    assert second["changed_members"] == ["DE", "FR"]
    assert second["contact_point_count"] == 3
    assert second["published_by"] is None  # published from the console
    edition = Edition.objects.get(network=world.network, number=2)
    assert second["id"] == edition.public_id
    assert second["content_sha256"] == edition.content_sha256
    page = api_as(world.officer_b).get(BASE, page=2, page_size=2).json()
    assert [e["number"] for e in page["results"]] == [1]
    assert page["results"][0]["current"] is False
    assert AuditEvent.objects.filter(action="directory.editions", actor=world.officer_b).exists()


def test_one_edition(world, ids, api_as):
    response = api_as(world.coordinator_a).get(f"{BASE}/3")
    assert response.status_code == 200, response.content
    data = response.json()
    EditionOut.model_validate(data)
    assert data["number"] == 3
    assert data["current"] is True
    assert data["changed_members"] == ["DE"]
    event = AuditEvent.objects.filter(action="directory.edition").latest("seq")
    assert event.details == {"number": 3}
    assert event.via == "api"


def test_diff(world, ids, api_as):
    response = api_as(world.officer_a).get(f"{BASE}/1/diff/3")
    assert response.status_code == 200, response.content
    data = response.json()
    DiffOut.model_validate(data)
    assert (data["from_edition"], data["to_edition"]) == (1, 3)
    assert data["changed_members"] == ["DE", "FR"]
    de, fr = data["members"]
    assert [(c["id"], c["change"]) for c in de["contact_points"]] == [
        (ids["added"], "added"),
        (ids["de"], "removed"),
    ]
    assert fr["contact_points"][0]["fields"] == [
        {"field": "unit", "old": "Cybercrime desk", "new": "Night desk"}
    ]
    event = AuditEvent.objects.filter(action="directory.diff").latest("seq")
    assert (event.details["from"], event.details["to"], event.via) == (1, 3, "api")
    same = api_as(world.officer_a).get(f"{BASE}/2/diff/2").json()
    assert same["members"] == []


def test_unknown_editions_are_404_naming_them(world, ids, api_as):
    api = api_as(world.officer_a)
    response = api.get(f"{BASE}/7/diff/9")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown editions: 7, 9 (this network has editions 1–3)"}  # noqa: RUF001
    response = api.get(f"{BASE}/2/diff/9")
    assert response.json()["detail"] == "unknown edition: 9 (this network has editions 1–3)"  # noqa: RUF001
    response = api.get(f"{BASE}/4")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("unknown edition: 4")
    assert api.get(f"{BASE}/-1").status_code == 404
    assert api.get(f"{BASE}/{10**30}").status_code == 404
    assert api.get(f"{BASE}/two").status_code == 422


def test_permissions(world, ids, api_as):
    assert api_as(None).get(BASE).status_code == 401
    assert api_as(world.outsider).get(f"{BASE}/1").status_code == 404
    assert api_as(world.auditor).get(f"{BASE}/1/diff/2").status_code == 403
    # The outsider's network has no edition, and what it has is not the outsider's business here.
    assert api_as(world.outsider).get("/api/v1/networks/budapest/editions").status_code == 404
