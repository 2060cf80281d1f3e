"""Human names of the kinds of outbox rows, for the Deliveries page and the command line.

A caller of `enqueue_email` / `notify_people` passes a `kind` code ("account.invitation"); add
its label here. An unknown code is shown as it is, so a missing label never hides a row.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

INVITATION = "account.invitation"

KIND_LABELS = {
    INVITATION: _("Invitation"),
    "directory.edition.published": _("New directory edition"),
    "directory.review_reminder": _("Review reminder"),
    "reachability.probe": _("Reachability test"),
    "reachability.reminder": _("Reachability test reminder"),
    "reachability.escalation": _("Reachability test escalation"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))
