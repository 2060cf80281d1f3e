"""The Secretariat's Deliveries page: who may see it, what it shows (never a body), its filters,
its cost, "retry now", and failures made visible (page, banner, navigation badge)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from liaison.audit.models import AuditEvent
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, enqueue_email, retry_delivery
from liaison.networks.queries import resolve_access
from tests.delivery.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

SECRET = "https://liaison.example/invitations/s3cr3t-t0ken/"


def url(slug="budapest"):
    return reverse("delivery:list", args=[slug])


def retry_url(delivery, slug="budapest"):
    return reverse("delivery:retry", args=[slug, delivery.public_id])


def listed(response) -> list[str]:
    """The recipients of the rows shown, in order."""
    return re.findall(r'class="recipient">([^<]+)<', response.content.decode())


# --- who may see it --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("secretariat", 200),
        ("auditor", 403),
        ("coordinator_a", 403),
        ("officer_a", 403),
        ("coordinator_b", 403),
        ("officer_b", 403),
        ("outsider", 404),
    ],
)
def test_only_the_secretariat_sees_the_page(client, world, who, status):
    dead = DeliveryFactory(network=world.network, dead=True)
    client.force_login(getattr(world, who))
    assert client.get(url()).status_code == status
    response = client.post(retry_url(dead))
    assert response.status_code == (302 if who == "secretariat" else status)
    dead.refresh_from_db()
    assert (dead.status == DeliveryStatus.PENDING) == (who == "secretariat")


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(url())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_another_networks_rows_are_neither_listed_nor_retryable(client, world):
    theirs = DeliveryFactory(network=world.other_network, dead=True, recipient="x@it.example")
    DeliveryFactory(network=None, dead=True, recipient="system@liaison.example")
    client.force_login(world.secretariat)
    html = client.get(url()).content.decode()
    assert "x@it.example" not in html
    assert "system@liaison.example" not in html
    assert client.post(retry_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == DeliveryStatus.DEAD
    # The other network's page is not this Secretariat's either.
    assert client.get(url("other")).status_code == 404


def test_the_service_refuses_without_the_right(world):
    dead = DeliveryFactory(network=world.network, dead=True)
    for who in ("coordinator_a", "officer_a", "auditor"):
        user = getattr(world, who)
        with pytest.raises(PermissionDenied):
            retry_delivery(user, resolve_access(user, world.network), dead)
    other_access = resolve_access(world.outsider, world.other_network)
    with pytest.raises(PermissionDenied):
        retry_delivery(world.outsider, other_access, dead)
    dead.refresh_from_db()
    assert dead.status == DeliveryStatus.DEAD


# --- what it shows ---------------------------------------------------------------------------


def test_page_shows_the_outbox_without_bodies_and_is_audited(client, world):
    DeliveryFactory(
        network=world.network,
        kind="account.invitation",
        recipient="new@fr.example",
        subject="[Liaison] Invitation to Budapest 24/7 Network",
        body_text=f"Open {SECRET}",
    )
    DeliveryFactory(network=world.network, sent=True, recipient="done@de.example")
    DeliveryFactory(network=world.network, retrying=True, recipient="flaky@fr.example")
    DeliveryFactory(network=world.network, dead=True, recipient="nobody@de.example")
    client.force_login(world.secretariat)
    response = client.get(url())
    assert response.status_code == 200
    html = response.content.decode()
    assert SECRET not in html
    assert "s3cr3t" not in html
    assert "Invitation to Budapest 24/7 Network" in html
    assert ">Invitation<" in html  # the kind's human name
    assert "1 message could not be delivered." in html
    assert "1 message failed and will be retried automatically." in html
    assert "SMTPRecipientsRefused [550]" in html
    assert "SMTPDataError 451" in html
    assert "8/8" in html
    # Those needing attention come first: not delivered, failing, then the rest, newest first.
    assert listed(response) == [
        "nobody@de.example",
        "flaky@fr.example",
        "new@fr.example",
        "done@de.example",
    ]
    assert 'class="row-bad"' in html
    assert 'class="row-warn"' in html
    # "Retry now" on the dead and the waiting row only.
    assert html.count("Retry now</button>") == 2
    (event,) = AuditEvent.objects.filter(action="delivery.list")
    assert event.actor == world.secretariat
    assert event.network_slug == "budapest"
    assert event.details == {"page": 1, "rows": 4}


def test_counts_per_status(client, world):
    DeliveryFactory.create_batch(3, network=world.network)
    DeliveryFactory.create_batch(2, network=world.network, sent=True)
    DeliveryFactory(network=world.network, dead=True)
    DeliveryFactory(network=world.other_network, dead=True)
    client.force_login(world.secretariat)
    html = client.get(url()).content.decode()
    for label, count in [("Pending", 3), ("Sent", 2), ("Not delivered", 1), ("Sending", 0)]:
        assert f"{label}: <strong>{count}</strong>" in html, label


def test_filters_by_status_and_kind(client, world):
    DeliveryFactory(network=world.network, kind="account.invitation", recipient="i@x.example")
    DeliveryFactory(network=world.network, kind="test.notice", recipient="n@x.example")
    DeliveryFactory(network=world.network, kind="test.notice", dead=True, recipient="d@x.example")
    client.force_login(world.secretariat)
    assert listed(client.get(url(), {"state": "dead"})) == ["d@x.example"]
    assert listed(client.get(url(), {"kind": "account.invitation"})) == ["i@x.example"]
    assert listed(client.get(url(), {"state": "pending", "kind": "test.notice"})) == ["n@x.example"]
    assert listed(client.get(url(), {"state": "sent"})) == []
    details = AuditEvent.objects.filter(action="delivery.list").values_list("details", flat=True)
    assert {"state": "dead", "page": 1, "rows": 1} in list(details)


def test_bad_filters_say_what_is_wrong(client, world):
    DeliveryFactory(network=world.network)
    client.force_login(world.secretariat)
    response = client.get(url(), {"state": "lost"})
    assert response.status_code == 400
    assert "Select a valid choice. lost is not one of the available choices." in (
        response.content.decode()
    )
    assert listed(response) == []
    response = client.get(url(), {"kind": "nope"})
    assert response.status_code == 400
    response = client.get(url(), {"page": "0"})
    assert response.status_code == 400


def test_pages_of_fifty(client, world):
    for i in range(55):
        DeliveryFactory(network=world.network, recipient=f"p{i:02d}@x.example")
    client.force_login(world.secretariat)
    first = client.get(url())
    assert len(listed(first)) == 50
    assert 'rel="next"' in first.content.decode()
    second = client.get(url(), {"page": 2})
    assert len(listed(second)) == 5
    assert set(listed(first)).isdisjoint(listed(second))
    assert 'rel="prev"' in second.content.decode()
    assert listed(client.get(url(), {"page": 9})) == []


def test_query_count_does_not_grow_with_rows(client, world):
    def make(n):
        for i in range(n):
            trait = ("dead", "retrying", "sent", None)[i % 4]
            DeliveryFactory(network=world.network, **({trait: True} if trait else {}))

    client.force_login(world.secretariat)
    make(5)
    client.get(url())  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url()).status_code == 200
    make(55)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url())
    assert len(listed(response)) == 50
    assert len(many.captured_queries) == len(few.captured_queries)
    # Measured: session, user, access, kinds, counts, the page, and the audit event (savepoint,
    # head, insert, head, release) = 11; the navigation's badge reuses the page's count.
    assert len(many.captured_queries) <= 11, [q["sql"][:150] for q in many.captured_queries]
    assert not any("body_text" in q["sql"] for q in many.captured_queries)


# --- failures are visible --------------------------------------------------------------------


def test_nav_badge_for_the_secretariat_only(client, world):
    people = reverse("accounts:people", args=["budapest"])
    client.force_login(world.secretariat)
    html = client.get(people).content.decode()
    assert reverse("delivery:list", args=["budapest"]) in html
    assert "not delivered" not in html
    DeliveryFactory.create_batch(2, network=world.network, dead=True)
    DeliveryFactory(network=world.other_network, dead=True)
    html = client.get(people).content.decode()
    assert "2 not delivered" in html
    client.force_login(world.coordinator_a)
    html = client.get(people).content.decode()
    assert reverse("delivery:list", args=["budapest"]) not in html
    assert "not delivered" not in html


def test_smtp_down_shows_the_failing_row_with_its_error(client, world, mail, caplog):
    with transaction.atomic():
        enqueue_email(
            to="officer@fr.example",
            subject="New edition",
            body=f"See {SECRET}",
            kind="test.notice",
            network=world.network,
        )
    mail.fail_with = 451
    with caplog.at_level("DEBUG"):
        assert deliver_due("w1") == 1
    assert SECRET not in caplog.text
    client.force_login(world.secretariat)
    html = client.get(url()).content.decode()
    assert "Failed, will retry" in html
    assert "SMTPDataError 451" in html
    assert "1 message failed and will be retried automatically." in html
    assert SECRET not in html
    # Then it runs out of attempts: not delivered, in the banner and the navigation.
    Delivery.objects.update(max_attempts=2, next_attempt_at=timezone.now())
    assert deliver_due("w1") == 1
    html = client.get(url()).content.decode()
    assert "1 message could not be delivered." in html
    assert "1 not delivered" in html
    assert mail.messages == []


# --- retry now -------------------------------------------------------------------------------


def test_retry_a_dead_delivery_then_it_is_delivered_over_smtp(client, world, mail):
    with transaction.atomic():
        delivery = enqueue_email(
            to="officer@fr.example",
            subject="New edition",
            body="A new edition is out.",
            kind="test.notice",
            network=world.network,
        )
    mail.fail_with = 550  # refused: dead at once
    assert deliver_due("w1") == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD

    mail.fail_with = None  # the cause is fixed
    client.force_login(world.secretariat)
    response = client.post(retry_url(delivery), {"state": "dead"})
    assert response.status_code == 302
    assert response["Location"] == url() + "?state=dead"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert delivery.next_attempt_at <= timezone.now()
    assert "550" in delivery.last_error  # until the next outcome
    (event,) = AuditEvent.objects.filter(action="delivery.retry")
    assert event.actor == world.secretariat
    assert event.object_id == delivery.public_id
    assert event.details["previous"]["status"] == "dead"
    assert "will be sent again" in client.get(url()).content.decode()

    assert deliver_due("w1") == 1
    (received,) = mail.wait_for(1)
    assert received.message["Message-ID"] == delivery.message_id
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.last_error == ""
    assert delivery.body_text == ""
    assert deliver_due("w1") == 0
    assert len(mail.messages) == 1


def test_retry_a_waiting_delivery_makes_it_due_and_keeps_its_attempts(client, world):
    waiting = DeliveryFactory(network=world.network, retrying=True)
    client.force_login(world.secretariat)
    assert client.post(retry_url(waiting)).status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.attempts == 2
    assert waiting.next_attempt_at <= timezone.now()


@pytest.mark.parametrize(
    ("traits", "message"),
    [
        ({"sent": True}, "already been delivered"),
        ({}, "already due"),
        (
            {
                "status": DeliveryStatus.SENDING,
                "lease_expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            },
            "being sent right now",
        ),
    ],
)
def test_retry_refused_with_a_reason(client, world, traits, message):
    delivery = DeliveryFactory(network=world.network, **traits)
    before = Delivery.objects.values().get(pk=delivery.pk)
    client.force_login(world.secretariat)
    response = client.post(retry_url(delivery), follow=True)
    assert message in response.content.decode()
    assert Delivery.objects.values().get(pk=delivery.pk) == before
    assert not AuditEvent.objects.filter(action="delivery.retry").exists()


def test_retry_is_post_only(client, world):
    dead = DeliveryFactory(network=world.network, dead=True)
    client.force_login(world.secretariat)
    assert client.get(retry_url(dead)).status_code == 405
    assert client.post(reverse("delivery:retry", args=["budapest", "dl_unknown"])).status_code == (
        404
    )
