"""Import of a directory file (CSV or XLSX): read, validate every row, then write all or nothing.

A file holds one row per contact point (the columns are listed in `COLUMNS`). Each row is
validated with the same schema as the API (`schemas.validate_contact_point`); problems are
reported as `row N, column C: message`, where N is the row number a person sees in a spreadsheet
(the header is row 1, the first data row is row 2). Importing replaces the draft entries of every
member that appears in the file; members absent from the file are untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Protocol

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.directory import services as directory_services
from liaison.directory.models import ChannelKind, ContactPoint
from liaison.directory.schemas import ContactPointData, FieldErrors, validate_contact_point
from liaison.networks import services as network_services
from liaison.networks.models import Member, MemberKind, Network
from liaison.networks.queries import resolve_access

MEMBER_COLUMNS = ("member_code", "member_name", "member_kind", "member_status")
# Channel columns in the order their channels are created, with the kind each one holds.
CHANNEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("phone", ChannelKind.PHONE),
    ("phone_2", ChannelKind.PHONE),
    ("email", ChannelKind.EMAIL),
    ("email_2", ChannelKind.EMAIL),
    ("fax", ChannelKind.FAX),
    ("secure_channel", ChannelKind.SECURE_PLATFORM),
)
REQUIRED_COLUMNS = (
    *MEMBER_COLUMNS,
    "type",
    "institution",
    "unit",
    "phone",
    "email",
    "availability",
    "timezone",
    "languages",
    "instructions",
)
OPTIONAL_COLUMNS = ("phone_2", "email_2", "fax", "secure_channel")
# The order in which exports write the columns (imports match them by name, in any order).
COLUMNS = (
    *MEMBER_COLUMNS,
    "type",
    "institution",
    "unit",
    *(name for name, _kind in CHANNEL_COLUMNS),
    "availability",
    "timezone",
    "languages",
    "instructions",
)
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
ORGANISATION_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
# Key of the column letters that hold a value but have no header, in a row from `read_rows`.
UNHEADED = "__unheaded__"
# Spreadsheets run a cell starting with one of these as a formula; exports put a ' in front
# (see exporting.py) and imports take it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
MESSAGE_LIMIT = 300
QUOTE_LIMIT = 40
_LONG_QUOTE = re.compile(rf"""(['"])([^'"]{{{QUOTE_LIMIT + 1},}})\1""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
PROGRESS_THRESHOLD = 500  # rows; smaller files are done before a bar would be read


# --- problems ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ImportProblem:
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"row {self.row}, column {self.column}: {self.message}"
        return f"row {self.row}: {self.message}"


def _problem(row: int, column: str | None, message: str) -> ImportProblem:
    # One line per problem, and never a whole cell: validators quote the offending value, so a
    # long one is cut inside its quotes (the explanation after it stays).
    message = _CONTROL.sub(" ", str(message)).strip()
    message = _LONG_QUOTE.sub(lambda m: f"{m[1]}{m[2][:QUOTE_LIMIT]}…{m[1]}", message)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    return ImportProblem(row, column, message)


class ImportRejected(ServiceError):
    """The file has problems; nothing was written. `problems` lists every one, in row order."""

    def __init__(self, problems: Iterable[ImportProblem]):
        self.problems = sorted(problems, key=lambda p: (p.row, _column_rank(p.column)))
        count = len(self.problems)
        super().__init__(
            _("%(count)d problem(s) in the file; nothing was imported") % {"count": count}
        )


def _column_rank(column: str | None) -> tuple[int, str]:
    if column is None:
        return (-1, "")
    return (COLUMNS.index(column), "") if column in COLUMNS else (len(COLUMNS), column)


# --- reading -------------------------------------------------------------------------------


def read_rows(
    source: str | os.PathLike | IO[bytes], filename: str = ""
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, {column: text}) for each data row of a CSV or XLSX file.

    Row numbers are those a spreadsheet shows (the header is row 1). Blank rows are skipped.
    Values are strings ('' for an empty cell); a row whose cells have no header gets their
    column letters under `UNHEADED`. A header that is missing a required column, or that has an
    unknown or repeated one, raises ImportRejected before any row is read.
    """
    data = _read_bytes(source)
    name = filename or (str(source) if isinstance(source, (str, os.PathLike)) else "")
    records = _xlsx_records(data) if _is_xlsx(data, name) else _csv_records(data)
    header: list[str] | None = None
    for row_number, cells in records:
        if header is None:
            if not any(cells):
                raise ImportRejected([_problem(row_number, None, _("the header row is empty"))])
            header = _check_header(cells)
            continue
        if not any(cell.strip() for cell in cells):
            continue
        row: dict[str, Any] = dict.fromkeys(header_names(header), "")
        unheaded = []
        for index, value in enumerate(cells):
            name_ = header[index] if index < len(header) else ""
            if name_:
                row[name_] = value
            elif value.strip():
                unheaded.append(_column_letter(index))
        if unheaded:
            row[UNHEADED] = unheaded
        yield row_number, row
    if header is None:
        raise ImportRejected([_problem(1, None, _("the file is empty"))])


def header_names(header: list[str]) -> list[str]:
    return [name for name in header if name]


def _read_bytes(source: str | os.PathLike | IO[bytes]) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).read_bytes()
    data = source.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def _is_xlsx(data: bytes, name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ServiceError(
            _("old Excel (.xls) files are not supported: save the file as .xlsx or CSV UTF-8")
        )
    if data.startswith(b"PK\x03\x04"):
        return True
    if lower.endswith((".xlsx", ".xlsm")):
        raise ServiceError(_("the file is not a valid XLSX workbook"))
    return False


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ServiceError(
            _(
                "the file is not UTF-8 text (first bad byte on line %(line)d): in Excel, "
                "save it as 'CSV UTF-8'"
            )
            % {"line": line}
        ) from None
    first_line = text.split("\n", 1)[0]
    # Excel writes ';' where ',' is the decimal separator (French, German… locales); header
    # names contain neither, so the header line tells which one the file uses.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    # A spreadsheet shows one row per record, even when a quoted cell holds line breaks.
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise ServiceError(
            _("the CSV file is malformed near line %(line)d") % {"line": reader.line_num}
        ) from exc


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        # data_only: a formula cell gives the value the person sees, not the formula.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ServiceError(_("the file is not a valid XLSX workbook")) from exc
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        # read_only mode yields an empty tuple for a missing row, so numbers stay aligned.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
    finally:
        workbook.close()


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person meant (phone numbers Excel turned into floats)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _check_header(cells: list[str]) -> list[str]:
    names = [" ".join(cell.split()).lower() for cell in cells]
    problems = []
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        if name in seen:
            problems.append(_problem(1, name[:40], _("the column appears more than once")))
        elif name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = (
                _("unknown column (did you mean %(name)s?)") % {"name": close[0]}
                if close
                else _("unknown column (expected: %(columns)s)") % {"columns": ", ".join(COLUMNS)}
            )
            problems.append(_problem(1, name[:40], hint))
        seen.add(name)
    problems += [_problem(1, c, _("missing")) for c in REQUIRED_COLUMNS if c not in seen]
    if problems:
        raise ImportRejected(problems)
    return names


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


@dataclass
class ImportPlan:
    rows: int = 0
    members: dict[str, MemberPlan] = field(default_factory=dict)  # by member code


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...
    def close(self) -> Any: ...


# progress(description, total) -> a bar with update() and close() (tqdm fits).
ProgressFactory = Callable[[str, int], Progress]


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
        problems.append(_problem(2, None, _("the file has no contact points (no data rows)")))
    if network is not None:
        _attach_existing(plan, network)
    return plan, sorted(problems, key=lambda p: (p.row, _column_rank(p.column)))


def _attach_existing(plan: ImportPlan, network: Network) -> None:
    codes = list(plan.members)
    if not codes:
        return
    for member in Member.objects.filter(network=network, code__in=codes):
        plan.members[member.code].existing = member
    counts = (
        ContactPoint.objects.filter(network=network, member__code__in=codes)
        .order_by()
        .values_list("member__code")
        .annotate(n=Count("pk"))
    )
    for code, n in counts:
        plan.members[code].existing_contact_points = n


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column) or ""
    if not isinstance(value, str):
        value = cell_text(value)
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value


def _validate_row(row_number: int, row: dict[str, Any], plan: ImportPlan) -> list[ImportProblem]:
    problems = [
        _problem(
            row_number,
            letter,
            _("value in a column without a header (put values containing the delimiter in quotes)"),
        )
        for letter in row.get(UNHEADED, ())
    ]
    member, member_problems = _validate_member(row_number, row, plan)
    problems += member_problems

    code = member[0] if member else _cell(row, "member_code").strip().upper()
    kind = member[2] if member else _cell(row, "member_kind").strip().lower()
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
        data = _validate_contact_point(raw, region)
    except FieldErrors as exc:
        problems += [
            _problem(row_number, _column_of(name, sources), message) for name, message in exc.errors
        ]
        data = None
    if member is not None and data is not None and not problems:
        code, name, kind, status = member
        entry = plan.members.get(code)
        if entry is None:
            entry = plan.members[code] = MemberPlan(code, name, kind, status, row_number)
        entry.contact_points.append(data)
    return problems


def _validate_contact_point(raw: dict[str, Any], region: str | None) -> ContactPointData:
    return validate_contact_point(raw, region=region)


def _column_of(field_name: str, sources: list[str]) -> str:
    match = re.fullmatch(r"channels\[(\d+)\](?:\..*)?", field_name)
    if match:
        index = int(match[1])
        return sources[index] if index < len(sources) else "phone"
    if field_name == "channels":
        return "phone"  # "at least one channel is required": phone is the first such column
    return field_name


@lru_cache(maxsize=512)
def _check_code(code: str, kind: str, language: str | None) -> str | None:
    """The problem with a member code, or None (cached: the same codes repeat on many rows)."""
    try:
        network_services.validate_code(code, kind)
    except ServiceError as exc:
        return exc.message
    if kind == MemberKind.ORGANISATION and not ORGANISATION_CODE_RE.match(code):
        return _(
            "invalid organisation code '%(code)s': it starts with a letter, then 1 to 15 "
            "capital letters, digits or _ (e.g. EU, INTERPOL)"
        ) % {"code": code[:16]}
    return None


def _validate_member(
    row_number: int, row: dict[str, Any], plan: ImportPlan
) -> tuple[tuple[str, str, str, str] | None, list[ImportProblem]]:
    problems = []
    code = _cell(row, "member_code").strip().upper()
    name = " ".join(_cell(row, "member_name").split())
    kind = _cell(row, "member_kind").strip().lower()
    status = _cell(row, "member_status").strip().lower()
    kind_ok = True
    try:
        kind = network_services.validate_kind(kind)
    except ServiceError as exc:
        problems.append(_problem(row_number, "member_kind", exc.message))
        kind_ok = False
    if not code:
        problems.append(_problem(row_number, "member_code", _("a member code is required")))
    elif kind_ok:  # which codes are valid depends on the kind
        message = _check_code(code, kind, get_language())
        if message:
            problems.append(_problem(row_number, "member_code", message))
    if not name:
        problems.append(_problem(row_number, "member_name", _("the member's name is required")))
    elif len(name) > 200:
        problems.append(_problem(row_number, "member_name", _("is longer than 200 characters")))
    try:
        status = network_services.validate_status(status)
    except ServiceError as exc:
        problems.append(_problem(row_number, "member_status", exc.message))
    if problems:
        return None, problems
    earlier = plan.members.get(code)
    if earlier is not None:
        for column, value, first in (
            ("member_name", name, earlier.name),
            ("member_kind", kind, earlier.kind),
            ("member_status", status, earlier.status),
        ):
            if value != first:
                problems.append(
                    _problem(
                        row_number,
                        column,
                        _("%(code)s is '%(first)s' on row %(row)d, '%(value)s' here")
                        % {
                            "code": code,
                            "first": first[:60],
                            "row": earlier.first_row,
                            "value": value[:60],
                        },
                    )
                )
    return (None if problems else (code, name, kind, status)), problems


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
    show_progress = progress is not None and len(rows) > PROGRESS_THRESHOLD
    bar = progress(_("validating"), len(rows)) if show_progress else None
    try:
        plan, problems = validate_rows(rows, network, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if problems:
        raise ImportRejected(problems)
    if dry_run:
        return _report(network, source, plan, dry_run=True)

    bar = progress(_("writing"), len(plan.members) + 1) if show_progress else None
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
                if created:
                    actions[code] = "created"
                elif (before.name, before.kind, before.status) != (mp.name, mp.kind, mp.status):
                    actions[code] = "updated"
                else:
                    actions[code] = "unchanged"
                mp.existing = None if created else before
                entries.append((member, mp.contact_points))
                if bar is not None:
                    bar.update(1)
            _attach_counts(plan, network)
            directory_services.replace_member_entries(actor, network, entries, source=source)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return _report(network, source, plan, dry_run=False, actions=actions)


def _attach_counts(plan: ImportPlan, network: Network) -> None:
    """Contact points each member has just before they are replaced (inside the transaction)."""
    for mp in plan.members.values():
        mp.existing_contact_points = 0
    counts = (
        ContactPoint.objects.filter(network=network, member__code__in=list(plan.members))
        .order_by()
        .values_list("member__code")
        .annotate(n=Count("pk"))
    )
    for code, n in counts:
        plan.members[code].existing_contact_points = n
