"""An edition document as vCards (3.0, RFC 2426): one card per contact point, for a phone.

FN/N/ORG name the desk (institution; unit), TITLE its type, TEL carries phones (work, voice),
mobiles (cell) and faxes, EMAIL the e-mail addresses, URL a secure platform given as a web
address, NOTE what a phone has no field for (member, availability and time zone, exceptions,
languages, other channels, instructions), CATEGORIES the member and the contact point's type.

The cards are written here rather than with vobject's serialiser, which takes about 3 ms a
card: a 10,000-entry directory would take half a minute to download. The format is small —
text escaping and line folding — and the tests read every card back with vobject.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from liaison.directory.models import ChannelKind, ContactPointType
from liaison.directory.templatetags.directory_tags import language_name

TEL_TYPES = {
    ChannelKind.PHONE: "WORK,VOICE",
    ChannelKind.MOBILE: "WORK,CELL",
    ChannelKind.FAX: "WORK,FAX",
}
INSTRUCTIONS_LIMIT = 1000
LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """A TEXT value (RFC 2426 §4): backslash, comma, semicolon and line breaks escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def _single_line(value: str) -> str:
    """A value that is not TEXT (a number, an address): no line break can slip in."""
    return " ".join(value.split())


def fold(line: str) -> str:
    """Lines longer than 75 octets folded (CRLF and a space), never inside a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= LINE_OCTETS:
        return line + "\r\n"
    parts, start, limit = [], 0, LINE_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, LINE_OCTETS - 1  # continuation lines start with a space
    return "\r\n ".join(parts) + "\r\n"


class _Labels:
    """Translated labels looked up once per export, not once per card."""

    def __init__(self):
        self._cache: dict[tuple[str, str], str] = {}

    def get(self, choices, value: str) -> str:
        key = (choices.__name__, value)
        if key not in self._cache:
            try:
                self._cache[key] = str(choices(value).label)
            except ValueError:
                self._cache[key] = value
        return self._cache[key]

    def language(self, code: str) -> str:
        key = ("language", code)
        if key not in self._cache:
            self._cache[key] = language_name(code)
        return self._cache[key]


def contact_point_card(
    document: dict[str, Any],
    member: dict[str, Any],
    cp: dict[str, Any],
    *,
    mark: str = "",
    labels: _Labels | None = None,
) -> str:
    labels = labels or _Labels()
    institution, unit = cp.get("institution", ""), cp.get("unit", "")
    type_label = labels.get(ContactPointType, cp.get("type", ""))
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{_single_line(cp.get('id', ''))}@liaison",
        "FN:" + escape_text(f"{institution} — {unit}" if unit else institution),
        "N:" + escape_text(institution) + ";;;;",
        "ORG:" + ";".join(escape_text(part) for part in (institution, unit) if part),
        "TITLE:" + escape_text(type_label),
    ]
    others = []
    for channel in cp.get("channels", []):
        kind, value = channel.get("kind", ""), channel.get("value", "")
        kind_label = labels.get(ChannelKind, kind)
        if kind in TEL_TYPES:
            lines.append(f"TEL;TYPE={TEL_TYPES[kind]}:{_single_line(value)}")
        elif kind == ChannelKind.EMAIL:
            lines.append(f"EMAIL;TYPE=INTERNET,WORK:{escape_text(_single_line(value))}")
        elif value.startswith("https://"):
            lines.append(f"URL:{_single_line(value)}")
        else:
            others.append(f"{kind_label}: {value}")
        if channel.get("notes"):
            others.append(f"{kind_label} {value}: {channel['notes']}")
    network = document.get("network", {})
    note = [
        _("%(member)s (%(code)s), %(network)s — directory edition %(edition)s")
        % {
            "member": member.get("name", ""),
            "code": member.get("code", ""),
            "network": network.get("name") or network.get("slug", ""),
            "edition": document.get("edition"),
        },
        _("Availability: %(availability)s (time zone %(tz)s)")
        % {"availability": cp.get("availability", ""), "tz": cp.get("timezone", "")},
    ]
    if cp.get("availability_exceptions"):
        note.append(_("Exceptions: %(text)s") % {"text": cp["availability_exceptions"]})
    languages = [labels.language(code) for code in cp.get("languages", []) if code]
    if languages:
        note.append(_("Languages: %(names)s") % {"names": ", ".join(languages)})
    note += others
    instructions = (cp.get("instructions") or "").strip()
    if instructions:
        if len(instructions) > INSTRUCTIONS_LIMIT:
            instructions = instructions[:INSTRUCTIONS_LIMIT].rstrip() + "…"
        note.append(_("Instructions: %(text)s") % {"text": instructions})
    note.append(_("RESTRICTED — not for public distribution"))
    lines.append("NOTE:" + escape_text("\n".join(note)))
    categories = (member.get("name", "") or member.get("code", ""), type_label)
    lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in categories))
    if mark:
        lines.append(f"X-LIAISON-MARK:{_single_line(mark)}")
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)


def _cards(document: dict[str, Any], mark: str) -> Iterable[str]:
    labels = _Labels()
    for member in document.get("members", []):
        for cp in member.get("contact_points", []):
            yield contact_point_card(document, member, cp, mark=mark, labels=labels)


def render_vcards(document: dict[str, Any], *, mark: str = "") -> bytes:
    """Every contact point of the edition, one VCARD each, in directory order. `mark` (the
    export's unique mark) goes into an X-LIAISON-MARK property that phones ignore."""
    return "".join(_cards(document, mark)).encode("utf-8")
