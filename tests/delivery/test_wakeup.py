"""A transaction that queues many e-mails wakes a worker once."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from liaison.delivery.services import enqueue_email

# Real commits: only they clear a transaction's callbacks.
pytestmark = pytest.mark.django_db(transaction=True)


def queue(n: int) -> None:
    for i in range(n):
        enqueue_email(to=f"x{i}@example.org", subject="s", body="b", kind="test.notice")


def wake_ups() -> int:
    return DBTaskResult.objects.filter(task_path__endswith="wake_delivery_worker").count()


def test_fifty_e_mails_in_one_transaction_enqueue_one_wake_up():
    with transaction.atomic():
        queue(50)
    assert wake_ups() == 1
    with transaction.atomic():
        queue(2)
    assert wake_ups() == 2  # the next transaction wakes a worker again


def test_a_rolled_back_savepoint_does_not_swallow_the_wake_up():
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
            queue(1)  # registers the wake-up inside the savepoint...
            raise RuntimeError  # ...which is rolled back with its callback
        queue(1)  # so this e-mail registers its own
    assert wake_ups() == 1
