"""Members (paginated like contact points) and the statistics (exactly the contract's dict)."""

from __future__ import annotations

from liaison.reports.queries import network_stats
from tests.factories import MemberFactory

MEMBERS = "/api/v1/networks/budapest/members"


def test_members_page(world, api_as):
    MemberFactory(
        network=world.network,
        code="EU",
        name="European Union",
        kind="organisation",
        status="observer",
    )
    caller = api_as(world.officer_a)
    body = caller.get(MEMBERS).json()
    assert body["count"] == 3
    assert body["page_size"] == 50
    by_code = {m["code"]: m for m in body["results"]}
    assert by_code["FR"]["contact_points"] == 1
    assert by_code["EU"] == {
        "id": by_code["EU"]["id"],
        "code": "EU",
        "name": "European Union",
        "kind": "organisation",
        "status": "observer",
        "status_since": None,
        "contact_points": 0,
    }
    assert by_code["EU"]["id"].startswith("mb_")
    assert [m["code"] for m in caller.get(MEMBERS, status="observer").json()["results"]] == ["EU"]
    assert caller.get(MEMBERS, kind="state").json()["count"] == 2
    assert caller.get(MEMBERS, q="germ").json()["results"][0]["code"] == "DE"
    second = caller.get(MEMBERS, page=2, page_size=2).json()
    assert (second["count"], len(second["results"])) == (3, 1)
    assert caller.get(MEMBERS, page_size=201).status_code == 422
    assert caller.get(MEMBERS, status="enemy").status_code == 422


def test_stats_are_exactly_the_report(world, api_as):
    response = api_as(world.auditor).get("/api/v1/networks/budapest/stats")
    assert response.status_code == 200
    body = response.json()
    assert body == network_stats(world.network)
    assert body["network"] == "budapest"
    assert body["members"]["total"] == 2
    assert body["contact_points"]["by_type"]["police"] == 2
