"""Settings for the test suite: the production settings, with a throw-away data directory and a
fast password hasher (factories hash a password per user; PBKDF2's cost is for production)."""

import os
import tempfile

os.environ.setdefault("LIAISON_DATA_DIR", tempfile.mkdtemp(prefix="liaison-test-"))
os.environ.setdefault("LIAISON_TESTING", "1")

from liaison.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
