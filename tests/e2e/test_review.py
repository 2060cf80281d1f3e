"""The edition loop in the browser: a coordinator edits (a draft), the Secretariat reviews and
publishes, an officer reads the new edition and its diff and acknowledges it. On a desktop and
on a phone; screenshots in tests/e2e/screenshots/."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from liaison.directory.models import Edition, EditionAcknowledgement
from tests.e2e.conftest import assert_accessible, login, screenshot
from tests.e2e.test_phone import assert_no_horizontal_scroll

pytestmark = pytest.mark.e2e


def _url(name: str, *args) -> str:
    return reverse(f"directory:{name}", args=["budapest", *args])


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_edit_review_publish_read_acknowledge(new_page, world, phone):
    suffix = "phone" if phone else "desktop"

    def check(page, what: str, name: str) -> None:
        if phone:
            assert_no_horizontal_scroll(page, what)
        assert_accessible(page, what)
        screenshot(page, f"review-{suffix}-{name}")

    # A coordinator edits its member's entry: a draft, listed on the changes page.
    coordinator = new_page(phone=phone)
    login(coordinator, world.coordinator_a)
    coordinator.goto(_url("edit", world.cp_a.public_id))
    coordinator.get_by_label("Unit").fill("Night desk")
    coordinator.get_by_role("button", name="Save").last.click()
    expect(coordinator.get_by_text("Saved as a draft")).to_be_visible()
    expect(coordinator.get_by_role("heading", name="Pending changes", exact=True)).to_be_visible()
    expect(coordinator.locator("ins", has_text="Night desk")).to_be_visible()
    check(coordinator, "the coordinator's changes page", "01-coordinator-changes")
    # Readers still see edition 1.
    coordinator.goto(_url("detail", world.cp_a.public_id))
    expect(coordinator.get_by_text("Unpublished changes")).to_be_visible()
    expect(
        coordinator.get_by_role("heading", name="Police nationale — Cybercrime desk")
    ).to_be_visible()

    # The Secretariat reviews and publishes edition 2.
    secretariat = new_page(phone=phone)
    login(secretariat, world.secretariat)
    secretariat.goto(_url("list"))
    secretariat.get_by_role("link", name="Changes").click()
    expect(secretariat.get_by_text("1 member with changes")).to_be_visible()
    check(secretariat, "the Secretariat's changes page", "02-secretariat-changes")
    secretariat.get_by_label("Note").fill("FR: night desk")
    secretariat.get_by_role("button", name="Publish edition 2").click()
    expect(secretariat.get_by_text("Edition 2 published; 4 people notified.")).to_be_visible()
    expect(secretariat.get_by_text("0 of 2 members acknowledged")).to_be_visible()
    check(secretariat, "a new edition seen by the Secretariat", "03-published")
    assert Edition.objects.get(network=world.network, number=2).changed_members == ["FR"]

    # An officer reads the new edition and what changed, and acknowledges it.
    officer = new_page(phone=phone)
    login(officer, world.officer_b)
    officer.goto(_url("edition", 2))
    expect(officer.locator("del", has_text="Cybercrime desk")).to_be_visible()
    expect(officer.locator("ins", has_text="Night desk")).to_be_visible()
    officer.get_by_role("button", name="Acknowledge receipt for Germany").click()
    expect(officer.get_by_text("Receipt of edition 2 acknowledged for Germany.")).to_be_visible()
    check(officer, "an edition acknowledged by an officer", "04-acknowledged")
    officer.goto(_url("detail", world.cp_a.public_id))
    expect(officer.get_by_role("heading", name="Police nationale — Night desk")).to_be_visible()
    assert EditionAcknowledgement.objects.get().member == world.member_b

    secretariat.reload()
    expect(secretariat.get_by_text("1 of 2 members acknowledged")).to_be_visible()
    check(secretariat, "the acknowledgement table", "05-acknowledgements")
