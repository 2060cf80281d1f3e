"""The duty officer at night, on a phone: the pages fit a 390 px wide screen.

Screenshots go to tests/e2e/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, field, login, screenshot

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 390


def assert_no_horizontal_scroll(page: Page, what: str) -> None:
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " wide: [...document.querySelectorAll('body *')]"
        "   .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        "   .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')"
        "     + (e.className && typeof e.className === 'string' ? '.' + e.className : ''))})"
    )
    assert widths["doc"] <= PHONE_WIDTH + 1, (
        f"{what} scrolls sideways on a {PHONE_WIDTH} px screen: {widths['doc']} px wide; "
        f"elements past the right edge: {widths['wide']}"
    )


def test_directory_fits_a_phone(phone_page, world):
    page = phone_page
    network = world.network.slug

    page.goto(reverse("account_login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_no_horizontal_scroll(page, "the sign-in page")
    screenshot(page, "phone-01-sign-in")

    login(page, world.coordinator_a)

    page.goto(reverse("directory:list", args=[network]))
    expect(page.get_by_role("heading", name="Directory", exact=True)).to_be_visible()
    expect(page.locator("#results").get_by_role("link", name="Police nationale")).to_be_visible()
    assert_no_horizontal_scroll(page, "the directory list")
    # The duty officer sees results on the first screen: the rarer filters wait behind
    # "More filters", and the date fields only show for "At a given date and time".
    box = page.locator("#results").get_by_role("link").first.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"]
    expect(page.get_by_label(field("Language"))).to_be_hidden()
    expect(page.get_by_label(field("Available at (date and time)"))).to_be_hidden()
    screenshot(page, "phone-02-directory")
    screenshot(page, "phone-02-directory-first-screen", full_page=False)

    page.get_by_text("More filters").click()
    page.get_by_label(field("Language")).select_option(label="French")
    page.get_by_label(field("Available")).select_option(label="Now")
    expect(page.locator("#results").get_by_role("link", name="Bundeskriminalamt")).to_have_count(0)
    assert_no_horizontal_scroll(page, "the filtered directory list")
    screenshot(page, "phone-03-directory-filtered")

    page.locator("#results").get_by_role("link", name="Police nationale").click()
    expect(page.get_by_role("heading", name="Right now")).to_be_visible()
    assert_no_horizontal_scroll(page, "a contact point")
    screenshot(page, "phone-04-contact-point")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit a contact point")).to_be_visible()
    assert_no_horizontal_scroll(page, "the contact point editor")
    screenshot(page, "phone-05-edit")
    screenshot(page, "phone-05-edit-first-screen", full_page=False)
    channel = page.get_by_role("group", name="Channel 1")
    channel.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(exist_ok=True)
    channel.screenshot(path=str(SCREENSHOTS / "phone-06-edit-channel.png"))


def test_desktop_screenshots(page, world):
    """Not an assertion on looks: pictures of the main pages at desktop width for review."""
    network = world.network.slug
    page.goto(reverse("account_login"))
    screenshot(page, "desktop-01-sign-in")
    login(page, world.coordinator_a)
    screenshot(page, "desktop-02-home")
    page.goto(reverse("directory:list", args=[network]))
    expect(page.locator("#results").get_by_role("link", name="Police nationale")).to_be_visible()
    screenshot(page, "desktop-03-directory")
    page.goto(reverse("directory:detail", args=[network, world.cp_a.public_id]))
    expect(page.get_by_role("heading", name="Right now")).to_be_visible()
    screenshot(page, "desktop-04-contact-point")
    page.goto(reverse("directory:edit", args=[network, world.cp_a.public_id]))
    expect(page.get_by_role("heading", name="Edit a contact point")).to_be_visible()
    screenshot(page, "desktop-05-edit")
