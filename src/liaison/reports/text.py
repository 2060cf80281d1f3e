"""Labels of the figures and the plain-text report, worded like the Secretariat's slides."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

STATUS_LABELS = {
    "party": gettext_lazy("Parties"),
    "observer": gettext_lazy("Observers"),
    "non_party": gettext_lazy("Non-parties"),
}
KIND_LABELS = {
    "state": gettext_lazy("States"),
    "organisation": gettext_lazy("International organisations"),
}
TYPE_LABELS = {
    "police": gettext_lazy("Police"),
    "security_service": gettext_lazy("Security services"),
    "prosecution": gettext_lazy("Prosecution"),
    "ministry_of_justice": gettext_lazy("Ministry of Justice"),
    "cybersecurity": gettext_lazy("Cybersecurity"),
    "other": gettext_lazy("Other"),
}


def labelled(counts: dict[str, int], labels: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(key, label, count) in the contract's order; keys without a label keep their name."""
    return [(key, str(labels.get(key, key)), value) for key, value in counts.items()]


def stats_as_text(stats: dict[str, Any], *, network_name: str = "") -> str:
    """The figures as "label: value" lines, one section per table of the Secretariat's slides."""
    members = stats["members"]
    cps = stats["contact_points"]
    title = f"{network_name} ({stats['network']})" if network_name else stats["network"]
    lines = [title, ""]
    lines.append(f"{_('Members')}: {members['total']}")
    lines += [f"  {label}: {n}" for _k, label, n in labelled(members["by_status"], STATUS_LABELS)]
    lines += [f"  {label}: {n}" for _k, label, n in labelled(members["by_kind"], KIND_LABELS)]
    lines.append("")
    lines.append(_("Contact points established"))
    lines.append(f"  {_('Parties with contact points')}: {stats['parties_with_contact_points']}")
    lines.append(
        f"  {_('Parties with more than 1 contact point')}: "
        f"{stats['parties_with_multiple_contact_points']}"
    )
    lines.append(f"  {_('Members with contact points')}: {stats['members_with_contact_points']}")
    lines.append(
        f"  {_('Members with more than 1 contact point')}: "
        f"{stats['members_with_multiple_contact_points']}"
    )
    lines.append("")
    lines.append(f"{_('Types of contact point')}: {cps['total']}")
    lines += [f"  {label}: {n}" for _k, label, n in labelled(cps["by_type"], TYPE_LABELS)]
    if "stale_contact_points" in stats:
        lines.append("")
        lines.append(_("Review of entries"))
        lines.append(f"  {_('Stale (review date passed)')}: {stats['stale_contact_points']}")
        lines.append(f"  {_('Review due within 30 days')}: {stats['review_due_30_days']}")
    return "\n".join(lines)
