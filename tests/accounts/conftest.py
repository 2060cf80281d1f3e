"""The cache is real and file-based, as in the embedded deployment: login throttling and used
TOTP codes live there. Each test gets an empty one of its own (other test runs on the machine
must not share its counters)."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # The production hasher costs ~0.5 s a password on a busy machine; the code paths are the same.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    cache.clear()
    yield
    cache.clear()
