"""pytest fixtures for the in-process SMTP server.

Enable with ``pytest_plugins = ["tests.smtp_fixtures"]`` in the root conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smtp_server import SMTPTestServer


@pytest.fixture
def smtp_server() -> Iterator[SMTPTestServer]:
    """A started SMTPTestServer, stopped after the test.

    Function-scoped so received mail and ``fail_with`` never leak between tests.
    """
    with SMTPTestServer() as server:
        yield server
