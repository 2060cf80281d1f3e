"""Helpers shared by the API routers: pages, JSON responses and error schemas."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpResponse
from ninja import Schema

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str]
    msg: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


# Documented on every network-scoped operation.
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


def paginate(qs: QuerySet, page: int, page_size: int) -> tuple[int, list]:
    """One COUNT, then the page (skipped when the page lies past the end)."""
    count = qs.count()
    start = (page - 1) * page_size
    items = list(qs[start : start + page_size]) if start < count else []
    return count, items


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """Serialise plain dicts directly: list endpoints build their dicts from the ORM rows and
    skip per-object pydantic validation (the declared response schemas document the shape, and
    tests check the output against them)."""
    return HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
        status=status,
    )


def page_response(count: int, page: int, page_size: int, results: list[dict]) -> HttpResponse:
    return json_response({"count": count, "page": page, "page_size": page_size, "results": results})
