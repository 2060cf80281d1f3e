"""A ping test's report as XLSX: sheets Summary, By member and Probes.

Figures are numbers (rates formatted as percentages), text cells are typed as text (a value
starting with "=" never runs as a formula), times are UTC. Rendering only: report_export.py
authorises and audits.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.utils.translation import gettext as _

from liaison.reachability.report_export import (
    confidentiality_note,
    distribution_rows,
    hours_rows,
    status_label,
    type_label,
    via_label,
)


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    # Spreadsheets hold no time zone: the column headers say UTC.
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value is not None else None


def render_xlsx(report: dict[str, Any], probes, *, mark: str) -> bytes:
    """Sheets: Summary (with in/off hours, types, channels, trend), By member (or the
    distribution when anonymised), Probes (none when anonymised)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    workbook.properties.keywords = f"liaison-mark={mark}"
    workbook.properties.creator = "Liaison"
    workbook.properties.title = f"{report['network']} — {report['id']}"
    bold = Font(bold=True)

    def cell(sheet, value, *, font=None, fmt: str | None = None):
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.data_type = "s"  # text, never a formula: "=…" from a directory stays text
        if font is not None:
            made.font = font
        if fmt is not None:
            made.number_format = fmt
        return made

    def head(sheet, *labels: str) -> None:
        sheet.append([cell(sheet, label, font=bold) for label in labels])

    pct = "0.0%"
    summary = workbook.create_sheet(_("Summary"))
    summary.append([cell(summary, _("Reachability test report"), font=bold)])
    summary.append([cell(summary, _("Network")), cell(summary, report["network"])])
    summary.append([cell(summary, _("Test")), cell(summary, report["id"])])
    summary.append([cell(summary, _("Status")), cell(summary, report["test"]["status"])])
    summary.append([cell(summary, _("Started (UTC)")), cell(summary, report["test"]["starts_at"])])
    summary.append([cell(summary, confidentiality_note(report))])
    summary.append([])
    head(summary, _("Figure"), _("Value"))
    for label, key, fmt in [
        (_("Probes"), "probes", None),
        (_("Acknowledged"), "acknowledged", None),
        (_("Response rate"), "response_rate", pct),
        (_("Failed"), "failed", None),
        (_("Expired"), "expired", None),
        (_("Pending"), "pending", None),
        (_("Median seconds to confirm"), "median_seconds", None),
        (_("90th percentile seconds to confirm"), "p90_seconds", None),
    ]:
        summary.append([cell(summary, label), cell(summary, report[key], fmt=fmt)])
    summary.append([])
    group_header = (_("Probes"), _("Acknowledged"), _("Response rate"), _("Median seconds"))

    def group(label: str, f: dict[str, Any]) -> list:
        return [
            cell(summary, label),
            cell(summary, f["probes"]),
            cell(summary, f["acknowledged"]),
            cell(summary, f["response_rate"], fmt=pct),
            cell(summary, f["median_seconds"]),
        ]

    head(summary, _("In hours / off hours"), *group_header)
    for label, f in hours_rows(report):
        summary.append(group(label, f))
    summary.append([])
    head(summary, _("Type of contact point"), *group_header)
    for key, f in report["by_type"].items():
        summary.append(group(type_label(key), f))
    summary.append([])
    head(summary, _("Confirmed through"), _("Acknowledged"), _("Share"), _("Median seconds"))
    for via, f in report["by_channel"].items():
        summary.append(
            [
                cell(summary, via_label(via)),
                cell(summary, f["acknowledged"]),
                cell(summary, f["share"], fmt=pct),
                cell(summary, f["median_seconds"]),
            ]
        )
    if report.get("trend"):
        summary.append([])
        head(summary, _("Trend: started (UTC)"), _("Test"), *group_header)
        for row in report["trend"]:
            summary.append(
                [
                    cell(summary, row["started"]),
                    cell(summary, row["id"]),
                    cell(summary, row["probes"]),
                    cell(summary, row["acknowledged"]),
                    cell(summary, row["response_rate"], fmt=pct),
                    cell(summary, row["median_seconds"]),
                ]
            )

    members = workbook.create_sheet(_("By member"))
    if "member_distribution" in report:
        head(members, _("Members"), _("Count"))
        for label, count in distribution_rows(report):
            members.append([cell(members, label), cell(members, count)])
    else:
        head(
            members,
            _("Member"),
            _("Probes"),
            _("Acknowledged"),
            _("Response rate"),
            _("Failed"),
            _("Expired"),
            _("Pending"),
            _("Median seconds"),
        )
        for code, f in report["by_member"].items():
            members.append(
                [
                    cell(members, code),
                    cell(members, f["probes"]),
                    cell(members, f["acknowledged"]),
                    cell(members, f["response_rate"], fmt=pct),
                    cell(members, f["failed"]),
                    cell(members, f["expired"]),
                    cell(members, f["pending"]),
                    cell(members, f["median_seconds"]),
                ]
            )

    if not report.get("anonymised"):
        sheet = workbook.create_sheet(_("Probes"))
        when = "yyyy-mm-dd hh:mm:ss"
        head(
            sheet,
            _("Probe"),
            _("Member"),
            _("Contact point"),
            _("Type"),
            _("Institution"),
            _("Unit"),
            _("Time zone"),
            _("Scheduled at (UTC)"),
            _("Within declared hours"),
            _("Sent at (UTC)"),
            _("Status"),
            _("Failure"),
            _("Confirmed at (UTC)"),
            _("Confirmed by"),
            _("Confirmed through"),
            _("Seconds to confirm"),
            _("Call outcome"),
            _("Call seconds"),
            _("Reminded at (UTC)"),
            _("Escalated at (UTC)"),
        )
        for probe in probes:
            by = probe.confirmed_name
            if probe.confirmed_by is not None:
                by = probe.confirmed_by.get_full_name() or probe.confirmed_by.email
            hours = {True: _("yes"), False: _("no"), None: ""}[probe.in_hours]
            sheet.append(
                [
                    cell(sheet, probe.public_id),
                    cell(sheet, probe.member.code),
                    cell(sheet, probe.contact_point_id),
                    cell(sheet, type_label(probe.contact_point_type)),
                    cell(sheet, probe.institution),
                    cell(sheet, probe.unit),
                    cell(sheet, probe.timezone),
                    cell(sheet, _naive_utc(probe.scheduled_at), fmt=when),
                    cell(sheet, hours),
                    cell(sheet, _naive_utc(probe.sent_at), fmt=when),
                    cell(sheet, status_label(probe.status)),
                    cell(sheet, probe.failure),
                    cell(sheet, _naive_utc(probe.confirmed_at), fmt=when),
                    cell(sheet, by),
                    cell(sheet, via_label(probe.confirmed_via) if probe.confirmed_via else ""),
                    cell(sheet, probe.seconds_to_confirm),
                    cell(sheet, probe.manual_outcome),
                    cell(sheet, probe.manual_seconds),
                    cell(sheet, _naive_utc(probe.reminded_at), fmt=when),
                    cell(sheet, _naive_utc(probe.escalated_at), fmt=when),
                ]
            )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
