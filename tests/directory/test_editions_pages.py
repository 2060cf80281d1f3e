"""Edition pages: the list with its compare form, one edition, the diff of two; 404s; audit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from liaison.audit.models import AuditEvent
from tests.directory.editions_helpers import publish_two_more

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(world):
    return publish_two_more(world)


def url(name: str, *args) -> str:
    return reverse(f"directory:{name}", args=["budapest", *args])


def test_list_shows_every_edition_and_marks_the_current_one(world, ids, client):
    client.force_login(world.officer_b)
    response = client.get(url("editions"))
    assert response.status_code == 200
    html = response.content.decode()
    for number in (1, 2, 3):
        assert url("edition", number) in html
    assert html.count(">Current<") == 1
    assert html.index(url("edition", 3)) < html.index("Current") < html.index(url("edition", 2))
    assert "Second edition" in html
    assert "Edition 1 (test fixture)" in html
    assert 'name="a"' in html
    assert 'name="b"' in html
    assert AuditEvent.objects.filter(action="directory.editions", actor=world.officer_b).exists()


def test_compare_form_goes_to_the_diff(world, ids, client):
    client.force_login(world.officer_a)
    response = client.get(url("editions"), {"a": "1", "b": "3"})
    assert response.status_code == 302
    assert response["Location"] == url("edition_diff", 1, 3)
    # A number that is not an edition is not accepted: the list again, with the error.
    response = client.get(url("editions"), {"a": "1", "b": "8"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_edition_page_shows_its_changes(world, ids, client):
    client.force_login(world.coordinator_a)
    response = client.get(url("edition", 2))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Edition 2" in html
    assert "Second edition" in html
    assert "Changes since edition 1" in html
    assert 'id="diff-FR"' in html
    assert 'id="diff-DE"' in html
    assert "<del>Cybercrime desk</del>" in html
    assert "<ins>Night desk</ins>" in html
    assert "Landeskriminalamt" in html
    assert "Current edition" not in html
    assert url("list") in html
    event = AuditEvent.objects.filter(action="directory.edition").latest("seq")
    assert event.details == {"number": 2}
    assert event.actor_id == world.coordinator_a.pk


def test_current_and_first_edition(world, ids, client):
    client.force_login(world.secretariat)
    html = client.get(url("edition", 3)).content.decode()
    assert "Current edition" in html
    assert "Removed" in html
    assert "Bundeskriminalamt" in html
    html = client.get(url("edition", 1)).content.decode()
    assert "First edition: every entry is new" in html
    assert "Police nationale" in html


def test_diff_page(world, ids, client):
    client.force_login(world.officer_b)
    response = client.get(url("edition_diff", 1, 3))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Changes from edition 1 to edition 3" in html
    assert "2 members changed" in html
    assert ids["added"] in html
    assert ids["de"] in html
    assert url("edition_diff", 3, 1) in html  # swap
    event = AuditEvent.objects.filter(action="directory.diff").latest("seq")
    assert (event.details["from"], event.details["to"]) == (1, 3)
    same = client.get(url("edition_diff", 2, 2)).content.decode()
    assert "No change" in same


def test_unknown_editions_are_a_404_naming_them(world, ids, client):
    client.force_login(world.officer_a)
    response = client.get(url("edition_diff", 7, 9))
    assert response.status_code == 404
    assert "Unknown editions: 7, 9 (this network has editions 1–3)" in response.content.decode()  # noqa: RUF001
    response = client.get(url("edition", 4))
    assert response.status_code == 404
    assert "Unknown edition: 4" in response.content.decode()
    assert client.get(url("edition", 0)).status_code == 404
    assert client.get(url("edition", 10**30)).status_code == 404


def test_auditor_and_outsider_cannot_read_editions(world, ids, client):
    client.force_login(world.auditor)
    assert client.get(url("edition_diff", 1, 2)).status_code == 403
    client.force_login(world.outsider)
    assert client.get(url("edition", 1)).status_code == 404


def test_a_phone_sized_page_uses_the_stacking_table(world, ids, client):
    client.force_login(world.officer_a)
    html = client.get(url("edition_diff", 1, 2)).content.decode()
    assert 'class="responsive diff-table"' in html
    assert 'data-label="Before"' in html
    assert 'data-label="After"' in html
    assert "style=" not in html  # CSP: no inline styles
    assert "{#" not in html  # no template comment shown as text
    assert "diff.css" in html


def test_a_large_diff_lists_members_then_one_member_at_a_time(world, ids, client, monkeypatch):
    from liaison.directory import edition_views

    monkeypatch.setattr(edition_views, "FULL_DIFF_LIMIT", 1)
    client.force_login(world.officer_a)
    html = client.get(url("edition_diff", 1, 3)).content.decode()
    assert "choose a member to see its changes" in html
    assert "?member=DE#diff-DE" in html
    assert "Landeskriminalamt" not in html  # no entry until a member is chosen
    html = client.get(url("edition_diff", 1, 3), {"member": "de"}).content.decode()
    assert "Landeskriminalamt" in html
    assert 'id="diff-DE"' in html
    assert 'id="diff-FR"' not in html
    assert "?member=FR#diff-FR" in html
    assert "All changed members" in html
    html = client.get(url("edition", 2), {"member": "FR"}).content.decode()
    assert "<ins>Night desk</ins>" in html
    assert "Landeskriminalamt" not in html
    html = client.get(url("edition_diff", 1, 3), {"member": "XX"}).content.decode()
    assert "No change for member XX." in html
