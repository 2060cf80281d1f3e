"""Shared fixtures. Tests run against real parts: SQLite or PostgreSQL (DATABASE_URL), a real
SMTP server on loopback, real Chromium for tests/e2e."""

from __future__ import annotations

import pytest

# The throw-away data directory is set in tests/settings.py, which pytest-django imports before
# any conftest.
pytest_plugins = ["tests.smtp_fixtures", "tests.fixtures"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2 costs one to three seconds a password on a busy machine, and the `world` fixture
    # makes seven people: the code paths are the same with a fast hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    """A request in French leaves French active in the thread: reset it after every test."""
    from django.utils import translation

    yield
    translation.activate("en")
