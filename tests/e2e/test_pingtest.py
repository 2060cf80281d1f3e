"""A ping test in the browser: the duty officer confirms from the e-mail's link on a phone (no
account needed; opening the page confirms nothing), then the Secretariat reads the report."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from liaison.delivery.models import Delivery
from liaison.directory.exporting import console_access
from liaison.reachability import services
from liaison.reachability.models import Probe, ProbeStatus
from tests.e2e.conftest import assert_accessible, login, screenshot
from tests.e2e.test_phone import assert_no_horizontal_scroll

pytestmark = pytest.mark.e2e


def test_officer_confirms_from_the_link_on_a_phone_and_the_secretariat_reads_the_report(
    new_page, world, live_server
):
    test = services.start_ping_test(None, console_access(world.network), channels=["email"])
    services.send_due_probes()
    probe = Probe.objects.get(ping_test=test, member=world.member_a)
    body = Delivery.objects.get(pk=probe.delivery_id).body_text
    link = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+/", body).group(0)
    path = "/p/" + link.rsplit("/p/", 1)[1]

    phone = new_page(phone=True)
    phone.goto(path)
    expect(phone.get_by_role("heading", name="Reachability test")).to_be_visible()
    button = phone.get_by_role("button", name="Confirm receipt")
    expect(button).to_be_visible()
    assert_no_horizontal_scroll(phone, "confirmation page")
    assert_accessible(phone, "confirmation page")
    screenshot(phone, "pingtest-phone-confirm")
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT  # opening the page confirmed nothing

    button.click()
    expect(phone.get_by_role("heading", name="Thank you")).to_be_visible()
    screenshot(phone, "pingtest-phone-confirmed")
    probe.refresh_from_db()
    assert (probe.status, probe.confirmed_via) == (ProbeStatus.CONFIRMED, "link")

    # The same link again says it was used, and records nothing more.
    phone.goto(path)
    expect(phone.get_by_text(re.compile("already used"))).to_be_visible()

    secretariat = new_page()
    login(secretariat, world.secretariat)
    secretariat.goto(reverse("reachability:list", args=["budapest"]))
    secretariat.get_by_role("link", name=re.compile(r"Ping test of|\d{4}-\d\d-\d\d")).first.click()
    expect(secretariat.get_by_role("heading", name="By member")).to_be_visible()
    expect(secretariat.get_by_role("heading", name="Probes")).to_be_visible()
    rows = secretariat.locator("table").filter(has_text="France")
    expect(rows.first).to_be_visible()
    assert_accessible(secretariat, "ping test report")
    screenshot(secretariat, "pingtest-report")
