"""Export of a network's directory as CSV, XLSX or JSON: only what the actor may see, audited.

CSV and XLSX have exactly the import's columns (importing.COLUMNS), so an export re-imports
unchanged. Those columns hold two phones, two e-mail addresses, a fax and a secure channel;
what they cannot hold (a third phone, mobiles, channel notes, availability exceptions, OpenPGP
keys) is left out and listed in `warnings`. JSON holds everything.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.directory.models import ContactPoint
from liaison.directory.queries import visible_contact_points
from liaison.directory.tabular import CHANNEL_COLUMNS, COLUMNS, FORMULA_START
from liaison.networks.models import Network
from liaison.networks.queries import resolve_access

FORMATS = ("csv", "xlsx", "json")
LATER_FORMATS = ("vcf", "pdf")  # announced in DESIGN.md, not built yet
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
_E164 = re.compile(r"\+[0-9]{1,15}")


def console_access(network: Network) -> NetworkAccess:
    """The operator at the console: whoever runs `liaison` on the server controls the
    deployment, so the command line acts with the Secretariat's permissions (and is audited)."""
    return NetworkAccess(network=network, roles={Role.SECRETARIAT}, perms=frozenset(Perm))


@dataclass(frozen=True)
class ExportWarning:
    """A contact point whose data does not all fit the CSV/XLSX columns (no contact details)."""

    contact_point: str  # public id
    member: str  # member code
    institution: str
    left_out: tuple[str, ...]

    def __str__(self) -> str:
        return _("%(member)s, %(institution)s (%(id)s): left out %(what)s") % {
            "member": self.member,
            "institution": self.institution[:80],
            "id": self.contact_point,
            "what": ", ".join(self.left_out),
        }


def check_format(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    if fmt in LATER_FORMATS:
        raise ServiceError(
            _("format '%(format)s' is not available yet (available: %(formats)s)")
            % {"format": fmt, "formats": ", ".join(FORMATS)},
            "format",
        )
    if fmt not in FORMATS:
        raise ServiceError(
            _("unknown format '%(format)s' (expected one of: %(formats)s)")
            % {"format": fmt[:20], "formats": ", ".join(FORMATS)},
            "format",
        )
    return fmt


def export_directory(
    actor,
    access: NetworkAccess | None,
    network: Network,
    fmt: str,
    *,
    justification: str = "",
    warnings: list[ExportWarning] | None = None,
) -> bytes:
    """The directory of `network` as `fmt` (csv, xlsx or json) bytes, audited.

    `actor` None with `access` None is the command line (see console_access); a user's access
    is resolved when not given and needs directory.export. When the network requires it, a
    justification is recorded with the audit event. CSV/XLSX: contact points whose data does
    not all fit the columns are appended to `warnings` (when a list is given).
    """
    fmt = check_format(fmt)
    if access is None:
        access = console_access(network) if actor is None else resolve_access(actor, network)
    if access.network.pk != network.pk:
        raise PermissionDenied
    if not access.has(Perm.DIRECTORY_EXPORT):
        raise PermissionDenied(_("You may not export this network's directory."))
    justification = " ".join((justification or "").split())[:500]
    if network.justification_required and not justification:
        raise ServiceError(
            _("this network requires a justification for every export"), "justification"
        )
    contact_points = list(visible_contact_points(access).order_by("member__code", "position", "id"))
    if fmt == "json":
        content = _as_json(network, contact_points)
    else:
        rows = []
        for cp in contact_points:
            row, left_out = spreadsheet_row(cp)
            rows.append(row)
            if left_out and warnings is not None:
                warnings.append(
                    ExportWarning(cp.public_id, cp.member.code, cp.institution, left_out)
                )
        content = _as_csv(rows) if fmt == "csv" else _as_xlsx(rows)
    with transaction.atomic():
        record_event(
            actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
            "directory.export",
            network=network,
            details={"format": fmt, "count": len(contact_points)},
            justification=justification,
        )
    return content


# --- rows ----------------------------------------------------------------------------------


def spreadsheet_row(cp: ContactPoint) -> tuple[dict[str, str], tuple[str, ...]]:
    """One contact point as the import's columns, and what the columns could not hold."""
    member = cp.member
    row = {
        "member_code": member.code,
        "member_name": member.name,
        "member_kind": member.kind,
        "member_status": member.status,
        "type": cp.type,
        "institution": cp.institution,
        "unit": cp.unit,
        "availability": cp.availability,
        "timezone": cp.timezone,
        "languages": cp.languages,
        "instructions": cp.instructions,
    }
    # The columns still free for each channel kind, in order (phone, phone_2…).
    free: dict[str, list[str]] = {}
    for column, kind in CHANNEL_COLUMNS:
        free.setdefault(kind, []).append(column)
        row[column] = ""
    dropped: dict[str, int] = {}
    notes = False
    for channel in cp.channels.all():  # prefetched, in position order
        columns = free.get(channel.kind)
        if columns:
            row[columns.pop(0)] = channel.value
            notes = notes or bool(channel.notes)
        else:
            dropped[channel.kind] = dropped.get(channel.kind, 0) + 1
    left_out = [
        ngettext("%(count)d %(kind)s channel", "%(count)d %(kind)s channels", n)
        % {"count": n, "kind": kind}
        for kind, n in dropped.items()
    ]
    if notes:
        left_out.append(_("channel notes"))
    if cp.availability_exceptions:
        left_out.append(_("availability exceptions"))
    if cp.pgp_key:
        left_out.append(_("OpenPGP key"))
    return row, tuple(left_out)


def _neutralise(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: a ' keeps it text (and the
    import takes it off again). E.164 numbers stay as they are: digits cannot run anything."""
    if value.startswith(FORMULA_START) and not _E164.fullmatch(value):
        return "'" + value
    return value


def _as_csv(rows: Iterable[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_neutralise(row[column]) for column in COLUMNS])
    # With a byte order mark, Excel opens the file as UTF-8 (the import accepts both).
    return out.getvalue().encode("utf-8-sig")


def _as_xlsx(rows: Iterable[dict[str, str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Directory"))
    bold = Font(bold=True)

    def text_cell(value: str, font: Font | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        # Typed as text: a value starting with '=' is not a formula, '+33…' is not a number.
        cell.data_type = "s"
        if font is not None:
            cell.font = font
        return cell

    sheet.append([text_cell(column, bold) for column in COLUMNS])
    for row in rows:
        sheet.append([text_cell(row[column]) for column in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _as_json(network: Network, contact_points: Iterable[ContactPoint]) -> bytes:
    document = {
        "network": network.slug,
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "contact_points": [contact_point_json(cp) for cp in contact_points],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def contact_point_json(cp: ContactPoint) -> dict:
    member = cp.member
    return {
        "id": cp.public_id,
        "member": {
            "code": member.code,
            "name": member.name,
            "kind": member.kind,
            "status": member.status,
        },
        "type": cp.type,
        "institution": cp.institution,
        "unit": cp.unit,
        "channels": [
            {"kind": ch.kind, "value": ch.value, "notes": ch.notes} for ch in cp.channels.all()
        ],
        "availability": cp.availability,
        "availability_exceptions": cp.availability_exceptions,
        "timezone": cp.timezone,
        "languages": cp.language_list,
        "instructions": cp.instructions,
        "pgp_key": cp.pgp_key,
        "review_date": cp.review_date.isoformat() if cp.review_date else None,
    }
