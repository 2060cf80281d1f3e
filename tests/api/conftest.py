"""API test helpers: personal tokens per user and an authenticated JSON client."""

from __future__ import annotations

import json

import pytest

from liaison.accounts.services import create_token


class ApiClient:
    """Django's test client with a Bearer token and JSON bodies."""

    def __init__(self, client, raw_token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_token}"} if raw_token else {}

    def get(self, path: str, **params):
        return self.client.get(path, params, headers=self.headers)

    def patch(self, path: str, body):
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", headers=self.headers
        )

    def post(self, path: str, body):
        return self.client.post(
            path, json.dumps(body), content_type="application/json", headers=self.headers
        )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The world's seven users are hashed with PBKDF2 otherwise: seconds per test for nothing
    these tests look at (API tokens are SHA-256, not passwords)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def token_for(db):
    """token_for(user, write=False) → the raw token string."""

    def make(user, *, write: bool = False, days: int = 30) -> str:
        _token, raw = create_token(user, user, can_write=write, days=days)
        return raw

    return make


@pytest.fixture
def api_as(client, token_for):
    """api_as(user_or_None, write=False) → an ApiClient (None: no token at all)."""

    def make(user, *, write: bool = False) -> ApiClient:
        return ApiClient(client, token_for(user, write=write) if user is not None else None)

    return make
