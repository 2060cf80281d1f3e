"""The permission matrix, generated from the URL configuration and the OpenAPI document.

Every web view and every API operation must declare a permission (deny by default). For each one
that is network-scoped, every kind of caller is tried — anonymous, outsider, each role, own
member's object and another member's — and the answer is checked against ROLE_PERMS
(core/permissions.py), the single table the code enforces. A new view or endpoint is covered
without editing this file; one that declares nothing fails the first two tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from liaison.api.auth import ENDPOINT_PERMISSIONS, PUBLIC, TOKEN_ONLY, WRITE_ENDPOINTS
from liaison.core.permissions import ROLE_PERMS, Perm
from liaison.core.views import PERMISSION_ATTR

# Patterns whose views come from libraries that carry their own access rules (allauth's login,
# MFA and password pages; Django's static serving) — they are exercised by the account tests.
EXTERNAL_MODULES = ("allauth.", "django.views.static", "django.contrib.staticfiles", "ninja.")

ROLES_OF = {
    "secretariat": "secretariat",
    "auditor": "auditor",
    "coordinator_a": "coordinator",
    "officer_a": "officer",
    "coordinator_b": "coordinator",
    "officer_b": "officer",
}
# Permissions whose object-level rule is "own member only" for people acting for a member, and
# the answer for another member's object: 403 where the object is visible to them (a contact
# point is in the directory they read), 404 where it is not (a coordinator sees only its own
# member's people and invitations).
OWN_MEMBER_ONLY = {
    Perm.DIRECTORY_EDIT: 403,
    Perm.USERS_INVITE: 404,
    # Ping-test results are confidential: another member's test or probe does not exist.
    Perm.PINGTEST_VIEW: 404,
    Perm.PINGTEST_RESPOND: 404,
}


@dataclass(frozen=True)
class WebView:
    name: str  # "namespace:name"
    route: str
    params: tuple[str, ...]
    perm: str
    callback: object


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield p, prefix + str(p.pattern), namespace


def _is_external(callback) -> bool:
    module = getattr(callback, "__module__", "") or ""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        module = view_class.__module__
    return module.startswith(EXTERNAL_MODULES) or "ninja" in type(callback).__module__


def web_views() -> list[WebView]:
    views = []
    for pattern, route, namespace in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        if _is_external(callback) or route.startswith("api/"):
            continue
        name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or route)
        params = tuple(pattern.pattern.regex.groupindex)
        views.append(WebView(name, route, params, getattr(callback, PERMISSION_ATTR, ""), callback))
    return views


def test_every_web_view_declares_a_permission():
    undeclared = [v.route for v in web_views() if not v.perm]
    assert undeclared == [], f"views without a declared permission: {undeclared}"


def test_every_api_operation_declares_a_permission(client):
    schema = client.get("/api/v1/openapi.json").json()
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert operations, "the OpenAPI document lists no operation"
    missing = [op for op in operations if op not in ENDPOINT_PERMISSIONS]
    assert missing == [], f"API operations without a declared permission: {missing}"


def test_the_matrix_covers_network_views():
    # If this drops, the matrix below silently tests less: keep it honest.
    scoped = [v for v in web_views() if v.perm in set(Perm)]
    assert len(scoped) >= 8, [v.name for v in scoped]


# --- the generated matrix ----------------------------------------------------------------------


def _objects_for(view: WebView, world):
    """(label, kwargs, owner member) for each object the view can be called on."""
    base = {"slug": world.network.slug}
    other = [p for p in view.params if p != "slug"]
    if not other:
        return [("network", base, None)]
    if set(other) <= {"number", "a", "b"}:
        # Editions are the network's, not a member's: the world publishes edition 1.
        return [("network", {**base, **dict.fromkeys(other, 1)}, None)]
    if view.name.startswith("reachability:") and other == ["public_id"]:
        own, theirs = _ping_tests(world)
        if view.name == "reachability:detail":  # a test that probed member A only / B only
            return [
                ("own", {**base, "public_id": own.public_id}, world.member_a),
                ("other", {**base, "public_id": theirs.public_id}, world.member_b),
            ]
        return [  # a probe of member A / of member B
            ("own", {**base, "public_id": own.probes.get().public_id}, world.member_a),
            ("other", {**base, "public_id": theirs.probes.get().public_id}, world.member_b),
        ]
    if view.name == "reachability:report_download":  # the PDF report of a test of A / of B
        own, theirs = _ping_tests(world)
        return [
            ("own", {**base, "public_id": own.public_id, "fmt": "pdf"}, world.member_a),
            ("other", {**base, "public_id": theirs.public_id, "fmt": "pdf"}, world.member_b),
        ]
    if other == ["number", "fmt"]:  # directory:download, a signed PDF of edition 1
        return [("network", {**base, "number": 1, "fmt": "pdf"}, None)]
    if other == ["public_id"]:
        if view.name.startswith("directory:"):
            return [
                ("own", {**base, "public_id": world.cp_a.public_id}, world.member_a),
                ("other", {**base, "public_id": world.cp_b.public_id}, world.member_b),
            ]
        if view.name.startswith("networks:"):
            return [
                ("own", {**base, "public_id": world.member_a.public_id}, world.member_a),
                ("other", {**base, "public_id": world.member_b.public_id}, world.member_b),
            ]
        if view.name == "accounts:invitation_revoke":
            return [
                ("own", {**base, "public_id": _invitation(world, world.member_a)}, world.member_a),
                (
                    "other",
                    {**base, "public_id": _invitation(world, world.member_b)},
                    world.member_b,
                ),
            ]
        if view.name == "accounts:role_revoke":
            own = world.officer_a.role_assignments.get(network=world.network)
            other = world.officer_b.role_assignments.get(network=world.network)
            return [
                ("own", {**base, "public_id": own.public_id}, world.member_a),
                ("other", {**base, "public_id": other.public_id}, world.member_b),
            ]
        if view.name == "delivery:retry":
            from tests.delivery.factories import DeliveryFactory

            dead = DeliveryFactory(network=world.network, dead=True)
            return [("network", {**base, "public_id": dead.public_id}, None)]
    pytest.fail(f"the matrix does not know how to call {view.name} ({view.route}); teach it")
    return []


def _ping_tests(world):
    """Two sent ping tests over every channel, one probing member A only, one member B only
    (made once per world)."""
    tests = getattr(world, "_ping_tests", None)
    if tests is None:
        from liaison.directory.exporting import console_access
        from liaison.reachability import services

        access = console_access(world.network)
        tests = tuple(
            services.start_ping_test(
                None, access, channels=["email", "app", "manual"], members=[member.code]
            )
            for member in (world.member_a, world.member_b)
        )
        services.send_due_probes()
        world._ping_tests = tests
    return tests


def _invitation(world, member) -> str:
    """A pending officer invitation for `member` (fresh per call: a revoke consumes it)."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from liaison.accounts.models import Invitation

    invitation = Invitation.objects.create(
        email=f"new-{secrets.token_hex(4)}@agency.example",
        network=world.network,
        role="officer",
        member=member,
        token_hash=secrets.token_hex(32),
        expires_at=timezone.now() + timedelta(days=7),
    )
    return invitation.public_id


def _expected(view: WebView, user_key: str, owner) -> set[int]:
    role = ROLES_OF[user_key]
    perm = Perm(view.perm)
    if perm not in ROLE_PERMS[role]:
        return {403}
    if perm in OWN_MEMBER_ONLY and role != "secretariat" and owner is not None:
        acts_for_owner = user_key.endswith("_a") == (owner.code == "FR")
        if not acts_for_owner:
            return {OWN_MEMBER_ONLY[perm]}
    return {200, 302, 303, 400, 405}


def _cases():
    # Collected lazily inside the test (URLconf needs Django set up); one test per view.
    return [v.name for v in web_views() if v.perm in {str(p) for p in Perm}]


def _isolated(call, *args, **kwargs):
    """One request whose changes are rolled back, so that each caller meets the same objects
    (a revoke or a delete by the first caller must not turn the next caller's answer into 404)."""
    with transaction.atomic():
        response = call(*args, **kwargs)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("view_name", _cases())
@pytest.mark.parametrize("method", ["get", "post"])
def test_web_matrix(view_name, method, world, client):
    view = next(v for v in web_views() if v.name == view_name)
    for label, kwargs, owner in _objects_for(view, world):
        url = reverse(view.name, kwargs=kwargs)
        client.logout()
        response = getattr(client, method)(url)
        assert response.status_code == 302, f"anonymous {method.upper()} {url}"
        assert "/accounts/login/" in response["Location"], f"anonymous {method.upper()} {url}"
        client.force_login(world.outsider)
        response = getattr(client, method)(url)
        assert response.status_code == 404, f"outsider {method.upper()} {url} ({label})"
        for user_key in ROLES_OF:
            client.force_login(getattr(world, user_key))
            response = _isolated(getattr(client, method), url)
            expected = _expected(view, user_key, owner)
            if (
                method == "get"
                and expected <= {403, 404}
                and Perm(view.perm) in ROLE_PERMS[ROLES_OF[user_key]]
            ):
                # A POST-only view may refuse the method before looking at the object: 405
                # reveals nothing. The POST run checks the object-level rule itself.
                expected = expected | {405}
            assert response.status_code in expected, (
                f"{user_key} {method.upper()} {view.name} [{label}] → {response.status_code}, "
                f"expected {sorted(expected)}"
            )


def _api_cases():
    return sorted(ENDPOINT_PERMISSIONS)


@pytest.fixture
def tokens(world):
    from liaison.accounts.services import create_token

    out = {}
    for key in [*ROLES_OF, "outsider"]:
        user = getattr(world, key)
        _token, raw = create_token(None, user, can_write=True, days=1)
        out[key] = raw
    return out


def _api_url(path: str, world, own: bool) -> str:
    if "/pingtests/" in path:
        test = _ping_tests(world)[0 if own else 1]
        return path.replace("{slug}", world.network.slug).replace("{id}", test.public_id)
    cp = world.cp_a if own else world.cp_b
    path = path.replace("{code}", (world.member_a if own else world.member_b).code)
    path = re.sub(r"{(number|a|b)}", "1", path)  # edition numbers: the world publishes edition 1
    return re.sub(r"{id}", cp.public_id, path.replace("{slug}", world.network.slug))


def test_api_matrix(world, client, tokens):
    # ENDPOINT_PERMISSIONS is filled when the URLconf (and so the API) is loaded.
    client.get("/api/v1/openapi.json")
    assert ENDPOINT_PERMISSIONS, "no API operation registered"
    for method, path in sorted(ENDPOINT_PERMISSIONS):
        perm = ENDPOINT_PERMISSIONS[(method, path)]
        if perm == PUBLIC:
            continue
        call = getattr(client, method.lower())
        data = '{"channels": ["app"]}' if path.endswith("/pingtests") else '{"unit": "Night desk"}'
        body = {"content_type": "application/json", "data": data} if method != "GET" else {}
        for own in (True, False) if ("{id}" in path or "{code}" in path) else (True,):
            url = _api_url(path, world, own)
            response = call(url, **body)
            assert response.status_code == 401, f"no token {method} {url}"
            if perm == TOKEN_ONLY:
                continue
            auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['outsider']}"}
            response = call(url, **body, **auth)
            assert response.status_code == 404, f"outsider {method} {url}"
            for user_key, role in ROLES_OF.items():
                auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user_key]}"}
                response = _isolated(call, url, **body, **auth)
                owner = world.member_a if own else world.member_b
                expected = {200, 201} if Perm(perm) in ROLE_PERMS[role] else {403}
                other_member = user_key.endswith("_a") != (owner.code == "FR")
                if (
                    expected == {200, 201}
                    and Perm(perm) in OWN_MEMBER_ONLY
                    and role != "secretariat"
                    and other_member
                    and ("{id}" in path or "{code}" in path)  # a member's object, not a list
                ):
                    expected = {OWN_MEMBER_ONLY[Perm(perm)]}
                assert response.status_code in expected, (
                    f"{user_key} {method} {url} → {response.status_code}, expected {expected}: "
                    f"{response.content[:300]!r}"
                )
    assert WRITE_ENDPOINTS, "no write endpoint registered (PATCH contact point expected)"
