"""vCard export: one card per contact point, parsed back with vobject."""

from __future__ import annotations

import pytest
import vobject
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liaison.directory.exporting import Stamp, export_directory, render_export
from liaison.directory.vcard import contact_point_card
from tests.directory.test_signing import make_document


def parse(data: bytes) -> list:
    return list(vobject.readComponents(data.decode("utf-8")))


def by_uid(cards: list) -> dict:
    return {card.uid.value: card for card in cards}


def test_one_card_per_contact_point_that_parses_back():
    stamp = Stamp.for_actor(None)
    cards = parse(render_export(make_document(), "vcf", stamp))
    assert len(cards) == 3  # DE, FR, GR; JP has none
    assert all(card.version.value == "3.0" for card in cards)
    assert all(card.contents["x-liaison-mark"][0].value == stamp.mark for card in cards)
    de = by_uid(cards)["cp_test000001@liaison"]
    assert de.fn.value == "Bundeskriminalamt — SO 4"
    assert de.org.value == ["Bundeskriminalamt", "SO 4"]
    assert de.title.value == "Police"
    tels = {(tel.value, tuple(tel.params["TYPE"])) for tel in de.tel_list}
    assert tels == {
        ("+4961155123456", ("WORK", "VOICE")),
        ("+491701234567", ("WORK", "CELL")),
        ("+4961155123499", ("WORK", "FAX")),
    }
    assert [email.value for email in de.email_list] == ["desk@bka.de.example"]
    assert de.categories.value == ["Germany", "Police"]
    note = de.note.value
    assert "Germany (DE), Budapest 24/7 Network — directory edition 3" in note
    assert "Availability: 24/7 (time zone Europe/Berlin)" in note
    assert "Exceptions: 2026-12-24..2026-12-26 08:00-12:00" in note
    assert "Languages: German, English" in note
    assert "Phone +4961155123456: duty desk" in note  # a channel's notes
    assert "Instructions: Call first, then e-mail." in note
    assert "RESTRICTED — not for public distribution" in note
    gr = by_uid(cards)["cp_test000003@liaison"]
    assert gr.org.value == ["Ελληνική Αστυνομία", "Δίωξη"]


def test_special_characters_survive():
    document = make_document()
    cp = document["members"][1]["contact_points"][0]
    cp["institution"] = "Police; nationale, DCPJ"
    cp["unit"] = ""
    cp["instructions"] = "Line one;\nline two, with \\ backslash"
    cp["channels"] = [
        {"kind": "secure_platform", "value": "https://siena.example/desk", "notes": ""},
        {"kind": "other", "value": "radio 42", "notes": ""},
    ]
    [fr] = [
        c
        for c in parse(render_export(document, "vcf", Stamp.for_actor(None)))
        if "DCPJ" in c.fn.value
    ]
    assert fr.fn.value == "Police; nationale, DCPJ"
    assert fr.org.value == ["Police; nationale, DCPJ"]
    assert fr.url.value == "https://siena.example/desk"
    assert "Other: radio 42" in fr.note.value
    assert "Line one;\nline two, with \\ backslash" in fr.note.value
    assert "tel" not in fr.contents


@pytest.mark.django_db
def test_export_of_the_world_edition(world):
    result = export_directory(None, None, world.network, "vcf")
    cards = by_uid(parse(result.content))
    assert set(cards) == {f"{world.cp_a.public_id}@liaison", f"{world.cp_b.public_id}@liaison"}
    fr = cards[f"{world.cp_a.public_id}@liaison"]
    assert fr.tel.value == "+33123456789"
    assert fr.email.value == "cyber@police.fr.example"
    assert fr.categories.value == ["France", "Police"]
    assert result.content_type == "text/vcard; charset=utf-8"


@settings(max_examples=200, deadline=None)
@given(
    institution=st.text(min_size=1, max_size=120).filter(lambda s: s.strip()),
    unit=st.text(max_size=60),
    instructions=st.text(max_size=300),
)
def test_any_text_reads_back_unchanged(institution, unit, instructions):
    # vobject reads line breaks back as \n; a carriage return is the only change allowed.
    assume(all(ch not in institution + unit for ch in "\r\n"))
    assume("\r" not in instructions)
    document = make_document()
    cp = document["members"][0]["contact_points"][0]
    cp.update(institution=institution, unit=unit, instructions=instructions)
    data = contact_point_card(document, document["members"][0], cp)
    assert all(len(line.encode()) <= 75 for line in data.split("\r\n"))
    card = vobject.readOne(data)
    assert card.fn.value == (f"{institution} — {unit}" if unit else institution)
    assert card.org.value == [institution, unit] if unit else [institution]
    if instructions.strip():
        assert f"Instructions: {instructions.strip()[:1000]}" in card.note.value
