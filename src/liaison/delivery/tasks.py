"""Tasks of the delivery app. They only wake workers: the outbox rows are the source of truth."""

from __future__ import annotations

from django_tasks import task


@task()
def wake_delivery_worker() -> int:
    """Send what is due now rather than at the next sweep; the sweep finds it anyway."""
    from liaison.delivery.services import deliver_due

    return deliver_due()
