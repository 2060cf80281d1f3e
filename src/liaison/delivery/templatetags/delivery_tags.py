"""`{% dead_deliveries access as n %}`: the navigation's "not delivered" count for the Secretariat.

One indexed COUNT on pages of a network, for those who may see the outbox only; the Deliveries
page hands over the figure it already has, so it costs nothing there.
"""

from __future__ import annotations

from django import template

from liaison.core.permissions import Perm

register = template.Library()

_ATTR = "_liaison_dead_deliveries"


def remember_dead_count(request, count: int) -> None:
    setattr(request, _ATTR, count)


@register.simple_tag(takes_context=True)
def dead_deliveries(context, access) -> int:
    if access is None or not access.has(Perm.DELIVERIES_VIEW):
        return 0
    request = context.get("request")
    count = getattr(request, _ATTR, None)
    if count is None:
        from liaison.delivery.queries import dead_count

        count = dead_count(access)
        if request is not None:
            remember_dead_count(request, count)
    return count
