"""Signed exports: JSON and PDF verify untouched, fail on any changed byte, name foreign keys.

Works on hand-built edition documents (`make_document`, also used by test_pdf and test_vcard),
so that the signing is tested apart from the database.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.core import keys
from liaison.directory import signing
from liaison.directory.exporting import Stamp, render_export
from liaison.directory.signing import VerificationFailed, verify_export

ALTERED = VerificationFailed.ALTERED


def contact_point(n: int, **fields) -> dict:
    return {
        "id": f"cp_test{n:06d}",
        "type": "police",
        "institution": f"Institution {n}",
        "unit": "Night desk",
        "channels": [
            {"kind": "phone", "value": f"+3312345{n:04d}", "notes": "24h"},
            {"kind": "email", "value": f"desk{n}@police.example", "notes": ""},
        ],
        "availability": "24/7",
        "availability_exceptions": "",
        "timezone": "Europe/Paris",
        "languages": ["en", "fr"],
        "instructions": "Call first, then e-mail.",
        "pgp_key": "",
        **fields,
    }


def make_document(*, edition: int = 3, members: list[dict] | None = None) -> dict:
    """An edition document in the format of models.Edition.document()."""
    if members is None:
        members = [
            {
                "code": "DE",
                "name": "Germany",
                "kind": "state",
                "status": "party",
                "contact_points": [
                    contact_point(
                        1,
                        institution="Bundeskriminalamt",
                        unit="SO 4",
                        timezone="Europe/Berlin",
                        languages=["de", "en"],
                        availability_exceptions="2026-12-24..2026-12-26 08:00-12:00",
                        channels=[
                            {"kind": "phone", "value": "+4961155123456", "notes": "duty desk"},
                            {"kind": "mobile", "value": "+491701234567", "notes": ""},
                            {"kind": "fax", "value": "+4961155123499", "notes": ""},
                            {"kind": "email", "value": "desk@bka.de.example", "notes": ""},
                        ],
                    )
                ],
            },
            {
                "code": "FR",
                "name": "France",
                "kind": "state",
                "status": "party",
                "contact_points": [contact_point(2, institution="Police nationale")],
            },
            {
                "code": "GR",
                "name": "Ελλάδα (Greece)",
                "kind": "state",
                "status": "party",
                "contact_points": [
                    contact_point(3, institution="Ελληνική Αστυνομία", unit="Δίωξη")
                ],
            },
            {
                "code": "JP",
                "name": "Japan",
                "kind": "state",
                "status": "observer",
                "contact_points": [],
            },
        ]
    return {
        "format": "liaison-directory-edition/1",
        "network": {"slug": "budapest", "name": "Budapest 24/7 Network"},
        "edition": edition,
        "published_at": "2026-11-22T10:00:00+00:00",
        "note": "Quarterly update.\nGermany changed its night desk.",
        "changed_members": ["DE"],
        "members": members,
    }


def export(fmt: str, document: dict | None = None) -> bytes:
    return render_export(document or make_document(), fmt, Stamp.for_actor(None))


@contextlib.contextmanager
def another_deployment(settings, tmp_path: Path):
    """Sign as another deployment: its own data directory, hence its own key."""
    original = settings.DATA_DIR
    settings.DATA_DIR = tmp_path / "elsewhere"
    try:
        yield
    finally:
        settings.DATA_DIR = original


def reason_of(data: bytes) -> str:
    with pytest.raises(VerificationFailed) as caught:
        verify_export(data)
    return caught.value.reason


# --- JSON ------------------------------------------------------------------------------------


def test_json_export_verifies():
    data = export("json")
    verified = verify_export(data)
    assert (verified.kind, verified.network, verified.edition) == ("json", "budapest", 3)
    assert verified.key_id == keys.key_id()
    assert verified.own_key
    assert str(verified) == (
        f"valid: edition 3 of budapest, signed by key {keys.key_id()} (this deployment)"
    )


def test_json_export_is_readable_json_with_the_document_and_the_signature():
    document = make_document()
    content = json.loads(export("json", document))
    assert {k: content[k] for k in document} == document
    assert content["signature"]["alg"] == "Ed25519"
    assert content["signature"]["key_id"] == keys.key_id()
    assert len(base64.b64decode(content["signature"]["value"])) == 64
    assert content["export"]["by"] == "console"
    assert content["export"]["mark"].startswith("mk_")


def _mutations(data: bytes, position: int):
    """Byte changes at `position`: its lowest bit flipped; at every third position also its
    case bit flipped, a space instead, the byte removed, a space inserted before it."""
    byte = data[position]
    yield data[:position] + bytes([byte ^ 0x01]) + data[position + 1 :]
    if position % 3:
        return
    for changed in (byte ^ 0x20, 0x20):
        if changed != byte:
            yield data[:position] + bytes([changed]) + data[position + 1 :]
    yield data[:position] + data[position + 1 :]
    yield data[:position] + b" " + data[position:]


def test_json_fails_on_every_changed_byte():
    document = make_document()
    document["members"] = document["members"][2:]  # a smaller file: every byte is tried
    data = export("json", document)
    assert len(data) > 1000
    reasons: dict[str, int] = {}
    tried = 0
    for position in range(len(data)):
        for altered in _mutations(data, position):
            with pytest.raises(VerificationFailed) as caught:
                verify_export(altered)
            reasons[caught.value.reason] = reasons.get(caught.value.reason, 0) + 1
            tried += 1
    for tail in (b" ", b"\n", b"\r\n"):
        with pytest.raises(VerificationFailed):
            verify_export(data + tail)
    # Changing content reads as "altered"; only a change that breaks the JSON itself (or the
    # key id) says something else — never "valid".
    assert reasons[ALTERED] > tried * 0.5, reasons
    assert set(reasons) <= {ALTERED, VerificationFailed.NOT_EXPORT, VerificationFailed.UNKNOWN_KEY}


def test_json_same_content_other_spelling_fails():
    data = export("json")
    content = json.loads(data)
    for spelling in (
        json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        json.dumps(content, sort_keys=True, ensure_ascii=False) + "\n",
        json.dumps(content, indent=1, sort_keys=True, ensure_ascii=True) + "\n",  # \u escapes
        json.dumps({"format": content["format"], **content}, indent=1, ensure_ascii=False)
        + "\n",  # "format" first: another key order
    ):
        assert spelling.encode() != data
        assert reason_of(spelling.encode()) == ALTERED


def test_json_changed_value_respelled_canonically_fails():
    """An attacker who rewrites the file canonically still breaks the signature."""
    content = json.loads(export("json"))
    content["members"][1]["contact_points"][0]["channels"][0]["value"] = "+33999999999"
    assert reason_of(signing.canonical_json(content)) == ALTERED
    content = json.loads(export("json"))
    content["edition"] = 4
    assert reason_of(signing.canonical_json(content)) == ALTERED


def test_json_base64_spelling_of_the_same_signature_fails():
    content = json.loads(export("json"))
    value = content["signature"]["value"]  # 64 bytes: 86 characters and "=="; 2 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = value[85]
    sibling = alphabet[alphabet.index(last) ^ 1]
    respelled = value[:85] + sibling + value[86:]
    assert base64.b64decode(respelled) == base64.b64decode(value)
    content["signature"]["value"] = respelled
    assert reason_of(signing.canonical_json(content)) == ALTERED


def test_json_signed_by_another_deployment(settings, tmp_path):
    with another_deployment(settings, tmp_path):
        data = export("json")
        foreign_kid = keys.key_id()
        foreign_public = keys.public_key_pem()
    assert foreign_kid != keys.key_id()
    with pytest.raises(VerificationFailed) as caught:
        verify_export(data)
    assert caught.value.reason == VerificationFailed.UNKNOWN_KEY
    assert str(caught.value) == f"signed by an unknown key {foreign_kid} (another deployment?)"
    # Once its public key is trusted, it verifies — as a trusted key, not this deployment's.
    trusted = keys.keys_dir() / "trusted"
    trusted.mkdir(parents=True, exist_ok=True)
    (trusted / "partner.pub").write_text(foreign_public)
    try:
        verified = verify_export(data)
        assert not verified.own_key
        assert str(verified).endswith(f"signed by key {foreign_kid} (a trusted key)")
    finally:
        (trusted / "partner.pub").unlink()


# --- not exports, unsigned exports -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "neither a JSON nor a PDF file"),
        (b"hello, world\n", "neither a JSON nor a PDF file"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "neither a JSON nor a PDF file"),
        (b'{"format": "something/1"}', "a JSON file that is not a directory edition"),
        (b"[1, 2, 3]", "a JSON file that is not a directory edition"),
        (b'{"broken": ', "not a JSON document"),
        (b"PK\x03\x04rest-of-a-zip", "a ZIP archive"),
        (b"%PDF-1.4\nnot really a pdf", "an unreadable PDF"),
    ],
)
def test_not_an_export(content, why):
    with pytest.raises(VerificationFailed) as caught:
        verify_export(content)
    assert caught.value.reason == VerificationFailed.NOT_EXPORT
    assert str(caught.value) == f"not a Liaison export ({why})"


def test_an_unsigned_edition_document_is_not_an_export():
    data = signing.canonical_json(make_document())
    with pytest.raises(VerificationFailed, match=r"not a Liaison export \(a directory edition "):
        verify_export(data)


def test_unsigned_pdf_is_not_an_export():
    from liaison.directory.pdf import render_pdf

    with pytest.raises(VerificationFailed) as caught:
        verify_export(b"%PDF-1.4\n" + b"x" * 10)
    assert caught.value.reason == VerificationFailed.NOT_EXPORT
    plain = io.BytesIO()
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(plain)
    canvas.drawString(100, 100, "Hello")
    canvas.save()
    assert str(_failure(plain.getvalue())) == "not a Liaison export (a PDF without a signature)"
    # Ours, unsigned (the signature stripped by re-rendering): said to be altered.
    ours = render_pdf(make_document(), stamp="stamp", mark="dl_x")
    assert _failure(ours).reason == ALTERED


def _failure(data: bytes) -> VerificationFailed:
    with pytest.raises(VerificationFailed) as caught:
        verify_export(data)
    return caught.value


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "vcf"])
def test_unsigned_formats_say_so(fmt):
    failure = _failure(export(fmt))
    assert failure.reason == VerificationFailed.UNSIGNED_FORMAT
    assert str(failure) == "CSV/XLSX/vCard exports are not signed; only JSON and PDF are"


# --- PDF -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_pdf() -> bytes:
    return export("pdf")


def test_pdf_export_verifies(signed_pdf):
    verified = verify_export(signed_pdf)
    assert (verified.kind, verified.network, verified.edition) == ("pdf", "budapest", 3)
    assert verified.own_key
    assert str(verified) == (
        f"valid: edition 3 of budapest, signed by key {keys.key_id()} (this deployment)"
    )


def _byte_range(data: bytes) -> tuple[int, int, int, int]:
    import re

    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert match is not None
    a, b, c, d = (int(x) for x in match.groups())
    return a, b, c, d


def test_pdf_fails_on_a_changed_byte_inside_the_signed_range(signed_pdf):
    start, first_length, second_start, second_length = _byte_range(signed_pdf)
    assert start == 0
    assert second_start + second_length == len(signed_pdf)
    # A dense sample of both signed ranges (the rendered pages, the metadata, the signature's
    # own dictionary and the final cross-reference table) plus every byte of the last 150.
    positions = [
        *range(0, first_length, 997),
        *range(second_start, len(signed_pdf), 23),
        *range(len(signed_pdf) - 150, len(signed_pdf)),
    ]
    for position in positions:
        changed = bytearray(signed_pdf)
        changed[position] ^= 0x01
        failure = _failure(bytes(changed))
        assert failure.reason in {ALTERED, VerificationFailed.NOT_EXPORT}, position
    # Inside the page content the verdict is always "altered".
    for position in range(first_length // 4, first_length // 2, 1999):
        changed = bytearray(signed_pdf)
        changed[position] ^= 0x01
        assert _failure(bytes(changed)).reason == ALTERED, position


def test_pdf_fails_on_a_changed_byte_of_the_signature_itself(signed_pdf):
    """The bytes outside the signed range (the /Contents hex string) are checked too: the
    signature, its hex spelling and its zero padding."""
    _start, first_length, second_start, _length = _byte_range(signed_pdf)
    gap = range(first_length, second_start)
    for position in [*gap[:200], *gap[200::97], gap[-2], gap[-1]]:
        for altered in (
            signed_pdf[:position] + b"1" + signed_pdf[position + 1 :],
            signed_pdf[:position]
            + bytes([signed_pdf[position] ^ 0x20])
            + signed_pdf[position + 1 :],
        ):
            if altered != signed_pdf:
                assert _failure(altered).reason == ALTERED, position


def test_pdf_with_anything_appended_fails(signed_pdf):
    for tail in (b"\n", b"%%EOF\n", b"\n1 0 obj\n(extra)\nendobj\n"):
        failure = _failure(signed_pdf + tail)
        assert failure.reason == ALTERED


def test_pdf_incremental_update_after_signing_fails(signed_pdf):
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    info = writer.trailer["/Info"]
    info[NameObject("/Subject")] = TextStringObject("Nothing to see here")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    assert _failure(out.getvalue()).reason == ALTERED


def test_pdf_signed_by_another_deployment(settings, tmp_path):
    with another_deployment(settings, tmp_path):
        data = export("pdf")
        foreign_kid = keys.key_id()
    failure = _failure(data)
    assert failure.reason == VerificationFailed.UNKNOWN_KEY
    assert str(failure) == f"signed by an unknown key {foreign_kid} (another deployment?)"


def test_certificate_is_kept_and_follows_the_key(settings, tmp_path):
    with another_deployment(settings, tmp_path):
        first = signing.deployment_certificate()
        assert signing.deployment_certificate().serial_number == first.serial_number
        path = keys.keys_dir() / signing.CERT_FILE
        assert path.is_file()
        # A key rotation (a new key file) makes a new certificate for the new key.
        keys.key_path().unlink()
        keys._cache.clear()
        second = signing.deployment_certificate()
        assert second.serial_number != first.serial_number
        assert keys.raw_public_bytes(second.public_key()) == keys.raw_public_bytes(
            keys.public_key()
        )
    keys._cache.clear()


# --- liaison directory verify ----------------------------------------------------------------


def verify_cli(path: Path) -> str:
    out = io.StringIO()
    call_command("directory", "verify", str(path), stdout=out)
    return out.getvalue().strip()


def test_verify_command(tmp_path, signed_pdf):
    json_file = tmp_path / "edition.json"
    json_file.write_bytes(export("json"))
    assert verify_cli(json_file).startswith("valid: edition 3 of budapest, signed by key ")
    pdf_file = tmp_path / "edition.pdf"
    pdf_file.write_bytes(signed_pdf)
    assert verify_cli(pdf_file).endswith("(this deployment)")
    csv_file = tmp_path / "edition.csv"
    csv_file.write_bytes(export("csv"))
    with pytest.raises(CommandError, match="CSV/XLSX/vCard exports are not signed"):
        verify_cli(csv_file)
    altered = json_file.read_bytes().replace(b"Police nationale", b"Police natiomale")
    json_file.write_bytes(altered)
    with pytest.raises(CommandError, match=r"^the content was altered after signing$"):
        verify_cli(json_file)
    with pytest.raises(CommandError, match="no such file"):
        verify_cli(tmp_path / "missing.json")


def test_verify_command_exit_status(settings, tmp_path):
    """The real `liaison` command: exit 0 when valid, non-zero with the reason otherwise."""
    good = tmp_path / "good.json"
    good.write_bytes(export("json"))
    bad = tmp_path / "bad.txt"
    bad.write_text("not an export\n")
    env = {
        **os.environ,
        "LIAISON_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "liaison.settings",
    }
    liaison = Path(sys.executable).with_name("liaison")
    ok = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [str(liaison), "directory", "verify", str(good)], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("valid: edition 3 of budapest")
    refused = subprocess.run(  # noqa: S603
        [str(liaison), "directory", "verify", str(bad)], capture_output=True, text=True, env=env
    )
    assert refused.returncode != 0
    assert "not a Liaison export (neither a JSON nor a PDF file)" in refused.stderr
    assert "Traceback" not in refused.stderr
