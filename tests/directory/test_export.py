"""Exports of a published edition: content of each format, round trips through the import,
editions (never the live drafts), permissions, audit, and the command line."""

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
from liaison.directory.exporting import console_access, export_directory
from liaison.directory.importing import COLUMNS, import_directory, read_rows
from liaison.directory.models import ContactPoint, Edition, Layer
from liaison.directory.services import publish_edition
from liaison.directory.signing import verify_export
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


def export(network, fmt, actor=None, **kwargs):
    return export_directory(actor, None, network, fmt, **kwargs)


def content(network, fmt, **kwargs) -> bytes:
    return export(network, fmt, **kwargs).content


def publish(network, note: str = "") -> Edition:
    return publish_edition(None, console_access(network), note)


def draft(cp) -> ContactPoint:
    return ContactPoint.objects.get(public_id=cp.public_id, layer=Layer.DRAFT)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def snapshot(network, layer: str) -> list[tuple]:
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
        for cp in ContactPoint.objects.filter(network=network, layer=layer).order_by(
            "member__code", "position"
        )
    ]


@pytest.fixture
def imported(world):
    """The sample file imported and published as edition 2."""
    import_directory(None, world.network, SAMPLE)
    publish(world.network, "sample")
    return world


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_reimports_unchanged(imported, fmt):
    network = imported.network
    data = content(network, fmt)
    copy = Network.objects.create(slug="copy", name="Copy")
    import_directory(None, copy, io.BytesIO(data), filename=f"export.{fmt}")
    assert snapshot(copy, Layer.DRAFT) == snapshot(network, Layer.PUBLISHED)
    assert len(snapshot(copy, Layer.DRAFT)) == 10  # the sample's rows (they replaced FR and DE)


def test_csv_export_of_a_copy_is_byte_identical(imported):
    data = content(imported.network, "csv")
    copy = Network.objects.create(slug="copy", name="Copy")
    import_directory(None, copy, io.BytesIO(data), filename="export.csv")
    publish(copy)
    assert content(copy, "csv") == data


def test_reimporting_an_export_changes_nothing_to_publish(imported):
    before = snapshot(imported.network, Layer.PUBLISHED)
    data = content(imported.network, "csv")
    report = import_directory(None, imported.network, io.BytesIO(data), dry_run=True)
    assert {m.action for m in report.members} == {"unchanged"}
    import_directory(None, imported.network, io.BytesIO(data))
    assert snapshot(imported.network, Layer.DRAFT) == before
    with pytest.raises(ServiceError, match="nothing to publish"):
        publish(imported.network)


# --- an edition, not the drafts ------------------------------------------------------------


def test_export_is_of_the_edition_not_of_the_drafts(world):
    cp = draft(world.cp_a)
    cp.institution = "Renamed in a draft"
    cp.save()
    assert "Renamed in a draft" not in content(world.network, "csv").decode("utf-8-sig")
    publish(world.network)
    assert "Renamed in a draft" in content(world.network, "csv").decode("utf-8-sig")
    # Edition 1 still exports as it was published.
    old = content(world.network, "json", edition=1).decode()
    assert "Renamed in a draft" not in old
    assert "Police nationale" in old
    assert json.loads(old)["edition"] == 1


@pytest.mark.parametrize(
    ("number", "message"),
    [(7, "edition 7 does not exist (editions 1 to 1 exist)"), (0, "edition 0 does not exist")],
)
def test_unknown_edition(world, number, message):
    with pytest.raises(ServiceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export(world.network, "csv", edition=number)
    assert not AuditEvent.objects.filter(action="directory.export").exists()


def test_network_without_an_edition(world):
    empty = NetworkFactory(slug="empty")
    with pytest.raises(ServiceError, match="no edition of this directory has been published yet"):
        export(empty, "pdf")


# --- content -------------------------------------------------------------------------------


def test_csv_has_the_import_columns_in_member_code_order(imported):
    rows = csv_rows(content(imported.network, "csv"))
    assert rows[0] == list(COLUMNS)
    codes = [row[0] for row in rows[1:]]
    assert codes == sorted(codes)
    assert len(rows) == 11  # header + 10
    fr = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:] if row[0] == "FR"]
    assert [r["type"] for r in fr] == ["police", "prosecution"]  # file order within a member
    assert fr[0]["phone"] == "+33123456789"
    assert fr[0]["phone_2"] == "+33612345678"
    assert fr[0]["languages"] == "en,fr"


def test_json_holds_the_whole_edition_and_is_signed(world):
    cp = draft(world.cp_a)
    ChannelFactory(contact_point=cp, kind="mobile", value="+33612345678", notes="duty", position=2)
    cp.availability_exceptions = "2025-12-25 closed"
    cp.save()
    edition = publish(world.network, "Christmas")
    result = export(world.network, "json")
    document = json.loads(result.content)
    assert {k: document[k] for k in edition.document()} == edition.document()
    assert document["edition"] == 2
    assert document["note"] == "Christmas"
    assert [m["code"] for m in document["members"]] == ["DE", "FR"]
    fr = document["members"][1]["contact_points"][0]
    assert fr["id"] == world.cp_a.public_id
    assert fr["channels"] == [
        {"kind": "phone", "value": "+33123456789", "notes": ""},
        {"kind": "email", "value": "cyber@police.fr.example", "notes": ""},
        {"kind": "mobile", "value": "+33612345678", "notes": "duty"},
    ]
    assert fr["availability_exceptions"] == "2025-12-25 closed"
    assert document["export"] == {
        "at": document["export"]["at"],
        "by": "console",
        "mark": result.mark,
    }
    verified = verify_export(result.content)
    assert (verified.network, verified.edition) == ("budapest", 2)


def test_channels_the_columns_cannot_hold_are_left_out_with_a_warning(world):
    cp = draft(world.cp_a)
    for position, value in enumerate(["+33123456780", "+33123456781"], start=2):
        ChannelFactory(contact_point=cp, kind="phone", value=value, position=position)
    ChannelFactory(contact_point=cp, kind="mobile", value="+33612345678", position=5)
    publish(world.network)
    result = export(world.network, "csv")
    rows = csv_rows(result.content)
    fr = dict(zip(COLUMNS, rows[2], strict=True))
    assert (fr["phone"], fr["phone_2"]) == ("+33123456789", "+33123456780")
    assert "+33123456781" not in str(rows)
    assert "+33612345678" not in str(rows)
    [warning] = result.warnings
    assert warning.contact_point == cp.public_id
    assert warning.left_out == ("1 phone channel", "1 mobile channel")
    assert "+33" not in str(warning)  # names the contact point, not its details


def test_formulas_are_neutralised_and_come_back_on_import(world):
    cp = draft(world.cp_a)
    cp.instructions = '=HYPERLINK("http://evil.example")'
    cp.unit = "-- night desk"
    cp.save()
    publish(world.network)
    rows = csv_rows(content(world.network, "csv"))
    fr = dict(zip(COLUMNS, rows[2], strict=True))
    assert fr["instructions"] == '\'=HYPERLINK("http://evil.example")'
    assert fr["unit"] == "'-- night desk"
    assert fr["phone"] == "+33123456789"  # E.164 numbers cannot run anything: left alone
    sheet = load_workbook(io.BytesIO(content(world.network, "xlsx"))).worksheets[0]
    cells = {c.value: c for c in sheet[3]}
    assert cells['=HYPERLINK("http://evil.example")'].data_type == "s"  # text, not a formula
    for fmt in ("csv", "xlsx"):
        copy = NetworkFactory(slug=f"copy-{fmt}")
        data = content(world.network, fmt)
        import_directory(None, copy, io.BytesIO(data), filename=f"x.{fmt}")
        imported = ContactPoint.objects.get(network=copy, member__code="FR", layer=Layer.DRAFT)
        assert imported.instructions == '=HYPERLINK("http://evil.example")'
        assert imported.unit == "-- night desk"


def test_xlsx_reads_back_as_the_csv_and_carries_the_mark(imported):
    result = export(imported.network, "xlsx")
    from_xlsx = [cells for _n, cells in read_rows(io.BytesIO(result.content))]
    from_csv = [cells for _n, cells in read_rows(io.BytesIO(content(imported.network, "csv")))]
    assert from_xlsx == from_csv
    workbook = load_workbook(io.BytesIO(result.content))
    assert workbook.properties.keywords == f"liaison-mark={result.mark}"


def test_filename_names_the_network_and_the_edition(world):
    result = export(world.network, "pdf")
    assert result.filename == "budapest-directory-edition-1.pdf"
    assert result.content_type == "application/pdf"


# --- who may export, audit -----------------------------------------------------------------


def test_people_with_directory_export_may_export(world):
    for user in (world.secretariat, world.coordinator_a, world.officer_b):
        assert len(csv_rows(export(world.network, "csv", actor=user).content)) == 3
    for user in (world.auditor, world.outsider):
        with pytest.raises(PermissionDenied):
            export(world.network, "csv", actor=user)


def test_parties_only_network_refuses_observers(world):
    network = NetworkFactory(slug="parties-only", observers_see_directory=False)
    observer = MemberFactory(network=network, code="JP", status="observer")
    ContactPointFactory(member=observer)
    publish(network)
    officer = UserFactory()
    RoleAssignmentFactory(user=officer, network=network, role="officer", member=observer)
    with pytest.raises(PermissionDenied):
        export(network, "json", actor=officer)


def test_every_export_is_audited_with_the_edition_and_a_unique_mark(world):
    marks = set()
    for fmt in ("json", "pdf", "vcf", "csv", "xlsx"):
        result = export(world.network, fmt, actor=world.officer_a)
        event = AuditEvent.objects.filter(action="directory.export").latest("seq")
        assert event.actor_id == world.officer_a.pk
        assert event.network_slug == "budapest"
        assert event.object_id == Edition.objects.get(network=world.network).public_id
        assert event.details == {"format": fmt, "edition": 1, "count": 2, "mark": result.mark}
        marks.add(result.mark)
    assert len(marks) == 5


def test_justification_when_the_network_requires_it(world):
    world.network.justification_required = True
    world.network.save()
    with pytest.raises(ServiceError, match="justification"):
        export(world.network, "csv", actor=world.secretariat)
    export(world.network, "csv", actor=world.secretariat, justification="  Annual  review ")
    assert AuditEvent.objects.get(action="directory.export").justification == "Annual review"


def test_unknown_format(world):
    with pytest.raises(ServiceError, match="unknown format 'doc'"):
        export(world.network, "doc")
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
    event = AuditEvent.objects.get(action="directory.export", actor=None)
    assert event.details["edition"] == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "vcf", "pdf"])
def test_cli_each_format_of_an_older_edition_to_a_private_file(world, tmp_path, fmt):
    cp = draft(world.cp_b)
    cp.institution = "Bundeskriminalamt (new name)"
    cp.save()
    publish(world.network)
    path = tmp_path / f"directory.{fmt}"
    out, _err = cli("--format", fmt, "--edition", "1", "-o", str(path))
    assert f"Exported edition 1 of budapest to {path} ({fmt}, mark mk_" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert AuditEvent.objects.get(action="directory.export").details["edition"] == 1
    if fmt in ("json", "pdf"):
        assert verify_export(data).edition == 1
    if fmt == "xlsx":
        assert next(c for _n, c in read_rows(path))["institution"] == "Bundeskriminalamt"
    elif fmt != "pdf":
        text = data.decode("utf-8-sig")
        assert "Bundeskriminalamt" in text
        assert "new name" not in text


def test_cli_unknown_edition_says_which_exist(world, tmp_path):
    with pytest.raises(CommandError, match=r"^edition 9 does not exist \(editions 1 to 1 exist\)$"):
        cli("--format", "json", "--edition", "9", "-o", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_cli_unknown_format(world):
    with pytest.raises(CommandError, match="unknown format 'doc'"):
        cli("--format", "doc")


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_cli_refuses_binary_on_a_text_stream(world, fmt):
    with pytest.raises(CommandError, match=f"{fmt.upper()} is a binary format"):
        cli("--format", fmt)


def test_cli_warns_about_left_out_data(world):
    ChannelFactory(contact_point=draft(world.cp_a), kind="other", value="radio", position=3)
    publish(world.network)
    _out, err = cli("--format", "csv")
    assert "warning: 1 contact point has data that the CSV columns cannot hold" in err
    assert world.cp_a.public_id in err
