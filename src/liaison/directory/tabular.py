"""The directory file: its columns, and reading a CSV or XLSX file into numbered rows.

One row per contact point; `COLUMNS` in the order exports write them (imports match header names
in any order, case-insensitively). Row numbers are those a person sees in a spreadsheet: the
header is row 1, the first data row is row 2. Problems are `ImportProblem`s, formatted
`row N, column C: message`.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.directory.models import ChannelKind

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
# Key of the column letters that hold a value but have no header, in a row from `read_rows`.
UNHEADED = "__unheaded__"
# Spreadsheets run a cell starting with one of these as a formula; exports put a ' in front
# (see exporting.py) and imports take it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
MESSAGE_LIMIT = 300
QUOTE_LIMIT = 40
_LONG_QUOTE = re.compile(rf"""(['"])([^'"]{{{QUOTE_LIMIT + 1},}})\1""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


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


def problem(row: int, column: str | None, message: str) -> ImportProblem:
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
        self.problems = sorted(problems, key=lambda p: (p.row, column_rank(p.column)))
        count = len(self.problems)
        super().__init__(
            _("%(count)d problem(s) in the file; nothing was imported") % {"count": count}
        )


def column_rank(column: str | None) -> tuple[int, str]:
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
            if not any(cell.strip() for cell in cells):
                raise ImportRejected([problem(row_number, None, _("the header row is empty"))])
            header = _check_header(cells)
            continue
        if not any(cell.strip() for cell in cells):
            continue
        row: dict[str, Any] = dict.fromkeys((column for column in header if column), "")
        unheaded = []
        for index, value in enumerate(cells):
            column = header[index] if index < len(header) else ""
            if column:
                row[column] = value
            elif value.strip():
                unheaded.append(_column_letter(index))
        if unheaded:
            row[UNHEADED] = unheaded
        yield row_number, row
    if header is None:
        raise ImportRejected([problem(1, None, _("the file is empty"))])


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
            problems.append(problem(1, name[:40], _("the column appears more than once")))
        elif name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = (
                _("unknown column (did you mean %(name)s?)") % {"name": close[0]}
                if close
                else _("unknown column (expected: %(columns)s)") % {"columns": ", ".join(COLUMNS)}
            )
            problems.append(problem(1, name[:40], hint))
        seen.add(name)
    problems += [problem(1, c, _("missing")) for c in REQUIRED_COLUMNS if c not in seen]
    if problems:
        raise ImportRejected(problems)
    return names
