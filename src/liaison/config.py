"""Reads the deployment's configuration from the environment (the contract of DESIGN.md).

Kept apart from settings.py so that the CLI can print and check it without importing Django.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


class ConfigError(RuntimeError):
    """A configuration value is present but unusable; the message names the variable."""


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False


def data_dir() -> Path:
    path = Path(os.environ.get("LIAISON_DATA_DIR", "./var")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def addr() -> tuple[str, int]:
    raw = os.environ.get("LIAISON_ADDR", "127.0.0.1:8000")
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"LIAISON_ADDR must look like HOST:PORT, got {raw!r}")
    return host.strip("[]"), int(port)


def base_url() -> str:
    url = os.environ.get("LIAISON_BASE_URL")
    if not url:
        host, port = addr()
        url = f"http://{host}:{port}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"LIAISON_BASE_URL must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def secret_key(directory: Path) -> str:
    """The key from LIAISON_SECRET_KEY, else one generated once into the data directory."""
    key = os.environ.get("LIAISON_SECRET_KEY")
    if key:
        return key
    path = directory / "secret_key"
    if not path.exists():
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


def inbound_address() -> str:
    """LIAISON_INBOUND_ADDRESS: where replies to probe e-mails go (their Reply-To), routed by the
    MTA to `liaison inbound`. Empty: no Reply-To, replies go to the From address."""
    value = os.environ.get("LIAISON_INBOUND_ADDRESS", "").strip()
    if value and (value.count("@") != 1 or any(c.isspace() or c in '<>,;"' for c in value)):
        raise ConfigError(f"LIAISON_INBOUND_ADDRESS must be one e-mail address, got {value!r}")
    return value


def email(directory: Path) -> EmailConfig:
    url = os.environ.get("LIAISON_EMAIL_URL", "")
    if not url:
        # Without a mail server, mails land as files in the data directory, never in a log.
        return EmailConfig(backend="django.core.mail.backends.filebased.EmailBackend")
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps", "smtp+tls"} or not parts.hostname:
        raise ConfigError(
            f"LIAISON_EMAIL_URL must be smtp://HOST:PORT, smtp+tls://… or smtps://…, got scheme "
            f"{parts.scheme!r}"
        )
    return EmailConfig(
        backend="django.core.mail.backends.smtp.EmailBackend",
        host=parts.hostname,
        port=parts.port or (465 if parts.scheme == "smtps" else 25),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=parts.scheme == "smtp+tls",
        use_ssl=parts.scheme == "smtps",
    )
