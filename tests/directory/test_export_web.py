"""Downloads of an edition from the web: attachments, the personalised PDF, audit, errors."""

from __future__ import annotations

import io
import json

import pytest
import vobject
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from pypdf import PdfReader

from liaison.audit.models import AuditEvent
from liaison.directory.models import Edition
from liaison.directory.signing import verify_export
from liaison.networks.queries import resolve_access

pytestmark = pytest.mark.django_db


def url(number: int, fmt: str) -> str:
    return reverse("directory:download", args=("budapest", number, fmt))


def last_export() -> AuditEvent:
    return AuditEvent.objects.filter(action="directory.export").latest("seq")


def test_a_download_is_an_audited_attachment(world, client):
    client.force_login(world.officer_a)
    response = client.post(url(1, "json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        'attachment; filename="budapest-directory-edition-1.json"'
    )
    assert response["Cache-Control"] == "no-store, private"
    document = json.loads(response.content)
    assert document["export"]["by"] == f"{world.officer_a.full_name} <officer@fr.example>"
    event = last_export()
    assert event.actor_id == world.officer_a.pk
    assert event.via == "web"
    assert event.details["mark"] == document["export"]["mark"]
    assert event.details["edition"] == 1
    assert verify_export(response.content).edition == 1


def test_the_pdf_download_names_the_downloader_on_every_page(world, client):
    world.officer_b.full_name = "Jürgen Schmidt"
    world.officer_b.save()
    client.force_login(world.officer_b)
    response = client.post(url(1, "pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    mark = last_export().details["mark"]
    reader = PdfReader(io.BytesIO(response.content))
    expected = "Downloaded by Jürgen Schmidt <officer@de.example> on "
    for page in reader.pages:
        text = " ".join(page.extract_text().split())
        assert expected in text
        assert f"mark {mark}" in text
        assert "RESTRICTED — not for public distribution" in text
    assert expected in reader.metadata["/Subject"]
    assert mark in reader.metadata["/Keywords"]
    assert "France (FR)" in " ".join(p.extract_text() for p in reader.pages)
    assert verify_export(response.content).own_key
    # Two downloads, two marks.
    client.post(url(1, "pdf"))
    assert last_export().details["mark"] != mark


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("vcf", "text/vcard; charset=utf-8"),
    ],
)
def test_other_formats(world, client, fmt, content_type):
    client.force_login(world.coordinator_b)
    response = client.post(url(1, fmt))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    if fmt == "vcf":
        cards = list(vobject.readComponents(response.content.decode()))
        assert len(cards) == 2
    assert last_export().details["format"] == fmt


def test_get_is_refused_and_nothing_is_audited(world, client):
    client.force_login(world.officer_a)
    response = client.get(url(1, "pdf"))
    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action="directory.export").exists()


def test_unknown_edition_and_format(world, client):
    client.force_login(world.officer_a)
    response = client.post(url(4, "pdf"))
    assert response.status_code == 404
    assert b"Edition 4 does not exist (editions 1 to 1 exist)." in response.content
    response = client.post(url(1, "docx"))
    assert response.status_code == 404
    assert b"Unknown format" in response.content
    assert not AuditEvent.objects.filter(action="directory.export").exists()


def test_who_may_download(world, client):
    client.force_login(world.auditor)
    assert client.post(url(1, "pdf")).status_code == 403
    client.force_login(world.outsider)
    assert client.post(url(1, "pdf")).status_code == 404
    client.logout()
    assert client.post(url(1, "pdf")).status_code == 302


def test_justification_when_the_network_requires_it(world, client):
    world.network.justification_required = True
    world.network.save()
    client.force_login(world.officer_a)
    response = client.post(url(1, "pdf"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "This network requires a justification for every export." in page
    assert 'name="justification"' in page  # the form again, to give one
    assert not AuditEvent.objects.filter(action="directory.export").exists()
    response = client.post(url(1, "pdf"), {"justification": "Case 2026/113 (urgent)"})
    assert response.status_code == 200
    assert last_export().justification == "Case 2026/113 (urgent)"


def _buttons(world, user, *, required: bool) -> str:
    world.network.justification_required = required
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(
        "directory/_download_buttons.html",
        {
            "network": world.network,
            "edition": Edition.objects.get(network=world.network, number=1),
            "access": resolve_access(user, world.network),
        },
        request=request,
    )


def test_the_download_buttons(world):
    html = _buttons(world, world.officer_a, required=False)
    for fmt in ("pdf", "json", "csv", "xlsx", "vcf"):
        assert url(1, fmt) in html
    assert 'method="post"' in html
    assert "csrfmiddlewaretoken" in html
    assert 'name="justification"' not in html
    html = _buttons(world, world.officer_a, required=True)
    assert 'name="justification"' in html
    assert "required" in html
    # Not shown to people who may not export.
    assert _buttons(world, world.auditor, required=False).strip() == ""
