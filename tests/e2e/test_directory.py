"""The duty officer's path through the directory, and a coordinator editing entries."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from liaison.directory.availability import DAY_NAMES
from liaison.directory.models import ContactPoint, Layer
from tests.e2e.conftest import field, login
from tests.factories import PublishedContactPointFactory

pytestmark = pytest.mark.e2e

FORBIDDEN = "You do not have permission to do this."


@pytest.fixture
def closed_french_desk(world):
    """A French-speaking contact point of member A that is closed now: its only opening is a
    weekday three days away (in its own zone)."""
    today = datetime.datetime.now(ZoneInfo("Europe/Paris")).weekday()
    return PublishedContactPointFactory(
        member=world.member_a,
        institution="Gendarmerie nationale",
        unit="Office hours desk",
        availability=f"{DAY_NAMES[(today + 3) % 7]} 09:00-10:00",
        always_available=False,
        languages="fr",
    )


def _paris_times_now() -> set[str]:
    """ "Tue 03:12"-style local times in Paris for now and the next minute (the page may be
    rendered on either side of a minute boundary)."""
    now = datetime.datetime.now(ZoneInfo("Europe/Paris"))
    return {(now + datetime.timedelta(minutes=m)).strftime("%a %H:%M") for m in (0, 1)}


def test_officer_finds_a_french_speaking_contact_point_available_now(
    page, world, closed_french_desk
):
    login(page, world.officer_a)
    page.get_by_role("link", name="Budapest 24/7 Network").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Directory").click()
    expect(page.get_by_role("heading", name="Directory", exact=True)).to_be_visible()
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Bundeskriminalamt")).to_be_visible()

    page.get_by_label(field("Language")).select_option(label="French")
    expect(results.get_by_role("link", name="Bundeskriminalamt")).to_have_count(0)
    expect(results.get_by_role("link", name="Gendarmerie nationale")).to_be_visible()
    expect(results.get_by_role("link", name="Police nationale")).to_be_visible()

    page.get_by_label(field("Available")).select_option(label="Now")
    expect(results.get_by_role("link", name="Gendarmerie nationale")).to_have_count(0)
    expect(results.get_by_text("1 contact point", exact=True)).to_be_visible()
    row = results.get_by_role("row").filter(has=page.get_by_role("link", name="Police nationale"))
    expect(row.get_by_text("Available", exact=True)).to_be_visible()
    # The filters are in the address, so the result can be bookmarked and reloaded.
    expect(page).to_have_url(re.compile(r"language=fr"))
    expect(page).to_have_url(re.compile(r"available=now"))
    page.reload()
    expect(results.get_by_role("link", name="Police nationale")).to_be_visible()
    expect(results.get_by_role("link", name="Gendarmerie nationale")).to_have_count(0)
    expect(page.get_by_label(field("Language"))).to_have_value("fr")

    results.get_by_role("link", name="Police nationale").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Police nationale — Cybercrime desk")
    now_card = page.get_by_role("region", name="Right now")
    expect(now_card.get_by_text("Available now")).to_be_visible()
    local = now_card.get_by_text(re.compile(r"^Local time: "))
    expect(local).to_have_text(re.compile(r"\(Europe/Paris, UTC\+0[12]:00\)"))
    shown = re.search(r"Local time: (\w{3} \d{2}:\d{2})", local.inner_text()).group(1)
    assert shown in _paris_times_now()
    expect(page.get_by_role("link", name="+33 1 23 45 67 89")).to_have_attribute(
        "href", "tel:+33123456789"
    )
    # An officer reads; only coordinators of the member edit.
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)


def test_search_by_name(page, world):
    login(page, world.officer_b)
    page.goto(reverse("directory:list", args=[world.network.slug]))
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Police nationale")).to_be_visible()

    page.get_by_label(field("Search")).fill("bundes")
    page.get_by_label(field("Search")).press("Enter")
    expect(results.get_by_role("link", name="Police nationale")).to_have_count(0)
    expect(results.get_by_role("link", name="Bundeskriminalamt")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=bundes"))


def test_closed_contact_point_says_when_it_opens(page, world, closed_french_desk):
    login(page, world.officer_b)
    page.goto(reverse("directory:detail", args=[world.network.slug, closed_french_desk.public_id]))
    now_card = page.get_by_role("region", name="Right now")
    expect(now_card.get_by_text("Not available now")).to_be_visible()
    expect(now_card).to_contain_text(re.compile(r"next available \w{3} 09:00 local \(in \d+ d"))


def test_coordinator_edits_own_members_entry_but_not_another_members(page, world, live_server):
    network = world.network.slug
    login(page, world.coordinator_a)

    page.goto(reverse("directory:detail", args=[network, world.cp_a.public_id]))
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit a contact point")).to_be_visible()
    expect(page.get_by_label(field("Institution"))).to_have_value("Police nationale")
    page.get_by_label(field("Unit")).fill("Cyber emergency desk")
    page.get_by_role("button", name="Save").click()

    # Saved as a draft: shown on the pending changes page until the next edition.
    expect(page.get_by_role("status")).to_contain_text("Saved as a draft")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pending changes")
    expect(page.locator("ins", has_text="Cyber emergency desk")).to_be_visible()
    draft = ContactPoint.objects.get(public_id=world.cp_a.public_id, layer=Layer.DRAFT)
    assert draft.unit == "Cyber emergency desk"
    world.cp_a.refresh_from_db()
    assert world.cp_a.unit == "Cybercrime desk"
    # The channels were carried through the form unchanged.
    assert [c.value for c in draft.channels.order_by("position")] == [
        "+33123456789",
        "cyber@police.fr.example",
    ]

    # Member B's entry: readable, but no way to change it.
    page.goto(reverse("directory:detail", args=[network, world.cp_b.public_id]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bundeskriminalamt — Cybercrime desk")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Still correct")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)

    edit_b = reverse("directory:edit", args=[network, world.cp_b.public_id])
    response = page.goto(edit_b)
    assert response.status == 403
    expect(
        page.get_by_role("heading", name="You do not have permission to do this.")
    ).to_be_visible()
    expect(page.get_by_label(field("Unit"))).to_have_count(0)

    # Nor by posting the form directly, with a valid CSRF token from this session.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    posted = page.request.post(
        f"{live_server.url}{edit_b}",
        form={"csrfmiddlewaretoken": token, "institution": "Hijacked", "unit": "Hijacked"},
        headers={"Referer": f"{live_server.url}{edit_b}"},
    )
    assert posted.status == 403
    world.cp_b.refresh_from_db()
    assert (world.cp_b.institution, world.cp_b.unit) == ("Bundeskriminalamt", "Cybercrime desk")
