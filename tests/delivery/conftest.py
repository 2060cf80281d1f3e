from __future__ import annotations

import pytest

from tests.delivery.scripted import Connections, ScriptedSMTPServer, count_connections


@pytest.fixture
def mail(settings, smtp_server):
    """Django's SMTP backend pointed at the loopback server, with short retry timings."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DELIVERY_RETRY_BASE_SECONDS = 30
    settings.DELIVERY_RETRY_CAP_SECONDS = 3600
    settings.DELIVERY_LEASE_SECONDS = 60
    return smtp_server


@pytest.fixture
def scripted(settings):
    """A ScriptedSMTPServer on loopback, with Django's SMTP backend pointed at it."""
    with ScriptedSMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        settings.DELIVERY_RETRY_BASE_SECONDS = 30
        settings.DELIVERY_RETRY_CAP_SECONDS = 3600
        settings.DELIVERY_LEASE_SECONDS = 60
        yield server


@pytest.fixture
def connections(monkeypatch) -> Connections:
    """The SMTP connections opened during the test (see `Connections`)."""
    return count_connections(monkeypatch)
