"""Staleness: review reminders (once ahead, once overdue, weekly after), the one-click
confirmation, the flags on the pages and the figures in the statistics."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.core.management.commands.worker import PERIODIC_JOBS
from liaison.delivery.models import Delivery
from liaison.directory import staleness
from liaison.directory.models import ContactPoint, Layer, ReviewReminder
from liaison.reports.queries import compute_network_stats
from liaison.reports.text import stats_as_text
from tests.factories import MemberFactory, PublishedContactPointFactory, RoleAssignmentFactory

SLUG = "budapest"
KIND = staleness.EMAIL_KIND
DAY = dt.timedelta(days=1)


def today() -> dt.date:
    return timezone.localdate()


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


def set_review(cp, day: dt.date | None, *, layer: str | None = None) -> None:
    """The review date of an entry, on both layers (as confirmations keep it) or on one."""
    rows = ContactPoint.objects.filter(public_id=cp.public_id)
    if layer is not None:
        rows = rows.filter(layer=layer)
    rows.update(review_date=day)


def sweep(day: dt.date, **kwargs) -> staleness.ReminderRun:
    return staleness.send_review_reminders(now=at(day), **kwargs)


def reminder_mails() -> list[Delivery]:
    return list(Delivery.objects.filter(kind=KIND).order_by("id"))


def reminder_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=KIND).order_by("seq"))


def list_url(**params) -> str:
    url = reverse("directory:list", args=[SLUG])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def confirm_forms(html: str) -> list[str]:
    """The public ids whose "Still correct" form the page holds."""
    return re.findall(r'action="/networks/budapest/directory/(cp_\w+)/confirm/"', html)


# --- definitions -------------------------------------------------------------------------------


def test_reminder_key_ahead_then_weekly_overdue():
    d = dt.date(2030, 3, 15)
    assert staleness.reminder_key(d, d - 31 * DAY) is None
    assert staleness.reminder_key(d, d - 30 * DAY) == ("ahead", 0)
    assert staleness.reminder_key(d, d) == ("ahead", 0)  # due today: not stale yet
    assert staleness.reminder_key(d, d + DAY) == ("overdue", 0)
    assert staleness.reminder_key(d, d + 7 * DAY) == ("overdue", 0)
    assert staleness.reminder_key(d, d + 8 * DAY) == ("overdue", 1)
    assert staleness.reminder_key(d, d + 15 * DAY) == ("overdue", 2)


def test_review_status_of_the_pages():
    d = dt.date(2030, 3, 15)
    assert staleness.review_status(None, d) is None
    assert staleness.review_status(d + 31 * DAY, d) is None
    due = staleness.review_status(d + 30 * DAY, d)
    assert due is not None
    assert not due.stale
    stale = staleness.review_status(d - DAY, d)
    assert stale is not None
    assert stale.stale
    assert stale.stale_since == d


# --- the sweep ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminded_once_ahead_once_overdue_then_weekly(world):
    due = today() + 100 * DAY  # the world's other entry is due in a year: out of the way
    set_review(world.cp_a, due)
    assert sweep(due - 31 * DAY).emails == 0

    run = sweep(due - 30 * DAY)
    assert run.emails == 1
    (mail,) = reminder_mails()
    assert mail.recipient == world.coordinator_a.email
    assert mail.related_id == world.network.public_id
    for day in (due - 29 * DAY, due - DAY, due):
        assert sweep(day).emails == 0  # not again before the date passes
    assert len(reminder_mails()) == 1

    assert sweep(due + DAY).emails == 1  # overdue
    for day in (due + DAY, due + 2 * DAY, due + 7 * DAY):
        assert sweep(day).emails == 0
    assert sweep(due + 8 * DAY).emails == 1  # a week later, still overdue
    assert [m.recipient for m in reminder_mails()] == [world.coordinator_a.email] * 3

    keys = list(ReviewReminder.objects.values_list("contact_point", "kind", "sequence"))
    cp = world.cp_a.public_id
    assert keys == [(cp, "ahead", 0), (cp, "overdue", 0), (cp, "overdue", 1)]
    events = reminder_events()
    assert len(events) == 3
    assert events[0].actor is None
    assert events[0].network_slug == SLUG
    assert events[0].object_id == world.member_a.public_id
    assert events[0].details["ahead"] == [cp]
    assert events[0].details["overdue"] == []
    assert events[1].details["overdue"] == [cp]
    assert events[1].details["recipients"] == [world.coordinator_a.public_id]
    assert events[1].details["to_secretariat"] is False


@pytest.mark.django_db
def test_drafts_are_not_reminded_of(world):
    past = today() - 10 * DAY
    set_review(world.cp_a, past, layer=Layer.DRAFT)
    assert sweep(today()).emails == 0
    set_review(world.cp_a, past, layer=Layer.PUBLISHED)
    assert sweep(today()).emails == 1


@pytest.mark.django_db
def test_email_holds_counts_and_a_link_never_directory_content(world, settings):
    settings.BASE_URL = "https://liaison.example"
    for i, day in enumerate((-40, -3, 12)):
        cp = PublishedContactPointFactory(
            member=world.member_a, institution=f"Secret Unit {i}", unit=f"Desk {i}"
        )
        set_review(cp, today() + day * DAY)
    sweep(today())
    (mail,) = reminder_mails()
    assert mail.subject == "[Liaison] Directory entries to review — Budapest 24/7 Network"
    body = mail.body_text
    assert "France (FR)" in body
    assert "2 entries are past their review date and shown as stale" in body
    assert "1 entry is due for review within 30 days" in body
    assert "https://liaison.example/networks/budapest/directory/?member=FR&stale=1" in body
    for content in ("Secret Unit", "Desk ", "Police nationale", "police.fr.example", "+33"):
        assert content not in body


@pytest.mark.django_db
def test_member_without_coordinator_is_the_secretariats(world):
    italy = MemberFactory(network=world.network, code="IT", name="Italy")
    spain = MemberFactory(network=world.network, code="ES", name="Spain")
    for member in (italy, spain):
        set_review(PublishedContactPointFactory(member=member), today() - 2 * DAY)
    # A coordinator whose account is disabled reviews nothing.
    gone = RoleAssignmentFactory(network=world.network, role="coordinator", member=spain).user
    gone.is_active = False
    gone.save()

    assert sweep(today()).emails == 1  # one e-mail for both members
    (mail,) = reminder_mails()
    assert mail.recipient == world.secretariat.email
    assert "member=IT&stale=1" in mail.body_text
    assert "member=ES&stale=1" in mail.body_text
    assert mail.body_text.count("goes to the Secretariat") == 2
    assert {e.details["member"] for e in reminder_events()} == {"IT", "ES"}
    assert all(e.details["to_secretariat"] for e in reminder_events())


@pytest.mark.django_db
def test_observer_coordinator_without_the_directory_is_replaced_by_the_secretariat(world):
    world.network.observers_see_directory = False
    world.network.save()
    world.member_b.status = "observer"
    world.member_b.save()
    set_review(world.cp_b, today() - DAY)
    sweep(today())
    assert [m.recipient for m in reminder_mails()] == [world.secretariat.email]


@pytest.mark.django_db
def test_a_concurrent_sweep_sends_nothing_twice(world, monkeypatch):
    set_review(world.cp_a, today() - DAY)
    stale_plan = staleness.plan_reminders(world.network, today())
    assert sweep(today()).emails == 1
    # Another worker planned the same reminders before this one recorded them.
    monkeypatch.setattr(
        staleness,
        "plan_reminders",
        lambda network, day: stale_plan if network == world.network else [],
    )
    run = sweep(today())
    assert run.emails == 0
    assert run.skipped_networks == [SLUG]
    assert len(reminder_mails()) == 1
    assert len(reminder_events()) == 1


@pytest.mark.django_db
def test_dry_run_writes_nothing(world):
    set_review(world.cp_a, today() - DAY)
    run = sweep(today(), dry_run=True)
    assert run.emails == 1
    assert run.entries == 1
    assert reminder_mails() == []
    assert ReviewReminder.objects.count() == 0
    assert reminder_events() == []


@pytest.mark.django_db
def test_cli_remind_stale(world):
    set_review(world.cp_a, today() - 3 * DAY)
    out = io.StringIO()
    call_command("directory", "remind-stale", "--network", SLUG, "--dry-run", stdout=out)
    assert "budapest FR: 1 stale, 0 due soon → coord@fr.example" in out.getvalue()
    assert "nothing written" in out.getvalue()
    assert reminder_mails() == []
    out = io.StringIO()
    call_command("directory", "remind-stale", stdout=out)
    assert "1 e-mail queued" in out.getvalue()
    assert len(reminder_mails()) == 1
    assert reminder_events()[0].via == "cli"
    with pytest.raises(CommandError, match="unknown network 'nowhere'"):
        call_command("directory", "remind-stale", "--network", "nowhere")


def test_the_worker_sweeps_the_reminders_hourly():
    (job,) = [job for job in PERIODIC_JOBS if job.name == "review-reminders"]
    assert job.resolve() is staleness.sweep_review_reminders
    assert job.every == 3600.0


# --- confirmation, pages -------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_click_confirmation_clears_the_flag_and_restarts_the_cycle(client, world):
    set_review(world.cp_a, today() - 3 * DAY)
    set_review(world.cp_b, today() + 1000 * DAY)
    assert sweep(today()).emails == 1
    client.force_login(world.coordinator_a)
    back = list_url(stale=1)
    html = client.get(back).content.decode()
    assert confirm_forms(html) == [world.cp_a.public_id]

    response = client.post(
        reverse("directory:confirm", args=[SLUG, world.cp_a.public_id]), {"next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    html = client.get(back).content.decode()
    assert "0 contact points" in html
    assert confirm_forms(html) == []
    next_year = today() + 365 * DAY
    assert set(
        ContactPoint.objects.filter(public_id=world.cp_a.public_id).values_list(
            "layer", "review_date"
        )
    ) == {(Layer.DRAFT, next_year), (Layer.PUBLISHED, next_year)}
    assert sweep(today()).emails == 0
    assert sweep(next_year - 31 * DAY).emails == 0
    assert sweep(next_year - 30 * DAY).emails == 1  # the new date comes due: reminded again
    assert ReviewReminder.objects.filter(review_date=next_year, kind="ahead").count() == 1


@pytest.mark.django_db
def test_list_flags_due_entries_and_offers_confirmation_to_editors(client, world):
    set_review(world.cp_a, today() - 10 * DAY)
    set_review(world.cp_b, today() + 5 * DAY)
    fresh = PublishedContactPointFactory(member=world.member_a, institution="Fresh Desk")
    stale_since = timezone.datetime.strftime(today() - 9 * DAY, "%-d %b %Y")
    due_on = timezone.datetime.strftime(today() + 5 * DAY, "%-d %b %Y")

    client.force_login(world.coordinator_a)
    html = client.get(list_url()).content.decode()
    assert f"Stale since {stale_since}" in html
    assert f"Review due {due_on}" in html
    assert confirm_forms(html) == [world.cp_a.public_id]  # not member B's entry
    assert "Fresh Desk" in html

    html = client.get(list_url(stale=1)).content.decode()
    assert "Fresh Desk" not in html
    assert "2 contact points" in html
    assert fresh.public_id not in html

    client.force_login(world.officer_a)
    html = client.get(list_url()).content.decode()
    assert f"Stale since {stale_since}" in html
    assert confirm_forms(html) == []

    client.force_login(world.secretariat)
    html = client.get(list_url(stale=1, member="DE")).content.decode()
    assert confirm_forms(html) == [world.cp_b.public_id]


@pytest.mark.django_db
def test_detail_flags_a_stale_entry_next_to_its_button(client, world):
    set_review(world.cp_a, today() - 10 * DAY)
    url = reverse("directory:detail", args=[SLUG, world.cp_a.public_id])
    client.force_login(world.coordinator_a)
    html = client.get(url).content.decode()
    assert "Stale since" in html
    assert "Review overdue" in html
    assert confirm_forms(html) == [world.cp_a.public_id]  # one button, next to the flag
    client.force_login(world.officer_a)
    html = client.get(url).content.decode()
    assert "Stale since" in html
    assert confirm_forms(html) == []
    set_review(world.cp_a, today() + 200 * DAY)
    client.force_login(world.coordinator_a)
    html = client.get(url).content.decode()
    assert "Stale since" not in html
    assert "Review due" not in html
    assert confirm_forms(html) == [world.cp_a.public_id]  # the usual button, below


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/networks/budapest/directory/",
        "https://evil.example/networks/budapest/directory/",
        "/networks/budapest/directory/cp_x/delete/",
    ],
)
def test_confirmation_goes_back_to_the_list_only(client, world, target):
    client.force_login(world.coordinator_a)
    url = reverse("directory:confirm", args=[SLUG, world.cp_a.public_id])
    response = client.post(url, {"next": target})
    assert response["Location"] == reverse("directory:detail", args=[SLUG, world.cp_a.public_id])


# --- statistics ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stats_count_stale_and_due_published_entries(client, world):
    set_review(world.cp_a, today() - DAY)
    set_review(world.cp_b, today() + 30 * DAY)
    set_review(PublishedContactPointFactory(member=world.member_b), today() + 31 * DAY)
    # A draft's date does not count: the figures are those of the published directory.
    draft = PublishedContactPointFactory(member=world.member_b)
    ContactPoint.objects.filter(pk=draft.pk).update(layer=Layer.DRAFT, review_date=today())

    stats = compute_network_stats(world.network, today())
    assert stats["stale_contact_points"] == 1
    assert stats["review_due_30_days"] == 1
    assert stats["contact_points"]["total"] == 3
    later = compute_network_stats(world.network, today() + 2 * DAY)
    assert (later["stale_contact_points"], later["review_due_30_days"]) == (1, 2)

    text = stats_as_text(stats)
    assert "Stale (review date passed): 1" in text
    assert "Review due within 30 days: 1" in text

    client.force_login(world.secretariat)
    html = client.get(reverse("reports:stats", args=[SLUG])).content.decode()
    assert "Review of entries" in html
    assert f'href="{list_url(stale=1)}"' in html
    client.force_login(world.auditor)  # the figures, not the directory
    html = client.get(reverse("reports:stats", args=[SLUG])).content.decode()
    assert "Review of entries" in html
    assert list_url(stale=1) not in html


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def mail(settings, smtp_server):
    """Django's SMTP backend pointed at the loopback server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_a_reminder_once_over_smtp(world, mail):
    set_review(world.cp_a, today() + 10 * DAY)
    call_command("worker", "--until-idle", verbosity=0)

    def reminders():
        return [r for r in mail.messages if "entries to review" in r.message["Subject"]]

    (received,) = reminders()
    assert received.rcpt_tos == [world.coordinator_a.email]
    content = received.message.get_content()
    assert "1 entry is due for review within 30 days" in content
    assert "/networks/budapest/directory/?member=FR&stale=1" in content
    assert "Police nationale" not in content
    (delivery,) = reminder_mails()
    assert received.message["Message-ID"] == delivery.message_id
    assert delivery.status == "sent"

    call_command("worker", "--until-idle", verbosity=0)
    assert len(reminders()) == 1
    assert ReviewReminder.objects.count() == 1


@pytest.mark.django_db
def test_flags_and_buttons_cost_no_query_per_row(client, world, django_assert_max_num_queries):
    from tests.directory.test_pages import QUERY_CEILING

    for i in range(60):
        cp = PublishedContactPointFactory(member=(world.member_a, world.member_b)[i % 2])
        set_review(cp, today() + (i - 30) * DAY)
    client.force_login(world.coordinator_a)
    client.get(list_url())  # warm the session
    with django_assert_max_num_queries(QUERY_CEILING):
        html = client.get(list_url()).content.decode()
    assert "Stale since" in html
    assert len(confirm_forms(html)) > 10
    with django_assert_max_num_queries(QUERY_CEILING):
        html = client.get(list_url(stale=1)).content.decode()
    assert "60 contact points" in html  # 30 stale, 30 due within 30 days: not the world's two
