"""axe-core on the pages of the main path: sign-in, second factor, enrolment, the directory list,
a contact point, its editor (also with errors shown) and the refusal page.

Each test walks its pages and reports every violation of every page at once, so that one run
gives the whole list to fix."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    SECOND_FACTOR,
    SIGN_IN,
    axe_violations,
    field,
    format_violations,
    login,
    submit_password,
)
from tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.e2e

FORBIDDEN = "You do not have permission to do this."


class Audit:
    def __init__(self, page: Page):
        self.page = page
        self.found: list[str] = []
        self.checked: list[str] = []

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("load")
        violations = axe_violations(self.page)
        self.checked.append(what)
        if violations:
            self.found.append(f"## {what} ({self.page.url})\n{format_violations(violations)}")

    def assert_clean(self) -> None:
        assert not self.found, "axe-core violations:\n" + "\n\n".join(self.found)


def test_sign_in_pages_have_no_axe_violations(new_page, world):
    page = new_page()
    audit = Audit(page)
    page.goto(reverse("account_login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    audit.check("sign-in")

    page.goto(reverse("account_login") + "?timeout=1")
    expect(page.get_by_text("Your session ended")).to_be_visible()
    audit.check("sign-in after a timeout")

    page.get_by_label("E-mail address").fill(world.officer_a.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name=SIGN_IN).click()
    expect(page.get_by_label("Password")).to_be_visible()
    audit.check("sign-in with an error")

    submit_password(page, world.officer_a.email)
    expect(page.get_by_role("heading", name=SECOND_FACTOR)).to_be_visible()
    audit.check("second factor")

    # A newcomer's first sign-in: enrolment of the authenticator app.
    user = UserFactory(email="new.officer@fr.example", mfa=False)
    RoleAssignmentFactory(user=user, network=world.network, role="officer", member=world.member_a)
    page = new_page()
    audit.page = page
    submit_password(page, user.email)
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    audit.check("authenticator enrolment")

    audit.assert_clean()


def test_network_and_directory_pages_have_no_axe_violations(page, world):
    network = world.network.slug
    audit = Audit(page)
    login(page, world.coordinator_a)
    audit.check("home")

    page.goto(reverse("networks:detail", args=[network]))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    audit.check("network")

    page.goto(reverse("networks:members", args=[network]))
    expect(page.get_by_role("link", name="Germany")).to_be_visible()
    audit.check("members")

    page.goto(reverse("directory:list", args=[network]))
    expect(page.get_by_role("heading", name="Directory", exact=True)).to_be_visible()
    audit.check("directory list")

    page.get_by_label(field("Language")).select_option(label="French")
    expect(page.locator("#results").get_by_role("link", name="Bundeskriminalamt")).to_have_count(0)
    audit.check("directory list, filtered")

    page.get_by_label(field("Search")).fill("no such desk")
    page.get_by_label(field("Search")).press("Enter")
    expect(page.get_by_text("No contact point matches these filters.")).to_be_visible()
    audit.check("directory list, no result")

    page.goto(reverse("directory:detail", args=[network, world.cp_a.public_id]))
    expect(page.get_by_role("heading", name="Right now")).to_be_visible()
    audit.check("contact point")

    page.goto(reverse("directory:edit", args=[network, world.cp_a.public_id]))
    expect(page.get_by_role("heading", name="Edit a contact point")).to_be_visible()
    audit.check("contact point editor")

    page.get_by_label(field("Institution")).fill("")
    page.get_by_label(field("Availability")).fill("whenever")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    audit.check("contact point editor with errors")

    page.goto(reverse("directory:edit", args=[network, world.cp_b.public_id]))
    expect(
        page.get_by_role("heading", name="You do not have permission to do this.")
    ).to_be_visible()
    audit.check("403 page")

    audit.assert_clean()
