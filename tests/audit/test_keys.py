"""The deployment's Ed25519 key: generated once, private, cached; trusted public keys."""

from __future__ import annotations

import base64
import multiprocessing
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from liaison.core import keys


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_key_is_generated_once_private_and_cached(data_dir):
    key = keys.signing_key()
    path = data_dir / "keys" / "ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert keys.signing_key() is key  # cached per process
    kid = keys.key_id()
    assert len(kid) == 16
    assert int(kid, 16) >= 0
    # A fresh process (empty cache) reads the same key back.
    keys._cache.clear()
    assert keys.key_id() == kid
    assert list((data_dir / "keys").iterdir()) == [path]  # no temporary file left behind


def test_sign_and_verify(data_dir):
    signature = keys.sign(b"hello")
    assert len(signature) == 64
    assert keys.verify(b"hello", signature)
    assert not keys.verify(b"hellO", signature)
    assert not keys.verify(b"hello", signature[:-1] + bytes([signature[-1] ^ 1]))
    other = Ed25519PrivateKey.generate()
    assert not keys.verify(b"hello", signature, other.public_key())
    assert keys.verify(b"x", other.sign(b"x"), keys.raw_public_bytes(other.public_key()))


def _race(path: str) -> str:
    from pathlib import Path

    target = Path(path)
    if not target.exists():
        keys._generate(target)
    return keys.key_id_of(keys._load(target).public_key())


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "keys" / "ed25519.pem"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        ids = pool.map(_race, [str(path)] * 24)
    assert len(set(ids)) == 1
    assert [p.name for p in path.parent.iterdir()] == ["ed25519.pem"]


def test_unusable_key_file_is_reported_by_name(data_dir):
    (data_dir / "keys").mkdir(mode=0o700)
    (data_dir / "keys" / "ed25519.pem").write_text("not a key")
    with pytest.raises(keys.SigningKeyError, match=r"ed25519\.pem is not an unencrypted PEM"):
        keys.signing_key()


def test_trusted_keys_in_every_format(data_dir):
    trusted = data_dir / "keys" / "trusted"
    trusted.mkdir(parents=True)
    made = [Ed25519PrivateKey.generate().public_key() for _ in range(5)]
    raw = [keys.raw_public_bytes(k) for k in made]
    (trusted / "pem.pub").write_text(keys.public_key_pem(made[0]))
    (trusted / "raw.pub").write_bytes(raw[1])
    (trusted / "hex.pub").write_text(raw[2].hex() + "\n")
    (trusted / "b64.pub").write_text(base64.b64encode(raw[3]).decode())
    (trusted / "ssh.pub").write_bytes(
        made[4].public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        + b" someone@example\n"
    )
    (trusted / "junk.pub").write_text("hello")
    (trusted / "ignored.txt").write_bytes(raw[0])

    found = keys.trusted_public_keys()
    assert set(found) == {keys.key_id(), *(keys.key_id_of(k) for k in made)}
    assert keys.find_public_key(keys.key_id_of(made[3])) is not None
    assert keys.find_public_key("0" * 16) is None


def test_parse_public_key_rejects_other_things():
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        keys.parse_public_key(b"abcd")
