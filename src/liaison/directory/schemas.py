"""Validation of a contact point's data: one schema for the forms, the API and the import.

`validate_contact_point` turns raw input (a mapping of field names to strings/lists) into a
`ContactPointData` with normalised values, or raises `FieldErrors` listing every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.directory import availability as av
from liaison.directory import validation as v

FIELDS = (
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
)


@dataclass(frozen=True)
class ChannelData:
    kind: str
    value: str
    notes: str = ""


@dataclass(frozen=True)
class ContactPointData:
    type: str
    institution: str
    unit: str
    availability: str  # canonical text
    schedule: av.Schedule
    availability_exceptions: str  # canonical text
    exceptions: tuple[av.AvailabilityException, ...]
    timezone: str
    languages: str  # canonical "en,fr"
    instructions: str
    pgp_key: str
    review_date: date | None
    channels: tuple[ChannelData, ...] = field(default_factory=tuple)


class FieldErrors(ServiceError):
    """Every problem found in one input, as (field, message) pairs, in field order."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors), field=errors[0][0])

    def __str__(self) -> str:
        return self.message


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(
            _("%(value)s is not a date (expected YYYY-MM-DD)") % {"value": repr(value)}
        ) from None


def current_data(cp) -> dict[str, Any]:
    """A stored contact point as raw input, so that a partial update re-validates everything."""
    return {
        "type": cp.type,
        "institution": cp.institution,
        "unit": cp.unit,
        "availability": cp.availability,
        "availability_exceptions": cp.availability_exceptions,
        "timezone": cp.timezone,
        "languages": cp.languages,
        "instructions": cp.instructions,
        "pgp_key": cp.pgp_key,
        "review_date": cp.review_date,
        "channels": [
            {"kind": ch.kind, "value": ch.value, "notes": ch.notes} for ch in cp.channels.all()
        ],
    }


def validate_contact_point(
    raw: Mapping[str, Any], *, region: str | None = None
) -> ContactPointData:
    """Validate and normalise. `region` (the member's ISO country) reads national phone numbers."""
    errors: list[tuple[str, str]] = []
    out: dict[str, Any] = {}

    def check(name: str, fn, *args, **kwargs):
        try:
            out[name] = fn(*args, **kwargs)
        except ValueError as exc:
            errors.append((name, str(exc)))

    unknown = sorted(set(raw) - set(FIELDS))
    for name in unknown:
        errors.append((name, "unknown field"))
    check("type", v.parse_type, raw.get("type", ""))
    check(
        "institution",
        v.parse_text,
        raw.get("institution", ""),
        required=True,
        max_length=300,
        what=_("institution"),
    )
    check("unit", v.parse_text, raw.get("unit", ""), required=False, max_length=300, what=_("unit"))
    check("availability", v.parse_availability, raw.get("availability") or "24/7")
    check("availability_exceptions", v.parse_exceptions, raw.get("availability_exceptions", ""))
    check("timezone", v.parse_timezone, raw.get("timezone", ""))
    check("languages", v.parse_languages, raw.get("languages", ""))
    check(
        "instructions",
        v.parse_text,
        raw.get("instructions", ""),
        required=False,
        max_length=5000,
        what=_("instructions"),
    )
    check("pgp_key", v.parse_pgp_key, raw.get("pgp_key", ""))
    check("review_date", _as_date, raw.get("review_date"))

    channels: list[ChannelData] = []
    raw_channels = raw.get("channels") or []
    if not isinstance(raw_channels, list):
        errors.append(("channels", "must be a list of {kind, value, notes}"))
        raw_channels = []
    for i, ch in enumerate(raw_channels):
        if not isinstance(ch, Mapping):
            errors.append((f"channels[{i}]", "must be an object with kind and value"))
            continue
        kind = str(ch.get("kind", "")).strip().lower()
        try:
            value = v.parse_channel(kind, str(ch.get("value", "")), region)
        except ValueError as exc:
            errors.append((f"channels[{i}].value", str(exc)))
            continue
        notes = str(ch.get("notes", "") or "").strip()
        if len(notes) > 300:
            errors.append((f"channels[{i}].notes", "is longer than 300 characters"))
            continue
        channels.append(ChannelData(kind=kind, value=value, notes=notes))
    if not raw_channels:
        errors.append(("channels", "at least one channel (phone, e-mail…) is required"))

    if errors:
        raise FieldErrors(errors)
    schedule: av.Schedule = out["availability"]
    return ContactPointData(
        type=out["type"],
        institution=out["institution"],
        unit=out["unit"],
        availability=schedule.to_text(),
        schedule=schedule,
        availability_exceptions=av.format_exceptions(out["availability_exceptions"]),
        exceptions=out["availability_exceptions"],
        timezone=out["timezone"],
        languages=out["languages"],
        instructions=out["instructions"],
        pgp_key=out["pgp_key"],
        review_date=out["review_date"],
        channels=tuple(channels),
    )
