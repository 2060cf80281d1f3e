"""Import of a directory file (CSV or XLSX): read, validate every row, then write all or nothing.

Each row is validated with the same schema as the API (`schemas.validate_contact_point`);
problems are reported as `row N, column C: message` (see tabular.py for the file format).
Importing replaces the draft entries of every member that appears in the file; members absent
from the file are untouched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any, NamedTuple, Protocol

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.directory import services as directory_services
from liaison.directory.models import ContactPoint, Layer
from liaison.directory.schemas import ContactPointData, FieldErrors, validate_contact_point
from liaison.directory.tabular import (
    CHANNEL_COLUMNS,
    COLUMNS,
    FORMULA_START,
    MEMBER_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    UNHEADED,
    ImportProblem,
    ImportRejected,
    cell_text,
    column_rank,
    problem,
    read_rows,
)
from liaison.networks import services as network_services
from liaison.networks.models import Member, MemberKind, MemberStatus, Network
from liaison.networks.queries import resolve_access

__all__ = [  # the import's API, with the file format's names that callers use
    "CHANNEL_COLUMNS",
    "COLUMNS",
    "MEMBER_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ImportPlan",
    "ImportProblem",
    "ImportRejected",
    "ImportReport",
    "MemberChange",
    "MemberPlan",
    "cell_text",
    "import_directory",
    "read_rows",
    "validate_rows",
]

# Schema fields that are columns of the same name.
_PLAIN_FIELDS = (
    "type",
    "institution",
    "unit",
    "availability",
    "timezone",
    "languages",
    "instructions",
)
# The rows' kinds and statuses are checked against these sets (validate_kind/validate_status
# build a list on each call); the networks service still gives the messages.
_KINDS = frozenset(MemberKind.values)
_STATUSES = frozenset(MemberStatus.values)
PROGRESS_THRESHOLD = 500  # rows; smaller files are done before a bar would be read


# --- validating ----------------------------------------------------------------------------


@dataclass
class MemberPlan:
    """One member of the file: its columns as given and the contact points of its rows."""

    code: str
    name: str
    kind: str
    status: str
    first_row: int
    contact_points: list[ContactPointData] = field(default_factory=list)
    # Filled by validate_rows from the database: the member as it is now, if it exists.
    existing: Member | None = None
    existing_contact_points: int = 0

    @property
    def changes(self) -> list[str]:
        """Which of the member's fields the import changes ([] for a new member)."""
        if self.existing is None:
            return []
        now = {
            "name": self.existing.name,
            "kind": self.existing.kind,
            "status": self.existing.status,
        }
        new = {"name": self.name, "kind": self.kind, "status": self.status}
        return [key for key in now if now[key] != new[key]]


class MemberColumns(NamedTuple):
    code: str
    name: str
    kind: str
    status: str
    row: int  # where they were first seen


@dataclass
class ImportPlan:
    rows: int = 0
    members: dict[str, MemberPlan] = field(default_factory=dict)  # by member code
    # Each member's columns as first given, even on a row with other problems: later rows must
    # agree with them.
    first_seen: dict[str, MemberColumns] = field(default_factory=dict, repr=False)


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...
    def close(self) -> Any: ...


# progress(description, total) -> a bar with update() and close() (tqdm fits).
ProgressFactory = Callable[[str, int], Progress]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(description: str, total: int) -> Progress:
    return _NoBar()


def validate_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    network: Network | None,
    *,
    progress: Progress | None = None,
) -> tuple[ImportPlan, list[ImportProblem]]:
    """Validate every row; the plan groups the valid rows by member.

    With a network, each member of the plan carries the member as stored and its number of
    contact points (what an import would change); without one, nothing is read from the
    database. Problems come sorted by row, then column.
    """
    plan = ImportPlan()
    problems: list[ImportProblem] = []
    # Member by member: phonenumbers compiles each country's patterns on first use and Python's
    # regex cache holds ~500 of them, so rows alternating between 200 countries would compile
    # them again on every row (ten times slower). Sorting is stable: a member's rows keep their
    # order, and its first row is still the one later rows are compared with.
    ordered = sorted(
        rows, key=lambda item: (_cell(item[1], "member_code").strip().upper(), item[0])
    )
    for row_number, row in ordered:
        plan.rows += 1
        problems += _validate_row(row_number, row, plan)
        if progress is not None:
            progress.update(1)
    if plan.rows == 0 and not problems:
        problems.append(problem(2, None, _("the file has no contact points (no data rows)")))
    if network is not None:
        _attach_existing(plan, network)
    return plan, sorted(problems, key=lambda p: (p.row, column_rank(p.column)))


def _attach_existing(plan: ImportPlan, network: Network) -> None:
    codes = list(plan.members)
    if not codes:
        return
    for member in Member.objects.filter(network=network, code__in=codes):
        plan.members[member.code].existing = member
    _count_contact_points(plan, network)


def _count_contact_points(plan: ImportPlan, network: Network) -> None:
    """How many contact points each member of the plan has now (what an import removes)."""
    counts = dict(
        ContactPoint.objects.filter(
            network=network, layer=Layer.DRAFT, member__code__in=list(plan.members)
        )
        .order_by()
        .values_list("member__code")
        .annotate(n=Count("pk"))
    )
    for code, mp in plan.members.items():
        mp.existing_contact_points = counts.get(code, 0)


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column) or ""
    if not isinstance(value, str):
        value = cell_text(value)
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value


def _validate_row(row_number: int, row: dict[str, Any], plan: ImportPlan) -> list[ImportProblem]:
    problems = [
        problem(
            row_number,
            letter,
            _("value in a column without a header (put values containing the delimiter in quotes)"),
        )
        for letter in row.get(UNHEADED, ())
    ]
    member, member_problems = _validate_member(row_number, row, plan)
    problems += member_problems

    code = member.code if member else _cell(row, "member_code").strip().upper()
    kind = member.kind if member else _cell(row, "member_kind").strip().lower()
    region = code if kind == MemberKind.STATE and len(code) == 2 else None
    raw: dict[str, Any] = {name: _cell(row, name) for name in _PLAIN_FIELDS}
    sources: list[str] = []
    channels = []
    for column, kind_ in CHANNEL_COLUMNS:
        value = _cell(row, column)
        if value.strip():
            channels.append({"kind": kind_, "value": value})
            sources.append(column)
    raw["channels"] = channels
    try:
        data = validate_contact_point(raw, region=region)
    except FieldErrors as exc:
        problems += [
            problem(row_number, _column_of(name, sources), message) for name, message in exc.errors
        ]
        data = None
    if member is not None and data is not None and not problems:
        entry = plan.members.get(member.code)
        if entry is None:
            entry = plan.members[member.code] = MemberPlan(
                member.code, member.name, member.kind, member.status, member.row
            )
        entry.contact_points.append(data)
    return problems


def _column_of(field_name: str, sources: list[str]) -> str:
    match = re.fullmatch(r"channels\[(\d+)\](?:\..*)?", field_name)
    if match:
        index = int(match[1])
        return sources[index] if index < len(sources) else "phone"
    if field_name == "channels":
        return "phone"  # "at least one channel is required": phone is the first such column
    return field_name


def _message(validate: Callable[[str], str], value: str) -> str:
    """The networks service's own message for a value already known to be invalid."""
    try:
        validate(value)
    except ServiceError as exc:
        return exc.message
    raise AssertionError(f"{validate.__name__} accepted a value that is not among the choices")


@lru_cache(maxsize=512)
def _check_code(code: str, kind: str, language: str | None) -> str | None:
    """The problem with a member code, or None (cached: the same codes repeat on many rows)."""
    try:
        network_services.validate_code(code, kind)
    except ServiceError as exc:
        return exc.message
    if kind == MemberKind.ORGANISATION and not network_services.ORGANISATION_CODE_RE.match(code):
        return _(
            "invalid organisation code '%(code)s': it starts with a letter, then 1 to 15 "
            "capital letters, digits or _ (e.g. EU, INTERPOL)"
        ) % {"code": code[:16]}
    return None


def _validate_member(
    row_number: int, row: dict[str, Any], plan: ImportPlan
) -> tuple[MemberColumns | None, list[ImportProblem]]:
    problems = []
    code = _cell(row, "member_code").strip().upper()
    name = " ".join(_cell(row, "member_name").split())
    kind = _cell(row, "member_kind").strip().lower()
    status = _cell(row, "member_status").strip().lower()
    kind_ok = kind in _KINDS
    if not kind_ok:
        problems.append(
            problem(row_number, "member_kind", _message(network_services.validate_kind, kind))
        )
    if not code:
        problems.append(problem(row_number, "member_code", _("a member code is required")))
    elif kind_ok:  # which codes are valid depends on the kind
        message = _check_code(code, kind, get_language())
        if message:
            problems.append(problem(row_number, "member_code", message))
    if not name:
        problems.append(problem(row_number, "member_name", _("the member's name is required")))
    elif len(name) > 200:
        problems.append(problem(row_number, "member_name", _("is longer than 200 characters")))
    if status not in _STATUSES:
        problems.append(
            problem(row_number, "member_status", _message(network_services.validate_status, status))
        )
    if problems:
        return None, problems
    earlier = plan.first_seen.setdefault(code, MemberColumns(code, name, kind, status, row_number))
    if earlier.row != row_number:
        for column, value, first in (
            ("member_name", name, earlier.name),
            ("member_kind", kind, earlier.kind),
            ("member_status", status, earlier.status),
        ):
            if value != first:
                problems.append(
                    problem(
                        row_number,
                        column,
                        _("%(code)s is '%(first)s' on row %(row)d, '%(value)s' here")
                        % {
                            "code": code,
                            "first": first[:60],
                            "row": earlier.row,
                            "value": value[:60],
                        },
                    )
                )
    return (None if problems else earlier), problems


# --- importing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberChange:
    code: str
    name: str
    action: str  # "created", "updated" or "unchanged"
    fields: tuple[str, ...]  # the member's fields that changed (updated only)
    contact_points_removed: int
    contact_points_added: int


@dataclass
class ImportReport:
    network: str
    source: str
    dry_run: bool
    rows: int
    members: list[MemberChange]

    def _count(self, action: str) -> int:
        return sum(1 for m in self.members if m.action == action)

    @property
    def members_created(self) -> int:
        return self._count("created")

    @property
    def members_updated(self) -> int:
        return self._count("updated")

    @property
    def members_unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def contact_points_removed(self) -> int:
        return sum(m.contact_points_removed for m in self.members)

    @property
    def contact_points_added(self) -> int:
        return sum(m.contact_points_added for m in self.members)


def _report(
    network: Network,
    source: str,
    plan: ImportPlan,
    dry_run: bool,
    actions: dict[str, str] | None = None,
) -> ImportReport:
    members = []
    for code, mp in plan.members.items():
        if actions is not None:
            action = actions[code]
        elif mp.existing is None:
            action = "created"
        else:
            action = "updated" if mp.changes else "unchanged"
        members.append(
            MemberChange(
                code=code,
                name=mp.name,
                action=action,
                fields=tuple(mp.changes) if action == "updated" else (),
                contact_points_removed=mp.existing_contact_points,
                contact_points_added=len(mp.contact_points),
            )
        )
    return ImportReport(network.slug, source, dry_run, plan.rows, members)


def import_directory(
    actor,
    network: Network,
    file: str | os.PathLike | IO[bytes],
    *,
    filename: str = "",
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """Import a directory file into `network`: all rows or nothing.

    `actor` None is the command line (the operator at the console); a user needs
    directory.import in the network. Raises ImportRejected listing every problem (nothing is
    written), ServiceError for a file that cannot be read, PermissionDenied.
    """
    if actor is not None:
        access = resolve_access(actor, network)
        if not access.has(Perm.DIRECTORY_IMPORT):
            raise PermissionDenied(_("You may not import into this network's directory."))
    else:
        access = None
    source = os.path.basename(
        filename or (str(file) if isinstance(file, (str, os.PathLike)) else "")
    )
    rows = list(read_rows(file, source))
    if progress is None or len(rows) <= PROGRESS_THRESHOLD:
        progress = _no_progress
    bar = progress(_("validating rows"), len(rows))
    try:
        plan, problems = validate_rows(rows, network, progress=bar)
    finally:
        bar.close()
    if problems:
        raise ImportRejected(problems)
    if dry_run:
        return _report(network, source, plan, dry_run=True)

    bar = progress(_("writing members"), len(plan.members) + 1)
    actions: dict[str, str] = {}
    try:
        with transaction.atomic():
            # Read again inside the transaction: the plan's view may be a few seconds old.
            existing = network_services.load_members_by_code(network)
            entries = []
            for code, mp in plan.members.items():
                before = existing.get(code)
                member, created = network_services.upsert_member(
                    actor,
                    network,
                    code=code,
                    name=mp.name,
                    kind=mp.kind,
                    status=mp.status,
                    existing=existing,
                    access=access,
                )
                mp.existing = None if created else before
                actions[code] = "created" if created else "updated" if mp.changes else "unchanged"
                entries.append((member, mp.contact_points))
                bar.update(1)
            _count_contact_points(plan, network)  # as they are inside the transaction
            directory_services.replace_member_entries(actor, network, entries, source=source)
            bar.update(1)
    finally:
        bar.close()
    return _report(network, source, plan, dry_run=False, actions=actions)
