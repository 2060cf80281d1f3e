"""A ping test's report as the PDF of the Secretariat's meeting documents.

The directory's house style (directory/pdf.py): DejaVu Sans, the RESTRICTED marking at the top
and bottom of every page, "page X of Y", and the line naming who made the copy. Title, the
confidentiality note, then summary, by member (or the anonymised distribution), by type, by
channel, in hours / off hours, findings and the trend. Rendering only: report_export.py
authorises and audits.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

from liaison.reachability.report_export import (
    confidentiality_note,
    distribution_rows,
    duration,
    group_rate,
    hours_rows,
    percent,
    ping_test_status_label,
    summary_rows,
    type_label,
    utc_text,
    via_label,
)


def _p(text: str, style) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    styles,
    *,
    text_columns: int = 1,
) -> Any:
    """A table whose first `text_columns` columns are text (left) and the rest figures (right)."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    from liaison.directory.pdf import INK, LABEL_BG, RULE

    data = [
        [
            _p(cell, styles["head" if i < text_columns else "head_num"])
            for i, cell in enumerate(header)
        ]
    ]
    data += [
        [_p(cell, styles["cell" if i < text_columns else "num"]) for i, cell in enumerate(row)]
        for row in rows
    ]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
                ("BOX", (0, 0), (-1, -1), 0.5, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#fafbfc")]),
            ]
        )
    )
    return table


def _trend_chart(trend: list[dict[str, Any]], width: float, regular: str) -> Any:
    """Bars of the response rate per test, oldest first (the last 12 tests), each labelled."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing

    from liaison.directory.pdf import INK, MUTED

    rows = trend[-12:]
    drawing = Drawing(width, 125)
    chart = VerticalBarChart()
    # About 40 pt per test, so that one test is a bar rather than a wall.
    chart.x, chart.y, chart.height = 32, 25, 85
    chart.width = min(width - 40, 40 * len(rows))
    chart.data = [[round(row["response_rate"] * 100, 1) for row in rows]]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 25
    chart.valueAxis.labels.fontName = regular
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%d %%"
    chart.valueAxis.strokeColor = MUTED
    chart.categoryAxis.categoryNames = [(row["started"] or "")[:10] for row in rows]
    chart.categoryAxis.labels.fontName = regular
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.fillColor = MUTED
    chart.categoryAxis.strokeColor = MUTED
    chart.bars[0].fillColor = INK
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%.0f %%"
    chart.barLabels.fontName = regular
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    chart.groupSpacing = 12
    drawing.add(chart)
    return drawing


def render_pdf(report: dict[str, Any], *, stamp: str, mark: str, network_name: str = "") -> bytes:
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak, Spacer

    from liaison.directory.pdf import (
        INK,
        MUTED,
        RESTRICTED_RED,
        _numbered_canvas,
        fonts,
        restricted_template,
    )

    regular, bold = fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=11.5, textColor=INK)
    styles = {
        "body": base,
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=10.5),
        "num": ParagraphStyle("num", base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", base, fontName=bold, fontSize=8, leading=10),
        "head_num": ParagraphStyle(
            "head_num", base, fontName=bold, fontSize=8, leading=10, alignment=TA_RIGHT
        ),
        "title": ParagraphStyle("title", base, fontName=bold, fontSize=18, leading=23),
        "subtitle": ParagraphStyle("sub", base, fontSize=10.5, leading=14, textColor=MUTED),
        "h2": ParagraphStyle(
            "h2", base, fontName=bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4
        ),
        "note": ParagraphStyle(
            "note", base, fontName=bold, fontSize=9.5, leading=12.5, textColor=RESTRICTED_RED
        ),
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=MUTED),
    }
    network = network_name or report["network"]
    test = report["test"]
    out = io.BytesIO()
    header_right = _("%(network)s — ping test %(id)s") % {"network": network, "id": report["id"]}
    template = restricted_template(
        out,
        title=header_right,
        stamp=stamp,
        keywords=f"liaison-ping-test-report; test={report['id']}; mark={mark}",
    )
    width = template.width
    story: list[Any] = [
        _p(_("Reachability test report"), styles["title"]),
        _p(f"{network} — {report['id']}", styles["subtitle"]),
        Spacer(1, 2 * mm),
        _p(
            _("Started %(start)s · ends %(end)s · status: %(status)s · channels: %(channels)s")
            % {
                "start": utc_text(test["starts_at"]),
                "end": utc_text(test["ends_at"]),
                "status": ping_test_status_label(test["status"]),
                "channels": ", ".join(test["channels"]) or "—",
            }
            + (" · " + _("outside declared hours") if test["off_hours"] else ""),
            styles["body"],
        ),
    ]
    if test.get("note"):
        story.append(_p(test["note"], styles["body"]))
    story += [
        Spacer(1, 3 * mm),
        _p(confidentiality_note(report), styles["note"]),
        _p(_("Summary"), styles["h2"]),
        _table(
            [_("Figure"), _("Value")],
            [[label, value] for label, value in summary_rows(report)],
            [width * 0.6, width * 0.25],
            styles,
        ),
        _p(
            _(
                "A probe counts as acknowledged only through a deliberate act (a button "
                "pressed, a reply sent, a call answered), never because a link was fetched. "
                "The response rate counts every probe, failed ones included. Percentiles by "
                "linear interpolation between closest ranks."
            ),
            styles["small"],
        ),
    ]
    figure_header = [
        _("Probes"),
        _("Acknowledged"),
        _("Rate"),
        _("Failed"),
        _("Expired"),
        _("Pending"),
        _("Median"),
    ]
    cols = [width * f for f in (0.2, 0.08, 0.16, 0.1, 0.09, 0.09, 0.09, 0.19)]

    def figure_row(label: str, f: dict[str, Any]) -> list[str]:
        return [
            label,
            str(f["probes"]),
            str(f["acknowledged"]),
            group_rate(f),
            str(f.get("failed", "")),
            str(f.get("expired", "")),
            str(f.get("pending", "")),
            duration(f["median_seconds"]),
        ]

    if "member_distribution" in report:
        story += [
            CondPageBreak(40 * mm),
            _p(_("Members"), styles["h2"]),
            _table(
                [_("Members"), _("Count")],
                [[label, str(count)] for label, count in distribution_rows(report)],
                [width * 0.6, width * 0.25],
                styles,
            ),
        ]
    else:
        story += [
            CondPageBreak(40 * mm),
            _p(_("By member"), styles["h2"]),
            _table(
                [_("Member"), *figure_header],
                [figure_row(code, f) for code, f in report["by_member"].items()]
                or [[_("No probe."), "", "", "", "", "", "", ""]],
                cols,
                styles,
            ),
        ]
    if report["by_type"]:
        story += [
            CondPageBreak(35 * mm),
            _p(_("By type of contact point"), styles["h2"]),
            _table(
                [_("Type"), *figure_header],
                [figure_row(type_label(key), f) for key, f in report["by_type"].items()],
                cols,
                styles,
            ),
        ]
    if report.get("suppressed_types"):
        story.append(
            _p(
                _("%(n)d type(s) left out: fewer than three members have one.")
                % {"n": report["suppressed_types"]},
                styles["small"],
            )
        )
    story += [
        CondPageBreak(35 * mm),
        _p(_("Confirmed through"), styles["h2"]),
        _table(
            [_("Channel"), _("Acknowledged"), _("Share"), _("Median")],
            [
                [
                    via_label(via),
                    str(f["acknowledged"]),
                    percent(f["share"]),
                    duration(f["median_seconds"]),
                ]
                for via, f in report["by_channel"].items()
            ],
            [width * 0.4, width * 0.18, width * 0.18, width * 0.18],
            styles,
        ),
        CondPageBreak(30 * mm),
        _p(_("In hours and off hours"), styles["h2"]),
        _table(
            [_("When the probe was sent"), _("Probes"), _("Acknowledged"), _("Rate"), _("Median")],
            [
                [
                    label,
                    str(f["probes"]),
                    str(f["acknowledged"]),
                    group_rate(f),
                    duration(f["median_seconds"]),
                ]
                for label, f in hours_rows(report)
            ],
            [width * 0.36, width * 0.14, width * 0.18, width * 0.14, width * 0.18],
            styles,
        ),
    ]
    if report.get("findings"):
        story += [
            CondPageBreak(35 * mm),
            _p(_("Findings: failed probes"), styles["h2"]),
            _table(
                [_("Member"), _("Contact point"), _("Failure")],
                [
                    [
                        f["member"],
                        f"{f['institution']}" + (f" — {f['unit']}" if f["unit"] else ""),
                        f["failure"],
                    ]
                    for f in report["findings"]
                ],
                [width * 0.12, width * 0.5, width * 0.36],
                styles,
                text_columns=3,
            ),
        ]
    if report.get("trend"):
        story += [
            CondPageBreak(70 * mm),
            _p(_("Trend across tests"), styles["h2"]),
            _trend_chart(report["trend"], width, regular),
            _table(
                [_("Started"), _("Test"), _("Probes"), _("Acknowledged"), _("Rate"), _("Median")],
                [
                    [
                        utc_text(row["started"]),
                        row["id"],
                        str(row["probes"]),
                        str(row["acknowledged"]),
                        group_rate(row),
                        duration(row["median_seconds"]),
                    ]
                    for row in report["trend"]
                ],
                [width * f for f in (0.22, 0.27, 0.09, 0.16, 0.11, 0.15)],
                styles,
                text_columns=2,
            ),
        ]
    story += [Spacer(1, 6 * mm), _p(stamp, styles["small"])]
    template.build(story, canvasmaker=_numbered_canvas(header_right, stamp, regular, bold))
    return out.getvalue()
