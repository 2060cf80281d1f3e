"""How the API answers errors: JSON `{"detail": …}`, never a stack trace.

Validation problems are 422 `{"detail": [{"loc": [source, field], "msg": message}]}` where
`source` is "query", "path" or "body" and `field` names the field as a person would write it
(`page_size`, `channels[0].value`) — the same shape whether pydantic or a service found it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError, ValidationError

from liaison.directory.schemas import FieldErrors

logger = logging.getLogger("liaison.api")

# Clearer wording for the pydantic errors our parameters can raise.
_MESSAGES = {
    "timezone_aware": "must include a UTC offset, e.g. 2025-01-31T22:00:00+01:00 or "
    "2025-01-31T21:00:00Z",
    "extra_forbidden": "unknown field",
    "missing": "is required",
}


def field_path(parts: list[Any] | tuple[Any, ...]) -> str:
    """('channels', 0, 'value') → 'channels[0].value'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _validation_detail(errors: list[dict[str, Any]], body_params: set[str]) -> list[dict]:
    detail = []
    for error in errors:
        loc = list(error.get("loc") or ())
        source = str(loc[0]) if loc else "body"
        rest = loc[1:]
        # ninja puts the body parameter's name first ("changes"); clients never see that name.
        if source == "body" and rest and rest[0] in body_params:
            rest = rest[1:]
        msg = _MESSAGES.get(error.get("type", ""), error.get("msg", "is invalid"))
        item = {"loc": [source, field_path(rest)] if rest else [source], "msg": msg}
        if item not in detail:
            detail.append(item)
    return detail


def field_errors_detail(exc: FieldErrors, source: str = "body") -> list[dict]:
    return [
        {"loc": [source, field] if field else [source], "msg": message}
        for field, message in exc.errors
    ]


def install(api, *, body_params: set[str]) -> None:
    def on_validation(request, exc: ValidationError):
        return api.create_response(
            request, {"detail": _validation_detail(exc.errors, body_params)}, status=422
        )

    def on_field_errors(request, exc: FieldErrors):
        return api.create_response(request, {"detail": field_errors_detail(exc)}, status=422)

    def on_authentication(request, exc: AuthenticationError):
        response = api.create_response(request, {"detail": exc.message}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    def on_http_error(request, exc: HttpError):
        return api.create_response(request, {"detail": exc.message}, status=exc.status_code)

    def on_not_found(request, exc: Http404):
        # The same answer for "no such network" and "not yours": outsiders learn nothing.
        return api.create_response(request, {"detail": _("not found")}, status=404)

    def on_denied(request, exc: PermissionDenied):
        message = str(exc) or _("you do not have permission to do this in this network")
        return api.create_response(request, {"detail": message}, status=403)

    def on_error(request, exc: Exception):
        logger.exception("API error on %s %s", request.method, request.path)
        return api.create_response(request, {"detail": "internal error"}, status=500)

    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(FieldErrors, on_field_errors)
    api.add_exception_handler(AuthenticationError, on_authentication)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_denied)
    api.add_exception_handler(Exception, on_error)
