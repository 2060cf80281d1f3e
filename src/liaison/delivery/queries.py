"""Reads of the outbox, scoped to what the acting user may see.

Only the Secretariat reads a network's deliveries (recipients' addresses, subjects, failures).
Bodies are never read here: the list selects named columns, and `body_text` is not one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import Http404

from liaison.core.permissions import NetworkAccess, Perm
from liaison.delivery.models import STATE_FILTERS, Delivery, DeliveryState

PAGE_SIZE = 50

# What the page shows: everything but the body.
LIST_COLUMNS = (
    "id",
    "public_id",
    "kind",
    "recipient",
    "subject",
    "status",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
    "network_id",
)

# Rows needing attention first: not delivered, then failing, then the rest.
ATTENTION_ORDER = (
    DeliveryState.DEAD,
    DeliveryState.RETRYING,
    DeliveryState.SENDING,
    DeliveryState.PENDING,
    DeliveryState.SENT,
)


@dataclass(frozen=True)
class DeliveryFilters:
    state: str = ""  # a DeliveryState value
    kind: str = ""

    def as_details(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[Delivery]
    number: int
    has_next: bool


def _network_rows(access: NetworkAccess) -> QuerySet[Delivery]:
    if not access.has(Perm.DELIVERIES_VIEW):
        return Delivery.objects.none()
    return Delivery.objects.filter(network=access.network)


def visible_deliveries(
    access: NetworkAccess, filters: DeliveryFilters | None = None
) -> QuerySet[Delivery]:
    """The network's outbox rows (without their bodies), those needing attention first."""
    f = filters or DeliveryFilters()
    qs = _network_rows(access)
    if f.state:
        qs = qs.filter(STATE_FILTERS[f.state])
    if f.kind:
        qs = qs.filter(kind=f.kind)
    attention = Case(
        *(When(STATE_FILTERS[state], then=Value(i)) for i, state in enumerate(ATTENTION_ORDER)),
        output_field=IntegerField(),
    )
    return (
        qs.only(*LIST_COLUMNS)
        .annotate(attention=attention)
        .order_by("attention", "-created_at", "-id")
    )


def delivery_page(rows: QuerySet[Delivery], number: int = 1, size: int = PAGE_SIZE) -> DeliveryPage:
    """One page: one query, whatever the page size (one row more tells if there is a next)."""
    number = max(number, 1)
    start = (number - 1) * size
    chunk = list(rows[start : start + size + 1])
    return DeliveryPage(rows=chunk[:size], number=number, has_next=len(chunk) > size)


def state_counts(access: NetworkAccess) -> dict[str, int]:
    """How many of the network's rows are in each state: one query."""
    totals = _network_rows(access).aggregate(
        **{state.value: Count("id", filter=STATE_FILTERS[state]) for state in DeliveryState}
    )
    return {state.value: totals[state.value] or 0 for state in DeliveryState}


def kinds(access: NetworkAccess) -> list[str]:
    """The kinds of message the network's outbox holds (for the filter)."""
    # order_by: the model's default ordering would otherwise join the DISTINCT.
    return list(_network_rows(access).order_by("kind").values_list("kind", flat=True).distinct())


def dead_count(access: NetworkAccess) -> int:
    """Messages of the network that could not be delivered (the navigation's badge)."""
    return _network_rows(access).filter(STATE_FILTERS[DeliveryState.DEAD]).count()


def get_delivery(access: NetworkAccess, public_id: str) -> Delivery:
    """One row of the network's outbox, without its body; Http404 otherwise."""
    row = _network_rows(access).only(*LIST_COLUMNS).filter(public_id=public_id).first()
    if row is None:
        raise Http404
    return row
