"""`liaison user add …` and `liaison token create …`: what they print, and one clear line for
each bad argument."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from liaison.accounts.models import ApiToken, User
from liaison.audit.models import AuditEvent
from liaison.networks.models import RoleAssignment

PASSWORD = "a long and unusual passphrase 7"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        if stdin is not None:
            sys.stdin = old
    return out.getvalue()


def test_user_add_creates_the_account(world):
    out = run(
        "user", "add", "Duty@FR.example", "--network", "budapest", "--role", "officer",
        "--member", "fr", "--password", PASSWORD, "--totp-secret", SECRET, "--name", "Desk FR",
    )  # fmt: skip
    assert out.strip() == (
        "created user duty@fr.example: officer for FR in budapest; authenticator app enrolled"
    )
    user = User.objects.get(email="duty@fr.example")
    assert user.full_name == "Desk FR"
    assert user.check_password(PASSWORD)
    event = AuditEvent.objects.get(action="account.user.create", object_id=user.public_id)
    assert event.via == "cli"
    assert event.actor is None
    assert PASSWORD not in str(event.details)


def test_user_add_reads_the_password_from_stdin(world):
    run(
        "user", "add", "sec2@coe.example", "--network", "budapest", "--role", "secretariat",
        "--password", "-", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert User.objects.get(email="sec2@coe.example").check_password(PASSWORD)


def test_user_add_existing_account_gets_another_role(world):
    out = run(
        "user", "add", world.officer_a.email, "--network", "other", "--role", "auditor",
    )  # fmt: skip
    assert out.strip() == f"added role {world.officer_a.email}: auditor in other"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--network", "xyz", "--role", "officer", "--member", "FR"], "unknown network 'xyz'"),
        (
            ["--network", "budapest", "--role", "officer", "--member", "ZZ"],
            "member 'ZZ' not found in network 'budapest'",
        ),
        (["--network", "budapest", "--role", "officer"], "--member is required for role officer"),
        (
            ["--network", "budapest", "--role", "coordinator"],
            "--member is required for role coordinator",
        ),
        (
            ["--network", "budapest", "--role", "auditor", "--member", "FR"],
            "--member is not used for role auditor",
        ),
        (
            ["--network", "budapest", "--role", "auditor", "--password", "short"],
            "This password is too short",
        ),
        (
            ["--network", "budapest", "--role", "auditor", "--totp-secret", "abc"],
            "the TOTP secret must be at least 16 base32 characters",
        ),
        (
            ["--network", "budapest", "--role", "auditor", "--totp-secret", "0" * 16],
            "the TOTP secret is not valid base32",
        ),
        (["--network", "budapest", "--role", "king"], "invalid choice: 'king'"),
    ],
)
def test_user_add_bad_input(world, args, message):
    before = User.objects.count(), RoleAssignment.objects.count()
    with pytest.raises(CommandError) as exc:
        run("user", "add", "someone@fr.example", *args)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value).strip()
    assert (User.objects.count(), RoleAssignment.objects.count()) == before


def test_user_add_same_role_twice(world):
    with pytest.raises(CommandError, match="already holds this role"):
        run(
            "user", "add", world.officer_a.email, "--network", "budapest", "--role", "officer",
            "--member", "FR",
        )  # fmt: skip


def test_user_add_bad_email(world):
    with pytest.raises(CommandError, match="invalid e-mail address 'nobody'"):
        run("user", "add", "nobody", "--network", "budapest", "--role", "auditor")


def test_user_list(world):
    out = run("user", "list", "--network", "budapest")
    assert "coord@fr.example" in out
    assert "officer" in out


def test_token_create_prints_only_the_token(world):
    out = run("token", "create", world.officer_a.email, "--write", "--days", "7")
    raw = out.strip()
    assert out == raw + "\n"
    assert raw.startswith("lz_")
    token = ApiToken.objects.get(user=world.officer_a)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.can_write
    assert abs(token.expires_at - token.created_at - dt.timedelta(days=7)) < dt.timedelta(seconds=5)
    assert AuditEvent.objects.filter(action="account.token.create").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@x.example"], "unknown user 'nobody@x.example'"),
        (["officer@fr.example", "--days", "0"], "--days must be between 1 and 365, got 0"),
        (["officer@fr.example", "--days", "400"], "--days must be between 1 and 365, got 400"),
        (["officer@fr.example", "--days", "ten"], "invalid int value: 'ten'"),
    ],
)
def test_token_create_bad_input(world, args, message):
    with pytest.raises(CommandError) as exc:
        run("token", "create", *args)
    assert message in str(exc.value)
    assert not ApiToken.objects.exists()


def test_token_list_and_revoke(world):
    raw = run("token", "create", world.officer_a.email).strip()
    token = ApiToken.objects.get()
    listing = run("token", "list", world.officer_a.email)
    assert token.public_id in listing
    assert raw not in listing
    assert run("token", "revoke", token.public_id).strip() == f"revoked {token.public_id}"
    token.refresh_from_db()
    assert token.revoked_at is not None
    with pytest.raises(CommandError, match="already been revoked"):
        run("token", "revoke", token.public_id)


# --- as a person types it ------------------------------------------------------------------


def _liaison() -> str:
    return str(Path(sys.executable).with_name("liaison"))


@pytest.mark.django_db(transaction=False)
def test_the_real_command_line(tmp_path):
    env = {
        **os.environ,
        "LIAISON_DATA_DIR": str(tmp_path),
        "LIAISON_SECRET_KEY": "cli-test-key-not-secret",
        "DJANGO_SETTINGS_MODULE": "liaison.settings",
    }
    env.pop("DATABASE_URL", None)

    def liaison(*args, stdin=None):
        return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [_liaison(), *args], env=env, capture_output=True, text=True, input=stdin,
            timeout=300, check=False,
        )  # fmt: skip

    assert liaison("migrate", "--verbosity", "0").returncode == 0
    assert liaison("network", "create", "budapest", "--name", "Budapest").returncode == 0
    add_member = liaison(
        "network", "add-member", "budapest", "--code", "FR", "--kind", "state", "--status", "party"
    )
    assert add_member.returncode == 0, add_member.stderr

    bad = liaison("user", "add", "x@fr.example", "--network", "xyz", "--role", "officer")
    assert bad.returncode != 0
    assert bad.stderr.strip() == "CommandError: unknown network 'xyz'"
    bad = liaison("user", "add", "x@fr.example", "--network", "budapest", "--role", "officer")
    assert bad.stderr.strip() == "CommandError: --member is required for role officer"
    bad = liaison(
        "user", "add", "x@fr.example", "--network", "budapest", "--role", "officer",
        "--member", "ZZ",
    )  # fmt: skip
    assert bad.stderr.strip() == "CommandError: member 'ZZ' not found in network 'budapest'"

    ok = liaison(
        "user", "add", "x@fr.example", "--network", "budapest", "--role", "officer",
        "--member", "FR", "--password", "-", "--totp-secret", SECRET, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("created user x@fr.example: officer for FR in budapest")

    token = liaison("token", "create", "x@fr.example", "--days", "30")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count("\n") == 1
    assert token.stdout.startswith("lz_")
    bad = liaison("token", "create", "x@fr.example", "--days", "0")
    assert bad.returncode != 0
    assert bad.stderr.strip() == "CommandError: --days must be between 1 and 365, got 0"
