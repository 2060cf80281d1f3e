"""`liaison audit …`: exit codes, output, export; in-process and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.audit.models import AuditEvent
from liaison.audit.services import create_checkpoint, record_event
from liaison.core import keys
from tests.audit.helpers import append, rehash_everything, sql

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


def test_verify_ok_and_broken():
    append(30)
    code, out = run("verify")
    assert code == 0
    assert out.startswith("audit trail intact: 30 events, 0 checkpoints, root ")
    sql("DELETE FROM audit_auditevent WHERE seq = 12")
    code, out = run("verify")
    assert code == 1
    assert out.strip() == "audit trail BROKEN at event 12: event 12 is missing"


def test_checkpoint_prints_a_witness_that_verify_checks(tmp_path):
    code, out = run("checkpoint")
    assert (code, out.strip()) == (0, "nothing to sign: the audit trail is empty")
    append(40)
    code, out = run("checkpoint")
    line = out.strip()
    assert line.startswith("liaison-audit-checkpoint 40 ")
    assert line.split()[4] == keys.key_id()
    witness = tmp_path / "witness.txt"
    witness.write_text("# kept by the DPO\n" + line + "\n")
    code, out = run("verify", "--witness", str(witness))
    assert code == 0
    assert "witnesses checked: 1" in out
    # Cut the tail, rewrite the head, remove the stored checkpoint: only the witness tells.
    sql("DELETE FROM audit_auditcheckpoint")
    sql("DELETE FROM audit_auditevent WHERE seq >= 35")
    rehash_everything()
    assert run("verify")[0] == 0
    code, out = run("verify", "--witness", str(witness))
    assert code == 1
    assert "a signed witness covers 40 events" in out
    witness.write_text("garbage\n")
    with pytest.raises(CommandError, match="--witness line 1"):
        call_command("audit", "verify", "--witness", str(witness))


def test_verify_checkpoint_signs_only_an_intact_trail():
    append(7)
    code, out = run("verify", "--checkpoint")
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("liaison-audit-checkpoint 7 ")
    append(3)
    sql("UPDATE audit_auditevent SET action = 'test.x' WHERE seq = 8")
    code, _ = run("verify", "--checkpoint")
    assert code == 1
    assert not AuditEvent.objects.filter(seq__gte=10).exists()
    from liaison.audit.models import AuditCheckpoint

    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True)) == [7]


def test_verify_with_a_pinned_public_key(tmp_path):
    append(5)
    create_checkpoint()
    mine = tmp_path / "mine.pub"
    mine.write_text(keys.public_key_pem())
    assert run("verify", "--public-key", str(mine))[0] == 0
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pub"
    other.write_text(keys.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    code, out = run("verify", "--public-key", str(other))
    assert code == 1
    assert "checkpoint at size 5 is signed by an unknown key" in out


def test_key_prints_the_public_key():
    code, out = run("key")
    assert code == 0
    assert f"key id: {keys.key_id()}" in out
    assert keys.parse_public_key(out.split("\n", 1)[1].encode()) == keys.public_key()


def test_export_jsonl(world, tmp_path):
    record_event(world.secretariat, "member.update", network=world.network, details={"k": 1})
    record_event(None, "network.update", network=world.other_network)
    out = io.StringIO()
    call_command("audit", "export", "--network", "budapest", stdout=out)
    # The world fixture published edition 1 first: leave that event out.
    lines = [
        json.loads(line)
        for line in out.getvalue().splitlines()
        if json.loads(line)["action"] != "directory.publish"
    ]
    assert [line["action"] for line in lines if line["action"] != "audit.export"] == [
        "member.update"
    ]
    assert lines[0]["details"] == {"k": 1}
    assert lines[0]["actor"] == "sec@coe.example"
    assert len(lines[0]["leaf_hash"]) == 64
    exported = AuditEvent.objects.filter(action="audit.export").get()
    assert exported.details["events"] == 2  # edition 1's publication and member.update
    assert exported.via == "cli"

    target = tmp_path / "out.jsonl"
    call_command(
        "audit",
        "export",
        "--network",
        "budapest",
        "--since",
        "2999-01-01",
        "-o",
        str(target),
        stderr=io.StringIO(),
    )
    assert target.read_text() == ""
    with pytest.raises(CommandError, match="no network"):
        call_command("audit", "export", "--network", "nowhere")
    with pytest.raises(CommandError, match="--since must be"):
        call_command("audit", "export", "--network", "budapest", "--since", "yesterday")


@pytest.mark.django_db(transaction=False)
def test_real_command_line_exit_codes(tmp_path):
    """The installed `liaison` against a real SQLite file in a fresh data directory."""
    liaison = Path(sys.executable).with_name("liaison")
    env = {**os.environ, "LIAISON_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # as a user runs it: liaison.settings

    def cli(*args):
        return subprocess.run(  # noqa: S603
            [str(liaison), *args], env=env, capture_output=True, text=True, timeout=300
        )

    assert cli("migrate", "-v0").returncode == 0
    made = cli(
        "shell",
        "-c",
        "from liaison.audit.services import record_event\n"
        "for i in range(12): record_event(None, 'test.cli', details={'i': i})",
    )
    assert made.returncode == 0, made.stderr
    ok = cli("audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit trail intact: 12 events, 0 checkpoints, root ")

    db = sqlite3.connect(tmp_path / "liaison.sqlite3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 5")
    db.execute("DROP TRIGGER audit_auditevent_no_update")
    db.execute("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 5")
    db.commit()
    db.close()
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.strip() == (
        "audit trail BROKEN at event 5: event 5 was altered (leaf hash mismatch)"
    )
