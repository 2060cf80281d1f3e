"""Stale entries in the browser: the flag on the list and the contact point's page, "Still
correct" in one click, on a desktop and on a phone. Screenshots in tests/e2e/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from liaison.directory.models import ContactPoint
from tests.e2e.conftest import (
    assert_accessible,
    format_violations,
    login,
    screenshot,
)
from tests.e2e.test_phone import assert_no_horizontal_scroll

pytestmark = pytest.mark.e2e


def _set_review(cp, day: dt.date) -> None:
    ContactPoint.objects.filter(public_id=cp.public_id).update(review_date=day)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_coordinator_confirms_a_stale_entry_from_the_list(new_page, world, phone):
    today = timezone.localdate()
    _set_review(world.cp_a, today - dt.timedelta(days=20))
    _set_review(world.cp_b, today + dt.timedelta(days=12))
    page = new_page(phone=phone)
    suffix = "phone" if phone else "desktop"
    login(page, world.coordinator_a)

    page.goto(reverse("directory:list", args=[world.network.slug]) + "?stale=1")
    results = page.locator("#results")
    expect(results.get_by_text("Stale since")).to_be_visible()
    expect(results.get_by_text("Review due")).to_be_visible()
    # Member B's entry is flagged, but only member A's coordinator may confirm member A's.
    confirm = results.get_by_role("button", name="Still correct")
    expect(confirm).to_have_count(1)
    if phone:
        assert_no_horizontal_scroll(page, "the directory with stale entries")
    assert_accessible(page, "the directory with stale entries")
    screenshot(page, f"staleness-{suffix}-01-list")

    confirm.click()
    expect(page.get_by_text("Marked as still correct")).to_be_visible()
    expect(results.get_by_text("Stale since")).to_have_count(0)
    expect(results.get_by_role("link", name="Police nationale")).to_have_count(0)
    expect(results.get_by_role("link", name="Bundeskriminalamt")).to_be_visible()
    screenshot(page, f"staleness-{suffix}-02-confirmed")

    _set_review(world.cp_a, today - dt.timedelta(days=3))
    page.goto(reverse("directory:detail", args=[world.network.slug, world.cp_a.public_id]))
    expect(page.get_by_text("Stale since")).to_be_visible()
    if phone:
        assert_no_horizontal_scroll(page, "a stale contact point")
    assert_accessible(page, "a stale contact point")
    screenshot(page, f"staleness-{suffix}-03-detail")
    page.get_by_role("button", name="Still correct").click()
    expect(page.get_by_text("Marked as still correct")).to_be_visible()
    expect(page.get_by_text("Stale since")).to_have_count(0)
    world.cp_a.refresh_from_db()
    assert world.cp_a.review_date == today + dt.timedelta(days=365)


def test_statistics_show_the_review_figures(page, world):
    _set_review(world.cp_a, timezone.localdate() - dt.timedelta(days=1))
    login(page, world.secretariat)
    page.goto(reverse("reports:stats", args=[world.network.slug]))
    section = page.get_by_role("region", name="Review of entries")
    expect(section.get_by_role("row", name="Stale (review date passed) 1 50 %")).to_be_visible()
    # Only this section: the page's "established" table has an empty header cell (not ours).
    mine = Axe().run(page, context='section[aria-labelledby="review-heading"]')
    mine = mine.response["violations"]
    assert not mine, format_violations(mine)
    screenshot(page, "staleness-desktop-04-stats")
    section.get_by_role("link", name="See the entries stale or due for review").click()
    expect(page.locator("#results").get_by_text("Stale since")).to_be_visible()
