"""Follow-up of ping tests with the clock in the test's hands: reminders, escalation, expiry,
closing — each done once, to the right people, with nothing restricted in the e-mails."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from liaison.audit.models import AuditEvent
from liaison.core.management.commands.worker import PERIODIC_JOBS
from liaison.delivery.models import Delivery
from liaison.networks.models import RoleAssignment
from liaison.networks.queries import resolve_access
from liaison.reachability import followup, services
from liaison.reachability.models import PingTest, PingTestStatus, Probe, ProbeStatus
from liaison.reachability.tokens import find_token
from tests.factories import ChannelFactory, ContactPointFactory
from tests.fixtures import publish

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def start(world, **kwargs) -> PingTest:
    access = resolve_access(world.secretariat, world.network)
    kwargs.setdefault("channels", ["email"])
    kwargs.setdefault("reminder_after", 2 * HOUR)
    kwargs.setdefault("escalate_after", 6 * HOUR)
    kwargs.setdefault("ends_at", NOW + 48 * HOUR)
    test = services.start_ping_test(
        world.secretariat, access, now=NOW, rng=random.Random(1), **kwargs
    )
    services.send_due_probes(now=NOW)
    return test


def probe_of(test: PingTest, contact_point) -> Probe:
    return test.probes.get(contact_point_id=contact_point.public_id)


def confirm(probe: Probe, at: dt.datetime) -> None:
    raw = find_token(Delivery.objects.get(pk=probe.delivery_id).subject)
    services.confirm_probe_by_token(raw, via="link", now=at)


def mails(kind: str) -> list[Delivery]:
    return list(Delivery.objects.filter(kind=kind).order_by("recipient"))


@pytest.fixture
def france_has_a_second_desk(world):
    """FR gets a prosecution desk with its own address, and one that lists the police desk's
    address too (the silent address must never be told about itself)."""
    second = ContactPointFactory(
        member=world.member_a, institution="Parquet cyber", type="prosecution"
    )
    ChannelFactory(contact_point=second, kind="email", value="parquet@justice.fr.example")
    ChannelFactory(contact_point=second, kind="phone", value="+33100000000", position=1)
    shared = ContactPointFactory(member=world.member_a, institution="Gendarmerie")
    ChannelFactory(contact_point=shared, kind="email", value="cyber@police.fr.example")
    publish(world.network, "FR adds desks")
    return second


# --- reminders ---------------------------------------------------------------------------------


def test_a_silent_probe_is_reminded_once_after_the_delay(world):
    test = start(world)
    fr, de = probe_of(test, world.cp_a), probe_of(test, world.cp_b)
    confirm(de, NOW + HOUR)

    assert followup.sweep_followups(now=NOW + 2 * HOUR - dt.timedelta(seconds=1)) == 0
    assert followup.sweep_followups(now=NOW + 2 * HOUR) == 1
    assert followup.sweep_followups(now=NOW + 3 * HOUR) == 0  # once

    (reminder,) = mails(followup.REMINDER_KIND)
    assert reminder.recipient == "cyber@police.fr.example"
    assert reminder.subject.startswith("[Liaison] Reminder: reachability test")
    # The raw token is not stored: the reminder points to the first message, with no link.
    assert "/p/" not in reminder.body_text
    assert "LIAISON-PROBE-" not in reminder.body_text
    assert "first message" in reminder.body_text
    fr.refresh_from_db()
    de.refresh_from_db()
    assert fr.reminded_at == NOW + 2 * HOUR
    assert de.reminded_at is None
    (event,) = AuditEvent.objects.filter(action="pingtest.reminder")
    assert event.object_id == fr.public_id
    assert event.details["recipients"] == 1


def test_a_claimed_reminder_is_not_sent_again_by_a_second_worker(world):
    test = start(world, members=["FR"])
    stale = probe_of(test, world.cp_a)  # both workers read the probe before either claims it
    assert followup._remind(stale, NOW + 2 * HOUR) == 1
    assert followup._remind(stale, NOW + 2 * HOUR) == 0
    assert len(mails(followup.REMINDER_KIND)) == 1
    assert AuditEvent.objects.filter(action="pingtest.reminder").count() == 1


def test_no_reminder_without_a_delay_for_failed_probes_or_manual_tests(world):
    quiet = start(world, members=["DE"], reminder_after=None, escalate_after=None)
    bounced = start(world, members=["FR"])
    services.record_delivery_failure(probe_of(bounced, world.cp_a), "550 mailbox unknown")
    start(world, channels=["manual"], members=["FR"])
    assert followup.sweep_followups(now=NOW + 10 * HOUR) == 0
    assert not mails(followup.REMINDER_KIND)
    assert not mails(followup.ESCALATION_KIND)
    assert quiet.probes.get().status == ProbeStatus.SENT


def test_an_in_app_test_reminds_the_members_people(world):
    test = start(world, channels=["app"], members=["FR"], escalate_after=None)
    assert followup.sweep_followups(now=NOW + 2 * HOUR) == 1
    recipients = [d.recipient for d in mails(followup.REMINDER_KIND)]
    assert recipients == [world.coordinator_a.email, world.officer_a.email]
    body = mails(followup.REMINDER_KIND)[0].body_text
    assert "Police nationale" in body
    assert "sign in to Liaison" in body
    assert probe_of(test, world.cp_a).reminded_at is not None


# --- escalation --------------------------------------------------------------------------------


def test_escalation_tells_the_coordinator_and_the_other_desks_not_the_silent_one(
    world, france_has_a_second_desk
):
    test = start(world, members=["FR", "DE"])
    silent = probe_of(test, world.cp_a)
    for probe in test.probes.exclude(pk=silent.pk):
        confirm(probe, NOW + HOUR)

    followup.sweep_followups(now=NOW + 6 * HOUR - dt.timedelta(minutes=1))
    assert not mails(followup.ESCALATION_KIND)
    followup.sweep_followups(now=NOW + 6 * HOUR)
    followup.sweep_followups(now=NOW + 7 * HOUR)

    escalations = mails(followup.ESCALATION_KIND)
    assert [d.recipient for d in escalations] == [
        world.coordinator_a.email,
        "parquet@justice.fr.example",
    ]
    for mail in escalations:
        assert "Police nationale" in mail.subject
        assert "The contact point Police nationale did not confirm" in mail.body_text
        assert "2026-11-23 09:00 UTC" in mail.body_text
        # Nothing restricted: no address, no phone number, no link to confirm.
        for secret in ("@", "+33", "/p/", "LIAISON-PROBE-"):
            assert secret not in mail.body_text
    silent.refresh_from_db()
    assert silent.escalated_at == NOW + 6 * HOUR
    (event,) = AuditEvent.objects.filter(action="pingtest.escalation")
    assert event.object_id == silent.public_id
    assert event.details["people"] == [world.coordinator_a.public_id]
    assert event.details["contact_points"] == [france_has_a_second_desk.public_id]
    assert event.details["emails"] == 2
    assert event.details["to_secretariat"] is False


def test_a_member_with_nobody_to_tell_is_escalated_to_the_secretariat(world):
    RoleAssignment.objects.filter(user=world.coordinator_b).delete()
    start(world, members=["DE"], reminder_after=None)
    assert followup.sweep_followups(now=NOW + 6 * HOUR) == 1
    assert [d.recipient for d in mails(followup.ESCALATION_KIND)] == [world.secretariat.email]
    assert AuditEvent.objects.get(action="pingtest.escalation").details["to_secretariat"]


def test_a_probe_confirmed_in_time_is_neither_reminded_nor_escalated(world):
    test = start(world, members=["DE"])
    confirm(probe_of(test, world.cp_b), NOW + HOUR)
    assert followup.sweep_followups(now=NOW + 10 * HOUR) == 1  # the test closes: all final
    assert not mails(followup.REMINDER_KIND)
    assert not mails(followup.ESCALATION_KIND)


# --- expiry and closing ------------------------------------------------------------------------


def test_at_the_end_silent_probes_expire_failed_ones_stay_failed_and_the_test_closes(world):
    test = start(world, reminder_after=None, escalate_after=None)
    services.record_delivery_failure(probe_of(test, world.cp_b), "550 mailbox unknown (bounce)")
    end = NOW + 48 * HOUR

    assert followup.sweep_followups(now=end - dt.timedelta(seconds=1)) == 0
    assert test.probes.get(status=ProbeStatus.SENT).contact_point_id == world.cp_a.public_id
    # One probe expired, one test closed.
    assert followup.sweep_followups(now=end) == 2
    assert followup.sweep_followups(now=end + HOUR) == 0

    assert probe_of(test, world.cp_a).status == ProbeStatus.EXPIRED
    failed = probe_of(test, world.cp_b)
    assert failed.status == ProbeStatus.FAILED
    assert "bounce" in failed.failure
    test.refresh_from_db()
    assert test.status == PingTestStatus.CLOSED
    (expired,) = AuditEvent.objects.filter(action="pingtest.probes_expired")
    assert expired.object_id == test.public_id
    assert expired.details == {"expired": 1}
    (closed,) = AuditEvent.objects.filter(action="pingtest.closed")
    assert closed.details["reason"] == "ended"
    assert closed.details["expired"] == 1
    assert closed.details["failed"] == 1


def test_no_reminder_or_escalation_once_the_probe_has_expired(world):
    start(world, members=["FR"], ends_at=NOW + HOUR, reminder_after=2 * HOUR)
    followup.sweep_followups(now=NOW + 3 * HOUR)
    assert not mails(followup.REMINDER_KIND)
    assert not mails(followup.ESCALATION_KIND)


def test_a_test_closes_early_once_every_probe_is_confirmed(world):
    test = start(world)
    confirm(probe_of(test, world.cp_a), NOW + HOUR)
    assert followup.sweep_followups(now=NOW + HOUR) == 0  # DE still open
    confirm(probe_of(test, world.cp_b), NOW + 2 * HOUR)
    assert followup.sweep_followups(now=NOW + 2 * HOUR) == 1
    test.refresh_from_db()
    assert test.status == PingTestStatus.CLOSED
    closed = AuditEvent.objects.get(action="pingtest.closed")
    assert closed.details["reason"] == "all final"
    assert closed.details["confirmed"] == 2


def test_a_failed_probe_keeps_the_test_open_until_its_end(world):
    """A bounced address can still be confirmed (a call, the app) until the test ends."""
    test = start(world, reminder_after=None, escalate_after=None)
    confirm(probe_of(test, world.cp_a), NOW + HOUR)
    services.record_delivery_failure(probe_of(test, world.cp_b), "550 mailbox unknown")
    assert followup.sweep_followups(now=NOW + 2 * HOUR) == 0
    test.refresh_from_db()
    assert test.status == PingTestStatus.RUNNING


def test_a_scheduled_test_past_its_end_closes_with_its_probes_expired(world):
    access = resolve_access(world.secretariat, world.network)
    test = services.start_ping_test(
        world.secretariat,
        access,
        channels=["email"],
        timing="at",
        starts_at=NOW + HOUR,
        ends_at=NOW + 2 * HOUR,
        now=NOW,
    )
    assert test.status == PingTestStatus.SCHEDULED
    # The workers were down the whole time: nothing was sent.
    assert followup.sweep_followups(now=NOW + 3 * HOUR) == 3
    test.refresh_from_db()
    assert test.status == PingTestStatus.CLOSED
    assert set(test.probes.values_list("status", flat=True)) == {ProbeStatus.EXPIRED}


def test_the_sweep_is_a_periodic_job_of_the_worker():
    (job,) = [job for job in PERIODIC_JOBS if job.name == "pingtest-followups"]
    assert job.every == 60
    assert job.resolve() is followup.sweep_followups
