"""A ping test's report as text (the CLI), PDF and XLSX (the Secretariat's meeting documents).

Renders the dict of report.py; `export_report` computes it over what the actor may see, renders
it and records the export in the audit trail ("pingtest.report_export", with a unique mark
printed on every PDF page and kept in the XLSX's properties, as directory exports do). The
renderings are report_pdf.py and report_xlsx.py; the labels and rows they share are here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from liaison.core import errors
from liaison.core.permissions import Perm
from liaison.reachability.models import ConfirmedVia, PingTestStatus, ProbeStatus
from liaison.reachability.report import anonymised, check_report_access, report_for

FORMATS = ("pdf", "xlsx")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TYPE_LABELS = {
    "police": gettext_lazy("Police"),
    "security_service": gettext_lazy("Security services"),
    "prosecution": gettext_lazy("Prosecution"),
    "ministry_of_justice": gettext_lazy("Ministry of Justice"),
    "cybersecurity": gettext_lazy("Cybersecurity"),
    "other": gettext_lazy("Other"),
}


# --- formatting ------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def group_rate(figures: dict[str, Any]) -> str:
    """A group's response rate; "—" for a group without probes (0.0 in the data)."""
    return percent(figures["response_rate"]) if figures["probes"] else "—"


def duration(seconds: float | None) -> str:
    """345 → "5 min 45 s"; 2700 → "45 min"; 5400 → "1 h 30 min"; None → "—"."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return _("%(s)d s") % {"s": total}
    if total < 3600:
        minutes, secs = divmod(total, 60)
        if secs:
            return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
        return _("%(m)d min") % {"m": minutes}
    hours, rest = divmod(total, 3600)
    minutes = round(rest / 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    if minutes:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(h)d h") % {"h": hours}


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value))


def via_label(value: str) -> str:
    try:
        return str(ConfirmedVia(value).label)
    except ValueError:
        return value or _("unknown")


def status_label(value: str) -> str:
    try:
        return str(ProbeStatus(value).label)
    except ValueError:
        return value


def ping_test_status_label(value: str) -> str:
    try:
        return str(PingTestStatus(value).label).lower()
    except ValueError:
        return value


def utc_text(value: str | None) -> str:
    if not value:
        return "—"
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (_("Probes"), str(report["probes"])),
        (_("Acknowledged"), str(report["acknowledged"])),
        (_("Response rate"), group_rate(report)),
        (_("Failed (delivery failures, wrong numbers)"), str(report["failed"])),
        (_("Expired without an answer"), str(report["expired"])),
        (_("Pending"), str(report["pending"])),
        (_("Median time to confirm"), duration(report["median_seconds"])),
        (_("90th percentile time to confirm"), duration(report["p90_seconds"])),
    ]


def hours_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [
        (_("Within declared hours"), report["in_hours"]),
        (_("Outside declared hours"), report["off_hours"]),
    ]
    if report["hours_unknown"]["probes"]:
        rows.append((_("No declared hours"), report["hours_unknown"]))
    return rows


def distribution_rows(report: dict[str, Any]) -> list[tuple[str, int]]:
    dist = report["member_distribution"]
    return [
        (_("Members probed"), dist["members"]),
        (_("Answered every probe (100 %)"), dist["all"]),
        (_("Answered at least half (50 % to 99 %)"), dist["half_or_more"]),
        (_("Answered less than half (1 % to 49 %)"), dist["under_half"]),
        (_("Answered none (0 %)"), dist["none"]),
    ]


def confidentiality_note(report: dict[str, Any]) -> str:
    if report.get("anonymised"):
        return _(
            "Anonymised aggregate: no member is named. It may be shared with the network's members."
        )
    if report.get("scope") == "own_member":
        return _(
            "Confidential — these results cover your own member only. Do not share them "
            "outside your administration."
        )
    return _(
        "Confidential — Secretariat. These results name members: do not circulate them "
        "outside the Secretariat. Share the anonymised report with the network."
    )


# --- text (the command line) -----------------------------------------------------------------


def as_text(report: dict[str, Any]) -> str:
    """A readable summary, then one line per member (or the distribution when anonymised)."""
    test = report["test"]
    lines = [
        _("Ping test %(id)s — %(network)s") % {"id": report["id"], "network": report["network"]},
        _("Status: %(status)s · started %(start)s · ends %(end)s · channels: %(channels)s")
        % {
            "status": ping_test_status_label(test["status"]),
            "start": utc_text(test["starts_at"]),
            "end": utc_text(test["ends_at"]),
            "channels": ", ".join(test["channels"]) or "—",
        },
        confidentiality_note(report),
        "",
    ]
    width = max(len(label) for label, _v in summary_rows(report))
    lines += [f"{label.ljust(width)}  {value}" for label, value in summary_rows(report)]
    lines += ["", _("In hours / off hours")]
    for label, figures in hours_rows(report):
        lines.append(
            "  "
            + _("%(label)s: %(ack)d of %(n)d (%(rate)s), median %(median)s")
            % {
                "label": label,
                "ack": figures["acknowledged"],
                "n": figures["probes"],
                "rate": group_rate(figures),
                "median": duration(figures["median_seconds"]),
            }
        )
    if report["by_type"]:
        lines += ["", _("By type of contact point")]
        for key, figures in report["by_type"].items():
            lines.append(
                "  "
                + _("%(label)s: %(ack)d of %(n)d (%(rate)s), median %(median)s")
                % {
                    "label": type_label(key),
                    "ack": figures["acknowledged"],
                    "n": figures["probes"],
                    "rate": group_rate(figures),
                    "median": duration(figures["median_seconds"]),
                }
            )
    if report["acknowledged"]:
        lines += ["", _("Confirmed through")]
        for via, figures in report["by_channel"].items():
            if figures["acknowledged"]:
                lines.append(
                    f"  {via_label(via)}: {figures['acknowledged']} "
                    f"({percent(figures['share'])}), "
                    + _("median %(median)s")
                    % {"median": duration(figures["median_seconds"])}
                )
    if "member_distribution" in report:
        lines += ["", _("Members")]
        lines += [f"  {label}: {count}" for label, count in distribution_rows(report)]
    else:
        lines += ["", _("By member")]
        for code, figures in report["by_member"].items():
            lines.append(
                "  "
                + _(
                    "%(code)s: %(ack)d of %(n)d acknowledged (%(rate)s), %(failed)d failed, "
                    "%(expired)d expired, %(pending)d pending, median %(median)s"
                )
                % {
                    "code": code,
                    "ack": figures["acknowledged"],
                    "n": figures["probes"],
                    "rate": group_rate(figures),
                    "failed": figures["failed"],
                    "expired": figures["expired"],
                    "pending": figures["pending"],
                    "median": duration(figures["median_seconds"]),
                }
            )
        if not report["by_member"]:
            lines.append("  " + _("No probe."))
    if report.get("findings"):
        lines += ["", _("Findings (failed probes)")]
        lines += [
            f"  {f['member']} {f['contact_point']} {f['institution']}: {f['failure']}"
            for f in report["findings"]
        ]
    if report.get("trend"):
        lines += ["", _("Trend")]
        lines += [
            f"  {utc_text(row['started'])}  {row['id']}  "
            + _("%(ack)d of %(n)d (%(rate)s), median %(median)s")
            % {
                "ack": row["acknowledged"],
                "n": row["probes"],
                "rate": group_rate(row),
                "median": duration(row["median_seconds"]),
            }
            for row in report["trend"]
        ]
    return "\n".join(lines)


# --- exports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportExport:
    content: bytes
    fmt: str
    test: str  # public id
    network: str  # slug
    mark: str
    anonymised: bool

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    @property
    def filename(self) -> str:
        suffix = "-anonymised" if self.anonymised else ""
        return f"{self.network}-ping-test-{self.test}{suffix}.{self.fmt}"


def check_format(fmt: str) -> str:
    return errors.check_format(fmt, FORMATS)


def export_report(actor, access, ping_test, fmt: str, *, anonymise: bool = False) -> ReportExport:
    """The report of `ping_test` over the probes `access` may see, as PDF or XLSX; audited.

    A coordinator's or officer's export covers its own member only (report_for); the anonymised
    report of the whole test is the Secretariat's to make and share.
    """
    from liaison.audit.services import record_event
    from liaison.directory.exporting import Stamp
    from liaison.reachability.queries import visible_probes

    fmt = check_format(fmt)
    check_report_access(access, ping_test)
    if anonymise and not access.has(Perm.PINGTEST_MANAGE):
        raise PermissionDenied
    report = report_for(access, ping_test)
    if anonymise:
        report = anonymised(report)
    stamp = Stamp.for_actor(actor)
    network_name = ping_test.network.name
    if fmt == "pdf":
        from liaison.reachability.report_pdf import render_pdf

        content = render_pdf(report, stamp=str(stamp), mark=stamp.mark, network_name=network_name)
    else:
        from liaison.reachability.report_xlsx import render_xlsx

        probes = [] if anonymise else visible_probes(access, ping_test).order_by("member__code")
        content = render_xlsx(report, probes, mark=stamp.mark)
    with transaction.atomic():
        record_event(
            actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
            "pingtest.report_export",
            obj=ping_test,
            network=ping_test.network,
            details={
                "format": fmt,
                "mark": stamp.mark,
                "scope": report["scope"],
                "probes": report["probes"],
                "anonymised": anonymise,
            },
        )
    return ReportExport(
        content=content,
        fmt=fmt,
        test=ping_test.public_id,
        network=ping_test.network.slug,
        mark=stamp.mark,
        anonymised=anonymise,
    )
