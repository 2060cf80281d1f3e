"""The deployment's Ed25519 signing key, and the public keys it trusts.

The private key is generated once into DATA_DIR/keys/ed25519.pem (mode 0600). Audit checkpoints and
signed directory exports are signed with it. Public keys of other deployments — or earlier keys of
this one, after a rotation — are trusted when placed in DATA_DIR/keys/trusted/*.pub (PEM, OpenSSH
`ssh-ed25519 …`, the raw 32 bytes, or those 32 bytes in hex or base64).

A key is named by its key id: the first 16 hex characters of SHA-256 over the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

logger = logging.getLogger(__name__)

KEY_FILE = "ed25519.pem"
TRUSTED_DIR = "trusted"

_lock = threading.Lock()
# Per process, keyed by the key file's path (tests point DATA_DIR elsewhere).
_cache: dict[Path, Ed25519PrivateKey] = {}


class SigningKeyError(RuntimeError):
    """The key file exists but cannot be used; the message says which file (never its content)."""


def keys_dir() -> Path:
    return Path(settings.DATA_DIR) / "keys"


def key_path() -> Path:
    return keys_dir() / KEY_FILE


def _generate(path: Path) -> None:
    """Create the key file once, atomically, even when several processes start together.

    The PEM is written to a private temporary file (O_EXCL, 0600) and then hard-linked to its final
    name: link() fails when the name exists, so exactly one process wins and nobody ever reads a
    half-written key (which an O_EXCL open of the final name alone would allow).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
            logger.info("generated the deployment signing key %s", path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def signing_key() -> Ed25519PrivateKey:
    """The deployment's private key, generated on first use and cached for the process."""
    path = key_path()
    key = _cache.get(path)
    if key is not None:
        return key
    with _lock:
        key = _cache.get(path)
        if key is None:
            if not path.exists():
                _generate(path)
            key = _cache[path] = _load(path)
    return key


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


# verify() takes a `public_key` argument that shadows the function inside it.
_own_public_key = public_key


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[:16]


def key_id() -> str:
    """The deployment key's id: first 16 hex characters of SHA-256 of the raw public key."""
    return key_id_of(public_key())


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    key = key or public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(data: bytes) -> bytes:
    return signing_key().sign(data)


def parse_public_key(blob: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, OpenSSH, raw 32 bytes, or hex/base64 of the raw bytes."""
    text = blob.strip()
    key = None
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
    elif text.startswith(b"ssh-ed25519 "):
        key = serialization.load_ssh_public_key(text)
    elif len(blob) == 32:
        return Ed25519PublicKey.from_public_bytes(blob)
    else:
        raw = None
        with contextlib.suppress(ValueError, binascii.Error):
            raw = bytes.fromhex(text.decode("ascii"))
        if raw is None:
            with contextlib.suppress(ValueError, binascii.Error):
                raw = base64.b64decode(text, validate=True)
        if raw is None or len(raw) != 32:
            raise ValueError("not an Ed25519 public key (PEM, OpenSSH, raw, hex or base64)")
        return Ed25519PublicKey.from_public_bytes(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """Key id → public key: the deployment's own key and every readable trusted/*.pub.

    Read on each call (the directory is small, and an operator adding a key expects it to count
    without a restart). An unreadable file is logged by name and skipped.
    """
    keys = {key_id(): public_key()}
    folder = keys_dir() / TRUSTED_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*.pub")):
            try:
                key = parse_public_key(path.read_bytes())
            except (OSError, ValueError):
                logger.warning("ignoring %s: not a readable Ed25519 public key", path)
                continue
            keys.setdefault(key_id_of(key), key)
    return keys


def find_public_key(kid: str) -> Ed25519PublicKey | None:
    """The trusted public key (own or trusted/*.pub) whose id is `kid`, else None."""
    return trusted_public_keys().get(kid)


def verify(
    data: bytes, signature: bytes, public_key: Ed25519PublicKey | bytes | None = None
) -> bool:
    """True when `signature` is a valid Ed25519 signature of `data`.

    `public_key` defaults to the deployment's own key; raw bytes are accepted too. To check a
    signature made by another trusted key, look it up first with find_public_key(key_id).
    """
    if public_key is None:
        key = _own_public_key()
    elif isinstance(public_key, bytes):
        key = parse_public_key(public_key)
    else:
        key = public_key
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
