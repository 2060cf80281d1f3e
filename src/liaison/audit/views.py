"""The audit page of a network (auditor and Secretariat) and its "verify now" button."""

from __future__ import annotations

import json

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from liaison.audit.forms import EventFilterForm
from liaison.audit.queries import EventFilters, event_page, trail_status, visible_events
from liaison.audit.services import record_event
from liaison.audit.verification import verify_trail
from liaison.core.permissions import Perm
from liaison.core.views import network_view

PAGE_SIZE = 50
DETAILS_SHORT = 160


def _compact(details) -> tuple[str, bool]:
    """The details as one compact line, and whether it had to be shortened."""
    if not details:
        return "", False
    text = json.dumps(details, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)
    return text, len(text) > DETAILS_SHORT


@network_view(Perm.AUDIT_VIEW)
@require_GET
def event_list(request, access):
    form = EventFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        filters = form.filters()
        before, after = form.cleaned_data.get("before"), form.cleaned_data.get("after")
    else:
        filters, before, after = EventFilters(), None, None
    page = event_page(visible_events(access, filters), before=before, after=after, size=PAGE_SIZE)
    rows = []
    for event in page.events:
        text, long = _compact(event.details)
        rows.append({"event": event, "details": text, "long": long, "short": text[:DETAILS_SHORT]})
    # Reading the trail is itself a consultation of restricted data.
    record_event(
        request.user,
        "audit.view",
        network=access.network,
        details={
            **filters.as_details(),
            **({"before": before} if before is not None else {}),
            **({"after": after} if after is not None else {}),
        },
    )
    return render(
        request,
        "audit/list.html",
        {
            "network": access.network,
            "form": form,
            "rows": rows,
            "page": page,
            "paged": before is not None or after is not None,
            "filtered": bool(filters.as_details()),
            "status": trail_status(),
        },
    )


@network_view(Perm.AUDIT_VIEW)
@require_POST
def verify(request, access):
    result = verify_trail()
    with transaction.atomic():
        record_event(
            request.user,
            "audit.verify",
            network=access.network,
            details={
                "ok": result.ok,
                "events": result.events,
                "checkpoints": result.checkpoints,
                "first_bad_seq": result.first_bad_seq,
                "problem": result.problem,
                "root": result.root_hash,
            },
        )
    if result.ok:
        messages.success(
            request,
            _(
                "Audit trail intact: %(events)s events, %(checkpoints)s signed checkpoints, "
                "root %(root)s."
            )
            % {
                "events": result.events,
                "checkpoints": result.checkpoints,
                "root": result.root_hash[:16] + "…",
            },
        )
    else:
        messages.error(
            request,
            _("Audit trail BROKEN: %(problem)s.") % {"problem": result.problem},
        )
    return redirect("audit:list", access.network.slug)
