"""The Secretariat's Deliveries page: the network's outbox, its failures, and "retry now".

It shows recipients, subjects and outcomes — never a message's body (an invitation's body holds
its single-use link).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.delivery import queries, services
from liaison.delivery.forms import DeliveryFilterForm
from liaison.delivery.kinds import kind_label
from liaison.delivery.models import DeliveryState, DeliveryStatus
from liaison.delivery.templatetags.delivery_tags import remember_dead_count

BADGES = {
    DeliveryState.PENDING: "",
    DeliveryState.SENDING: "",
    DeliveryState.RETRYING: "badge-warn",
    DeliveryState.SENT: "badge-ok",
    DeliveryState.DEAD: "badge-bad",
}
ROW_CLASSES = {DeliveryState.DEAD: "row-bad", DeliveryState.RETRYING: "row-warn"}


def _may_retry(row, now) -> bool:
    return row.status == DeliveryStatus.DEAD or (
        row.status == DeliveryStatus.PENDING and row.next_attempt_at > now
    )


@network_view(Perm.DELIVERIES_VIEW)
@require_GET
def delivery_list(request, access):
    form = DeliveryFilterForm(request.GET or None, kinds=queries.kinds(access))
    counts = queries.state_counts(access)
    remember_dead_count(request, counts[DeliveryState.DEAD])
    valid = not form.is_bound or form.is_valid()
    if valid:
        filters = form.filters() if form.is_bound else queries.DeliveryFilters()
        number = form.page_number() if form.is_bound else 1
        page = queries.delivery_page(queries.visible_deliveries(access, filters), number)
    else:
        filters, page = queries.DeliveryFilters(), queries.DeliveryPage([], 1, has_next=False)
    now = timezone.now()
    rows = []
    for row in page.rows:
        state = row.state
        rows.append(
            {
                "delivery": row,
                "kind": kind_label(row.kind),
                "state": state,
                "badge": BADGES[state],
                "row_class": ROW_CLASSES.get(state, ""),
                "waiting": row.status == DeliveryStatus.PENDING,
                "due": row.status == DeliveryStatus.PENDING and row.next_attempt_at <= now,
                "may_retry": _may_retry(row, now),
            }
        )
    if page.rows:
        # The page shows recipients' addresses: reading it is a consultation.
        record_event(
            request.user,
            "delivery.list",
            network=access.network,
            details={**filters.as_details(), "page": page.number, "rows": len(page.rows)},
        )
    keep = {**filters.as_details(), **({"page": page.number} if page.number > 1 else {})}
    return render(
        request,
        "delivery/list.html",
        {
            "network": access.network,
            "form": form,
            "rows": rows,
            "page": page,
            "counts": [
                {"state": s, "label": s.label, "count": counts[s], "badge": BADGES[s]}
                for s in DeliveryState
            ],
            "dead": counts[DeliveryState.DEAD],
            "retrying": counts[DeliveryState.RETRYING],
            "filtered": bool(filters.as_details()) or not valid,
            "keep": keep,
        },
        status=200 if valid else 400,
    )


@network_view(Perm.DELIVERIES_VIEW)
@require_POST
def delivery_retry(request, access, public_id: str):
    delivery = queries.get_delivery(access, public_id)
    try:
        services.retry_delivery(request.user, access, delivery)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The message to %(recipient)s will be sent again within seconds.")
            % {"recipient": delivery.recipient},
        )
    # Back to the same filters and page; only known, validated parameters are carried.
    form = DeliveryFilterForm(request.POST, kinds=queries.kinds(access))
    url = reverse("delivery:list", args=[access.network.slug])
    if form.is_valid():
        keep = {
            **form.filters().as_details(),
            **({"page": form.page_number()} if form.page_number() > 1 else {}),
        }
        if keep:
            url += "?" + urlencode(keep)
    return redirect(url)
