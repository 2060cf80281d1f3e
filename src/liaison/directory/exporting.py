"""Exports of a published edition: CSV, XLSX, JSON (signed), vCard and PDF (signed).

Every format renders from the edition's document (`Edition.document()`, the frozen content), never
from the live rows, so an export of edition N is the same directory whenever it is made.

CSV and XLSX have exactly the import's columns (tabular.COLUMNS), so an export re-imports
unchanged. Those columns hold two phones, two e-mail addresses, a fax and a secure channel;
what they cannot hold (a third phone, mobiles, channel notes, availability exceptions, OpenPGP
keys) is left out and listed in `warnings`. JSON holds everything and is signed with the
deployment's key (signing.py), like the PDF. Every export is audited with its format, the
edition's number and a unique mark; the PDF and the JSON carry that mark and who made the
copy, so that a leaked copy can be traced back to its download.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from liaison.audit.services import record_event
from liaison.core import errors
from liaison.core.errors import ServiceError
from liaison.core.ids import new_public_id
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.directory.tabular import CHANNEL_COLUMNS, COLUMNS, FORMULA_START
from liaison.networks.models import Network
from liaison.networks.queries import resolve_access

FORMATS = ("csv", "xlsx", "json", "vcf", "pdf")
SIGNED_FORMATS = ("json", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "vcf": "text/vcard; charset=utf-8",
    "pdf": "application/pdf",
}
BINARY_FORMATS = ("xlsx", "pdf")
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


@dataclass(frozen=True)
class Stamp:
    """Who made a copy, when, and its unique mark (printed on the PDF, kept in the JSON)."""

    mark: str
    at: dt.datetime
    name: str = ""  # "" for the console
    email: str = ""

    @classmethod
    def for_actor(cls, actor, at: dt.datetime | None = None) -> Stamp:
        at = at or timezone.now()
        mark = new_public_id("mk")  # "mk_": a download mark, not a delivery ("dl_")
        if actor is not None and getattr(actor, "is_authenticated", False):
            return cls(mark=mark, at=at, name=actor.get_full_name(), email=actor.email)
        return cls(mark=mark, at=at)

    @property
    def by(self) -> str:
        if not self.email:
            return "console"
        return f"{self.name} <{self.email}>" if self.name != self.email else self.email

    def __str__(self) -> str:
        when = self.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if not self.email:
            return _("Exported at the console on %(when)s — mark %(mark)s") % {
                "when": when,
                "mark": self.mark,
            }
        return _("Downloaded by %(who)s on %(when)s — mark %(mark)s") % {
            "who": self.by,
            "when": when,
            "mark": self.mark,
        }


@dataclass(frozen=True)
class Export:
    content: bytes
    fmt: str
    edition: int | None
    network: str  # slug
    mark: str
    count: int  # contact points
    warnings: tuple[ExportWarning, ...] = field(default=())

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    @property
    def filename(self) -> str:
        edition = f"edition-{self.edition}" if self.edition is not None else "draft"
        return f"{self.network}-directory-{edition}.{self.fmt}"


def check_format(fmt: str) -> str:
    return errors.check_format(fmt, FORMATS)


def check_export_access(actor, access: NetworkAccess | None, network: Network) -> NetworkAccess:
    """The access to export `network` with: the console's when there is neither actor nor
    access; PermissionDenied without directory.export."""
    if access is None:
        access = console_access(network) if actor is None else resolve_access(actor, network)
    if access.network.pk != network.pk:
        raise PermissionDenied
    if not access.has(Perm.DIRECTORY_EXPORT):
        raise PermissionDenied(_("You may not export this network's directory."))
    return access


def clean_justification(network: Network, justification: str) -> str:
    justification = " ".join((justification or "").split())[:500]
    if network.justification_required and not justification:
        raise ServiceError(
            _("this network requires a justification for every export"), "justification"
        )
    return justification


def export_edition(
    actor,
    access: NetworkAccess | None,
    edition,
    fmt: str,
    *,
    justification: str = "",
) -> Export:
    """Edition `edition` as `fmt` bytes, audited ("directory.export", with the mark).

    `actor` None with `access` None is the command line (see console_access); a user's access
    is resolved when not given and needs directory.export. When the network requires it, a
    justification is recorded with the audit event.
    """
    fmt = check_format(fmt)
    network = edition.network
    access = check_export_access(actor, access, network)
    justification = clean_justification(network, justification)
    document = edition.document()
    stamp = Stamp.for_actor(actor)
    warnings: list[ExportWarning] = []
    content = render_export(document, fmt, stamp, warnings=warnings)
    count = document_count(document)
    with transaction.atomic():
        record_event(
            actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
            "directory.export",
            obj=edition,
            network=network,
            details={
                "format": fmt,
                "edition": edition.number,
                "count": count,
                "mark": stamp.mark,
            },
            justification=justification,
        )
    return Export(
        content=content,
        fmt=fmt,
        edition=edition.number,
        network=network.slug,
        mark=stamp.mark,
        count=count,
        warnings=tuple(warnings),
    )


def export_directory(
    actor,
    access: NetworkAccess | None,
    network: Network,
    fmt: str,
    *,
    edition: int | None = None,
    justification: str = "",
) -> Export:
    """Export edition number `edition` (None: the current one) of `network`.

    ServiceError when the format is unknown or the edition does not exist (the message names
    the editions that do), PermissionDenied without directory.export.
    """
    from liaison.directory.queries import get_edition

    fmt = check_format(fmt)
    access = check_export_access(actor, access, network)
    found = get_edition(access, edition)
    return export_edition(actor, access, found, fmt, justification=justification)


# --- rendering -------------------------------------------------------------------------------


def document_count(document: dict[str, Any]) -> int:
    return sum(len(member.get("contact_points", [])) for member in document.get("members", []))


def render_export(
    document: dict[str, Any],
    fmt: str,
    stamp: Stamp,
    *,
    warnings: list[ExportWarning] | None = None,
) -> bytes:
    """`document` (an edition document) as `fmt`; JSON and PDF signed; no audit (the caller's)."""
    fmt = check_format(fmt)
    if fmt == "json":
        from liaison.directory.signing import sign_json

        exported = {
            "at": stamp.at.astimezone(dt.UTC).isoformat(),
            "by": stamp.by,
            "mark": stamp.mark,
        }
        return sign_json({**document, "export": exported})
    if fmt == "pdf":
        from liaison.directory.pdf import render_pdf
        from liaison.directory.signing import sign_pdf

        return sign_pdf(render_pdf(document, stamp=str(stamp), mark=stamp.mark))
    if fmt == "vcf":
        from liaison.directory.vcard import render_vcards

        return render_vcards(document, mark=stamp.mark)
    rows = []
    for member, cp in contact_points_of(document):
        row, left_out = spreadsheet_row(member, cp)
        rows.append(row)
        if left_out and warnings is not None:
            warnings.append(
                ExportWarning(cp.get("id", ""), member["code"], cp.get("institution", ""), left_out)
            )
    if fmt == "csv":
        return _as_csv(rows)
    return _as_xlsx(rows, stamp)


def contact_points_of(document: dict[str, Any]) -> Iterator[tuple[dict, dict]]:
    for member in document.get("members", []):
        for cp in member.get("contact_points", []):
            yield member, cp


def spreadsheet_row(member: dict, cp: dict) -> tuple[dict[str, str], tuple[str, ...]]:
    """One contact point as the import's columns, and what the columns could not hold."""
    row = {
        "member_code": member.get("code", ""),
        "member_name": member.get("name", ""),
        "member_kind": member.get("kind", ""),
        "member_status": member.get("status", ""),
        "type": cp.get("type", ""),
        "institution": cp.get("institution", ""),
        "unit": cp.get("unit", ""),
        "availability": cp.get("availability", ""),
        "timezone": cp.get("timezone", ""),
        "languages": ",".join(cp.get("languages", [])),
        "instructions": cp.get("instructions", ""),
    }
    # The columns still free for each channel kind, in order (phone, phone_2…).
    free: dict[str, list[str]] = {}
    for column, kind in CHANNEL_COLUMNS:
        free.setdefault(kind, []).append(column)
        row[column] = ""
    dropped: dict[str, int] = {}
    notes = False
    for channel in cp.get("channels", []):  # in their order
        columns = free.get(channel.get("kind", ""))
        if columns:
            row[columns.pop(0)] = channel.get("value", "")
            notes = notes or bool(channel.get("notes"))
        else:
            kind = channel.get("kind", "")
            dropped[kind] = dropped.get(kind, 0) + 1
    left_out = [
        ngettext("%(count)d %(kind)s channel", "%(count)d %(kind)s channels", n)
        % {"count": n, "kind": kind}
        for kind, n in dropped.items()
    ]
    if notes:
        left_out.append(_("channel notes"))
    if cp.get("availability_exceptions"):
        left_out.append(_("availability exceptions"))
    if cp.get("pgp_key"):
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


def _as_xlsx(rows: Iterable[dict[str, str]], stamp: Stamp | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    if stamp is not None:
        # In the file's properties, not in the cells: the columns stay the import's.
        workbook.properties.keywords = f"liaison-mark={stamp.mark}"
        workbook.properties.creator = "Liaison"
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
