"""Tasks of the reachability app. They only wake workers: the probe rows are the source of truth."""

from __future__ import annotations

from django_tasks import task


@task()
def send_probes_now() -> int:
    """Queue the probes that are due now (a test just started) rather than at the next sweep."""
    from liaison.reachability.services import send_all_due_probes

    return send_all_due_probes()
