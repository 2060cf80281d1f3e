"""notify_people: one e-mail per person, for the notices other apps send (editions, reminders)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import translation

from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due, notify_people
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_one_mail_per_active_person_with_an_address(world, mail):
    inactive = UserFactory(email="left@fr.example", is_active=False)
    no_address = UserFactory(email="")
    people = [world.officer_a, world.coordinator_a, world.officer_a, inactive, no_address]
    with transaction.atomic():
        rows = notify_people(
            users=people,
            subject="Edition 13 of the directory",
            body="Edition 13 is published: open Liaison to see it.",
            kind="directory.edition.published",
            network=world.network,
            obj=world.network,
        )
    assert sorted(r.recipient for r in rows) == ["coord@fr.example", "officer@fr.example"]
    stored = Delivery.objects.order_by("recipient")
    assert [d.recipient for d in stored] == ["coord@fr.example", "officer@fr.example"]
    assert {d.public_id for d in stored} == {r.public_id for r in rows}
    assert all(d.related_id == world.network.public_id for d in stored)
    assert all(d.message_id == f"<{d.public_id}@liaison>" for d in stored)
    assert deliver_due("w1") == 2
    received = mail.wait_for(2)
    assert sorted(r.rcpt_tos[0] for r in received) == ["coord@fr.example", "officer@fr.example"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_texts_may_depend_on_the_person(world):
    world.officer_a.language = "fr"

    def subject(user):
        with translation.override(user.language):
            return f"[{user.language}] Nouvelle édition" if user.language == "fr" else "New"

    with transaction.atomic():
        notify_people(
            users=[world.officer_a, world.officer_b],
            subject=subject,
            body=lambda user: f"Hello {user.get_short_name()}",
            kind="test.notice",
            network=world.network,
        )
    subjects = dict(Delivery.objects.values_list("recipient", "subject"))
    assert subjects == {"officer@fr.example": "[fr] Nouvelle édition", "officer@de.example": "New"}


def test_a_rolled_back_change_notifies_nobody(world):
    class Abort(Exception):
        pass

    def publish_then_fail():
        with transaction.atomic():
            notify_people(users=[world.officer_a], subject="s", body="b", kind="test.notice")
            raise Abort

    with pytest.raises(Abort):
        publish_then_fail()
    assert Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_is_refused(world):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        notify_people(users=[world.officer_a], subject="s", body="b", kind="test.notice")
    assert Delivery.objects.count() == 0


def test_nobody_to_notify_writes_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        assert notify_people(users=[], subject="s", body="b", kind="test.notice") == []
    assert callbacks == []
