"""Ping tests: starting, sending through the outbox, confirming only by a deliberate act."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.delivery.models import Delivery
from liaison.directory.models import ContactPoint, Layer
from liaison.networks.queries import resolve_access
from liaison.reachability import services
from liaison.reachability.models import Probe, ProbeStatus
from liaison.reachability.queries import get_probe, pending_app_probes, visible_probes

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def start(world, **kwargs):
    access = resolve_access(world.secretariat, world.network)
    kwargs.setdefault("channels", ["email"])
    return services.start_ping_test(
        world.secretariat, access, now=NOW, rng=random.Random(1), **kwargs
    )


def sent_token(probe: Probe) -> str:
    """The raw token, as the recipient reads it in the probe e-mail's link."""
    delivery = Delivery.objects.get(pk=probe.delivery_id)
    return re.search(r"/p/([A-Za-z0-9_-]+)/", delivery.body_text).group(1)


def test_start_creates_one_probe_per_published_contact_point_and_sends_nothing(world):
    test = start(world, note="Autumn cycle")
    probes = list(test.probes.order_by("member__code"))
    assert [p.member.code for p in probes] == ["DE", "FR"]
    assert {p.contact_point_id for p in probes} == {world.cp_a.public_id, world.cp_b.public_id}
    assert all(p.status == ProbeStatus.SCHEDULED for p in probes)
    assert not Delivery.objects.filter(kind=services.PROBE_KIND).exists()
    event = AuditEvent.objects.get(action="pingtest.start")
    assert event.details["probes"] == 2


def test_unknown_members_channels_and_types_are_named_back(world):
    with pytest.raises(ServiceError, match="unknown members: XX, ZZ"):
        start(world, members=["FR", "XX", "ZZ"])
    with pytest.raises(ServiceError, match="unknown channels: pigeon"):
        start(world, channels=["email", "pigeon"])
    with pytest.raises(ServiceError, match="unknown types: navy"):
        start(world, types=["navy"])
    with pytest.raises(ServiceError, match="at least one channel"):
        start(world, channels=[])
    assert not Probe.objects.exists()


def test_only_the_secretariat_starts_a_test(world):
    for user in (world.coordinator_a, world.officer_a, world.auditor):
        with pytest.raises(PermissionDenied):
            services.start_ping_test(
                user, resolve_access(user, world.network), channels=["email"], now=NOW
            )


def test_due_probes_go_through_the_outbox_with_a_link_and_a_reply_marker(world):
    test = start(world, members=["FR"])
    assert services.send_due_probes(now=NOW) == 1
    assert services.send_due_probes(now=NOW) == 0  # sent once
    probe = test.probes.get()
    assert probe.status == ProbeStatus.SENT
    delivery = Delivery.objects.get(pk=probe.delivery_id)
    assert delivery.recipient == "cyber@police.fr.example"
    raw = sent_token(probe)
    assert f"LIAISON-PROBE-{raw}" in delivery.subject
    assert probe.token_hash not in delivery.body_text  # only the hash is kept
    # No directory content in the message.
    for secret in ("+33123456789", "Police nationale"):
        assert secret not in delivery.body_text


def test_fetching_is_not_confirming_and_a_link_confirms_once(world):
    test = start(world, members=["FR"])
    services.send_due_probes(now=NOW)
    probe = test.probes.get()
    raw = sent_token(probe)
    later = NOW + dt.timedelta(minutes=5)
    confirmed = services.confirm_probe_by_token(raw, via="link", name="Night desk", now=later)
    assert confirmed.status == ProbeStatus.CONFIRMED
    assert (confirmed.confirmed_via, confirmed.seconds_to_confirm) == ("link", 300)
    assert confirmed.confirmed_name == "Night desk"
    assert (
        ContactPoint.objects.get(
            public_id=world.cp_a.public_id, layer=Layer.PUBLISHED
        ).last_reachable_at
        == later
    )
    with pytest.raises(ServiceError, match="already used"):
        services.confirm_probe_by_token(raw, via="reply", now=later)
    with pytest.raises(ServiceError, match="not valid"):
        services.confirm_probe_by_token("forged-token-forged-token", via="link", now=later)
    assert AuditEvent.objects.filter(action="pingtest.probe_confirmed").count() == 1


def test_an_expired_link_says_so_and_records_nothing(world):
    test = start(world, members=["FR"], ends_at=NOW + dt.timedelta(hours=1))
    services.send_due_probes(now=NOW)
    raw = sent_token(test.probes.get())
    with pytest.raises(ServiceError, match="expired"):
        services.confirm_probe_by_token(raw, via="link", now=NOW + dt.timedelta(hours=2))
    assert test.probes.get().status == ProbeStatus.SENT


def test_in_app_confirmation_is_for_the_members_own_people(world):
    test = start(world, channels=["app"])
    services.send_due_probes(now=NOW)
    probe_a = test.probes.get(member=world.member_a)
    assert probe_a.delivery_id is None  # nothing e-mailed for an app-only test
    with pytest.raises(PermissionDenied):
        services.confirm_probe_in_app(
            world.officer_b, resolve_access(world.officer_b, world.network), probe_a
        )
    access = resolve_access(world.officer_a, world.network)
    done = services.confirm_probe_in_app(
        world.officer_a, access, probe_a, now=NOW + dt.timedelta(seconds=42)
    )
    assert (done.confirmed_via, done.confirmed_by, done.seconds_to_confirm) == (
        "app",
        world.officer_a,
        42,
    )


def test_pending_app_probes_show_the_banner_to_the_members_people_only(world):
    test = start(world, channels=["app"], ends_at=timezone.now() + dt.timedelta(days=1))
    services.send_due_probes(now=NOW)
    probe_a = test.probes.get(member=world.member_a)
    assert [p.pk for p in pending_app_probes(world.officer_a)] == [probe_a.pk]
    assert [p.pk for p in pending_app_probes(world.coordinator_a)] == [probe_a.pk]
    assert probe_a.pk not in [p.pk for p in pending_app_probes(world.officer_b)]
    assert pending_app_probes(world.secretariat) == []


def test_manual_calls(world):
    test = start(world, channels=["manual"])
    services.send_due_probes(now=NOW)
    access = resolve_access(world.secretariat, world.network)
    probe_a = test.probes.get(member=world.member_a)
    probe_b = test.probes.get(member=world.member_b)
    still = services.log_manual_call(
        world.secretariat, access, probe_a, outcome="no_answer", seconds=60
    )
    assert (still.status, still.manual_outcome) == (ProbeStatus.SENT, "no_answer")
    answered = services.log_manual_call(
        world.secretariat, access, probe_a, outcome="answered", seconds=25
    )
    assert (answered.status, answered.confirmed_via, answered.seconds_to_confirm) == (
        ProbeStatus.CONFIRMED,
        "manual",
        25,
    )
    wrong = services.log_manual_call(
        world.secretariat, access, probe_b, outcome="wrong_number", seconds=10
    )
    assert (wrong.status, wrong.failure) == (ProbeStatus.FAILED, "wrong number")
    with pytest.raises(PermissionDenied):
        services.log_manual_call(
            world.coordinator_a,
            resolve_access(world.coordinator_a, world.network),
            probe_a,
            outcome="answered",
            seconds=1,
        )


def test_a_bounce_is_a_finding(world):
    test = start(world, members=["FR"])
    services.send_due_probes(now=NOW)
    probe = services.record_delivery_failure(test.probes.get(), "550 mailbox unknown (bounce)")
    assert (probe.status, probe.failure) == (ProbeStatus.FAILED, "550 mailbox unknown (bounce)")


def test_results_are_confidential(world):
    test = start(world)
    secretariat = resolve_access(world.secretariat, world.network)
    officer_a = resolve_access(world.officer_a, world.network)
    assert visible_probes(secretariat, test).count() == 2
    assert [p.member.code for p in visible_probes(officer_a, test)] == ["FR"]
    probe_b = test.probes.get(member=world.member_b)
    from django.http import Http404

    with pytest.raises(Http404):
        get_probe(officer_a, probe_b.public_id)
    assert visible_probes(resolve_access(world.auditor, world.network), test).count() == 0


def test_the_confirmation_page_shows_the_desks_local_time(world, client):
    test = start(world, members=["FR"], ends_at=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))
    services.send_due_probes(now=NOW)
    raw = sent_token(test.probes.get())
    html = client.get(f"/p/{raw}/").content.decode()
    # 12:00 UTC is 13:00 in Paris in November.
    assert "2026-11-30 12:00 UTC (2026-11-30 13:00 Europe/Paris)" in html


def test_report_downloads_are_scoped_and_audited(world, client):
    from django.urls import reverse

    test = start(world)
    services.send_due_probes(now=NOW)

    def download(user, fmt, **data):
        client.force_login(user)
        url = reverse("reachability:report_download", args=["budapest", test.public_id, fmt])
        return client.post(url, data)

    pdf = download(world.secretariat, "pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert download(world.secretariat, "xlsx", anonymised="1").status_code == 200
    assert download(world.secretariat, "docx").status_code == 400
    # A member's people download their own member's figures, never the anonymised whole.
    assert download(world.officer_a, "pdf").status_code == 200
    assert download(world.officer_a, "pdf", anonymised="1").status_code == 403
    assert download(world.auditor, "pdf").status_code == 403
    client.force_login(world.secretariat)
    url = reverse("reachability:report_download", args=["budapest", test.public_id, "pdf"])
    assert client.get(url).status_code == 405
    assert AuditEvent.objects.filter(action="pingtest.report_export").count() == 3
