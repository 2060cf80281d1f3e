"""`{% pending_probes as probes %}`: the in-app banner of base.html ("please confirm that
<institution> received this"), for the officers and coordinators whose member has a probe
waiting for a confirmation in Liaison.

Cheap on every page: no query for anonymous people; for people signed in, whether they act for
a member at all (officer or coordinator somewhere) is remembered in the session, so that the
Secretariat, auditors and the like cost nothing after their first page (and one query every
RECHECK_SECONDS); officers and coordinators cost one query a page (queries.pending_app_probes),
two on their first page.
"""

from __future__ import annotations

import time

from django import template

from liaison.core.permissions import MEMBER_ROLES

register = template.Library()

SESSION_KEY = "liaison_acts_for_member"
RECHECK_SECONDS = 300  # a role given during the session shows its probes within this delay
_ATTR = "_liaison_pending_probes"


def _acts_for_a_member(request) -> bool:
    """Whether the user is an officer or a coordinator of some member, in any network.

    "Yes" is remembered for the session: pending_app_probes filters by the current roles
    anyway, so a role revoked meanwhile shows nothing. "No" is checked again after
    RECHECK_SECONDS, so that a role given during the session is not missed for long.
    """
    session = getattr(request, "session", None)
    remembered = session.get(SESSION_KEY) if session is not None else None
    if remembered is True:
        return True
    access = getattr(request, "access", None)
    now = int(time.time())
    if access is not None and access.member_ids:
        acts = True  # known on this network's pages without a query
    elif isinstance(remembered, int) and now - remembered < RECHECK_SECONDS:
        return False
    else:
        from liaison.networks.models import RoleAssignment

        acts = RoleAssignment.objects.filter(
            user=request.user, role__in=list(MEMBER_ROLES), member__isnull=False
        ).exists()
    if session is not None:
        session[SESSION_KEY] = True if acts else now  # "no" carries when it was checked
    return acts


@register.simple_tag(takes_context=True)
def pending_probes(context) -> list:
    request = context.get("request")
    if request is None:
        return []
    cached = getattr(request, _ATTR, None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    probes: list = []
    if user is not None and user.is_authenticated and _acts_for_a_member(request):
        from liaison.reachability.queries import pending_app_probes

        probes = pending_app_probes(user)
    setattr(request, _ATTR, probes)
    return probes
