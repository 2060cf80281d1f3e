"""What changed between two edition documents, member by member and field by field.

Pure functions over the documents of `Edition.document()` / `queries.draft_document()` (format
"liaison-directory-edition/1"): no database access, so the pages, the API, the command line and
the publication review all show the same diff.

Members are matched by code and contact points by id *within* a member: a contact point that
moved from one member to another is removed from the first and added to the second (each
member's coordinator sees the change on its own entry). Every field is compared; channels are
compared as an ordered list and reported as the one field "channels". Work is linear in the
size of the documents (dict lookups only): a 10,000-contact-point diff takes milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

FORMAT = "liaison-directory-diff/1"

ADDED = "added"
REMOVED = "removed"
EDITED = "edited"

MEMBER_FIELDS = ("name", "kind", "status")
# The contact point's fields in the order a person reads them; any other key a later format
# adds is compared too, after these, in name order.
CONTACT_POINT_FIELDS = (
    "type",
    "institution",
    "unit",
    "channels",
    "availability",
    "availability_exceptions",
    "timezone",
    "languages",
    "instructions",
    "pgp_key",
)
# A member-level change that is not a member field: the same contact points, another order.
ORDER_FIELD = "contact_point_order"

FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "kind": gettext_lazy("Kind"),
    "status": gettext_lazy("Status"),
    ORDER_FIELD: gettext_lazy("Order of the contact points"),
    "type": gettext_lazy("Type"),
    "institution": gettext_lazy("Institution"),
    "unit": gettext_lazy("Unit"),
    "channels": gettext_lazy("Channels"),
    "availability": gettext_lazy("Availability"),
    "availability_exceptions": gettext_lazy("Exceptions"),
    "timezone": gettext_lazy("Time zone"),
    "languages": gettext_lazy("Languages"),
    "instructions": gettext_lazy("Instructions"),
    "pgp_key": gettext_lazy("OpenPGP key"),
}

_TEXT_LIMIT = 120  # characters of a long value shown in the text diff (the JSON has it all)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    @property
    def label(self) -> str:
        return str(FIELD_LABELS.get(self.field, self.field))

    def as_json(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class DiffRow:
    """One line of a contact point shown side by side (old | new) on a page."""

    field: str
    label: str
    old: tuple[str, ...]  # display lines (a channel per line); () when absent
    new: tuple[str, ...]
    changed: bool


@dataclass(frozen=True)
class ContactPointChange:
    id: str
    change: str  # "added" | "removed" | "edited"
    old: dict | None
    new: dict | None
    fields: tuple[FieldChange, ...]  # empty for added/removed

    @property
    def current(self) -> dict:
        """The newest content known: `new`, or `old` for a removed contact point."""
        return self.new if self.new is not None else (self.old or {})

    @property
    def title(self) -> str:
        cp = self.current
        institution, unit = cp.get("institution") or "", cp.get("unit") or ""
        return f"{institution} — {unit}" if unit else institution

    @property
    def changed_fields(self) -> frozenset[str]:
        return frozenset(change.field for change in self.fields)

    def rows(self) -> list[DiffRow]:
        """Every field, old and new side by side, for the pages (changed ones flagged)."""
        changed = self.changed_fields
        old, new = self.old or {}, self.new or {}
        return [
            DiffRow(
                field=name,
                label=str(FIELD_LABELS.get(name, name)),
                old=display_lines(name, old[name]) if name in old else (),
                new=display_lines(name, new[name]) if name in new else (),
                changed=name in changed,
            )
            for name in _field_names(old, new)
        ]

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "change": self.change,
            "old": self.old,
            "new": self.new,
            "fields": [change.as_json() for change in self.fields],
        }


@dataclass(frozen=True)
class MemberDiff:
    code: str
    name: str
    change: str  # "added" | "removed" | "edited"
    member_fields: tuple[FieldChange, ...]  # name/kind/status (and the order of its entries)
    contact_points: tuple[ContactPointChange, ...]

    def count(self, change: str) -> int:
        return sum(1 for cp in self.contact_points if cp.change == change)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in (EDITED, ADDED, REMOVED)}

    @property
    def summary(self) -> str:
        return member_summary(self)

    def field_rows(self) -> list[DiffRow]:
        """The member's own changed fields (name, kind, status, order) for the pages."""
        rows = []
        old: tuple[str, ...]
        new: tuple[str, ...]
        for change in self.member_fields:
            if change.field == ORDER_FIELD:
                old, new = (), (_("The same contact points, in another order."),)
            else:
                old = display_lines(change.field, change.old)
                new = display_lines(change.field, change.new)
            rows.append(DiffRow(change.field, change.label, old, new, changed=True))
        return rows

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "change": self.change,
            "member_fields": [change.as_json() for change in self.member_fields],
            "contact_points": [cp.as_json() for cp in self.contact_points],
        }


@dataclass(frozen=True)
class DocumentDiff:
    from_edition: int | None
    to_edition: int | None
    members: tuple[MemberDiff, ...]

    def is_empty(self) -> bool:
        return not self.members

    @property
    def changed_members(self) -> list[str]:
        return [member.code for member in self.members]

    @property
    def totals(self) -> dict[str, int]:
        out = {EDITED: 0, ADDED: 0, REMOVED: 0}
        for member in self.members:
            for cp in member.contact_points:
                out[cp.change] += 1
        return out

    def as_json(self) -> dict:
        return {
            "format": FORMAT,
            "from_edition": self.from_edition,
            "to_edition": self.to_edition,
            "changed_members": self.changed_members,
            "totals": {"members": len(self.members), "contact_points": self.totals},
            "members": [member.as_json() for member in self.members],
        }


# --- the diff ---------------------------------------------------------------------------------


def diff_documents(old: dict | None, new: dict) -> DocumentDiff:
    """What changed from `old` (None: an empty directory) to `new`, member by member.

    Members are listed by code; in each, contact points in their order in `new`, then the
    removed ones in their order in `old`. Members without any change are left out.
    """
    old_members = {m["code"]: m for m in (old or {}).get("members") or ()}
    new_members = {m["code"]: m for m in new.get("members") or ()}
    members = []
    for code in sorted(old_members.keys() | new_members.keys()):
        member = _diff_member(old_members.get(code), new_members.get(code))
        if member is not None:
            members.append(member)
    return DocumentDiff(
        from_edition=(old or {}).get("edition"),
        to_edition=new.get("edition"),
        members=tuple(members),
    )


def _diff_member(old: dict | None, new: dict | None) -> MemberDiff | None:
    old_cps = list((old or {}).get("contact_points") or ())
    new_cps = list((new or {}).get("contact_points") or ())
    old_by_id = {cp["id"]: cp for cp in old_cps}
    new_ids = {cp["id"] for cp in new_cps}

    changes: list[ContactPointChange] = []
    for cp in new_cps:
        before = old_by_id.get(cp["id"])
        if before is None:
            changes.append(ContactPointChange(cp["id"], ADDED, None, cp, ()))
            continue
        if before == cp:  # the common case, compared in C; fields only for the rest
            continue
        fields = _field_changes(before, cp, _field_names(before, cp))
        if fields:
            changes.append(ContactPointChange(cp["id"], EDITED, before, cp, fields))
    changes.extend(
        ContactPointChange(cp["id"], REMOVED, cp, None, ())
        for cp in old_cps
        if cp["id"] not in new_ids
    )

    if old is None or new is None:
        if not changes:
            # A member without contact points appearing or leaving changes no entry (as
            # snapshots.changed_members, which lists an edition's changed members, has it).
            return None
        change = ADDED if old is None else REMOVED
        member_fields: tuple[FieldChange, ...] = ()
    else:
        change = EDITED
        member_fields = _field_changes(old, new, MEMBER_FIELDS)
        kept_old = [cp["id"] for cp in old_cps if cp["id"] in new_ids]
        kept_new = [cp["id"] for cp in new_cps if cp["id"] in old_by_id]
        if kept_old != kept_new:
            member_fields += (FieldChange(ORDER_FIELD, kept_old, kept_new),)
        if not member_fields and not changes:
            return None
    current = new if new is not None else (old or {})
    return MemberDiff(
        code=current["code"],
        name=current.get("name") or "",
        change=change,
        member_fields=member_fields,
        contact_points=tuple(changes),
    )


def _field_names(old: dict, new: dict) -> list[str]:
    known = [name for name in CONTACT_POINT_FIELDS if name in old or name in new]
    extra = sorted((old.keys() | new.keys()) - set(CONTACT_POINT_FIELDS) - {"id"})
    return known + extra


def _field_changes(old: dict, new: dict, names: Iterable[str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    )


# --- display ----------------------------------------------------------------------------------


def display_lines(field: str, value: Any) -> tuple[str, ...]:
    """A field's value as lines a person reads on a page: codes as their names, one channel per
    line, phone numbers in their readable form, an OpenPGP key as a mention (its entry shows it)."""
    if value is None or value in ("", []):
        return ()
    labels = _display_labels()
    if field == "channels":
        return tuple(_channel_display(channel, labels) for channel in value)
    if field == "languages":
        from liaison.directory.templatetags.directory_tags import language_names

        return (language_names(value),)
    if field == "pgp_key":
        return (_("OpenPGP public key"),)
    if isinstance(value, list):
        return (", ".join(str(item) for item in value),)
    text = str(value)
    return (str(labels.get(field, {}).get(text, text)),)


@functools.cache
def _display_labels() -> dict[str, dict[str, Any]]:
    """Code → label (lazy: translated when shown, in the reader's language)."""
    # Imported here, not at the top: the diff itself (and its text form) needs no Django app.
    from liaison.directory.models import ChannelKind, ContactPointType
    from liaison.networks.models import MemberKind, MemberStatus

    return {
        "type": dict(ContactPointType.choices),
        "kind": dict(MemberKind.choices),
        "status": dict(MemberStatus.choices),
        "channels": dict(ChannelKind.choices),
    }


def _channel_display(channel: dict, labels: dict[str, dict[str, Any]]) -> str:
    from liaison.directory.validation import PHONE_KINDS, format_phone

    kind, value = channel.get("kind", ""), channel.get("value", "")
    if kind in PHONE_KINDS:
        value = format_phone(value)
    text = f"{labels['channels'].get(kind, kind)}: {value}"
    if channel.get("notes"):
        text += f" ({channel['notes']})"
    return text


def _channel_text(channel: dict) -> str:
    text = f"{channel.get('kind', '')}: {channel.get('value', '')}"
    if channel.get("notes"):
        text += f" ({channel['notes']})"
    return text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _text_value(field: str, value: Any) -> str:
    if field == "pgp_key" and value:
        return _("(a key)")
    if field == "channels":
        return "[" + ", ".join(_short(_channel_text(ch)) for ch in value or ()) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    if value is None:
        return "—"
    return repr(_short(str(value)))


def _field_text(change: FieldChange) -> str:
    if change.field == ORDER_FIELD:
        return _("order of the contact points changed")
    return f"{change.field}: {_text_value(change.field, change.old)} → " + _text_value(
        change.field, change.new
    )


def edition_label(number: int | None, *, old: bool) -> str:
    if number is not None:
        return _("edition %(number)d") % {"number": number}
    return _("no edition") if old else _("the drafts")


def member_summary(member: MemberDiff) -> str:
    """'3 edited, 1 added' (what happened to the member's contact points)."""
    words = {
        EDITED: lambda n: ngettext("%(count)d edited", "%(count)d edited", n),
        ADDED: lambda n: ngettext("%(count)d added", "%(count)d added", n),
        REMOVED: lambda n: ngettext("%(count)d removed", "%(count)d removed", n),
    }
    parts = [words[kind](n) % {"count": n} for kind, n in member.counts.items() if n]
    if parts:
        return ", ".join(parts)
    return _("member details changed")


def diff_as_text(diff: DocumentDiff) -> str:
    """The diff for a terminal: a line per member, then a line per changed contact point
    ("~" edited, "+" added, "-" removed)."""
    labels = {
        "from": edition_label(diff.from_edition, old=True),
        "to": edition_label(diff.to_edition, old=False),
    }
    if diff.is_empty():
        return _("No change from %(from)s to %(to)s.") % labels + "\n"
    totals = diff.totals
    lines = [
        _(
            "Changes from %(from)s to %(to)s: %(members)s; contact points: %(edited)d edited, "
            "%(added)d added, %(removed)d removed."
        )
        % {
            **labels,
            "members": ngettext("%(count)d member", "%(count)d members", len(diff.members))
            % {"count": len(diff.members)},
            "edited": totals[EDITED],
            "added": totals[ADDED],
            "removed": totals[REMOVED],
        },
    ]
    for member in diff.members:
        lines.append("")
        heading = f"{member.code} {member.name}"
        if member.change == ADDED:
            heading += " " + _("(new member)")
        elif member.change == REMOVED:
            heading += " " + _("(member removed)")
        lines.append(f"{heading}: {member_summary(member)}")
        lines.extend(f"  * {_field_text(change)}" for change in member.member_fields)
        for cp in member.contact_points:
            mark = {EDITED: "~", ADDED: "+", REMOVED: "-"}[cp.change]
            head = f"  {mark} {cp.id} {_short(cp.title)}"
            if cp.change != EDITED:
                lines.append(head)
            elif len(cp.fields) == 1:
                lines.append(f"{head}: {_field_text(cp.fields[0])}")
            else:
                lines.append(f"{head}:")
                lines.extend(f"      {_field_text(change)}" for change in cp.fields)
    return "\n".join(lines) + "\n"
