"""Reading editions and their diffs, audited: what the pages, the API and `liaison directory
diff` share.

Built on directory.queries (the read path): every function takes the actor's access and sees
only that network's editions. Consultations are recorded in the audit trail ("directory.editions",
"directory.edition", "directory.diff"): an edition holds the whole directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm
from liaison.directory import queries
from liaison.directory.diffing import DocumentDiff, diff_documents
from liaison.directory.models import Edition

# Larger numbers cannot be editions (and would overflow a database integer).
MAX_EDITION_NUMBER = 2**31 - 1


class UnknownEditions(ServiceError):
    """Edition numbers that do not exist in the network, all named in the message."""

    def __init__(self, message: str, numbers: Sequence[int]):
        super().__init__(message, "edition")
        self.numbers = tuple(numbers)

    def __str__(self) -> str:
        return self.message


def parse_edition_number(text: str) -> int:
    """'3' → 3; a clear ServiceError for anything that is not a whole number."""
    value = (text or "").strip()
    if not value.isdigit() or not value.isascii():
        raise ServiceError(
            _("'%(value)s' is not an edition number: give whole numbers such as 1 or 12")
            % {"value": value[:20]},
            "edition",
        )
    return int(value)


def _existing_range(last: int | None) -> str:
    if last is None:
        return _("no edition of this directory has been published yet")
    if last == 1:
        return _("this network has only edition 1")
    return _("this network has editions 1–%(last)d") % {"last": last}  # noqa: RUF001


def resolve_editions(
    access: NetworkAccess, numbers: Sequence[int], *, content: bool = True
) -> dict[int, Edition]:
    """The editions with these numbers (with their content unless `content` is False), or
    UnknownEditions naming every number that does not exist."""
    if not access.has(Perm.DIRECTORY_VIEW):
        raise PermissionDenied
    wanted = sorted(set(numbers))
    valid = [n for n in wanted if 1 <= n <= MAX_EDITION_NUMBER]
    qs = queries.editions(access).filter(number__in=valid)
    found = {e.number: e for e in (qs.defer(None) if content else qs)}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        last = queries.editions(access).values_list("number", flat=True).first()
        raise UnknownEditions(
            ngettext(
                "unknown edition: %(numbers)s (%(existing)s)",
                "unknown editions: %(numbers)s (%(existing)s)",
                len(unknown),
            )
            % {"numbers": ", ".join(str(n) for n in unknown), "existing": _existing_range(last)},
            unknown,
        )
    return found


@dataclass(frozen=True)
class EditionView:
    """One edition as its page shows it: the edition, the one before, what changed."""

    edition: Edition
    previous: Edition | None
    diff: DocumentDiff
    is_current: bool


def list_editions(actor, access: NetworkAccess) -> list[Edition]:
    """The network's editions, newest first (metadata only), audited."""
    if not access.has(Perm.DIRECTORY_VIEW):
        raise PermissionDenied
    items = list(queries.editions(access))
    with transaction.atomic():
        record_event(
            actor,
            "directory.editions",
            network=access.network,
            details={"count": len(items)},
        )
    return items


def read_edition(actor, access: NetworkAccess, number: int) -> EditionView:
    """Edition `number` and its diff against the previous edition (an empty directory for the
    first), audited."""
    edition = resolve_editions(access, [number])[number]
    # Editions are numbered without gaps: the one before exists.
    previous = resolve_editions(access, [number - 1])[number - 1] if number > 1 else None
    diff = diff_documents(previous.document() if previous else None, edition.document())
    last = queries.editions(access).values_list("number", flat=True).first()
    with transaction.atomic():
        record_event(
            actor,
            "directory.edition",
            obj=edition,
            network=access.network,
            details={"number": number},
        )
    return EditionView(edition, previous, diff, is_current=number == last)


def diff_editions(actor, access: NetworkAccess, a: int, b: int) -> DocumentDiff:
    """What changed from edition `a` to edition `b` (either way round), audited
    ("directory.diff"). UnknownEditions names every number that does not exist."""
    found = resolve_editions(access, [a, b])
    old, new = found[a], found[b]
    diff = diff_documents(old.document(), new.document()) if a != b else _empty(a)
    with transaction.atomic():
        record_event(
            actor if getattr(actor, "is_authenticated", False) else None,
            "directory.diff",
            obj=new,
            network=access.network,
            details={"from": a, "to": b, "changed_members": diff.changed_members},
        )
    return diff


def _empty(number: int) -> DocumentDiff:
    return DocumentDiff(from_edition=number, to_edition=number, members=())
