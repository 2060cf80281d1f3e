"""Bearer-token authentication and the permission every API operation declares (deny by default).

Each operation is wrapped by exactly one of `requires(Perm.X)` (a network-scoped operation: the
token's user must hold a role in the network `slug`, else 404, and `Perm.X`, else 403) or
`token_only` (any valid token; the operation shows only what the user's roles allow).
`register_permissions(api)` walks the assembled API, fills `ENDPOINT_PERMISSIONS` with
(METHOD, OpenAPI path) → permission, adds the permission to the OpenAPI document as
`x-permission`, and refuses to start when an operation declares nothing.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.utils.translation import gettext_lazy as _
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from liaison.accounts.services import authenticate_token
from liaison.core.permissions import Perm
from liaison.networks.queries import network_access

PERMISSION_ATTR = "liaison_permission"
WRITE_ATTR = "liaison_write"
TOKEN_ONLY = "authenticated"  # noqa: S105 - a permission label, not a secret
PUBLIC = "public"
API_PREFIX = "/api/v1"

# (METHOD, OpenAPI path) → the permission the operation needs, e.g.
# ("GET", "/api/v1/networks/{slug}/contact-points") → "directory.view". Filled by
# register_permissions() when the API is assembled (liaison.api.urls).
ENDPOINT_PERMISSIONS: dict[tuple[str, str], str] = {}
# Operations that also need a write token.
WRITE_ENDPOINTS: set[tuple[str, str]] = set()

MISSING_TOKEN = _("authentication required: send 'Authorization: Bearer <token>'")
BAD_TOKEN = _("invalid, expired or revoked token")
READ_ONLY = _("this token is read-only")


class TokenAuth(HttpBearer):
    """Personal API tokens (`liaison token create`); sets request.auth and request.user."""

    def __call__(self, request) -> Any:
        # Re-implemented rather than inherited: ninja's HttpBearer logs the whole header (the
        # secret) in DEBUG on a scheme mismatch, and says only "Unauthorized" whatever went wrong.
        scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise AuthenticationError(message=str(MISSING_TOKEN))
        return self.authenticate(request, raw.strip())

    def authenticate(self, request, token: str) -> Any:
        api_token = authenticate_token(token)
        if api_token is None:
            raise AuthenticationError(message=str(BAD_TOKEN))
        request.user = api_token.user
        return api_token


def requires(perm: Perm, *, write: bool = False):
    """A network-scoped operation: 404 for outsiders, 403 without `perm` (or a write token).

    The wrapped function keeps its signature (ninja reads it through __wrapped__) and finds the
    resolved access on `request.access`.
    """

    def decorator(func):
        @functools.wraps(func)
        def wrapper(request, slug: str, **kwargs):
            access = network_access(request.user, slug)  # Http404 for outsiders
            if not access.has(perm):
                raise PermissionDenied
            if write and not request.auth.can_write:
                raise PermissionDenied(str(READ_ONLY))
            request.access = access
            return func(request, slug=slug, **kwargs)

        # ninja resolves string annotations in the wrapper's module: give it the evaluated ones.
        wrapper.__signature__ = inspect.signature(func, eval_str=True)
        setattr(wrapper, PERMISSION_ATTR, str(perm))
        setattr(wrapper, WRITE_ATTR, write)
        return wrapper

    return decorator


def token_only(func):
    """Any valid token; the operation scopes what it returns to the token's user."""
    setattr(func, PERMISSION_ATTR, TOKEN_ONLY)
    setattr(func, WRITE_ATTR, False)
    return func


def register_permissions(api, routers) -> dict[tuple[str, str], str]:
    """Record every operation's permission; ImproperlyConfigured if one declares none.

    `routers` are the (prefix, router) pairs mounted on `api`, prefixes relative to API_PREFIX.
    """
    for prefix, router in routers:
        for path, path_view in router.path_operations.items():
            full_path = API_PREFIX + prefix + _openapi_path(path)
            for operation in path_view.operations:
                perm = getattr(operation.view_func, PERMISSION_ATTR, None)
                if perm is None:
                    raise ImproperlyConfigured(
                        f"API operation {operation.methods} {full_path} declares no permission "
                        "(wrap it with liaison.api.auth.requires or token_only)"
                    )
                write = getattr(operation.view_func, WRITE_ATTR, False)
                extra = dict(operation.openapi_extra or {})
                extra["x-permission"] = perm
                extra["x-write-token"] = write
                operation.openapi_extra = extra
                for method in operation.methods:
                    ENDPOINT_PERMISSIONS[(method.upper(), full_path)] = perm
                    if write:
                        WRITE_ENDPOINTS.add((method.upper(), full_path))
    return ENDPOINT_PERMISSIONS


def _openapi_path(path: str) -> str:
    """ninja path syntax ('{int:id}' converters) → OpenAPI's ('{id}')."""
    return re.sub(r"{[^}:]+:([^}]+)}", r"{\1}", path)
