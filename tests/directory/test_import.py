"""Directory import: reading CSV/XLSX, row validation, all-or-nothing writes, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.directory.importing import (
    COLUMNS,
    ImportRejected,
    cell_text,
    import_directory,
    read_rows,
    validate_rows,
)
from liaison.directory.models import AvailabilityWindow, Channel, ContactPoint, Layer
from liaison.networks.models import Member, Network

DRAFTS = ContactPoint.objects.filter(layer=Layer.DRAFT)

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "sample-directory.csv"

ROW = {
    "member_code": "FR",
    "member_name": "France",
    "member_kind": "state",
    "member_status": "party",
    "type": "police",
    "institution": "Police nationale (fictional)",
    "unit": "Cyber desk",
    "phone": "01 23 45 67 89",
    "email": "desk@police.fr.example",
    "availability": "mon-fri 8:00-18:00",
    "timezone": "Europe/Paris",
    "languages": "FR, en",
    "instructions": "",
}


def csv_bytes(rows: list[dict], columns=None, delimiter=",", encoding="utf-8") -> bytes:
    columns = columns or list(ROW)
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode(encoding)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def counts() -> tuple[int, ...]:
    return (
        DRAFTS.count(),
        Channel.objects.count(),
        AvailabilityWindow.objects.count(),
        Member.objects.count(),
        AuditEvent.objects.count(),
    )


def run_cli(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("directory", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def cli_problem_lines(*args: str) -> tuple[CommandError, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("directory", *args, stdout=out, stderr=err)
    return info.value, [line for line in err.getvalue().splitlines() if line.startswith("row ")]


def reject(network, data: bytes, name="file.csv") -> list[str]:
    with pytest.raises(ImportRejected) as info:
        import_directory(None, network, io.BytesIO(data), filename=name)
    return [str(p) for p in info.value.problems]


def stored(member: Member) -> list[dict]:
    return [
        {
            "type": cp.type,
            "institution": cp.institution,
            "unit": cp.unit,
            "availability": cp.availability,
            "timezone": cp.timezone,
            "languages": cp.languages,
            "instructions": cp.instructions,
            "channels": [(ch.kind, ch.value) for ch in cp.channels.order_by("position")],
        }
        for cp in DRAFTS.filter(member=member).order_by("position")
    ]


# --- importing valid files -----------------------------------------------------------------


def test_sample_file_imports(world):
    report = import_directory(None, world.network, SAMPLE)
    assert report.rows == 10
    assert (report.members_created, report.members_unchanged) == (7, 2)  # FR, DE exist
    fr = Member.objects.get(network=world.network, code="FR")
    entries = stored(fr)
    assert len(entries) == 2  # the file's two rows replaced the world's contact point
    assert entries[0]["channels"] == [
        ("phone", "+33123456789"),
        ("phone", "+33612345678"),
        ("email", "permanence-cyber@police.fr.example"),
    ]
    assert entries[1]["channels"][0] == ("phone", "+33123456789")  # national number, read in FR
    assert entries[1]["availability"] == "Mon-Fri 09:00-18:00"
    assert entries[0]["languages"] == "en,fr"
    es = Member.objects.get(network=world.network, code="ES")
    assert stored(es)[0]["availability"] == "Mon-Fri 08:00-20:00; Sat-Sun 10:00-14:00"
    interpol = Member.objects.get(network=world.network, code="INTERPOL")
    assert (interpol.kind, interpol.status) == ("organisation", "observer")
    assert stored(interpol)[0]["channels"][-1] == ("secure_platform", "I-24/7 (fictional channel)")
    jp = Member.objects.get(network=world.network, code="JP")
    assert jp.status == "observer"
    # Windows are derived for SQL availability filters.
    cp = DRAFTS.filter(member=fr).order_by("position")[1]
    assert sorted(cp.windows.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]


def test_import_records_audit_events(world):
    before = AuditEvent.objects.count()
    import_directory(None, world.network, SAMPLE)
    events = AuditEvent.objects.order_by("seq")[before:]
    actions = [e.action for e in events]
    assert actions.count("directory.import") == 1
    assert actions.count("member.create") == 7
    event = AuditEvent.objects.get(action="directory.import")
    assert event.details["source"] == "sample-directory.csv"
    assert event.details["contact_points_created"] == 10
    assert event.actor_id is None
    # No contact details in the trail.
    assert "+33" not in str(event.details)


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("ignored").append(["not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_imports_like_csv(world, tmp_path):
    with SAMPLE.open(encoding="utf-8") as f:
        table = list(csv.reader(f))
    path = write(tmp_path, "directory.xlsx", xlsx_bytes(table))
    import_directory(None, world.network, path)
    from_xlsx = {m.code: stored(m) for m in Member.objects.filter(network=world.network)}
    other = Network.objects.create(slug="csv-copy", name="Copy")
    import_directory(None, other, SAMPLE)
    from_csv = {m.code: stored(m) for m in Member.objects.filter(network=other)}
    assert from_xlsx == from_csv


def test_xlsx_numbers_and_dates_are_read_as_people_mean_them(world, tmp_path):
    header = list(ROW)
    row = dict(ROW)
    # Excel turns a phone number typed without '+' into a number (sometimes a float).
    row["phone"] = 33123456789.0
    row["instructions"] = dt.date(2025, 3, 1)
    path = write(tmp_path, "d.xlsx", xlsx_bytes([header, [row[c] for c in header]]))
    [(number, cells)] = list(read_rows(path))
    assert number == 2
    assert cells["phone"] == "33123456789"
    assert cells["instructions"] == "2025-03-01"
    row["phone"] = "+33123456789"
    path.write_bytes(xlsx_bytes([header, [row[c] for c in header]]))
    import_directory(None, world.network, path)
    assert stored(world.member_a)[0]["instructions"] == "2025-03-01"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (33123456789.0, "33123456789"),
        (4.91701234567e11, "491701234567"),
        (12.5, "12.5"),
        (42, "42"),
        (dt.datetime(2025, 1, 2, 0, 0), "2025-01-02"),
        (dt.datetime(2025, 1, 2, 8, 30), "2025-01-02 08:30"),
        (dt.time(8, 0), "08:00"),
        (True, "TRUE"),
        ("  kept as is ", "  kept as is "),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_semicolon_delimited_csv_with_bom(world):
    data = csv_bytes([ROW], delimiter=";", encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    import_directory(None, world.network, io.BytesIO(data), filename="excel-fr.csv")
    [entry] = stored(world.member_a)
    assert entry["languages"] == "en,fr"
    assert entry["channels"] == [("phone", "+33123456789"), ("email", "desk@police.fr.example")]


def test_header_is_case_insensitive_and_trimmed(world):
    data = csv_bytes([ROW]).replace(b"member_code", b" Member_CODE ", 1)
    import_directory(None, world.network, io.BytesIO(data))
    assert len(stored(world.member_a)) == 1


def test_quoted_line_breaks_count_as_one_spreadsheet_row(world):
    rows = [{**ROW, "instructions": "line one\nline two"}, {**ROW, "type": "army"}]
    problems = reject(world.network, csv_bytes(rows))
    assert problems == [
        "row 3, column type: unknown type 'army' (expected one of: police, security_service, "
        "prosecution, ministry_of_justice, cybersecurity, other)"
    ]


def test_blank_rows_are_skipped_but_counted(world):
    data = csv_bytes([ROW, {**ROW, "timezone": "Mars/Olympus"}])
    lines = data.split(b"\r\n")
    data = b"\r\n".join([lines[0], lines[1], b"", b",,,,", lines[2], b""])
    assert reject(world.network, data) == [
        "row 5, column timezone: unknown time zone 'Mars/Olympus' (expected an IANA name such "
        "as Europe/Paris)"
    ]


def test_formula_guard_is_taken_off(world):
    data = csv_bytes([{**ROW, "instructions": "'=1+2 is not a formula"}])
    import_directory(None, world.network, io.BytesIO(data))
    assert stored(world.member_a)[0]["instructions"] == "=1+2 is not a formula"


def test_optional_columns_and_channel_order(world):
    columns = [*ROW, "phone_2", "email_2", "fax", "secure_channel"]
    row = {
        **ROW,
        "phone_2": "+33 6 12 34 56 78",
        "email_2": "duty@police.fr.example",
        "fax": "01 23 45 67 89",
        "secure_channel": "SIENA",
    }
    import_directory(None, world.network, io.BytesIO(csv_bytes([row], columns)))
    assert stored(world.member_a)[0]["channels"] == [
        ("phone", "+33123456789"),
        ("phone", "+33612345678"),
        ("email", "desk@police.fr.example"),
        ("email", "duty@police.fr.example"),
        ("fax", "+33123456789"),
        ("secure_platform", "SIENA"),
    ]


# --- replacing -----------------------------------------------------------------------------


def test_reimport_replaces_a_members_entries_and_leaves_absent_members_untouched(world):
    cp_b_before = stored(world.member_b)
    rows = [
        {**ROW, "institution": "First (fictional)"},
        {**ROW, "institution": "Second (fictional)", "availability": "24/7"},
    ]
    import_directory(None, world.network, io.BytesIO(csv_bytes(rows)))
    assert [e["institution"] for e in stored(world.member_a)] == [
        "First (fictional)",
        "Second (fictional)",
    ]
    assert not DRAFTS.filter(public_id=world.cp_a.public_id).exists()
    # Readers still see edition 1 until the Secretariat publishes.
    assert ContactPoint.objects.filter(pk=world.cp_a.pk, layer=Layer.PUBLISHED).exists()
    # Again with one row: the member ends up with exactly that one.
    report = import_directory(None, world.network, io.BytesIO(csv_bytes(rows[1:])))
    assert [e["institution"] for e in stored(world.member_a)] == ["Second (fictional)"]
    assert (report.contact_points_removed, report.contact_points_added) == (2, 1)
    # Germany is not in the file: same contact point, same channels.
    assert DRAFTS.filter(public_id=world.cp_b.public_id).exists()
    assert stored(world.member_b) == cp_b_before


def test_members_are_updated_from_the_file(world):
    report = import_directory(
        None,
        world.network,
        io.BytesIO(
            csv_bytes([{**ROW, "member_name": "French Republic", "member_status": "observer"}])
        ),
    )
    world.member_a.refresh_from_db()
    assert (world.member_a.name, world.member_a.status) == ("French Republic", "observer")
    [change] = report.members
    assert (change.code, change.action, change.fields) == ("FR", "updated", ("name", "status"))


def test_dry_run_writes_nothing_and_tells_what_would_change(world):
    rows = [ROW, {**ROW, "member_code": "BE", "member_name": "Belgium", "phone": ""}]
    before = counts()
    report = import_directory(
        None, world.network, io.BytesIO(csv_bytes(rows)), filename="f.csv", dry_run=True
    )
    assert counts() == before
    by_code = {m.code: m for m in report.members}
    assert by_code["FR"].action == "unchanged"
    assert (by_code["FR"].contact_points_removed, by_code["FR"].contact_points_added) == (1, 1)
    assert by_code["BE"].action == "created"
    assert report.dry_run


def test_cli_dry_run(world, tmp_path):
    path = write(tmp_path, "d.csv", csv_bytes([ROW]))
    before = counts()
    out, _ = run_cli("import", "--network", "budapest", str(path), "--dry-run")
    assert counts() == before
    assert "Dry run: nothing was written" in out
    assert "FR France: keep; remove 1, add 1" in out


# --- all or nothing ------------------------------------------------------------------------


def test_three_bad_rows_among_fifty_write_nothing(world, tmp_path):
    rows = []
    for i in range(53):
        code = ["FR", "BE", "NL"][i % 3]
        name = {"FR": "France", "BE": "Belgium", "NL": "Netherlands"}[code]
        rows.append(
            {**ROW, "member_code": code, "member_name": name, "phone": "", "unit": f"Desk {i}"}
        )
    rows[4]["email"] = "not an address"  # row 6
    rows[20]["availability"] = "Mon-Fri 25:00-26:00"  # row 22
    rows[51]["member_kind"] = "country"  # row 53
    path = write(tmp_path, "bad.csv", csv_bytes(rows))
    before = counts()
    error, lines = cli_problem_lines("import", "--network", "budapest", str(path))
    assert counts() == before
    assert error.returncode == 1
    assert "3 problems" in str(error)
    assert [line.split(":", 1)[0] for line in lines] == [
        "row 6, column email",
        "row 22, column availability",
        "row 53, column member_kind",
    ]
    assert lines[0] == "row 6, column email: 'not an address' is not a valid e-mail address"


def test_cli_imports_and_prints_a_summary(world):
    before = AuditEvent.objects.count()
    out, err = run_cli("import", "--network", "budapest", str(SAMPLE), "--quiet")
    assert out.strip() == (
        "Imported sample-directory.csv into budapest: 10 rows; members: 7 created, 0 updated, "
        "2 unchanged; contact points: 2 removed, 10 added."
    )
    assert err == ""
    assert AuditEvent.objects.count() > before


def test_cli_unknown_network_and_missing_file(world, tmp_path):
    with pytest.raises(CommandError, match="unknown network 'nope'"):
        run_cli("import", "--network", "nope", str(SAMPLE))
    with pytest.raises(CommandError, match="no such file"):
        run_cli("import", "--network", "budapest", str(tmp_path / "missing.csv"))


def test_cli_help_states_row_numbering():
    result = subprocess.run(
        [sys.executable, "-m", "liaison.cli", "directory", "import", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "the header is row 1, the first data row is row 2" in result.stdout
    assert "row N, column C: message" in result.stdout


# --- header and row problems ---------------------------------------------------------------


def test_missing_and_unknown_columns(world):
    columns = [c for c in ROW if c != "timezone"] + ["phone2", "colour"]
    problems = reject(world.network, csv_bytes([ROW], columns))
    assert problems == [
        "row 1, column timezone: missing",
        "row 1, column colour: unknown column (expected: " + ", ".join(COLUMNS) + ")",
        "row 1, column phone2: unknown column (did you mean phone_2?)",
    ]


def test_repeated_column(world):
    data = csv_bytes([ROW]).replace(b"instructions", b"email", 1)
    assert "row 1, column email: the column appears more than once" in reject(world.network, data)


def test_empty_file_and_header_only(world):
    assert reject(world.network, b"") == ["row 1: the file is empty"]
    assert reject(world.network, csv_bytes([])) == [
        "row 2: the file has no contact points (no data rows)"
    ]


def test_value_without_a_header(world):
    data = csv_bytes([ROW]).rstrip(b"\r\n") + b",stray\r\n"
    assert reject(world.network, data) == [
        "row 2, column N: value in a column without a header (put values containing the "
        "delimiter in quotes)"
    ]


def test_member_inconsistent_across_rows(world):
    rows = [
        ROW,
        {**ROW, "member_name": "French Republic"},
        {**ROW, "member_status": "observer", "member_kind": "organisation", "phone": ""},
    ]
    assert reject(world.network, csv_bytes(rows)) == [
        "row 3, column member_name: FR is 'France' on row 2, 'French Republic' here",
        "row 4, column member_kind: FR is 'state' on row 2, 'organisation' here",
        "row 4, column member_status: FR is 'party' on row 2, 'observer' here",
    ]


def test_member_compared_with_its_first_row_even_when_that_row_has_problems(world):
    rows = [{**ROW, "timezone": "Nowhere"}, {**ROW, "member_name": "French Republic"}]
    problems = reject(world.network, csv_bytes(rows))
    assert [p.split(":")[0] for p in problems] == [
        "row 2, column timezone",
        "row 3, column member_name",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # (an international number: a national one cannot be read without a valid country)
        (
            {"member_code": "XX", "phone": "+33 1 23 45 67 89"},
            "row 2, column member_code: unknown country code 'XX'",
        ),
        (
            {"member_code": "1EU", "member_kind": "organisation", "phone": "+33123456789"},
            "row 2, column member_code: invalid organisation code '1EU'",
        ),
        ({"member_name": "  "}, "row 2, column member_name: the member's name is required"),
        ({"member_status": "member"}, "row 2, column member_status: unknown status 'member'"),
        ({"email": "", "phone": ""}, "row 2, column phone: at least one channel"),
        ({"email_2": "nope"}, "row 2, column email_2: 'nope' is not a valid e-mail address"),
        ({"phone_2": "12"}, "row 2, column phone_2: '12' is not a valid phone number"),
        ({"fax": "fax me"}, "row 2, column fax: 'fax me' is not a phone number"),
        ({"languages": "english"}, "row 2, column languages: unknown language code 'english'"),
        ({"timezone": "Europe"}, "row 2, column timezone: unknown time zone 'Europe'"),
        ({"institution": ""}, "row 2, column institution: institution is required"),
    ],
)
def test_problems_name_the_column(world, changes, expected):
    columns = [*ROW, "phone_2", "email_2", "fax"]
    problems = reject(world.network, csv_bytes([{**ROW, **changes}], columns))
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_national_numbers_need_a_country(world):
    row = {
        **ROW,
        "member_code": "EU",
        "member_name": "European Union",
        "member_kind": "organisation",
    }
    assert reject(world.network, csv_bytes([row])) == [
        "row 2, column phone: '01 23 45 67 89' is not a phone number (start with + and the "
        "country code)"
    ]


def test_long_values_are_not_echoed_in_full(world):
    problems = reject(world.network, csv_bytes([{**ROW, "type": "x" * 5000}]))
    assert problems[0] == (
        "row 2, column type: unknown type '" + "x" * 40 + "…' (expected one of: police, "
        "security_service, prosecution, ministry_of_justice, cybersecurity, other)"
    )


def test_messages_are_one_line(world):
    [problem] = reject(world.network, csv_bytes([{**ROW, "availability": "Mon\nbad"}]))
    assert "\n" not in problem


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("latin1.csv", "member_code,café\n".encode("latin-1"), "not UTF-8"),
        ("old.xls", b"\xd0\xcf\x11\xe0rest", r"old Excel \(\.xls\)"),
        ("broken.xlsx", b"not a zip", "not a valid XLSX"),
        ("broken2.xlsx", b"PK\x03\x04garbage", "not a valid XLSX"),
    ],
)
def test_unreadable_files(world, name, data, message):
    with pytest.raises(ServiceError, match=message) as info:
        import_directory(None, world.network, io.BytesIO(data), filename=name)
    assert not isinstance(info.value, ImportRejected)


# --- who may import ------------------------------------------------------------------------


def test_only_the_secretariat_may_import(world):
    data = csv_bytes([ROW])
    for user in (world.coordinator_a, world.officer_a, world.auditor, world.outsider):
        with pytest.raises(PermissionDenied):
            import_directory(user, world.network, io.BytesIO(data))
    before = AuditEvent.objects.count()
    import_directory(world.secretariat, world.network, io.BytesIO(data))
    event = AuditEvent.objects.filter(seq__gte=before, action="directory.import").get()
    assert event.actor_id == world.secretariat.pk
    assert DRAFTS.get(member=world.member_a).updated_by == world.secretariat


# --- progress ------------------------------------------------------------------------------


class FakeBar:
    def __init__(self, log, description, total):
        self.log, self.description, self.total, self.done = log, description, total, 0

    def update(self, n=1):
        self.done += n

    def close(self):
        self.log.append((self.description, self.total, self.done))


def test_progress_for_large_files_only(world):
    log: list = []

    def factory(description, total):
        return FakeBar(log, description, total)

    import_directory(None, world.network, io.BytesIO(csv_bytes([ROW] * 10)), progress=factory)
    assert log == []
    import_directory(None, world.network, io.BytesIO(csv_bytes([ROW] * 501)), progress=factory)
    assert log == [("validating rows", 501, 501), ("writing members", 2, 2)]


def test_validate_rows_without_a_network_reads_nothing(django_assert_num_queries):
    rows = list(read_rows(SAMPLE))
    with django_assert_num_queries(0):
        plan, problems = validate_rows(rows, None)
    assert problems == []
    assert sum(len(m.contact_points) for m in plan.members.values()) == 10
