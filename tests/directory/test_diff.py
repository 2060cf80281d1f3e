"""The diff engine over hand-made edition documents (no database)."""

from __future__ import annotations

import copy
import json

from liaison.directory.diffing import (
    ADDED,
    EDITED,
    ORDER_FIELD,
    REMOVED,
    FieldChange,
    diff_as_text,
    diff_documents,
)


def cp(id_: str, institution: str = "Police", **fields) -> dict:
    data = {
        "id": id_,
        "type": "police",
        "institution": institution,
        "unit": "",
        "channels": [{"kind": "phone", "value": "+33123456789", "notes": ""}],
        "availability": "24/7",
        "availability_exceptions": "",
        "timezone": "Europe/Paris",
        "languages": ["en", "fr"],
        "instructions": "",
        "pgp_key": "",
    }
    data.update(fields)
    return data


def member(code: str, name: str, *cps: dict, kind: str = "state", status: str = "party") -> dict:
    return {"code": code, "name": name, "kind": kind, "status": status, "contact_points": list(cps)}


def document(*members: dict, edition: int | None = 1) -> dict:
    return {
        "format": "liaison-directory-edition/1",
        "network": {"slug": "budapest", "name": "Budapest 24/7 Network"},
        "edition": edition,
        "published_at": "2026-11-22T10:00:00+00:00" if edition else None,
        "note": "",
        "changed_members": [],
        "members": sorted(members, key=lambda m: m["code"]),
    }


def base() -> dict:
    return document(
        member("DE", "Germany", cp("cp_de1", "Bundeskriminalamt", languages=["de", "en"])),
        member(
            "FR", "France", cp("cp_fr1", "Police nationale", unit="A"), cp("cp_fr2", "Gendarmerie")
        ),
        member("MT", "Malta", kind="state", status="observer"),
    )


def edit(doc: dict, edition: int = 2) -> dict:
    new = copy.deepcopy(doc)
    new["edition"] = edition
    return new


def members_of(doc: dict) -> dict[str, dict]:
    return {m["code"]: m for m in doc["members"]}


def test_identical_documents_give_an_empty_diff():
    old = base()
    diff = diff_documents(old, edit(old))
    assert diff.is_empty()
    assert diff.members == ()
    assert (diff.from_edition, diff.to_edition) == (1, 2)
    assert diff.as_json()["members"] == []
    assert diff_as_text(diff) == "No change from edition 1 to edition 2.\n"


def test_edited_field_is_reported_with_old_and_new_values():
    old = base()
    new = edit(old)
    members_of(new)["FR"]["contact_points"][0]["unit"] = "B"
    diff = diff_documents(old, new)
    assert [m.code for m in diff.members] == ["FR"]
    (fr,) = diff.members
    assert fr.change == EDITED
    assert fr.member_fields == ()
    (change,) = fr.contact_points
    assert (change.id, change.change) == ("cp_fr1", EDITED)
    assert change.fields == (FieldChange("unit", "A", "B"),)
    assert change.old["unit"] == "A"
    assert change.new["unit"] == "B"


def test_every_field_is_compared_in_reading_order():
    old = base()
    new = edit(old)
    target = members_of(new)["DE"]["contact_points"][0]
    target.update(
        type="prosecution",
        institution="BKA",
        unit="SO 4",
        availability="Mon-Fri 08:00-18:00",
        availability_exceptions="2026-12-25 closed",
        timezone="Europe/Berlin",
        languages=["de"],
        instructions="Call first",
        pgp_key="-----BEGIN PGP PUBLIC KEY BLOCK-----",
    )
    target["channels"] = [{"kind": "email", "value": "desk@bka.de.example", "notes": ""}]
    (change,) = diff_documents(old, new).members[0].contact_points
    assert [f.field for f in change.fields] == [
        "type",
        "institution",
        "unit",
        "channels",
        "availability",
        "availability_exceptions",
        "timezone",
        "languages",
        "instructions",
        "pgp_key",
    ]
    languages = next(f for f in change.fields if f.field == "languages")
    assert (languages.old, languages.new) == (["de", "en"], ["de"])


def test_channels_are_one_field_compared_as_an_ordered_list():
    phone = {"kind": "phone", "value": "+33123456789", "notes": ""}
    email = {"kind": "email", "value": "desk@police.fr.example", "notes": ""}
    old = document(member("FR", "France", cp("cp_1", channels=[phone, email])))
    swapped = document(member("FR", "France", cp("cp_1", channels=[email, phone])), edition=2)
    (change,) = diff_documents(old, swapped).members[0].contact_points
    assert change.fields == (FieldChange("channels", [phone, email], [email, phone]),)
    noted = document(
        member("FR", "France", cp("cp_1", channels=[phone, {**email, "notes": "night"}])),
        edition=2,
    )
    (change,) = diff_documents(old, noted).members[0].contact_points
    assert [f.field for f in change.fields] == ["channels"]


def test_added_and_removed_contact_points_removed_last():
    old = base()
    new = edit(old)
    fr = members_of(new)["FR"]
    fr["contact_points"] = [cp("cp_fr3", "Cyber unit"), fr["contact_points"][1]]
    (fr_diff,) = diff_documents(old, new).members
    assert [(c.id, c.change) for c in fr_diff.contact_points] == [
        ("cp_fr3", ADDED),
        ("cp_fr1", REMOVED),
    ]
    added, removed = fr_diff.contact_points
    assert added.old is None
    assert added.new["institution"] == "Cyber unit"
    assert added.fields == ()
    assert removed.new is None
    assert removed.old["institution"] == "Police nationale"
    assert fr_diff.counts == {EDITED: 0, ADDED: 1, REMOVED: 1}


def test_member_level_changes():
    old = base()
    new = edit(old)
    members_of(new)["MT"].update(name="Republic of Malta", status="party")
    new["members"] = [m for m in new["members"] if m["code"] != "DE"]
    new["members"].append(member("AL", "Albania", cp("cp_al1", "Policia e Shtetit")))
    new["members"].sort(key=lambda m: m["code"])
    diff = diff_documents(old, new)
    assert [(m.code, m.change) for m in diff.members] == [
        ("AL", ADDED),
        ("DE", REMOVED),
        ("MT", EDITED),
    ]
    al, de, mt = diff.members
    assert [(c.id, c.change) for c in al.contact_points] == [("cp_al1", ADDED)]
    assert [(c.id, c.change) for c in de.contact_points] == [("cp_de1", REMOVED)]
    assert de.name == "Germany"
    assert mt.member_fields == (
        FieldChange("name", "Malta", "Republic of Malta"),
        FieldChange("status", "observer", "party"),
    )
    assert mt.contact_points == ()
    assert mt.name == "Republic of Malta"


def test_a_contact_point_moved_between_members_is_removed_and_added():
    old = base()
    new = edit(old)
    fr, de = members_of(new)["FR"], members_of(new)["DE"]
    moved = fr["contact_points"].pop(1)
    de["contact_points"].append(moved)
    diff = diff_documents(old, new)
    by_code = {m.code: m for m in diff.members}
    assert [(c.id, c.change) for c in by_code["DE"].contact_points] == [("cp_fr2", ADDED)]
    assert [(c.id, c.change) for c in by_code["FR"].contact_points] == [("cp_fr2", REMOVED)]


def test_reordering_is_a_member_level_change():
    old = base()
    new = edit(old)
    fr = members_of(new)["FR"]
    fr["contact_points"].reverse()
    (fr_diff,) = diff_documents(old, new).members
    assert fr_diff.contact_points == ()
    assert fr_diff.member_fields == (
        FieldChange(ORDER_FIELD, ["cp_fr1", "cp_fr2"], ["cp_fr2", "cp_fr1"]),
    )


def test_against_nothing_everything_is_added():
    new = base()
    diff = diff_documents(None, new)
    assert diff.from_edition is None
    # An observer without contact points appearing changes no entry (snapshots.changed_members).
    assert [(m.code, m.change) for m in diff.members] == [("DE", ADDED), ("FR", ADDED)]
    assert diff.totals == {EDITED: 0, ADDED: 3, REMOVED: 0}


def test_changed_members_agree_with_the_editions_list():
    from liaison.directory.snapshots import changed_members

    old = base()
    new = edit(old)
    members_of(new)["FR"]["contact_points"].reverse()
    members_of(new)["MT"]["status"] = "party"
    new["members"] = [m for m in new["members"] if m["code"] != "DE"]
    new["members"].append(member("AL", "Albania"))
    new["members"].append(member("BE", "Belgium", cp("cp_be1")))
    new["members"].sort(key=lambda m: m["code"])
    for before, after in [(old, new), (None, new), (new, old), (old, edit(old))]:
        diff = diff_documents(before, after)
        assert diff.changed_members == changed_members(before, after)


def test_order_is_deterministic_member_code_then_new_document_order():
    old = base()
    new = edit(old)
    fr = members_of(new)["FR"]
    fr["contact_points"][1]["unit"] = "X"
    fr["contact_points"][0]["unit"] = "Y"
    fr["contact_points"].insert(1, cp("cp_fr9"))
    members_of(new)["DE"]["contact_points"][0]["unit"] = "Z"
    diff = diff_documents(old, new)
    assert [m.code for m in diff.members] == ["DE", "FR"]
    assert [c.id for c in diff.members[1].contact_points] == ["cp_fr1", "cp_fr9", "cp_fr2"]
    assert diff.as_json() == diff_documents(copy.deepcopy(old), copy.deepcopy(new)).as_json()


def test_as_json_is_serialisable_and_complete():
    old = base()
    new = edit(old)
    members_of(new)["FR"]["contact_points"][0]["unit"] = "B"
    data = json.loads(json.dumps(diff_documents(old, new).as_json()))
    assert data["format"] == "liaison-directory-diff/1"
    assert (data["from_edition"], data["to_edition"]) == (1, 2)
    assert data["changed_members"] == ["FR"]
    assert data["totals"] == {
        "members": 1,
        "contact_points": {"edited": 1, "added": 0, "removed": 0},
    }
    (fr,) = data["members"]
    assert fr["code"] == "FR"
    assert fr["contact_points"][0]["fields"] == [{"field": "unit", "old": "A", "new": "B"}]


def test_text_output_member_by_member():
    old = base()
    new = edit(old)
    fr = members_of(new)["FR"]
    fr["contact_points"][0]["unit"] = "B"
    fr["contact_points"].append(cp("cp_fr3", "Cyber unit"))
    de = members_of(new)["DE"]
    de["contact_points"][0].update(unit="SO 4", languages=["de"])
    de["contact_points"].append(cp("cp_de2", "LKA"))
    members_of(new)["MT"]["name"] = "Republic of Malta"
    text = diff_as_text(diff_documents(old, new))
    lines = text.splitlines()
    assert lines[0] == (
        "Changes from edition 1 to edition 2: 3 members; contact points: 2 edited, "
        "2 added, 0 removed."
    )
    assert "FR France: 1 edited, 1 added" in lines
    assert "  ~ cp_fr1 Police nationale — B: unit: 'A' → 'B'" in lines
    assert "  + cp_fr3 Cyber unit" in lines
    assert "  ~ cp_de1 Bundeskriminalamt — SO 4:" in lines
    assert "      unit: '' → 'SO 4'" in lines
    assert "      languages: [de, en] → [de]" in lines
    assert "MT Republic of Malta: member details changed" in lines
    assert "  * name: 'Malta' → 'Republic of Malta'" in lines
    assert lines.index("DE Germany: 1 edited, 1 added") < lines.index(
        "FR France: 1 edited, 1 added"
    )


def test_text_output_of_removals_and_keys():
    old = base()
    new = edit(old)
    new["members"] = [m for m in new["members"] if m["code"] != "DE"]
    members_of(new)["FR"]["contact_points"][1]["pgp_key"] = "-----BEGIN PGP-----\nsecret"
    text = diff_as_text(diff_documents(old, new))
    assert "DE Germany (member removed): 1 removed" in text
    assert "  - cp_de1 Bundeskriminalamt" in text
    assert "pgp_key: '' → (a key)" in text
    assert "secret" not in text


def test_long_values_are_shortened_in_the_text_only():
    old = base()
    new = edit(old)
    members_of(new)["FR"]["contact_points"][0]["instructions"] = "x" * 500
    diff = diff_documents(old, new)
    assert "x" * 200 not in diff_as_text(diff)
    assert diff.as_json()["members"][0]["contact_points"][0]["fields"][0]["new"] == "x" * 500


def test_rows_side_by_side():
    old = base()
    new = edit(old)
    members_of(new)["FR"]["contact_points"][0]["channels"].append(
        {"kind": "email", "value": "a@b.example", "notes": "night"}
    )
    (change,) = diff_documents(old, new).members[0].contact_points
    rows = {row.field: row for row in change.rows()}
    assert rows["channels"].changed
    assert rows["channels"].old == ("Phone: +33 1 23 45 67 89",)
    assert rows["channels"].new == ("Phone: +33 1 23 45 67 89", "E-mail: a@b.example (night)")
    assert not rows["unit"].changed
    assert rows["unit"].new == rows["unit"].old == ("A",)
    assert rows["languages"].new == ("English, French",)
    assert rows["type"].new == ("Police",)
    assert rows["pgp_key"].new == ()
