"""The printable directory: an edition document as the PDF a Secretariat would circulate.

A title page (network, edition, publication date, note), then per member its contact points
with channels, availability, languages and instructions. Every page carries the restricted
marking at its top and bottom, "page X of Y", and the stamp that names who downloaded the copy
and its unique mark — also written into the PDF's metadata — so that a leaked copy can be
traced. Rendering only; exporting.py signs the result (signing.sign_pdf).
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from liaison.directory.models import ChannelKind, ContactPointType
from liaison.directory.signing import PDF_KEYWORDS_PREFIX
from liaison.directory.templatetags.directory_tags import language_name
from liaison.directory.validation import PHONE_KINDS, format_phone

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MARGIN = 18 * mm
INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#52606d")
RESTRICTED_RED = colors.HexColor("#a61b1b")
RULE = colors.HexColor("#cbd2d9")
LABEL_BG = colors.HexColor("#f0f4f8")


@cache
def fonts() -> tuple[str, str]:
    """(regular, bold): DejaVu Sans when installed (every script members' names use), else
    Helvetica (Latin-1 only)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        try:
            pdfmetrics.registerFont(TTFont("LiaisonSans", str(regular)))
            pdfmetrics.registerFont(TTFont("LiaisonSans-Bold", str(bold)))
        except Exception:  # a broken font file must not stop an export
            return "Helvetica", "Helvetica-Bold"
        pdfmetrics.registerFontFamily(
            "LiaisonSans",
            normal="LiaisonSans",
            bold="LiaisonSans-Bold",
            italic="LiaisonSans",
            boldItalic="LiaisonSans-Bold",
        )
        return "LiaisonSans", "LiaisonSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def restricted_marking() -> str:
    return _("RESTRICTED — not for public distribution")


def keywords(document: dict[str, Any], mark: str) -> str:
    """Machine-readable facts read back by `liaison directory verify` (signing.py)."""
    return (
        f"{PDF_KEYWORDS_PREFIX}; network={document['network']['slug']}; "
        f"edition={document['edition']}; mark={mark}"
    )


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _text(value: str) -> str:
    """Plain text as Paragraph markup: escaped, line breaks kept."""
    return escape(value or "").replace("\n", "<br/>")


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


class _Styles:
    def __init__(self):
        regular, bold = fonts()
        base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=11.5, textColor=INK)
        self.body = base
        self.small = ParagraphStyle("small", base, fontSize=8, leading=10, textColor=MUTED)
        self.label = ParagraphStyle("label", base, fontName=bold, fontSize=8.5, textColor=MUTED)
        self.title = ParagraphStyle(
            "title", base, fontName=bold, fontSize=24, leading=30, alignment=TA_CENTER
        )
        self.subtitle = ParagraphStyle(
            "subtitle", base, fontSize=14, leading=19, alignment=TA_CENTER, textColor=MUTED
        )
        self.centre = ParagraphStyle("centre", base, alignment=TA_CENTER)
        self.restricted = ParagraphStyle(
            "restricted",
            base,
            fontName=bold,
            fontSize=12,
            leading=16,
            alignment=TA_CENTER,
            textColor=RESTRICTED_RED,
        )
        self.member = ParagraphStyle(
            "member", base, fontName=bold, fontSize=14, leading=18, spaceBefore=8, spaceAfter=4
        )
        self.cp_title = ParagraphStyle("cp", base, fontName=bold, fontSize=10, leading=13)
        self.regular, self.bold = regular, bold


class _Bookmark(Flowable):
    """A zero-size flowable that adds an entry to the PDF's outline (the reader's sidebar)."""

    def __init__(self, key: str, title: str):
        super().__init__()
        self.key, self.title = key, title
        self.width = self.height = 0

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv.bookmarkPage(self.key)
        self.canv.addOutlineEntry(self.title, self.key, level=0, closed=True)


def _numbered_canvas(header_right: str, stamp: str, regular: str, bold: str):
    """A canvas class that draws the header and footer once the page count is known."""

    marking = restricted_marking()
    stamp_line = None

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._saved_pages: list[dict] = []

        def showPage(self):  # reportlab's name
            self._saved_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._saved_pages)
            for number, state in enumerate(self._saved_pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                Canvas.showPage(self)
            Canvas.save(self)

        def _decorate(self, number: int, total: int) -> None:
            nonlocal stamp_line
            width, height = self._pagesize
            if stamp_line is None:
                stamp_line = _fit(stamp, regular, 7, width - 2 * MARGIN)
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            # Header: the marking, and which edition this is.
            self.setFillColor(RESTRICTED_RED)
            self.setFont(bold, 8.5)
            self.drawString(MARGIN, height - 11 * mm, marking)
            self.setFillColor(MUTED)
            self.setFont(regular, 8)
            self.drawRightString(width - MARGIN, height - 11 * mm, header_right)
            self.line(MARGIN, height - 13 * mm, width - MARGIN, height - 13 * mm)
            # Footer: the marking again, the page number, and who downloaded this copy.
            self.line(MARGIN, 15 * mm, width - MARGIN, 15 * mm)
            self.setFillColor(RESTRICTED_RED)
            self.setFont(bold, 8)
            self.drawString(MARGIN, 11 * mm, marking)
            self.setFillColor(MUTED)
            self.setFont(regular, 8)
            self.drawRightString(
                width - MARGIN,
                11 * mm,
                _("page %(number)d of %(total)d") % {"number": number, "total": total},
            )
            self.setFont(regular, 7)
            self.drawString(MARGIN, 7 * mm, stamp_line)
            self.restoreState()

    return NumberedCanvas


def canvas_width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _title_page(document: dict[str, Any], stamp: str, styles: _Styles) -> list[Flowable]:
    network = document["network"]
    members = document.get("members", [])
    count = sum(len(m.get("contact_points", [])) for m in members)
    story: list[Flowable] = [
        Spacer(1, 30 * mm),
        Paragraph(_text(network.get("name") or network.get("slug", "")), styles.title),
        Spacer(1, 4 * mm),
        Paragraph(_text(_("Directory of contact points")), styles.subtitle),
        Spacer(1, 10 * mm),
        Paragraph(
            _text(_("Edition %(number)s") % {"number": document.get("edition")}), styles.title
        ),
        Spacer(1, 3 * mm),
        Paragraph(
            _text(
                _("Published on %(date)s") % {"date": _when(document.get("published_at"))}
                if document.get("published_at")
                else _("Draft — not published")
            ),
            styles.subtitle,
        ),
        Spacer(1, 10 * mm),
        Paragraph(
            _text(
                ngettext("%(count)d member", "%(count)d members", len(members))
                % {"count": len(members)}
                + " · "
                + ngettext("%(count)d contact point", "%(count)d contact points", count)
                % {"count": count}
            ),
            styles.centre,
        ),
    ]
    changed = document.get("changed_members") or []
    if changed:
        story += [
            Spacer(1, 3 * mm),
            Paragraph(
                _text(
                    _("Entries changed since the previous edition: %(members)s")
                    % {"members": ", ".join(changed)}
                ),
                styles.centre,
            ),
        ]
    if document.get("note"):
        story += [
            Spacer(1, 8 * mm),
            Paragraph(_text(_("Note")), styles.label),
            Paragraph(_text(document["note"]), styles.body),
        ]
    story += [
        Spacer(1, 16 * mm),
        Paragraph(_text(restricted_marking()), styles.restricted),
        Spacer(1, 2 * mm),
        Paragraph(
            _text(
                _(
                    "This directory is for the network's contact points only. Do not forward "
                    "it outside the network. Each copy carries a unique mark."
                )
            ),
            styles.centre,
        ),
        Spacer(1, 2 * mm),
        Paragraph(_text(stamp), styles.small),
        PageBreak(),
    ]
    return story


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of `text` no wider than `width` (line breaks kept; an over-long word is cut)."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if "\n" not in text and stringWidth(text, font, size) <= width:
        return [text]  # most values: one line, measured once
    lines = []
    for line in simpleSplit(text, font, size, width) or [""]:
        while stringWidth(line, font, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and stringWidth(line[:cut], font, size) > width:
                cut = max(1, int(cut * 0.9))
            while stringWidth(line[: cut + 1], font, size) <= width:
                cut += 1
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return lines


# A row of a contact point's block: its label's lines, and its value's lines as (bold prefix,
# text) pairs — a channel's kind is printed in bold before its value.
Row = tuple[list[str], list[tuple[str, str]]]


class _EntryBlock(Flowable):
    """One contact point: a shaded title bar, then "label | value" rows, in a thin box.

    Drawn with the canvas directly rather than as a Table of Paragraphs: a 10,000-entry
    directory renders several times faster, and the text is plain text (nothing in the data is
    read as markup). Kept on one page when it fits on one; split between rows (or lines of a
    long row) otherwise.
    """

    PAD = 2.5
    SIZE = 9
    LEADING = 11.5
    LABEL_SIZE = 8.5
    TITLE_SIZE = 10
    TITLE_LEADING = 13
    GAP = 3 * mm

    def __init__(self, title: list[str], rows: list[Row], layout: _Layout):
        super().__init__()
        self.title_lines, self.rows, self.layout = title, rows, layout
        self.title_height = len(title) * self.TITLE_LEADING + 2 * self.PAD
        self.row_heights = [
            max(len(label), len(value), 1) * self.LEADING + 2 * self.PAD for label, value in rows
        ]
        self.block_height = self.title_height + sum(self.row_heights)
        self.width = layout.width
        self.height = self.block_height + self.GAP

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def split(self, available_width, available_height):
        if self.height <= self.layout.max_height:
            return []  # the next page holds it whole
        room = available_height - self.title_height - self.GAP
        first: list[Row] = []
        rest = list(self.rows)
        while rest:
            label, value = rest[0]
            needed = max(len(label), len(value), 1) * self.LEADING + 2 * self.PAD
            if needed <= room:
                first.append(rest.pop(0))
                room -= needed
                continue
            fitting = int((room - 2 * self.PAD) // self.LEADING)
            if fitting >= 1 and len(value) > fitting:
                first.append((label, value[:fitting]))
                rest[0] = (label, value[fitting:])
            break
        if not first:
            return []
        suffix = f" ({self.layout.continued})"
        room_for_title = (
            self.width - 2 * self.PAD - canvas_width(suffix, self.layout.bold, self.TITLE_SIZE)
        )
        more = [
            _fit(self.title_lines[0], self.layout.bold, self.TITLE_SIZE, room_for_title) + suffix
        ]
        return [
            _EntryBlock(self.title_lines, first, self.layout),
            _EntryBlock(more, rest, self.layout),
        ]

    def draw(self):
        canvas, layout = self.canv, self.layout
        width, pad = self.width, self.PAD
        top = self.height  # the gap is at the bottom
        bottom = self.GAP
        canvas.saveState()
        canvas.setFillColor(LABEL_BG)
        canvas.rect(0, top - self.title_height, width, self.title_height, stroke=0, fill=1)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.rect(0, bottom, width, self.block_height, stroke=1, fill=0)
        canvas.setLineWidth(0.25)
        # The rules between rows, then all the text in one text object (one BT…ET).
        y_top = top - self.title_height
        for height in self.row_heights:
            canvas.line(0, y_top, width, y_top)
            y_top -= height
        text = canvas.beginText()
        text.setFillColor(INK)
        text.setFont(layout.bold, self.TITLE_SIZE)
        y = top - pad - self.TITLE_SIZE
        for line in self.title_lines:
            text.setTextOrigin(pad, y)
            text.textOut(line)
            y -= self.TITLE_LEADING
        value_x = layout.label_width + pad
        y_top = top - self.title_height
        for (label, value), height in zip(self.rows, self.row_heights, strict=True):
            text.setFillColor(MUTED)
            text.setFont(layout.bold, self.LABEL_SIZE)
            y = y_top - pad - self.SIZE
            for line in label:
                text.setTextOrigin(pad, y)
                text.textOut(line)
                y -= self.LEADING
            text.setFillColor(INK)
            y = y_top - pad - self.SIZE
            font = None
            for prefix, line in value:
                text.setTextOrigin(value_x, y)
                if prefix:
                    text.setFont(layout.bold, self.SIZE)
                    text.textOut(prefix)
                    font = None
                if font != layout.regular:
                    font = layout.regular
                    text.setFont(font, self.SIZE)
                text.textOut(line)
                y -= self.LEADING
            y_top -= height
        canvas.drawText(text)
        canvas.restoreState()


class _Layout:
    """What every block of one rendering shares: fonts, widths, translated labels, caches."""

    def __init__(self, regular: str, bold: str, width: float, max_height: float):
        self.regular, self.bold = regular, bold
        self.width, self.max_height = width, max_height
        self.label_width = 28 * mm
        self.value_width = width - self.label_width - 2 * _EntryBlock.PAD
        self.labels = {
            "type": _("Type"),
            "channels": _("Channels"),
            "availability": _("Availability"),
            "exceptions": _("Exceptions"),
            "languages": _("Languages"),
            "instructions": _("Instructions"),
            "pgp_key": _("OpenPGP key"),
        }
        self.continued = _("continued")
        self.pgp_provided = _("provided (see the JSON export or the web directory)")
        self._label_lines: dict[str, list[str]] = {}
        self._cache: dict[tuple[str, str], str] = {}

    def label_lines(self, key: str) -> list[str]:
        if key not in self._label_lines:
            self._label_lines[key] = _wrap(
                self.labels[key],
                self.bold,
                _EntryBlock.LABEL_SIZE,
                self.label_width - 2 * _EntryBlock.PAD,
            )
        return self._label_lines[key]

    def cached(self, kind: str, value: str, compute) -> str:
        key = (kind, value)
        if key not in self._cache:
            self._cache[key] = compute(value)
        return self._cache[key]

    def value_lines(self, text: str, prefix: str = "") -> list[tuple[str, str]]:
        wrapped = _wrap(prefix + text, self.regular, _EntryBlock.SIZE, self.value_width)
        lines = [("", line) for line in wrapped]
        if prefix and wrapped[0].startswith(prefix):
            lines[0] = (prefix, wrapped[0][len(prefix) :])
        return lines


def _contact_point(cp: dict[str, Any], layout: _Layout) -> Flowable:
    rows: list[Row] = []

    def row(key: str, lines: list[tuple[str, str]]) -> None:
        if lines:
            rows.append((layout.label_lines(key), lines))

    def plain(text: str) -> list[tuple[str, str]]:
        return layout.value_lines(text) if text else []

    row("type", plain(layout.cached("type", cp.get("type", ""), _type_label)))
    channels = []
    for channel in cp.get("channels", []):
        kind = layout.cached("kind", channel.get("kind", ""), _kind_label)
        value = channel.get("value", "")
        if channel.get("kind") in PHONE_KINDS:
            value = layout.cached("phone", value, format_phone)
        if channel.get("notes"):
            value += f" — {channel['notes']}"
        channels += layout.value_lines(value, prefix=f"{kind}: ")
    row("channels", channels)
    availability = cp.get("availability", "")
    if cp.get("timezone"):
        availability += " (" + _("time zone %(tz)s") % {"tz": cp["timezone"]} + ")"
    row("availability", plain(availability))
    row("exceptions", plain(cp.get("availability_exceptions", "")))
    languages = ", ".join(
        layout.cached("language", code, language_name) for code in cp.get("languages", []) if code
    )
    row("languages", plain(languages))
    row("instructions", plain(cp.get("instructions", "")))
    if cp.get("pgp_key"):
        row("pgp_key", plain(layout.pgp_provided))
    title = cp.get("institution", "")
    if cp.get("unit"):
        title += f" — {cp['unit']}"
    title_lines = _wrap(
        title, layout.bold, _EntryBlock.TITLE_SIZE, layout.width - 2 * _EntryBlock.PAD
    )
    return _EntryBlock(title_lines, rows, layout)


def _type_label(value: str) -> str:
    return _label(ContactPointType, value)


def _kind_label(value: str) -> str:
    return _label(ChannelKind, value)


def _member_heading(member: dict[str, Any]) -> str:
    kind = {"state": _("state"), "organisation": _("organisation")}.get(
        member.get("kind", ""), member.get("kind", "")
    )
    status = {"party": _("party"), "observer": _("observer"), "non_party": _("non-party")}.get(
        member.get("status", ""), member.get("status", "")
    )
    return f"{member.get('name', '')} ({member.get('code', '')}) — {kind}, {status}"


def restricted_template(out, *, title: str, stamp: str, keywords: str) -> SimpleDocTemplate:
    """An A4 page template whose metadata carries the restricted marking and the copy's stamp
    (the directory and the ping-test reports share it)."""
    return SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 2 * mm,
        bottomMargin=MARGIN + 2 * mm,
        title=title,
        author="Liaison",
        subject=f"{restricted_marking()}. {stamp}",
        keywords=keywords,
        creator="Liaison",
    )


def render_pdf(document: dict[str, Any], *, stamp: str, mark: str) -> bytes:
    """The edition `document` as an (unsigned) PDF; `stamp` is the line that names who
    downloaded it ("Downloaded by … — mark …"), printed on every page and kept in the metadata."""
    styles = _Styles()
    network = document["network"]
    out = io.BytesIO()
    header_right = _("%(network)s — directory, edition %(number)s") % {
        "network": network.get("name") or network.get("slug", ""),
        "number": document.get("edition"),
    }
    template = restricted_template(
        out, title=header_right, stamp=stamp, keywords=keywords(document, mark)
    )
    width = template.width - 12  # the frame's padding, 6 pt each side
    layout = _Layout(styles.regular, styles.bold, width, template.height - 12)
    story = _title_page(document, stamp, styles)
    for member in document.get("members", []):
        heading = _member_heading(member)
        story += [
            CondPageBreak(45 * mm),
            _Bookmark(f"member-{member.get('code', '')}", heading),
            Paragraph(_text(heading), styles.member),
        ]
        contact_points = member.get("contact_points", [])
        if not contact_points:
            story.append(Paragraph(_text(_("No contact point.")), styles.small))
            story.append(Spacer(1, 3 * mm))
        story += [_contact_point(cp, layout) for cp in contact_points]
    template.build(
        story, canvasmaker=_numbered_canvas(header_right, stamp, styles.regular, styles.bold)
    )
    return out.getvalue()
