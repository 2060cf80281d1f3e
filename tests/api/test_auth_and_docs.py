"""Bearer tokens (missing, malformed, unknown, expired, revoked), the schema and the docs page."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from liaison.accounts.models import ApiToken
from liaison.accounts.services import create_token, revoke_token
from liaison.core.middleware import CSP

LIST = "/api/v1/networks/budapest/contact-points"


def test_no_token_is_401(world, client):
    response = client.get(LIST)
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_session_is_not_enough(world, client):
    client.force_login(world.secretariat)
    assert client.get(LIST).status_code == 401


def test_bad_tokens_are_401(world, client):
    _token, raw = create_token(world.officer_a, world.officer_a)
    for header in (
        f"Token {raw}",
        "Bearer",
        "Bearer ",
        f"Bearer {raw}x",
        "Bearer lz_nope",
        f"Basic {raw}",
    ):
        response = client.get(LIST, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert raw not in response.content.decode()
    assert client.get(LIST, headers={"Authorization": f"bearer {raw}"}).status_code == 200


def test_expired_revoked_and_disabled_are_401(world, client):
    token, raw = create_token(world.officer_a, world.officer_a)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get(LIST, headers=headers).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(LIST, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid, expired or revoked token"}

    token, raw = create_token(world.officer_a, world.officer_a)
    revoke_token(world.officer_a, token)
    assert client.get(LIST, headers={"Authorization": f"Bearer {raw}"}).status_code == 401

    _token, raw = create_token(world.officer_b, world.officer_b)
    world.officer_b.is_active = False
    world.officer_b.save(update_fields=["is_active"])
    assert client.get(LIST, headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_auth_comes_before_parameter_validation(world, client):
    assert client.get(LIST, {"page_size": 500}).status_code == 401


def test_openapi_lists_every_operation(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    operations = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    assert operations == {
        ("GET", "/api/v1/networks"),
        ("GET", "/api/v1/networks/{slug}/members"),
        ("GET", "/api/v1/networks/{slug}/contact-points"),
        ("GET", "/api/v1/networks/{slug}/contact-points/{id}"),
        ("PATCH", "/api/v1/networks/{slug}/contact-points/{id}"),
        ("GET", "/api/v1/networks/{slug}/stats"),
        ("GET", "/api/v1/networks/{slug}/members/{code}/reach"),
        ("GET", "/api/v1/networks/{slug}/editions"),
        ("GET", "/api/v1/networks/{slug}/editions/{number}"),
        ("GET", "/api/v1/networks/{slug}/editions/{a}/diff/{b}"),
        ("GET", "/api/v1/networks/{slug}/pingtests"),
        ("POST", "/api/v1/networks/{slug}/pingtests"),
        ("GET", "/api/v1/networks/{slug}/pingtests/{id}/report"),
    }
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    patch = schema["paths"]["/api/v1/networks/{slug}/contact-points/{id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[1]
    fields = set(schema["components"]["schemas"][ref]["properties"])
    assert fields == {
        "type",
        "institution",
        "unit",
        "availability",
        "availability_exceptions",
        "timezone",
        "languages",
        "instructions",
        "pgp_key",
        "review_date",
        "channels",
    }


def test_docs_are_served_locally_under_the_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert response["Content-Security-Policy"] == CSP
    # Swagger UI from our own static files, no CDN (CSP script-src 'self', and no internet).
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "<script>" not in html  # only src= scripts and a JSON data block
    for asset in (
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
        "/static/ninja/swagger-ui.css",
    ):
        static = client.get(asset)
        assert static.status_code == 200, asset
