"""The permission matrix of the API: every operation by every kind of caller, statuses written out.

A new operation without a row here fails `test_matrix_covers_every_operation`.
"""

from __future__ import annotations

import pytest

from liaison.api.auth import ENDPOINT_PERMISSIONS, WRITE_ENDPOINTS
from liaison.api.urls import api

ROLES = (
    "anonymous",
    "outsider",
    "secretariat",
    "auditor",
    "coordinator_a",
    "officer_a",
    "coordinator_b",
    "officer_b",
)

# operation → (expected status per caller, in ROLES order)
MATRIX = {
    ("GET", "/api/v1/networks"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/networks/{slug}/contact-points"): (401, 404, 200, 403, 200, 200, 200, 200),
    ("GET", "/api/v1/networks/{slug}/contact-points/{id}"): (
        401,
        404,
        200,
        403,
        200,
        200,
        200,
        200,
    ),
    # The contact point is member A's: its coordinator and the Secretariat may change it.
    ("PATCH", "/api/v1/networks/{slug}/contact-points/{id}"): (
        401,
        404,
        200,
        403,
        200,
        403,
        403,
        403,
    ),
    ("GET", "/api/v1/networks/{slug}/members"): (401, 404, 200, 403, 200, 200, 200, 200),
    ("GET", "/api/v1/networks/{slug}/stats"): (401, 404, 200, 200, 403, 403, 403, 403),
    # Editions (edition 1, published by the world fixture): whoever reads the directory.
    ("GET", "/api/v1/networks/{slug}/editions"): (401, 404, 200, 403, 200, 200, 200, 200),
    ("GET", "/api/v1/networks/{slug}/editions/{number}"): (401, 404, 200, 403, 200, 200, 200, 200),
    ("GET", "/api/v1/networks/{slug}/editions/{a}/diff/{b}"): (
        401,
        404,
        200,
        403,
        200,
        200,
        200,
        200,
    ),
    # Member B's desks: reachable by the people of every member, not only B's.
    ("GET", "/api/v1/networks/{slug}/members/{code}/reach"): (
        401,
        404,
        200,
        403,
        200,
        200,
        200,
        200,
    ),
    # Ping tests: the list shows each caller its own member's figures only.
    ("GET", "/api/v1/networks/{slug}/pingtests"): (401, 404, 200, 403, 200, 200, 200, 200),
    # Starting one: the Secretariat, with a write token.
    ("POST", "/api/v1/networks/{slug}/pingtests"): (401, 404, 201, 403, 403, 403, 403, 403),
    # A test that probed member A only: member B's people learn nothing of it.
    ("GET", "/api/v1/networks/{slug}/pingtests/{id}/report"): (
        401,
        404,
        200,
        403,
        200,
        200,
        404,
        404,
    ),
}

CASES = [
    pytest.param(method, path, role, expected, id=f"{method} {path} {role}")
    for (method, path), statuses in MATRIX.items()
    for role, expected in zip(ROLES, statuses, strict=True)
]


def test_matrix_covers_every_operation():
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    assert operations == set(MATRIX)
    assert operations == set(ENDPOINT_PERMISSIONS)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation["x-permission"] == ENDPOINT_PERMISSIONS[(method.upper(), path)]
    assert set(WRITE_ENDPOINTS) == {
        ("PATCH", "/api/v1/networks/{slug}/contact-points/{id}"),
        ("POST", "/api/v1/networks/{slug}/pingtests"),
    }


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_permission_matrix(world, api_as, method, path, role, expected):
    user = None if role == "anonymous" else getattr(world, role)
    caller = api_as(user, write=method != "GET")
    ident = world.cp_a.public_id
    if "/pingtests/" in path:
        ident = _ping_test_of_member_a(world).public_id
    url = path.format(slug="budapest", id=ident, code=world.member_b.code, number=1, a=1, b=1)
    if method == "GET":
        response = caller.get(url)
    elif method == "POST":
        response = caller.post(url, {"channels": ["app"]})
    else:
        response = caller.patch(url, {"unit": "Night desk"})
    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("application/json")
    if expected not in (200, 201):
        assert set(response.json()) == {"detail"}


def _ping_test_of_member_a(world):
    from liaison.directory.exporting import console_access
    from liaison.reachability.services import start_ping_test

    return start_ping_test(None, console_access(world.network), channels=["app"], members=["FR"])


def test_outsider_and_unknown_network_look_the_same(world, api_as):
    outsider = api_as(world.outsider)
    secretariat = api_as(world.secretariat)
    for caller in (outsider, secretariat):
        for url in (
            "/api/v1/networks/no-such-network/contact-points",
            "/api/v1/networks/no-such-network/stats",
        ):
            response = caller.get(url)
            assert response.status_code == 404
            assert response.json() == {"detail": "not found"}
    assert outsider.get("/api/v1/networks/budapest/contact-points").json() == {
        "detail": "not found"
    }


def test_object_of_another_network_is_404(world, api_as):
    from tests.factories import ChannelFactory, ContactPointFactory, MemberFactory

    foreign = ContactPointFactory(member=MemberFactory(network=world.other_network, code="ES"))
    ChannelFactory(contact_point=foreign)
    caller = api_as(world.secretariat, write=True)
    url = f"/api/v1/networks/budapest/contact-points/{foreign.public_id}"
    assert caller.get(url).status_code == 404
    assert caller.patch(url, {"unit": "x"}).status_code == 404
    assert caller.get("/api/v1/networks/budapest/contact-points/cp_doesnotexist").status_code == 404


def test_networks_lists_only_the_callers_networks_with_roles(world, api_as):
    body = api_as(world.coordinator_a).get("/api/v1/networks").json()
    assert [n["slug"] for n in body] == ["budapest"]
    assert body[0]["roles"] == ["coordinator"]
    assert "directory.edit" in body[0]["permissions"]
    assert "stats.view" not in body[0]["permissions"]
    outsider = api_as(world.outsider).get("/api/v1/networks").json()
    assert [n["slug"] for n in outsider] == ["other"]


def test_read_only_token_cannot_patch(world, api_as):
    response = api_as(world.coordinator_a, write=False).patch(
        f"/api/v1/networks/budapest/contact-points/{world.cp_a.public_id}", {"unit": "x"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "this token is read-only"}
    world.cp_a.refresh_from_db()
    assert world.cp_a.unit != "x"
