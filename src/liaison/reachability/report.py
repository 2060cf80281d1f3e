"""The figures of a ping test: what the Secretariat reports, what a member sees of its own.

`compute_report(ping_test, probes)` is pure arithmetic over probe rows (Probe objects, or any
objects with the same attributes — the tests build them by hand); `report_for(access, test)`
and `consult_report(...)` compute it over `queries.visible_probes`, so a coordinator's report
covers its own member only.

Definitions (the report's "percentile_method" key names the method used):
- **acknowledged** = probes whose status is `confirmed`: a deliberate act (a button pressed, a
  reply sent, a confirmation in Liaison, a call logged as answered). Fetching a link never
  confirms, so it never counts here either.
- **response_rate** = acknowledged / probes, over *every* probe of the test, failed ones
  included: a bounce or a wrong number is a finding about the directory, not a probe to leave
  out. Pending probes count too, so a running test's rate is a lower bound. 0.0 with no probe.
- **failed** = delivery failures, bounces, wrong numbers; **expired** = silent until the end;
  **pending** = scheduled or sent, neither confirmed nor failed nor expired yet.
- **median_seconds / p90_seconds**: over the seconds to confirm of the acknowledged probes,
  by linear interpolation between closest ranks (Hyndman & Fan type 7 — numpy's default,
  Excel's PERCENTILE.INC): for sorted values x[0..n-1], the q-quantile is at position
  h = (n - 1)·q, i.e. x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]). The median of an even count is
  then the mean of the two middle values, as people expect. One value: that value. None:
  null. Rounded to 0.1 s.
- **in_hours / off_hours**: whether the probe was scheduled inside the contact point's
  declared hours (a 24/7 contact point is always in hours); `hours_unknown` when the contact
  point declared none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from liaison.reachability.models import ConfirmedVia, ProbeStatus

PERCENTILE_METHOD = "linear"  # see the module's docstring
CONFIRMED = ProbeStatus.CONFIRMED.value
FAILED = ProbeStatus.FAILED.value
EXPIRED = ProbeStatus.EXPIRED.value
PENDING = frozenset({ProbeStatus.SCHEDULED.value, ProbeStatus.SENT.value})
# In an anonymised report a contact point type covered by fewer members than this is left out:
# "the one cybersecurity agency that did not answer" names its member.
MIN_MEMBERS_PER_CELL = 3


# --- arithmetic ------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float | Fraction) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of `values` by linear interpolation (type 7), or None.

    Exact arithmetic (fractions) then rounded to 0.1: 90 % of 3 is 2.7, not 2.7000000000000002.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    q = Fraction(q) if not isinstance(q, float) else Fraction(str(q))
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    position = (len(ordered) - 1) * q
    low = int(position)  # floor: position ≥ 0
    fraction = position - low
    value = Fraction(ordered[low])
    if fraction:
        value += fraction * (Fraction(ordered[low + 1]) - Fraction(ordered[low]))
    return round(float(value), 1)


def median(values: Iterable[float]) -> float | None:
    return percentile(values, Fraction(1, 2))


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# --- rows ------------------------------------------------------------------------------------


def _member_code(probe) -> str:
    code = getattr(probe, "member_code", None)
    if code is None:
        code = probe.member.code
    return code


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


class _Tally:
    """Counts of one group of probes (all of them, a member, a type, in hours…)."""

    __slots__ = ("by_status", "members", "probes", "seconds")

    def __init__(self):
        self.probes = 0
        self.by_status: Counter[str] = Counter()
        self.seconds: list[int] = []
        self.members: set[str] = set()

    def add(self, probe, code: str) -> None:
        self.probes += 1
        self.by_status[probe.status] += 1
        self.members.add(code)
        if probe.status == CONFIRMED and probe.seconds_to_confirm is not None:
            self.seconds.append(probe.seconds_to_confirm)

    @property
    def acknowledged(self) -> int:
        return self.by_status[CONFIRMED]

    @property
    def pending(self) -> int:
        return sum(self.by_status[status] for status in PENDING)

    def figures(self, *, detail: bool = False) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "probes": self.probes,
            "acknowledged": self.acknowledged,
            "response_rate": rate(self.acknowledged, self.probes),
            "median_seconds": median(self.seconds),
        }
        if detail:
            figures |= {
                "failed": self.by_status[FAILED],
                "expired": self.by_status[EXPIRED],
                "pending": self.pending,
            }
        return figures


def compute_report(ping_test, probes: Iterable) -> dict[str, Any]:
    """The figures of `ping_test` over `probes` (all of its probes, or the ones an actor sees).

    Holds at least DESIGN.md's contract ("Ping-test report"); every key is always present, with
    zeros and nulls when there is nothing to count.
    """
    total = _Tally()
    by_member: dict[str, _Tally] = defaultdict(_Tally)
    by_type: dict[str, _Tally] = defaultdict(_Tally)
    hours = {True: _Tally(), False: _Tally(), None: _Tally()}
    via_seconds: dict[str, list[int]] = {via: [] for via in ConfirmedVia.values}
    via_count: Counter[str] = Counter()
    findings = []
    for probe in probes:
        code = _member_code(probe)
        for tally in (total, by_member[code], by_type[probe.contact_point_type]):
            tally.add(probe, code)
        hours[probe.in_hours].add(probe, code)
        if probe.status == CONFIRMED:
            via = probe.confirmed_via or ""
            via_count[via] += 1
            if probe.seconds_to_confirm is not None:
                via_seconds.setdefault(via, []).append(probe.seconds_to_confirm)
        elif probe.status == FAILED:
            findings.append(
                {
                    "member": code,
                    "contact_point": probe.contact_point_id,
                    "type": probe.contact_point_type,
                    "institution": probe.institution,
                    "unit": probe.unit,
                    "failure": probe.failure,
                }
            )
    acknowledged = total.acknowledged
    return {
        "id": ping_test.public_id,
        "network": ping_test.network.slug,
        "test": {
            "status": ping_test.status,
            "timing": ping_test.timing,
            "channels": list(ping_test.channels or []),
            "members": list(ping_test.members or []),
            "types": list(ping_test.types or []),
            "off_hours": bool(ping_test.off_hours),
            "starts_at": _iso(ping_test.starts_at),
            "window_ends_at": _iso(ping_test.window_ends_at),
            "ends_at": _iso(ping_test.ends_at),
            "note": ping_test.note or "",
        },
        "probes": total.probes,
        "acknowledged": acknowledged,
        "failed": total.by_status[FAILED],
        "expired": total.by_status[EXPIRED],
        "pending": total.pending,
        "response_rate": rate(acknowledged, total.probes),
        "median_seconds": median(total.seconds),
        "p90_seconds": percentile(total.seconds, Fraction(9, 10)),
        "by_status": {status: total.by_status[status] for status in ProbeStatus.values},
        "by_member": {code: by_member[code].figures(detail=True) for code in sorted(by_member)},
        "by_type": {
            key: by_type[key].figures(detail=True) | {"members": len(by_type[key].members)}
            for key in sorted(by_type)
        },
        # Through which channel the acknowledged probes were confirmed; `share` of all of them.
        "by_channel": {
            via: {
                "acknowledged": via_count[via],
                "share": rate(via_count[via], acknowledged),
                "median_seconds": median(via_seconds.get(via, [])),
            }
            for via in [*ConfirmedVia.values, *sorted(set(via_count) - set(ConfirmedVia.values))]
        },
        "in_hours": hours[True].figures(),
        "off_hours": hours[False].figures(),
        "hours_unknown": hours[None].figures(),
        # Failed probes are findings: the directory holds a wrong address or number.
        "findings": findings,
        "percentile_method": PERCENTILE_METHOD,
    }


def started(ping_test) -> dt.datetime:
    return ping_test.starts_at or ping_test.created_at


def trend(
    tests: Iterable, probes_of: Callable[[Any], Iterable] | None = None
) -> list[dict[str, Any]]:
    """Per test, oldest first: {id, started, status, probes, acknowledged, response_rate,
    median_seconds, p90_seconds}. `probes_of(test)` gives the probes to count (default: all)."""
    probes_of = probes_of or (lambda test: test.probes.all())
    rows = []
    for test in sorted(tests, key=lambda t: (started(t), t.public_id)):
        tally = _Tally()
        for probe in probes_of(test):
            tally.add(probe, "")
        rows.append(
            {
                "id": test.public_id,
                "started": _iso(started(test)),
                "status": test.status,
                "probes": tally.probes,
                "acknowledged": tally.acknowledged,
                "response_rate": rate(tally.acknowledged, tally.probes),
                "median_seconds": median(tally.seconds),
                "p90_seconds": percentile(tally.seconds, Fraction(9, 10)),
            }
        )
    return rows


def member_distribution(by_member: dict[str, dict[str, Any]]) -> dict[str, int]:
    """How many members answered every probe, at least half, less than half, none.

    Disjoint buckets: "all" = 100 %; "half_or_more" = 50 % up to (not including) 100 %;
    "under_half" = more than 0 % and under 50 %; "none" = 0 %.
    """
    counts = {"members": 0, "all": 0, "half_or_more": 0, "under_half": 0, "none": 0}
    for figures in by_member.values():
        if not figures["probes"]:
            continue
        counts["members"] += 1
        share = Fraction(figures["acknowledged"], figures["probes"])
        if share == 1:
            counts["all"] += 1
        elif share >= Fraction(1, 2):
            counts["half_or_more"] += 1
        elif share > 0:
            counts["under_half"] += 1
        else:
            counts["none"] += 1
    return counts


def anonymised(report: dict[str, Any]) -> dict[str, Any]:
    """The same figures without anything that names a member, to share with the network.

    by_member becomes `member_distribution`; findings (which name contact points) and the list
    of chosen members go; a contact point type covered by fewer than MIN_MEMBERS_PER_CELL
    members is left out of by_type (counted in `suppressed_types`), as it would name them.
    """
    shared = {
        key: value
        for key, value in report.items()
        if key not in {"by_member", "findings", "test", "by_type", "trend"}
    }
    shared["test"] = {k: v for k, v in report["test"].items() if k not in {"members", "note"}}
    kept = {
        key: figures
        for key, figures in report["by_type"].items()
        if figures["members"] >= MIN_MEMBERS_PER_CELL
    }
    shared["by_type"] = kept
    shared["suppressed_types"] = len(report["by_type"]) - len(kept)
    shared["member_distribution"] = member_distribution(report["by_member"])
    if "trend" in report:
        shared["trend"] = report["trend"]
    shared["anonymised"] = True
    return shared


# --- scoped to an actor ------------------------------------------------------------------------


def _rows(queryset):
    return queryset.select_related("member").order_by()


def report_for(access, ping_test, *, with_trend: bool = True) -> dict[str, Any]:
    """The report of `ping_test` over the probes `access` may see (queries.visible_probes): all
    of them for the Secretariat, its own member's for a coordinator or officer. Unaudited: for
    callers that record the consultation themselves (consult_report, the exports)."""
    from liaison.reachability.queries import visible_probes

    report = compute_report(ping_test, _rows(visible_probes(access, ping_test)))
    report["scope"] = "network" if access.is_secretariat else "own_member"
    if with_trend:
        report["trend"] = network_trend(access, until=ping_test)
    return report


def network_trend(access, *, until=None) -> list[dict[str, Any]]:
    """The trend of the tests `access` may see, counted over the probes it may see; with `until`,
    the tests started no later than that one (a meeting document about test N shows N and
    the tests before it)."""
    from liaison.reachability.models import PingTestStatus
    from liaison.reachability.queries import visible_ping_tests, visible_probes

    tests = [
        test
        for test in visible_ping_tests(access).exclude(status=PingTestStatus.CANCELLED)
        if until is None
        or test.pk == until.pk
        or (started(test), test.public_id) <= (started(until), until.public_id)
    ]
    return trend(
        tests,
        lambda test: (
            visible_probes(access, test)
            .select_related(None)
            .only("status", "seconds_to_confirm")
            .order_by()
        ),
    )


def consult_report(
    actor, access, ping_test, *, anonymise: bool = False, with_trend: bool = True
) -> dict[str, Any]:
    """report_for, recorded in the audit trail ("pingtest.report_view"): the results are
    confidential. Needs pingtest.view (own member) or pingtest.manage; an anonymised report of
    the whole test needs pingtest.manage (the Secretariat decides what it shares)."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction

    from liaison.audit.services import record_event
    from liaison.core.permissions import Perm

    check_report_access(access, ping_test)
    if anonymise and not access.has(Perm.PINGTEST_MANAGE):
        raise PermissionDenied
    report = report_for(access, ping_test, with_trend=with_trend)
    if anonymise:
        report = anonymised(report)
    with transaction.atomic():
        record_event(
            actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
            "pingtest.report_view",
            obj=ping_test,
            network=ping_test.network,
            details={
                "scope": report["scope"],
                "probes": report["probes"],
                "anonymised": anonymise,
            },
        )
    return report


def check_report_access(access, ping_test) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from liaison.core.permissions import Perm

    if ping_test.network_id != access.network.pk:
        raise Http404
    if not (access.has(Perm.PINGTEST_MANAGE) or access.has(Perm.PINGTEST_VIEW)):
        raise PermissionDenied
