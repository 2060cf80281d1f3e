"""Outbox rows for tests that need one in a given state (the services write them otherwise)."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from liaison.core.ids import new_public_id
from liaison.delivery.models import Delivery, DeliveryStatus


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    public_id = factory.LazyFunction(lambda: new_public_id("dl"))
    recipient = factory.Sequence(lambda n: f"person{n}@agency.example")
    subject = "A change in your network"
    body_text = "Something changed; open Liaison to see it."
    kind = "test.notice"
    status = DeliveryStatus.PENDING
    next_attempt_at = factory.LazyFunction(timezone.now)
    message_id = factory.LazyAttribute(lambda o: f"<{o.public_id}@liaison>")

    class Params:
        dead = factory.Trait(
            status=DeliveryStatus.DEAD,
            attempts=8,
            last_error="SMTPRecipientsRefused [550]",
        )
        retrying = factory.Trait(
            attempts=2,
            last_error="SMTPDataError 451: Simulated failure",
            next_attempt_at=factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1)),
        )
        sent = factory.Trait(
            status=DeliveryStatus.SENT,
            attempts=1,
            body_text="",
            sent_at=factory.LazyFunction(timezone.now),
        )
