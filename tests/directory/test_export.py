"""Directory export: CSV/XLSX/JSON content, round trips through the import, permissions, audit."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.directory.exporting import export_directory
from liaison.directory.importing import COLUMNS, import_directory, read_rows
from liaison.directory.models import ContactPoint
from liaison.networks.models import Network
from tests.factories import (
    ChannelFactory,
    ContactPointFactory,
    MemberFactory,
    NetworkFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "sample-directory.csv"


def export(network, fmt, actor=None, **kwargs) -> bytes:
    return export_directory(actor, None, network, fmt, **kwargs)


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def snapshot(network) -> list[tuple]:
    """Everything an import sets, member by member, in order (no ids, no dates)."""
    return [
        (
            cp.member.code,
            cp.member.name,
            cp.member.kind,
            cp.member.status,
            cp.type,
            cp.institution,
            cp.unit,
            cp.availability,
            cp.always_available,
            cp.timezone,
            cp.languages,
            cp.instructions,
            tuple((ch.kind, ch.value, ch.notes) for ch in cp.channels.order_by("position")),
            tuple(
                cp.windows.order_by("weekday", "start_minute").values_list(
                    "weekday", "start_minute", "end_minute"
                )
            ),
        )
        for cp in ContactPoint.objects.filter(network=network).order_by("member__code", "position")
    ]


@pytest.fixture
def imported(world):
    import_directory(None, world.network, SAMPLE)
    return world


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_reimports_unchanged(imported, fmt):
    network = imported.network
    content = export(network, fmt)
    copy = Network.objects.create(slug="copy", name="Copy")
    import_directory(None, copy, io.BytesIO(content), filename=f"export.{fmt}")
    assert snapshot(copy) == snapshot(network)
    assert len(snapshot(copy)) == 10  # the sample's rows (they replaced the world's FR and DE)


def test_csv_export_of_a_copy_is_byte_identical(imported):
    content = export(imported.network, "csv")
    copy = Network.objects.create(slug="copy", name="Copy")
    import_directory(None, copy, io.BytesIO(content), filename="export.csv")
    assert export(copy, "csv") == content


def test_reimporting_an_export_changes_no_member(imported):
    before = snapshot(imported.network)
    content = export(imported.network, "csv")
    report = import_directory(None, imported.network, io.BytesIO(content), dry_run=True)
    assert {m.action for m in report.members} == {"unchanged"}
    import_directory(None, imported.network, io.BytesIO(content))
    assert snapshot(imported.network) == before


# --- content -------------------------------------------------------------------------------


def test_csv_has_the_import_columns_in_member_code_order(imported):
    rows = csv_rows(export(imported.network, "csv"))
    assert rows[0] == list(COLUMNS)
    codes = [row[0] for row in rows[1:]]
    assert codes == sorted(codes)
    assert len(rows) == 11  # header + 10
    fr = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:] if row[0] == "FR"]
    assert [r["type"] for r in fr] == ["police", "prosecution"]  # file order within a member
    assert fr[0]["phone"] == "+33123456789"
    assert fr[0]["phone_2"] == "+33612345678"
    assert fr[0]["languages"] == "en,fr"


def test_json_holds_everything(world):
    cp = world.cp_a
    ChannelFactory(contact_point=cp, kind="mobile", value="+33612345678", notes="duty", position=2)
    cp.availability_exceptions = "2025-12-25 closed"
    cp.save()
    document = json.loads(export(world.network, "json").decode("utf-8"))
    assert document["network"] == "budapest"
    assert "exported_at" in document
    assert [c["member"]["code"] for c in document["contact_points"]] == ["DE", "FR"]
    fr = document["contact_points"][1]
    assert fr["id"] == cp.public_id
    assert fr["member"] == {"code": "FR", "name": "France", "kind": "state", "status": "party"}
    assert fr["channels"] == [
        {"kind": "phone", "value": "+33123456789", "notes": ""},
        {"kind": "email", "value": "cyber@police.fr.example", "notes": ""},
        {"kind": "mobile", "value": "+33612345678", "notes": "duty"},
    ]
    assert fr["languages"] == ["en", "fr"]
    assert fr["availability_exceptions"] == "2025-12-25 closed"
    assert set(fr) >= {
        "type",
        "institution",
        "unit",
        "availability",
        "timezone",
        "instructions",
        "review_date",
    }


def test_channels_the_columns_cannot_hold_are_left_out_with_a_warning(world):
    cp = world.cp_a
    for position, value in enumerate(["+33123456780", "+33123456781"], start=2):
        ChannelFactory(contact_point=cp, kind="phone", value=value, position=position)
    ChannelFactory(contact_point=cp, kind="mobile", value="+33612345678", position=5)
    warnings: list = []
    rows = csv_rows(export(world.network, "csv", warnings=warnings))
    fr = dict(zip(COLUMNS, rows[2], strict=True))
    assert (fr["phone"], fr["phone_2"]) == ("+33123456789", "+33123456780")
    assert "+33123456781" not in str(rows)
    assert "+33612345678" not in str(rows)
    [warning] = warnings
    assert warning.contact_point == cp.public_id
    assert warning.left_out == ("1 phone channel", "1 mobile channel")
    assert "+33" not in str(warning)  # names the contact point, not its details


def test_formulas_are_neutralised_and_come_back_on_import(world):
    world.cp_a.instructions = '=HYPERLINK("http://evil.example")'
    world.cp_a.unit = "-- night desk"
    world.cp_a.save()
    rows = csv_rows(export(world.network, "csv"))
    fr = dict(zip(COLUMNS, rows[2], strict=True))
    assert fr["instructions"] == '\'=HYPERLINK("http://evil.example")'
    assert fr["unit"] == "'-- night desk"
    assert fr["phone"] == "+33123456789"  # E.164 numbers cannot run anything: left alone
    sheet = load_workbook(io.BytesIO(export(world.network, "xlsx"))).worksheets[0]
    cells = {c.value: c for c in sheet[3]}
    assert cells['=HYPERLINK("http://evil.example")'].data_type == "s"  # text, not a formula
    for fmt in ("csv", "xlsx"):
        copy = NetworkFactory(slug=f"copy-{fmt}")
        import_directory(None, copy, io.BytesIO(export(world.network, fmt)), filename=f"x.{fmt}")
        cp = ContactPoint.objects.get(network=copy, member__code="FR")
        assert cp.instructions == '=HYPERLINK("http://evil.example")'
        assert cp.unit == "-- night desk"


def test_xlsx_reads_back_as_the_csv(imported):
    from_xlsx = [cells for _n, cells in read_rows(io.BytesIO(export(imported.network, "xlsx")))]
    from_csv = [cells for _n, cells in read_rows(io.BytesIO(export(imported.network, "csv")))]
    assert from_xlsx == from_csv


# --- who may export, audit -----------------------------------------------------------------


def test_people_with_directory_export_may_export(world):
    for user in (world.secretariat, world.coordinator_a, world.officer_b):
        assert len(csv_rows(export(world.network, "csv", actor=user))) == 3
    for user in (world.auditor, world.outsider):
        with pytest.raises(PermissionDenied):
            export(world.network, "csv", actor=user)


def test_parties_only_network_refuses_observers(world):
    network = NetworkFactory(slug="parties-only", observers_see_directory=False)
    observer = MemberFactory(network=network, code="JP", status="observer")
    ContactPointFactory(member=observer)
    officer = UserFactory()
    RoleAssignmentFactory(user=officer, network=network, role="officer", member=observer)
    with pytest.raises(PermissionDenied):
        export(network, "json", actor=officer)


def test_every_export_is_audited(world):
    before = AuditEvent.objects.count()
    export(world.network, "json", actor=world.officer_a)
    event = AuditEvent.objects.get(seq=before)
    assert event.action == "directory.export"
    assert event.actor_id == world.officer_a.pk
    assert event.network_slug == "budapest"
    assert event.details == {"format": "json", "count": 2}


def test_justification_when_the_network_requires_it(world):
    world.network.justification_required = True
    world.network.save()
    with pytest.raises(ServiceError, match="justification"):
        export(world.network, "csv", actor=world.secretariat)
    export(world.network, "csv", actor=world.secretariat, justification="  Annual  review ")
    assert AuditEvent.objects.get(action="directory.export").justification == "Annual review"


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("pdf", "format 'pdf' is not available yet"),
        ("vcf", "not available yet"),
        ("doc", "unknown format 'doc'"),
    ],
)
def test_formats_not_available(world, fmt, message):
    with pytest.raises(ServiceError, match=message):
        export(world.network, fmt)
    assert not AuditEvent.objects.filter(action="directory.export").exists()


# --- command line --------------------------------------------------------------------------


def cli(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("directory", "export", "--network", "budapest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_cli_csv_to_stdout(world):
    out, err = cli("--format", "csv")
    assert out.lstrip("\ufeff").startswith(",".join(COLUMNS))
    assert err == ""
    assert AuditEvent.objects.filter(action="directory.export", actor=None).count() == 1


def test_cli_writes_a_private_file(world, tmp_path):
    path = tmp_path / "directory.xlsx"
    out, _err = cli("--format", "xlsx", "-o", str(path))
    assert "directory.xlsx" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert next(c for _n, c in read_rows(path))["member_code"] == "DE"


def test_cli_refuses_binary_on_a_text_stream(world):
    with pytest.raises(CommandError, match="binary"):
        cli("--format", "xlsx")


def test_cli_pdf_not_available_yet(world):
    with pytest.raises(CommandError, match="format 'pdf' is not available yet"):
        cli("--format", "pdf")


def test_cli_warns_about_left_out_data(world):
    ChannelFactory(contact_point=world.cp_a, kind="other", value="radio", position=3)
    _out, err = cli("--format", "csv")
    assert "warning: 1 contact point has data that the CSV columns cannot hold" in err
    assert world.cp_a.public_id in err
