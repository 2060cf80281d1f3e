"""Field validators shared by the API schemas, the forms and the import.

Each returns the normalised value or raises ValueError with a message that says what is wrong,
written for the person who typed the value (never echoing more than the offending value).
"""

from __future__ import annotations

import functools
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from liaison.directory import availability as av
from liaison.directory.models import ChannelKind, ContactPointType

PHONE_KINDS = frozenset({ChannelKind.PHONE, ChannelKind.MOBILE, ChannelKind.FAX})
# Sets built once: `Choices.values` builds a new list on every call (an import makes 50,000).
_TYPES = frozenset(ContactPointType.values)
_CHANNEL_KINDS = frozenset(ChannelKind.values)
_ISO_639_1 = frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
_TIMEZONES = frozenset(available_timezones())


def parse_type(value: str) -> str:
    cleaned = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if cleaned not in _TYPES:
        raise ValueError(
            _("unknown type %(value)s (expected one of: %(choices)s)")
            % {"value": repr(value), "choices": ", ".join(ContactPointType.values)}
        )
    return cleaned


def parse_phone(value: str, region: str | None = None) -> str:
    """E.164. A number without +country code is read in the member's country (`region`)."""
    raw = (value or "").strip()
    if not raw:
        raise ValueError(_("phone number is empty"))
    hint = region if region and len(region) == 2 else None
    try:
        number = phonenumbers.parse(raw, hint)
    except phonenumbers.NumberParseException:
        raise ValueError(
            _("%(value)s is not a phone number (start with + and the country code)")
            % {"value": repr(raw)}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("%(value)s is not a valid phone number") % {"value": repr(raw)})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Readable international form for display (E.164 stays the stored value)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def parse_email(value: str) -> str:
    raw = (value or "").strip()
    if not raw:
        raise ValueError(_("e-mail address is empty"))
    if len(raw) > 300:  # Channel.value's length; addresses may reach 320 characters
        raise ValueError(_("e-mail address is longer than 300 characters"))
    try:
        validate_email(raw)
    except ValidationError:
        raise ValueError(
            _("%(value)s is not a valid e-mail address") % {"value": repr(raw)}
        ) from None
    local, _at, domain = raw.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_channel(kind: str, value: str, region: str | None = None) -> str:
    if kind not in _CHANNEL_KINDS:
        raise ValueError(
            _("unknown channel kind %(value)s (expected one of: %(choices)s)")
            % {"value": repr(kind), "choices": ", ".join(ChannelKind.values)}
        )
    if kind in PHONE_KINDS:
        return parse_phone(value, region)
    if kind == ChannelKind.EMAIL:
        return parse_email(value)
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValueError(_("%(kind)s is empty") % {"kind": kind})
    if len(cleaned) > 300:
        raise ValueError(_("is longer than 300 characters"))
    return cleaned


def parse_timezone(value: str) -> str:
    raw = (value or "").strip()
    if not raw:
        raise ValueError(_("time zone is empty (expected an IANA name such as Europe/Paris)"))
    if raw not in _TIMEZONES:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a directory
            raise ValueError(
                _("unknown time zone %(value)s (expected an IANA name such as Europe/Paris)")
                % {"value": repr(raw)}
            ) from None
    return raw


_LANG_SPLIT = re.compile(r"[,;\s/]+")


def parse_languages(value: str | list[str]) -> str:
    """ISO 639-1 codes → canonical 'de,en,fr' (sorted, unique)."""
    items = value if isinstance(value, list) else _LANG_SPLIT.split(value or "")
    codes = []
    for item in items:
        code = item.strip().lower()
        if not code:
            continue
        if code not in _ISO_639_1:
            raise ValueError(
                _("unknown language code %(value)s (expected ISO 639-1, e.g. en, fr)")
                % {"value": repr(item.strip())}
            )
        codes.append(code)
    if not codes:
        raise ValueError(_("no language given (expected ISO 639-1 codes such as en, fr)"))
    return ",".join(sorted(set(codes)))


def parse_availability(value: str) -> av.Schedule:
    try:
        return _schedule(value or "")
    except av.AvailabilityError as exc:
        raise ValueError(str(exc)) from None


# An import parses the same few schedules thousands of times; a Schedule is immutable, so one
# parsed value can be shared (errors are not cached: they are raised again each time).
_schedule = functools.lru_cache(maxsize=1024)(av.parse_availability)


def parse_exceptions(value: str) -> tuple[av.AvailabilityException, ...]:
    try:
        return av.parse_exceptions(value or "")
    except av.AvailabilityError as exc:
        raise ValueError(str(exc)) from None


def parse_text(value: str, *, required: bool, max_length: int, what: str) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ValueError(_("%(what)s is required") % {"what": what})
    if len(cleaned) > max_length:
        raise ValueError(
            _("%(what)s is longer than %(max)d characters") % {"what": what, "max": max_length}
        )
    return cleaned


def parse_pgp_key(value: str) -> str:
    cleaned = (value or "").strip()
    if cleaned and not (
        cleaned.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        and cleaned.rstrip().endswith("-----END PGP PUBLIC KEY BLOCK-----")
    ):
        raise ValueError(_("is not an ASCII-armoured OpenPGP public key block"))
    if len(cleaned) > 20000:
        raise ValueError(_("OpenPGP key is longer than 20,000 characters"))
    return cleaned
