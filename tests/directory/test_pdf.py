"""The printable directory: content, the restricted marking and the stamp on every page."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader

from liaison.directory import pdf
from liaison.directory.exporting import Stamp, render_export
from liaison.directory.signing import verify_export
from tests.directory.test_signing import contact_point, make_document

MARKING = "RESTRICTED — not for public distribution"


def pages_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def document() -> dict:
    doc = make_document()
    # Enough contact points for several pages.
    doc["members"][1]["contact_points"] += [contact_point(n) for n in range(10, 40)]
    return doc


@pytest.fixture(scope="module")
def rendered(document) -> bytes:
    stamp = Stamp(
        mark="mk_testmark0000000000",
        at=dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC),
        name="Anna Müller",
        email="anna@bka.de.example",
    )
    return render_export(document, "pdf", stamp)


def test_the_pdf_renders_the_edition(rendered):
    texts = pages_text(rendered)
    assert len(texts) >= 4
    title = squash(texts[0])
    for expected in (
        "Budapest 24/7 Network",
        "Directory of contact points",
        "Edition 3",
        "Published on 2026-11-22 10:00 UTC",
        "Quarterly update.",
        "4 members · 33 contact points",
        "Entries changed since the previous edition: DE",
    ):
        assert expected in title, expected
    body = squash(" ".join(texts[1:]))
    for expected in (
        "Germany (DE) — state, party",
        "France (FR) — state, party",
        "Ελλάδα (Greece) (GR) — state, party",  # Greek: the font covers it
        "Ελληνική Αστυνομία — Δίωξη",
        "Japan (JP) — state, observer",
        "No contact point.",
        "Bundeskriminalamt — SO 4",
        "Phone: +49 611 55123456 — duty desk",
        "Mobile: +49 170 1234567",
        "Fax: +49 611 55123499",
        "E-mail: desk@bka.de.example",
        "24/7 (time zone Europe/Berlin)",
        "2026-12-24..2026-12-26 08:00-12:00",
        "German, English",
        "Call first, then e-mail.",
        "Police",
    ):
        assert expected in body, expected


def test_every_page_is_marked_restricted_numbered_and_stamped(rendered):
    texts = pages_text(rendered)
    total = len(texts)
    stamp = "Downloaded by Anna Müller <anna@bka.de.example> on 2026-11-22 09:30:00 UTC"
    for number, text in enumerate(texts, start=1):
        flat = squash(text)
        assert flat.count(MARKING) >= 2, number  # header and footer
        assert f"page {number} of {total}" in flat
        assert stamp in flat
        assert "mark mk_testmark0000000000" in flat


def test_the_metadata_names_the_copy(rendered):
    meta = PdfReader(io.BytesIO(rendered)).metadata
    assert meta["/Title"] == "Budapest 24/7 Network — directory, edition 3"
    assert "Downloaded by Anna Müller <anna@bka.de.example>" in meta["/Subject"]
    assert "mark mk_testmark0000000000" in meta["/Subject"]
    assert meta["/Keywords"] == (
        "liaison-directory-edition/1; network=budapest; edition=3; mark=mk_testmark0000000000"
    )


def test_the_pdf_is_signed_and_has_a_member_outline(rendered):
    verified = verify_export(rendered)
    assert (verified.kind, verified.edition) == ("pdf", 3)
    reader = PdfReader(io.BytesIO(rendered))
    titles = [item.title for item in reader.outline]
    assert titles[0] == "Germany (DE) — state, party"
    assert len(titles) == 4


def test_the_console_export_says_so(document):
    data = render_export(document, "pdf", Stamp.for_actor(None))
    first = squash(pages_text(data)[0])
    assert re.search(
        r"Exported at the console on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC — mark mk_", first
    )


def test_a_unicode_font_is_embedded():
    if not (pdf.FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    data = pdf.render_pdf(make_document(), stamp="stamp", mark="dl_x")
    reader = PdfReader(io.BytesIO(data))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("DejaVuSans" in name for name in fonts), fonts


def test_helvetica_when_the_font_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "FONT_DIR", tmp_path)
    pdf.fonts.cache_clear()
    try:
        assert pdf.fonts() == ("Helvetica", "Helvetica-Bold")
        data = pdf.render_pdf(make_document(), stamp="stamp", mark="dl_x")
        assert "France (FR)" in squash(" ".join(pages_text(data)))
    finally:
        pdf.fonts.cache_clear()


def test_markup_in_the_data_is_text(document):
    doc = make_document()
    doc["members"][0]["contact_points"][0]["instructions"] = "<b>not bold</b> & <script>x</script>"
    doc["members"][0]["name"] = "A <font size=40>B</font>"
    text = squash(" ".join(pages_text(pdf.render_pdf(doc, stamp="s", mark="dl_x"))))
    assert "<b>not bold</b> & <script>x</script>" in text
    assert "A <font size=40>B</font>" in text
