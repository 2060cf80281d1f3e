"""Shared fixtures. Tests run against real parts: SQLite or PostgreSQL (DATABASE_URL), a real
SMTP server on loopback, real Chromium for tests/e2e."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LIAISON_DATA_DIR", tempfile.mkdtemp(prefix="liaison-test-"))
os.environ.setdefault("LIAISON_TESTING", "1")

pytest_plugins = ["tests.smtp_fixtures", "tests.fixtures"]
