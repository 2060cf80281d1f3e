"""The hot paths of a large test cost a fixed number of statements, whatever its size.

A ping test of 10,000 desks is sent in batches and confirmed one probe at a time (bench/pingtest.py
gives the figures). These ceilings keep them from sliding back to one statement per probe in a
batch, or to many per confirmation; they count statements, never time.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from liaison.audit.verification import verify_trail
from liaison.directory.models import ContactPoint, Layer
from liaison.networks.queries import resolve_access
from liaison.reachability import services
from liaison.reachability.models import Probe, ProbeStatus
from tests.factories import ChannelFactory, PublishedContactPointFactory
from tests.reachability.test_services import sent_token

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def desks(world, count: int) -> None:
    for _ in range(count):
        cp = PublishedContactPointFactory(network=world.network, member=world.member_a)
        ChannelFactory(contact_point=cp)


def start(world, channels=("email",)):
    access = resolve_access(world.secretariat, world.network)
    return services.start_ping_test(
        world.secretariat, access, channels=list(channels), now=NOW, rng=random.Random(2)
    )


def statements_to_send(world) -> int:
    start(world)
    with CaptureQueriesContext(connection) as queries:
        services.send_due_probes(now=NOW)
    return len(queries)


def test_sending_a_batch_costs_the_same_statements_for_2_or_40_probes(world):
    small = statements_to_send(world)
    Probe.objects.all().delete()
    desks(world, 38)
    large = statements_to_send(world)
    assert Probe.objects.filter(status=ProbeStatus.SENT).count() == 40
    assert large == small, (small, large)
    assert small <= 12


def test_a_probe_without_address_fails_in_the_same_batch(world):
    cp = PublishedContactPointFactory(network=world.network, member=world.member_b)  # no channel
    test = start(world)
    services.send_due_probes(now=NOW)
    statuses = dict(test.probes.values_list("contact_point_id", "status"))
    assert statuses[cp.public_id] == ProbeStatus.FAILED
    assert test.probes.get(contact_point_id=cp.public_id).failure == "no e-mail channel"
    assert sorted(statuses.values()).count(ProbeStatus.SENT) == 2


def test_a_confirmation_is_a_handful_of_statements(world):
    desks(world, 5)
    test = start(world)
    services.send_due_probes(now=NOW)
    probes = list(test.probes.order_by("id"))
    later = NOW + dt.timedelta(minutes=3)
    counts = []
    for probe in probes:
        raw = sent_token(probe)
        with CaptureQueriesContext(connection) as queries:
            confirmed = services.confirm_probe_by_token(raw, via="link", now=later)
        counts.append(len(queries))
        assert confirmed.status == ProbeStatus.CONFIRMED
        assert confirmed.seconds_to_confirm == 180
    assert len(set(counts)) == 1, counts
    assert counts[0] <= 8, counts
    reached = ContactPoint.objects.filter(
        public_id__in=[p.contact_point_id for p in probes], last_reachable_at=later
    )
    assert reached.filter(layer=Layer.PUBLISHED).count() == len(probes)
    assert verify_trail().ok


def test_the_worker_queues_every_due_probe_in_one_round_batch_after_batch(world):
    desks(world, 3)
    access = resolve_access(world.secretariat, world.network)
    test = services.start_ping_test(world.secretariat, access, channels=["email"])
    # Everything is due now: batches of 2 for 5 probes, all in one call.
    assert services.send_all_due_probes(limit=2) == 5
    assert set(test.probes.values_list("status", flat=True)) == {ProbeStatus.SENT}
    assert services.send_all_due_probes(limit=2) == 0


def test_a_test_starting_now_wakes_a_worker(world, django_capture_on_commit_callbacks):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    access = resolve_access(world.secretariat, world.network)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_ping_test(world.secretariat, access, channels=["email"])
    woken = DBTaskResult.objects.filter(task_path__endswith="send_probes_now")
    assert woken.count() == 1
    later = timezone.now() + dt.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_ping_test(
            world.secretariat, access, channels=["email"], timing="at", starts_at=later
        )
    assert woken.count() == 1  # a test starting tomorrow is left to the periodic sweep
