"""Ping-test pages: the list, starting a test, a test's results, logging a call, confirming a
probe in Liaison, and the public confirmation page behind an e-mailed link.

Results are confidential: every read goes through reachability.queries (a coordinator or an
officer sees its own member's probes and figures only) and the report through
report.consult_report, which records the consultation. Changes go through services.

The confirmation page (`p/<token>/`) needs no account: the token is the capability. Opening it
changes nothing (mail scanners fetch links); only pressing "Confirm receipt" (a POST) does.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.core.views import network_view, public
from liaison.networks.queries import visible_members
from liaison.reachability import queries, services
from liaison.reachability.forms import ConfirmReceiptForm, ManualCallForm, PingTestForm
from liaison.reachability.models import (
    ConfirmedVia,
    PingTest,
    PingTestStatus,
    Probe,
    ProbeChannel,
    ProbeStatus,
)
from liaison.reachability.report import consult_report
from liaison.reachability.tokens import hash_token
from liaison.reports.charts import bar_chart

LIST_PAGE_SIZE = 50
PROBE_PAGE_SIZE = 100
# Above this many members, the per-member chart would be metres long: the table stays, and
# the chart shows how many members answered all, half… of their probes instead.
MEMBER_CHART_LIMIT = 25
# POSTs to the public confirmation page, per client address (allauth's throttle, the one the
# sign-in page uses). A national unit behind one address confirms a few probes at most.
CONFIRM_RATE = {"probe_confirm": "20/m/ip"}

PROBE_BADGES = {
    ProbeStatus.SCHEDULED: "",
    ProbeStatus.SENT: "",
    ProbeStatus.FAILED: "badge-bad",
    ProbeStatus.CONFIRMED: "badge-ok",
    ProbeStatus.EXPIRED: "badge-warn",
}
TEST_BADGES = {
    PingTestStatus.SCHEDULED: "",
    PingTestStatus.RUNNING: "badge-warn",
    PingTestStatus.CLOSED: "",
    PingTestStatus.CANCELLED: "badge-bad",
}
OPEN_STATUSES = (ProbeStatus.SCHEDULED, ProbeStatus.SENT, ProbeStatus.FAILED)


# --- helpers -----------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}\u00a0%"


def duration(seconds: float | int | None) -> str:
    """12 s, 3 min 05 s, 2 h 07 min, 3 d 4 h: short enough for a table cell on a phone."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}\u00a0s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}\u00a0min\u00a0{secs:02d}\u00a0s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}\u00a0h\u00a0{minutes:02d}\u00a0min"
    days, hours = divmod(hours, 24)
    return f"{days}\u00a0d\u00a0{hours}\u00a0h"


def _local(value: dt.datetime | None, zone: str) -> dt.datetime | None:
    """The wall-clock time in `zone`, naive: the template date filter would otherwise turn an
    aware value back into the current time zone (UTC)."""
    if value is None:
        return None
    try:
        local = value.astimezone(ZoneInfo(zone or "UTC"))
    except (ValueError, KeyError):  # a zone unknown to this machine: show UTC
        local = value.astimezone(dt.UTC)
    return local.replace(tzinfo=None)


def _channel_labels(test: PingTest) -> list[str]:
    short = {
        ProbeChannel.EMAIL: _("E-mail"),
        ProbeChannel.APP: _("In Liaison"),
        ProbeChannel.MANUAL: _("Phone call"),
    }
    return [short[ProbeChannel(c)] for c in test.channels if c in ProbeChannel.values]


def _rate_rows(figures: dict[str, dict], labels: dict[str, str] | None = None) -> list[dict]:
    labels = labels or {}
    return [
        {
            "key": key,
            "label": labels.get(key, key),
            "probes": f["probes"],
            "acknowledged": f["acknowledged"],
            "rate": percent(f["response_rate"] if f["probes"] else None),
            "median": duration(f.get("median_seconds")),
            "failed": f.get("failed"),
            "expired": f.get("expired"),
            "pending": f.get("pending"),
        }
        for key, f in figures.items()
    ]


def _rate_chart(chart_id: str, title: str, rows: list[dict], figures: dict[str, dict]):
    return bar_chart(
        chart_id,
        title,
        [
            (row["label"], round(100 * figures[row["key"]]["response_rate"]))
            for row in rows
            if figures[row["key"]]["probes"]
        ],
    )


def _tests_with_figures(access):
    """The tests `access` may see, each with the number of probes and confirmations it may
    see (one query): every probe for the Secretariat, its own member's for the others."""
    scope = (
        Q()
        if queries.sees_all_results(access)
        else Q(probes__member_id__in=queries.own_member_ids(access))
    )
    return (
        queries.visible_ping_tests(access)
        .annotate(
            probe_count=Count("probes", filter=scope),
            confirmed_count=Count("probes", filter=scope & Q(probes__status=ProbeStatus.CONFIRMED)),
        )
        .select_related("created_by")
        .order_by("-starts_at", "-id")
    )


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- the list and a new test ----------------------------------------------------------------


@network_view(Perm.PINGTEST_VIEW)
@require_GET
def ping_test_list(request, access):
    manage = access.has(Perm.PINGTEST_MANAGE)
    page = Paginator(_tests_with_figures(access), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "test": test,
            "badge": TEST_BADGES.get(test.status, ""),
            "channels": _channel_labels(test),
            "rate": percent(test.confirmed_count / test.probe_count if test.probe_count else None),
        }
        for test in page.object_list
    ]
    if rows:
        # The figures are results of the actor's member (or of all): a consultation.
        with transaction.atomic():
            record_event(
                request.user,
                "pingtest.list",
                network=access.network,
                details={"page": page.number, "rows": len(rows)},
            )
    trend = [
        (
            row["test"].starts_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            round(100 * row["test"].confirmed_count / row["test"].probe_count),
        )
        for row in reversed(rows[:12])
        if row["test"].probe_count
    ]
    return render(
        request,
        "reachability/list.html",
        {
            "network": access.network,
            "rows": rows,
            "page": page,
            "manage": manage,
            "trend_chart": bar_chart("chart-trend", _("Response rate by test (%)"), trend)
            if len(trend) > 1
            else None,
        },
    )


@network_view(Perm.PINGTEST_MANAGE)
@require_http_methods(["GET", "POST"])
def ping_test_new(request, access):
    members = visible_members(access).order_by("name").values_list("code", "name")
    form = PingTestForm(request.POST or None, members=list(members))
    if request.method == "POST" and form.is_valid():
        try:
            test = services.start_ping_test(request.user, access, **form.service_arguments())
        except ServiceError as exc:
            form.add_service_error(exc.field, exc.message)
        else:
            count = test.probes.count()
            messages.success(
                request,
                ngettext(
                    "Ping test started: %(count)s probe planned.",
                    "Ping test started: %(count)s probes planned.",
                    count,
                )
                % {"count": count},
            )
            return redirect("reachability:detail", access.network.slug, test.public_id)
    return render(
        request,
        "reachability/new.html",
        {"network": access.network, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


# --- a test's results ------------------------------------------------------------------------


def _figures_context(report: dict, shared: bool) -> dict:
    types = _type_labels()
    vias = dict(ConfirmedVia.choices)
    by_type = _rate_rows(report["by_type"], types)
    hours = [
        ("in_hours", _("Inside declared hours")),
        ("off_hours", _("Outside declared hours")),
        ("hours_unknown", _("Hours not declared")),
    ]
    hours_figures = {key: report[key] for key, _label in hours}
    hours_rows = [r for r in _rate_rows(hours_figures, dict(hours)) if r["probes"]]
    channel_rows = [
        {
            "label": vias.get(via, via),
            "acknowledged": figures["acknowledged"],
            "share": percent(figures["share"] if report["acknowledged"] else None),
            "median": duration(figures["median_seconds"]),
        }
        for via, figures in report["by_channel"].items()
    ]
    context = {
        "report": report,
        "rate": percent(report["response_rate"] if report["probes"] else None),
        "median": duration(report["median_seconds"]),
        "p90": duration(report["p90_seconds"]),
        "by_type": by_type,
        "hours_rows": hours_rows,
        "channel_rows": channel_rows,
        "type_chart": _rate_chart(
            "chart-type",
            _("Response rate by type of contact point (%)"),
            by_type,
            report["by_type"],
        ),
        "hours_chart": _rate_chart(
            "chart-hours",
            _("Response rate inside and outside declared hours (%)"),
            hours_rows,
            hours_figures,
        )
        if hours_rows
        else None,
        "channel_chart": bar_chart(
            "chart-channel",
            _("Confirmations by channel"),
            [(row["label"], row["acknowledged"]) for row in channel_rows if row["acknowledged"]],
        )
        if report["acknowledged"]
        else None,
    }
    if shared:
        distribution = report["member_distribution"]
        context["distribution"] = [
            (_("Answered every probe"), distribution["all"]),
            (_("Answered half or more"), distribution["half_or_more"]),
            (_("Answered less than half"), distribution["under_half"]),
            (_("Answered none"), distribution["none"]),
        ]
        context["distribution_chart"] = bar_chart(
            "chart-distribution", _("Members by share of probes answered"), context["distribution"]
        )
    else:
        by_member = _rate_rows(report["by_member"])
        context["by_member"] = by_member
        if 1 < len(by_member) <= MEMBER_CHART_LIMIT:
            context["member_chart"] = _rate_chart(
                "chart-member", _("Response rate by member (%)"), by_member, report["by_member"]
            )
    return context


def _type_labels() -> dict[str, str]:
    from liaison.directory.models import ContactPointType

    return dict(ContactPointType.choices)


def _probe_rows(access, test: PingTest, probes, now: dt.datetime) -> list[dict]:
    manage = access.has(Perm.PINGTEST_MANAGE)
    own = queries.own_member_ids(access)
    manual = ProbeChannel.MANUAL in test.channels
    in_app = ProbeChannel.APP in test.channels
    email = ProbeChannel.EMAIL in test.channels
    rows = []
    for probe in probes:
        open_ = probe.status in OPEN_STATUSES and now < probe.expires_at
        channels = []
        if email:
            channels.append(_("E-mail") if probe.email else _("E-mail (no address)"))
        if in_app:
            channels.append(_("In Liaison"))
        if manual:
            channels.append(_("Phone call"))
        confirmer = ""
        if probe.confirmed_by is not None:
            confirmer = probe.confirmed_by.get_full_name() or probe.confirmed_by.email
        elif probe.confirmed_name:
            confirmer = probe.confirmed_name
        rows.append(
            {
                "probe": probe,
                "badge": PROBE_BADGES.get(probe.status, ""),
                "channels": channels,
                "scheduled_local": _local(probe.scheduled_at, probe.timezone),
                "confirmer": confirmer,
                "seconds": duration(probe.seconds_to_confirm),
                "call_form": ManualCallForm(auto_id=f"id_{probe.public_id}_%s")
                if manage and manual and open_
                else None,
                "can_confirm": in_app
                and probe.member_id in own
                and probe.status in (ProbeStatus.SENT, ProbeStatus.FAILED)
                and now < probe.expires_at,
            }
        )
    return rows


@network_view(Perm.PINGTEST_VIEW)
def ping_test_detail(request, access, public_id: str):
    test = queries.get_ping_test(access, public_id)
    if request.method not in ("GET", "HEAD"):
        # After the lookup: another member's test is a 404 whatever the method.
        return HttpResponseNotAllowed(["GET"])
    test.network = access.network  # the same row, already read: the report needs its slug
    manage = queries.sees_all_results(access)
    shared = manage and request.GET.get("view") == "shared"
    report = consult_report(request.user, access, test, anonymise=shared, with_trend=False)
    context = {
        "network": access.network,
        "test": test,
        "badge": TEST_BADGES.get(test.status, ""),
        "channels": _channel_labels(test),
        "types": [_type_labels().get(t, t) for t in test.types],
        "reminder": duration(test.reminder_after.total_seconds()) if test.reminder_after else "",
        "escalation": duration(test.escalate_after.total_seconds()) if test.escalate_after else "",
        "manage": manage,
        "shared": shared,
        "statuses": ProbeStatus.choices,
        **_figures_context(report, shared),
    }
    if not shared:
        status = request.GET.get("status", "")
        probes = queries.visible_probes(access, test)
        if status in ProbeStatus.values:
            probes = probes.filter(status=status)
        else:
            status = ""
        page = Paginator(probes, PROBE_PAGE_SIZE).get_page(request.GET.get("page"))
        keep = {"status": status} if status else {}
        context |= {
            "status": status,
            "page": page,
            "keep": keep,
            "keep_query": urlencode(keep),
            "rows": _probe_rows(access, test, page.object_list, timezone.now()),
        }
    return render(request, "reachability/detail.html", context)


@network_view(Perm.PINGTEST_MANAGE)
@require_POST
def log_call(request, access, public_id: str):
    probe = queries.get_probe(access, public_id)
    back = reverse("reachability:detail", args=[access.network.slug, probe.ping_test.public_id])
    form = ManualCallForm(request.POST)
    if not form.is_valid():
        problems = [
            f"{form[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
        ]
        messages.error(request, " ".join(problems))
        return redirect(f"{back}#{probe.public_id}")
    try:
        probe = services.log_manual_call(
            request.user,
            access,
            probe,
            outcome=form.cleaned_data["outcome"],
            seconds=form.cleaned_data["seconds"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Call to %(institution)s logged: %(outcome)s.")
            % {"institution": probe.institution, "outcome": probe.get_manual_outcome_display()},
        )
    return redirect(f"{back}#{probe.public_id}")


@network_view(Perm.PINGTEST_RESPOND)
@require_POST
def confirm_in_app(request, access, public_id: str):
    """The banner's (and the test page's) "Confirm" button: the probe's member's own people."""
    probe = queries.get_probe(access, public_id)  # 404: another member's probe does not exist
    fallback = reverse("reachability:detail", args=[access.network.slug, probe.ping_test.public_id])
    try:
        probe = services.confirm_probe_in_app(request.user, access, probe)
    except PermissionDenied:
        messages.error(
            request,
            _("Only the officers and coordinators of %(member)s confirm its probes.")
            % {"member": probe.member.name},
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Thank you: receipt by %(institution)s confirmed.")
            % {"institution": probe.institution},
        )
    return redirect(_safe_next(request, fallback))


# --- the public confirmation page ------------------------------------------------------------

INVALID = "invalid"
EXPIRED = "expired"
USED = "used"


def _probe_for_token(raw: str) -> Probe | None:
    """The probe whose link carries `raw` (a read that changes nothing)."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 64:
        return None
    return (
        Probe.objects.select_related("network", "member").filter(token_hash=hash_token(raw)).first()
    )


def _problem(probe: Probe | None, now: dt.datetime) -> str | None:
    # The same verdicts, in the same order, as services.confirm_probe_by_token.
    if probe is None or probe.status == ProbeStatus.SCHEDULED:
        return INVALID
    if probe.status == ProbeStatus.CONFIRMED:
        return USED
    if probe.status == ProbeStatus.EXPIRED or now >= probe.expires_at:
        return EXPIRED
    return None


def _private(response):
    """The token is in the URL: never in a Referer sent anywhere else, never indexed, and never
    written by Django's request logger (which logs 4xx responses with their path).

    `strict-origin` rather than `no-referrer`: under no-referrer the browser sends the form's
    POST with `Origin: null`, which Django's CSRF check rightly refuses; strict-origin sends only
    the site's origin (never the path, so never the token) and the POST carries a real Origin.
    """
    response["Referrer-Policy"] = "strict-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True
    return response


def _problem_page(request, kind: str, probe: Probe | None, message: str = ""):
    if not message:
        if kind == USED:
            message = _("this confirmation link was already used on %(date)s UTC") % {
                "date": probe.confirmed_at.strftime("%Y-%m-%d %H:%M")
            }
        elif kind == EXPIRED:
            message = _("this confirmation link has expired")
        else:
            message = _("this confirmation link is not valid")
    return _private(
        render(
            request,
            "reachability/confirm_problem.html",
            {"kind": kind, "message": message},
            status=400 if kind == INVALID else 410,
        )
    )


def _rate_limited(request) -> bool:
    from allauth.core.internal import ratelimit

    return not ratelimit.consume(
        request, app="liaison.reachability", action="probe_confirm", config=CONFIRM_RATE
    )


class _ConfirmPageCsrf(CsrfViewMiddleware):
    """Django's own CSRF check, answered in this page's words and never logged: Django's
    rejection is logged with the request's path, which here holds the token."""

    def _reject(self, request, reason):
        return _private(
            render(
                request,
                "reachability/confirm_problem.html",
                {"kind": "form", "message": _("the button could not be checked")},
                status=403,
            )
        )


@public
@csrf_exempt  # not exempt: checked by _ConfirmPageCsrf below, which keeps the token out of logs
def confirm_link(request, token: str):
    if request.method not in ("GET", "HEAD", "POST"):
        return _private(HttpResponseNotAllowed(["GET", "POST"]))
    if request.method == "POST":
        rejected = _ConfirmPageCsrf(lambda _request: None).process_view(request, None, (), {})
        if rejected is not None:
            return rejected
    throttled = request.method == "POST" and _rate_limited(request)
    probe = _probe_for_token(token)
    problem = _problem(probe, timezone.now())
    if problem:
        return _problem_page(request, problem, probe)
    signed_in = request.user.is_authenticated
    form = ConfirmReceiptForm(None if throttled else (request.POST or None))
    if request.method == "POST" and not throttled and form.is_valid():
        try:
            probe = services.confirm_probe_by_token(
                token,
                via=ConfirmedVia.LINK,
                actor=request.user if signed_in else None,
                name="" if signed_in else form.cleaned_data["name"],
            )
        except ServiceError as exc:
            # Confirmed or expired between the page and the button: say which, record nothing.
            probe = _probe_for_token(token)
            kind = _problem(probe, timezone.now()) or INVALID
            return _problem_page(request, kind, probe, exc.message)
        return _private(
            render(
                request,
                "reachability/confirm_done.html",
                {"probe": probe, "confirmed_local": _local(probe.confirmed_at, probe.timezone)},
            )
        )
    status = 200
    if throttled:
        status = 429
    elif form.is_bound:
        status = 400
    return _private(
        render(
            request,
            "reachability/confirm.html",
            {
                "probe": probe,
                "form": form,
                "signed_in": signed_in,
                "throttled": throttled,
                # Formatted here: the date filter would turn it back to the current zone (UTC).
                "expires_local": f"{_local(probe.expires_at, probe.timezone):%Y-%m-%d %H:%M}",
            },
            status=status,
        )
    )
