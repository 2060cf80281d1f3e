"""Signing in: e-mail and password, then the authenticator code. An account without a second
factor is held on the enrolment page until it has one."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import SECOND_FACTOR, enter_code, field, submit_password, totp_code
from tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.e2e


def test_sign_in_with_password_and_authenticator_code(page, world, live_server):
    submit_password(page, world.officer_a.email)

    # The password alone does not sign in: the second factor is asked for.
    expect(page.get_by_role("heading", name=SECOND_FACTOR)).to_be_visible()
    page.goto(reverse("home"))
    expect(page).to_have_url(f"{live_server.url}{reverse('mfa_authenticate')}")
    expect(page.get_by_role("heading", name="Your networks")).to_have_count(0)

    enter_code(page)

    expect(page.get_by_role("heading", name="Your networks")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Budapest 24/7 Network")).to_be_visible()
    expect(page.get_by_role("link", name="Other Network")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_wrong_password_is_refused_without_saying_whether_the_account_exists(page, world):
    submit_password(page, world.officer_a.email, password="not the password")
    known = page.get_by_role("main").inner_text()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("heading", name=SECOND_FACTOR)).to_have_count(0)

    submit_password(page, "nobody@nowhere.example", password="not the password")
    expect(page.get_by_label("Password")).to_be_visible()
    unknown = page.get_by_role("main").inner_text()
    assert known.replace(world.officer_a.email, "") == unknown.replace("nobody@nowhere.example", "")
    assert "password" in known.lower()


def test_wrong_authenticator_code_is_refused(page, world):
    submit_password(page, world.officer_a.email)
    expect(page.get_by_role("heading", name=SECOND_FACTOR)).to_be_visible()
    wrong = f"{(int(totp_code()) + 1) % 1_000_000:06d}"
    enter_code(page, wrong)

    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your networks")).to_have_count(0)


@pytest.fixture
def newcomer(world):
    """An officer of member A whose account has no second factor yet."""
    user = UserFactory(email="new.officer@fr.example", mfa=False)
    RoleAssignmentFactory(user=user, network=world.network, role="officer", member=world.member_a)
    return user


def test_account_without_second_factor_must_enrol_before_anything_else(
    page, world, newcomer, live_server
):
    enrol_path = reverse("mfa_activate_totp")
    directory = reverse("directory:list", args=[world.network.slug])

    submit_password(page, newcomer.email)
    # Straight to the enrolment: the password was just typed, it is not asked again.
    expect(page).to_have_url(f"{live_server.url}{enrol_path}")
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()

    # Signed in, but every page leads back to the enrolment.
    for path in (directory, reverse("home"), reverse("accounts:account")):
        page.goto(path)
        expect(page).to_have_url(f"{live_server.url}{enrol_path}")
        expect(page.get_by_role("heading", name="Directory")).to_have_count(0)

    secret = page.get_by_label(field("Secret")).input_value()
    assert len(secret) >= 16
    page.get_by_label(field("Code from the app")).fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(re.compile(re.escape(enrol_path)))

    page.goto(directory)
    expect(page.get_by_role("heading", name="Directory", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Police nationale")).to_be_visible()
