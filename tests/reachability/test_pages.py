"""Ping-test pages: the list, a new test, a test's results (confidential per member), logging a
call, the in-app banner and the public confirmation page behind the e-mailed link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.delivery.models import Delivery
from liaison.directory.models import ContactPoint, Layer
from liaison.networks.queries import resolve_access
from liaison.reachability import services, views
from liaison.reachability.models import PingTest, Probe, ProbeStatus
from tests.factories import ChannelFactory, ContactPointFactory, MemberFactory
from tests.fixtures import publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """The confirmation page's per-address throttle lives in the cache: a cache of this test
    only (the configured file cache may be shared with other test runs)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "reachability-pages",
        }
    }
    cache.clear()
    yield
    cache.clear()


def start(world, **kwargs) -> PingTest:
    """A test started by the Secretariat and sent at once (probes in status 'sent')."""
    kwargs.setdefault("channels", ["email", "app"])
    test = services.start_ping_test(
        world.secretariat, resolve_access(world.secretariat, world.network), **kwargs
    )
    services.send_due_probes()
    return test


def probe_of(test: PingTest, member) -> Probe:
    return test.probes.get(member=member)


def sent_token(probe: Probe) -> str:
    """The raw token, as the recipient reads it in the probe e-mail's link."""
    delivery = Delivery.objects.get(pk=probe.delivery_id)
    return re.search(r"/p/([A-Za-z0-9_-]+)/", delivery.body_text).group(1)


def page(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    return response, response.content.decode()


# --- the list --------------------------------------------------------------------------------


def test_the_secretariat_lists_every_test_with_all_figures(world, client):
    test = start(world)
    probe = probe_of(test, world.member_a)
    services.confirm_probe_by_token(sent_token(probe), via="link")
    response, html = page(
        client, world.secretariat, reverse("reachability:list", args=["budapest"])
    )
    assert response.status_code == 200
    assert reverse("reachability:new", args=["budapest"]) in html
    row = re.search(r'<tr>\s*<td data-label="Started.*?</tr>', html, re.S).group(0)
    assert re.findall(r'class="num">(?:<strong>)?([^<]+)<', row) == ["2", "1", "50\xa0%"]
    assert AuditEvent.objects.filter(action="pingtest.list").exists()


def test_a_coordinator_lists_its_members_figures_only(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    start(world, members=["FR"])  # never probed Germany: not in Germany's list
    response, html = page(
        client, world.coordinator_b, reverse("reachability:list", args=["budapest"])
    )
    assert response.status_code == 200
    assert reverse("reachability:new", args=["budapest"]) not in html
    rows = re.findall(r'<tr>\s*<td data-label="Started.*?</tr>', html, re.S)
    assert len(rows) == 1
    # Germany's one probe, unanswered: France's confirmation does not show.
    assert re.findall(r'class="num">(?:<strong>)?([^<]+)<', rows[0]) == ["1", "0", "0\xa0%"]


def test_the_nav_shows_ping_tests_to_those_who_may_see_them(world, client):
    url = reverse("reachability:list", args=["budapest"])
    directory = reverse("directory:list", args=["budapest"])
    for user, shown in ((world.officer_a, True), (world.secretariat, True), (world.auditor, False)):
        client.force_login(user)
        landing = (
            directory if user != world.auditor else reverse("reports:stats", args=["budapest"])
        )
        assert (f'href="{url}"' in client.get(landing).content.decode()) is shown, user


# --- a new test ------------------------------------------------------------------------------


def test_the_new_test_form_starts_a_test(world, client):
    client.force_login(world.secretariat)
    url = reverse("reachability:new", args=["budapest"])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "members_scope": "chosen",
            "members": ["DE"],
            "types": ["police", "prosecution", "other"],
            "channels": ["email", "manual"],
            "timing": "at",
            "at": "2031-03-10T02:30",
            "tz": "Europe/Berlin",
            "reminder_hours": "4",
            "escalate_hours": "12",
            "ends_at": "2031-03-12T18:00",
            "note": "Spring cycle",
        },
    )
    test = PingTest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reachability:detail", args=["budapest", test.public_id])
    assert test.members == ["DE"]
    assert test.channels == ["email", "manual"]
    assert set(test.types) == {"police", "prosecution", "other"}
    assert test.starts_at == dt.datetime(2031, 3, 10, 1, 30, tzinfo=dt.UTC)  # 02:30 in Berlin
    assert test.ends_at == dt.datetime(2031, 3, 12, 17, 0, tzinfo=dt.UTC)
    assert test.reminder_after == dt.timedelta(hours=4)
    assert test.escalate_after == dt.timedelta(hours=12)
    assert test.probes.count() == 1


def test_every_type_ticked_means_every_type(world, client):
    client.force_login(world.secretariat)
    types = ["police", "security_service", "prosecution", "ministry_of_justice"]
    response = client.post(
        reverse("reachability:new", args=["budapest"]),
        {
            "members_scope": "all",
            "types": [*types, "cybersecurity", "other"],
            "channels": ["app"],
            "timing": "now",
            "tz": "UTC",
        },
    )
    assert response.status_code == 302
    assert PingTest.objects.get().types == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        # The service's refusals, shown on the field they are about.
        ({"timing": "now", "off_hours": "on"}, "off_hours", "needs random times within a window"),
        (
            {
                "timing": "random",
                "window_start": "2031-01-02T10:00",
                "window_end": "2031-01-01T10:00",
            },
            "window_end",
            "a random window needs an end after its start",
        ),
        (
            {"timing": "at", "at": "2031-01-02T10:00", "ends_at": "2031-01-01T10:00"},
            "ends_at",
            "the test must end after its last probe is sent",
        ),
        # The form's own.
        ({"timing": "at"}, "at", "Enter the date and time to send the probes."),
        ({"timing": "now", "channels": []}, "channels", "Choose at least one channel."),
        ({"timing": "now", "members_scope": "chosen"}, "members", "Choose the members to test"),
    ],
)
def test_bad_input_is_shown_on_its_field_and_starts_nothing(world, client, data, field, message):
    client.force_login(world.secretariat)
    post = {
        "members_scope": "all",
        "types": ["police", "other"],
        "channels": ["email"],
        "tz": "UTC",
    }
    response = client.post(reverse("reachability:new", args=["budapest"]), {**post, **data})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.content.decode()
    assert not PingTest.objects.exists()


# --- a test's results ------------------------------------------------------------------------


def test_the_secretariat_sees_every_probe_and_figure(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    response, html = page(
        client, world.secretariat, reverse("reachability:detail", args=["budapest", test.public_id])
    )
    assert response.status_code == 200
    assert "Police nationale" in html
    assert "Bundeskriminalamt" in html
    assert "France" in html
    assert "Germany" in html
    assert "50\xa0%" in html
    assert 'id="chart-type-title"' in html  # the SVG chart
    assert "?view=shared" in html
    assert AuditEvent.objects.filter(action="pingtest.report_view").count() == 1


def test_a_member_sees_its_own_rows_and_figures_only(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    for user in (world.coordinator_b, world.officer_b):
        response, html = page(
            client, user, reverse("reachability:detail", args=["budapest", test.public_id])
        )
        assert response.status_code == 200
        assert "Bundeskriminalamt" in html
        assert "Police nationale" not in html
        assert "France" not in html
        assert response.context["report"]["probes"] == 1
        assert response.context["report"]["acknowledged"] == 0
        assert list(response.context["report"]["by_member"]) == ["DE"]
        assert [row["probe"].member.code for row in response.context["rows"]] == ["DE"]
        assert "?view=shared" not in html
        # Asking for the network's view changes nothing for a member.
        response, _html = page(
            client,
            user,
            reverse("reachability:detail", args=["budapest", test.public_id]),
            view="shared",
        )
        assert response.context["shared"] is False
        assert list(response.context["report"]["by_member"]) == ["DE"]


def test_a_test_that_never_probed_the_member_is_404_for_it(world, client):
    test = start(world, members=["FR"])
    client.force_login(world.coordinator_b)
    url = reverse("reachability:detail", args=["budapest", test.public_id])
    assert client.get(url).status_code == 404
    client.force_login(world.coordinator_a)
    assert client.get(url).status_code == 200


def test_the_anonymised_view_names_no_member(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    response, html = page(
        client,
        world.secretariat,
        reverse("reachability:detail", args=["budapest", test.public_id]),
        view="shared",
    )
    assert response.status_code == 200
    main = html.split('<main id="main">', 1)[1]
    for name in ("Police nationale", "Bundeskriminalamt", "France", "Germany", ">FR<", ">DE<"):
        assert name not in main, name
    assert 'id="probes-heading"' not in main  # no per-probe table
    assert response.context["report"]["member_distribution"]["all"] == 1
    assert "Answered every probe" in main
    event = AuditEvent.objects.get(action="pingtest.report_view")
    assert event.details["anonymised"] is True


def test_the_probe_table_filters_by_status(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    response, _html = page(
        client,
        world.secretariat,
        reverse("reachability:detail", args=["budapest", test.public_id]),
        status="confirmed",
    )
    assert [row["probe"].member.code for row in response.context["rows"]] == ["FR"]


def test_the_secretariat_logs_a_call(world, client):
    test = start(world, channels=["manual"])
    probe = probe_of(test, world.member_b)
    detail = reverse("reachability:detail", args=["budapest", test.public_id])
    response, html = page(client, world.secretariat, detail)
    assert "Log a call" in html
    url = reverse("reachability:log_call", args=["budapest", probe.public_id])
    response = client.post(url, {"outcome": "no_answer", "seconds": "60"})
    assert response.status_code == 302
    assert response["Location"] == f"{detail}#{probe.public_id}"
    probe.refresh_from_db()
    assert (probe.status, probe.manual_outcome) == (ProbeStatus.SENT, "no_answer")
    client.post(url, {"outcome": "answered", "seconds": "42"})
    probe.refresh_from_db()
    assert (probe.status, probe.confirmed_via, probe.seconds_to_confirm) == (
        "confirmed",
        "manual",
        42,
    )
    assert probe.confirmed_by == world.secretariat
    # Bad input says so and changes nothing.
    other = probe_of(test, world.member_a)
    response = client.post(
        reverse("reachability:log_call", args=["budapest", other.public_id]),
        {"outcome": "carrier pigeon"},
        follow=True,
    )
    assert "Outcome:" in response.content.decode()
    other.refresh_from_db()
    assert other.manual_outcome == ""


def test_members_may_not_log_calls(world, client):
    test = start(world, channels=["manual"])
    probe = probe_of(test, world.member_a)
    client.force_login(world.coordinator_a)
    url = reverse("reachability:log_call", args=["budapest", probe.public_id])
    assert client.post(url, {"outcome": "answered"}).status_code == 403


# --- the in-app banner -----------------------------------------------------------------------


def test_the_banner_asks_the_members_people_and_confirms(world, client):
    test = start(world, channels=["app"])
    probe = probe_of(test, world.member_a)
    home = reverse("home")
    client.force_login(world.officer_a)
    html = client.get(home).content.decode()
    assert "Please confirm that <strong>Police nationale</strong> received this." in html
    assert "Bundeskriminalamt" not in html  # Germany's probe is not France's to confirm
    url = reverse("reachability:confirm_in_app", args=["budapest", probe.public_id])
    assert url in html
    response = client.post(url, {"next": home})
    assert response.status_code == 302
    assert response["Location"] == home
    probe.refresh_from_db()
    assert (probe.status, probe.confirmed_via, probe.confirmed_by) == (
        "confirmed",
        "app",
        world.officer_a,
    )
    html = client.get(home).content.decode()
    assert "Please confirm that" not in html
    assert "receipt by Police nationale confirmed" in html
    ContactPoint.objects.get(public_id=world.cp_a.public_id, layer=Layer.PUBLISHED)


def test_the_banner_is_not_shown_to_others(world, client):
    start(world, channels=["app"])
    for user in (world.secretariat, world.auditor, world.officer_b):
        client.force_login(user)
        html = client.get(reverse("home")).content.decode()
        assert "Police nationale" not in html, user


def test_a_confirmation_never_redirects_off_site(world, client):
    test = start(world, channels=["app"])
    probe = probe_of(test, world.member_a)
    client.force_login(world.officer_a)
    response = client.post(
        reverse("reachability:confirm_in_app", args=["budapest", probe.public_id]),
        {"next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("reachability:detail", args=["budapest", test.public_id])


def test_another_members_probe_does_not_exist_for_a_coordinator(world, client):
    test = start(world, channels=["app"])
    probe = probe_of(test, world.member_a)
    client.force_login(world.coordinator_b)
    url = reverse("reachability:confirm_in_app", args=["budapest", probe.public_id])
    assert client.post(url).status_code == 404
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


def test_the_secretariat_cannot_confirm_for_a_member(world, client):
    test = start(world, channels=["app"])
    probe = probe_of(test, world.member_a)
    client.force_login(world.secretariat)
    url = reverse("reachability:confirm_in_app", args=["budapest", probe.public_id])
    response = client.post(url, follow=True)
    assert "Only the officers and coordinators of France confirm its probes." in (
        response.content.decode()
    )
    probe.refresh_from_db()
    assert probe.status == ProbeStatus.SENT


def _probe_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "reachability_probe" in q["sql"]]


def test_the_banner_costs_no_query_for_people_without_a_member_role(world, client):
    start(world, channels=["app"])
    client.force_login(world.secretariat)

    def role_lookups(queries) -> list[str]:
        return [q["sql"] for q in queries if '"member_id" IS NOT NULL' in q["sql"]]

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("home"))  # the first page looks the roles up, once
    assert len(role_lookups(queries.captured_queries)) == 1
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("home"))
    assert _probe_queries(queries.captured_queries) == []
    assert role_lookups(queries.captured_queries) == []
    client.logout()
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("account_login"))
    assert _probe_queries(queries.captured_queries) == []


def test_the_banner_costs_one_query_for_an_officer(world, client):
    start(world, channels=["app"])
    client.force_login(world.officer_a)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("home")).content.decode()
    assert "Please confirm that" in html
    assert len(_probe_queries(queries.captured_queries)) == 1


# --- the public confirmation page ------------------------------------------------------------


def _state(probe: Probe) -> tuple:
    probe.refresh_from_db()
    return (probe.status, probe.confirmed_at, AuditEvent.objects.count())


def test_opening_the_link_records_nothing(world):
    test = start(world)
    probe = probe_of(test, world.member_a)
    raw = sent_token(probe)
    before = _state(probe)
    client = Client()
    url = reverse("reachability:confirm", args=[raw])
    for _ in range(3):  # a mail scanner, a preview, the officer
        response = client.get(url)
        assert response.status_code == 200
    assert _state(probe) == before
    html = response.content.decode()
    assert "Police nationale" in html
    assert "Confirm receipt" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert response["Referrer-Policy"] == "strict-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "probe-banner" not in html  # no in-app banner on this page
    assert not ContactPoint.objects.filter(last_reachable_at__isnull=False).exists()


def test_pressing_the_button_confirms_once(world):
    test = start(world)
    probe = probe_of(test, world.member_a)
    raw = sent_token(probe)
    client = Client(enforce_csrf_checks=True)
    url = reverse("reachability:confirm", args=[raw])
    client.get(url)
    csrf = client.cookies["liaison_csrf"].value
    response = client.post(url, {"name": "Night duty officer", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you" in html
    probe.refresh_from_db()
    assert (probe.status, probe.confirmed_via, probe.confirmed_name) == (
        "confirmed",
        "link",
        "Night duty officer",
    )
    assert probe.confirmed_at.strftime("%Y-%m-%d %H:%M:%S") in html
    cp = ContactPoint.objects.get(public_id=world.cp_a.public_id, layer=Layer.PUBLISHED)
    assert cp.last_reachable_at == probe.confirmed_at
    # Reused: says so, records nothing more.
    events = AuditEvent.objects.count()
    response = client.post(url, {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 410
    assert "This confirmation link was already used on" in response.content.decode()
    response = client.get(url)
    assert response.status_code == 410
    assert AuditEvent.objects.count() == events
    # Someone else's probe is untouched.
    assert probe_of(test, world.member_b).status == ProbeStatus.SENT


def test_the_button_needs_the_csrf_token(world):
    test = start(world)
    probe = probe_of(test, world.member_a)
    client = Client(enforce_csrf_checks=True)
    url = reverse("reachability:confirm", args=[sent_token(probe)])
    client.get(url)
    assert client.post(url).status_code == 403
    assert _state(probe)[0] == ProbeStatus.SENT


def test_the_token_never_reaches_the_logs(world, caplog):
    test = start(world)
    probe = probe_of(test, world.member_a)
    raw = sent_token(probe)
    url = reverse("reachability:confirm", args=[raw])
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level("DEBUG"):
        response = client.post(url, {"csrfmiddlewaretoken": "forged"})
        assert response.status_code == 403  # refused by the CSRF check, in the page's words
        assert "Reload this page and press the button again" in response.content.decode()
        assert client.put(url).status_code == 405
        assert Client().get(reverse("reachability:confirm", args=[raw[:-2]])).status_code == 400
        Probe.objects.filter(pk=probe.pk).update(expires_at=timezone.now())
        assert client.get(url).status_code == 410
    assert raw[:-2] not in caplog.text
    assert _state(probe)[0] == ProbeStatus.SENT


def test_a_signed_in_confirmer_is_recorded(world, client):
    test = start(world)
    probe = probe_of(test, world.member_a)
    client.force_login(world.officer_a)
    url = reverse("reachability:confirm", args=[sent_token(probe)])
    assert "You are signed in as" in client.get(url).content.decode()
    client.post(url, {"name": "ignored"})
    probe.refresh_from_db()
    assert (probe.confirmed_by, probe.confirmed_name) == (world.officer_a, "")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_link_says_so_and_records_nothing(world, method):
    test = start(world)
    probe = probe_of(test, world.member_a)
    before = _state(probe)
    for raw in ("x" * 27, "A" * 200, sent_token(probe)[:-1] + "_"):
        response = getattr(Client(), method)(reverse("reachability:confirm", args=[raw]))
        assert response.status_code == 400
        assert "This confirmation link is not valid." in response.content.decode()
    assert _state(probe) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_says_so_and_records_nothing(world, method):
    test = start(world)
    probe = probe_of(test, world.member_a)
    raw = sent_token(probe)
    Probe.objects.filter(pk=probe.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    before = _state(probe)
    response = getattr(Client(), method)(reverse("reachability:confirm", args=[raw]))
    assert response.status_code == 410
    assert "This confirmation link has expired." in response.content.decode()
    assert _state(probe) == before


def test_confirmations_are_throttled_per_address(world, monkeypatch):
    test = start(world)
    probe = probe_of(test, world.member_a)
    monkeypatch.setattr(views, "CONFIRM_RATE", {"probe_confirm": "1/m/ip"})
    other = probe_of(test, world.member_b)
    client = Client()
    assert client.post(reverse("reachability:confirm", args=[sent_token(probe)])).status_code == 200
    response = client.post(reverse("reachability:confirm", args=[sent_token(other)]))
    assert response.status_code == 429
    assert "Too many confirmations" in response.content.decode()
    assert _state(other)[0] == ProbeStatus.SENT


def test_the_page_works_in_french(world):
    test = start(world)
    client = Client(headers={"accept-language": "fr"})
    response = client.get(
        reverse("reachability:confirm", args=[sent_token(probe_of(test, world.member_a))])
    )
    assert response.status_code == 200
    assert 'lang="fr"' in response.content.decode()


# --- the directory shows the last confirmation -----------------------------------------------


def test_the_directory_shows_when_a_contact_point_was_last_confirmed_reachable(world, client):
    test = start(world)
    services.confirm_probe_by_token(sent_token(probe_of(test, world.member_a)), via="link")
    client.force_login(world.officer_b)
    html = client.get(reverse("directory:list", args=["budapest"])).content.decode()
    assert html.count("Confirmed reachable") == 1
    html = client.get(
        reverse("directory:detail", args=["budapest", world.cp_a.public_id])
    ).content.decode()
    assert "Last confirmed reachable" in html
    assert "(answered a ping test)" in html


# --- query counts ----------------------------------------------------------------------------


def _grow(world, members: int):
    """More members with a published contact point each."""
    for index in range(members):
        member = MemberFactory(network=world.network, code=f"Q{index:02d}"[:2] + chr(65 + index))
        cp = ContactPointFactory(member=member)
        ChannelFactory(contact_point=cp, kind="email", value=f"desk{index}@x.example")
    publish(world.network)


def _count(client, url) -> int:
    client.get(url)  # the session's first page: its one-off lookups are not the page's cost
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_query_counts_stay_flat(world, client):
    start(world)
    client.force_login(world.secretariat)
    list_url = reverse("reachability:list", args=["budapest"])
    small_list = _count(client, list_url)
    test = PingTest.objects.get()
    small_detail = _count(client, reverse("reachability:detail", args=["budapest", test.public_id]))
    _grow(world, 12)
    for _ in range(3):
        big = start(world, channels=["email", "manual"])
    large_list = _count(client, list_url)
    large_detail = _count(client, reverse("reachability:detail", args=["budapest", big.public_id]))
    # Session, user, roles, the page's own reads, the audit event (5 with its savepoints), the
    # navigation's "not delivered" count.
    assert large_list == small_list <= 13
    assert large_detail == small_detail <= 17
