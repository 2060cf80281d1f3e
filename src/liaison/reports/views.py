"""The statistics page: the Secretariat's tables and charts for one network."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _

from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.reports.charts import bar_chart
from liaison.reports.queries import consult_network_stats
from liaison.reports.text import KIND_LABELS, STATUS_LABELS, TYPE_LABELS, labelled


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}\u00a0%" if whole else "-"


@network_view(Perm.STATS_VIEW)
def stats(request, access):
    figures = consult_network_stats(request.user, access)
    members = figures["members"]
    cps = figures["contact_points"]
    by_status = labelled(members["by_status"], STATUS_LABELS)
    by_kind = labelled(members["by_kind"], KIND_LABELS)
    by_type = labelled(cps["by_type"], TYPE_LABELS)
    parties = members["by_status"]["party"]
    established = [
        (
            _("Parties with contact points"),
            figures["parties_with_contact_points"],
            _share(figures["parties_with_contact_points"], parties),
        ),
        (
            _("Parties with more than 1 contact point"),
            figures["parties_with_multiple_contact_points"],
            _share(figures["parties_with_multiple_contact_points"], parties),
        ),
        (
            _("Members with contact points"),
            figures["members_with_contact_points"],
            _share(figures["members_with_contact_points"], members["total"]),
        ),
        (
            _("Members with more than 1 contact point"),
            figures["members_with_multiple_contact_points"],
            _share(figures["members_with_multiple_contact_points"], members["total"]),
        ),
    ]
    review = [
        (
            _("Stale (review date passed)"),
            figures["stale_contact_points"],
            _share(figures["stale_contact_points"], cps["total"]),
        ),
        (
            _("Review due within 30 days"),
            figures["review_due_30_days"],
            _share(figures["review_due_30_days"], cps["total"]),
        ),
    ]
    context = {
        "network": access.network,
        "review": review,
        # The auditor sees the figures, not the directory they point to.
        "review_link": access.has(Perm.DIRECTORY_VIEW)
        and bool(figures["stale_contact_points"] or figures["review_due_30_days"]),
        "figures": figures,
        "by_status": [(label, n, _share(n, members["total"])) for _k, label, n in by_status],
        "by_kind": [(label, n, _share(n, members["total"])) for _k, label, n in by_kind],
        "by_type": [(label, n, _share(n, cps["total"])) for _k, label, n in by_type],
        "established": established,
        "status_chart": bar_chart(
            "chart-status",
            _("Members by status"),
            [(label, n) for _k, label, n in by_status],
        ),
        "type_chart": bar_chart(
            "chart-type",
            _("Contact points by type"),
            [(label, n) for _k, label, n in by_type],
        ),
    }
    return render(request, "reports/stats.html", context)
