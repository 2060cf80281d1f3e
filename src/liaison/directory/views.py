"""Directory pages: the list with filters, a contact point's page, and the editor.

Thin: parse, call queries/services, render. Reads and their audit events go through
directory.queries, changes through directory.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.directory import availability as av
from liaison.directory import queries, services, staleness
from liaison.directory.forms import (
    ADD_CHANNEL,
    ChannelFormSet,
    ContactPointForm,
    DirectoryFilterForm,
    apply_field_errors,
    channel_initial,
    channel_rows_posted,
    default_timezone,
)
from liaison.directory.schemas import FieldErrors, current_data
from liaison.directory.templatetags.directory_tags import language_name
from liaison.networks.queries import get_member, visible_members

PAGE_SIZE = 50

# Edits change drafts; the directory shows them once the Secretariat publishes an edition.
DRAFT_SAVED = _lazy(
    "Saved as a draft: it will appear in the directory when the Secretariat publishes the next "
    "edition."
)
DRAFT_REMOVED = _lazy(
    "Removed from the drafts: it will disappear from the directory when the Secretariat "
    "publishes the next edition."
)


# --- availability shown on the pages ---------------------------------------------------------


class ScheduleCache:
    """Parsed schedules per distinct text, so that a page of 50 parses each text once."""

    def __init__(self):
        self._schedules: dict[str, av.Schedule | None] = {}
        self._exceptions: dict[str, tuple[av.AvailabilityException, ...] | None] = {}

    def schedule(self, text: str) -> av.Schedule | None:
        if text not in self._schedules:
            try:
                self._schedules[text] = av.parse_availability(text)
            except ValueError:
                self._schedules[text] = None  # stored text the parser no longer accepts
        return self._schedules[text]

    def exceptions(self, text: str) -> tuple[av.AvailabilityException, ...] | None:
        if text not in self._exceptions:
            try:
                self._exceptions[text] = av.parse_exceptions(text)
            except ValueError:
                self._exceptions[text] = None
        return self._exceptions[text]

    def is_available(self, cp, at: datetime) -> bool | None:
        """None when the stored availability cannot be read (shown as unknown, not as closed)."""
        schedule = self.schedule(cp.availability)
        exceptions = self.exceptions(cp.availability_exceptions)
        if schedule is None or exceptions is None:
            return None
        try:
            return av.is_available(schedule, cp.timezone, at, exceptions)
        except ValueError:
            return None


def _utc_offset(local: datetime) -> str:
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() + 59) // 60)  # round up: "in 1 min", not "in 0"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


@dataclass
class Now:
    """A contact point's local time and availability at one instant."""

    local_time: str  # "Tue 03:12"
    zone: str
    offset: str  # "UTC+01:00"
    available: bool | None
    next_local: str = ""  # "Mon 08:00"
    next_in: str = ""  # "4 h 48 min"


def availability_now(cp, now: datetime) -> Now:
    cache = ScheduleCache()
    try:
        local = av.local_now(cp.timezone, now)
    except ValueError:
        local = now.astimezone(UTC)
    status = Now(
        local_time=dateformat.format(local, "D H:i"),
        zone=str(cp.timezone),
        offset=_utc_offset(local),
        available=cache.is_available(cp, now),
    )
    if status.available is False:
        nxt = av.next_available(
            cache.schedule(cp.availability),
            cp.timezone,
            now,
            cache.exceptions(cp.availability_exceptions) or (),
        )
        if nxt is not None:
            nxt_local = nxt.astimezone(local.tzinfo)
            fmt = "D H:i" if nxt - now < timedelta(days=6) else "D j M H:i"
            status.next_local = dateformat.format(nxt_local, fmt)
            status.next_in = _duration(nxt - now)
    return status


# --- list ----------------------------------------------------------------------------------


def _page(results, number) -> Page:
    """Paginator.get_page, with the total counted in the rows' query (a window) instead of a
    COUNT query of its own; the COUNT runs only for a page number past the end."""
    try:
        number = min(max(1, int(number)), 10**6)  # a huge OFFSET is a database error
    except (TypeError, ValueError):
        number = 1
    paginator = Paginator(results, PAGE_SIZE)
    counted = results.annotate(_total=Window(Count("pk")))
    rows = list(counted[(number - 1) * PAGE_SIZE : number * PAGE_SIZE])
    if rows:
        paginator.count = rows[0]._total  # cached_property: set once, read by the page
        return Page(rows, number, paginator)
    if number == 1:
        paginator.count = 0
        return Page(rows, 1, paginator)
    return paginator.get_page(number)  # past the end: the last page, counted the usual way


@network_view(Perm.DIRECTORY_VIEW)
def contact_point_list(request, access):
    members, codes = queries.filter_choices(access)
    languages = [(code, language_name(code)) for code in codes]
    form = DirectoryFilterForm(request.GET or None, members=members, languages=languages)
    now = timezone.now()
    filters = form.filters(now)
    at_chosen = form.at_chosen
    at = filters.available_at or now

    results = queries.filter_contact_points(queries.visible_contact_points(access), access, filters)
    today = timezone.localdate(now)
    if form.stale_chosen:
        results = staleness.filter_needing_review(results, today)
    page = _page(results, request.GET.get("page"))
    cache = ScheduleCache()
    rows = [
        {
            "cp": cp,
            "available": cache.is_available(cp, at),
            "primary": next(iter(cp.channels.all()), None),  # prefetched, ordered by position
            "review": staleness.review_status(cp.review_date, today),
            "can_confirm": access.can_edit_member(cp.member),
        }
        for cp in page.object_list
    ]
    queries.record_list_consultation(request.user, access, filters, page.paginator.count)

    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "at_chosen": at_chosen,
        "at_label": dateformat.format(at, "D j M Y H:i") + " " + _utc_offset(at),
        "can_create": access.has(Perm.DIRECTORY_EDIT),
    }
    # htmx swaps only the results; a history restore needs the whole page.
    if request.htmx and not request.htmx.history_restore_request:
        context["partial"] = True
        response = render(request, "directory/_results.html", context)
    else:
        context["can_review"] = access.has(Perm.DIRECTORY_EDIT)
        context["pending_members"] = queries.pending_change_members(access)  # Secretariat only
        response = render(request, "directory/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- contact point -------------------------------------------------------------------------


@network_view(Perm.DIRECTORY_VIEW)
def contact_point_detail(request, access, public_id):
    cp = queries.read_contact_point(request.user, access, public_id)
    now = timezone.now()
    context = {
        "cp": cp,
        "channels": list(cp.channels.all()),
        "now": availability_now(cp, now),
        "exceptions": [part.strip() for part in cp.availability_exceptions.split(";") if part],
        "review": staleness.review_status(cp.review_date, timezone.localdate(now)),
        "can_edit": access.can_edit_member(cp.member),
        # For its editors: "edited" or "removed" when the drafts differ from this entry.
        "draft_state": queries.draft_state(access, cp),
    }
    return render(request, "directory/detail.html", context)


class PendingRemoval(Exception):
    """The drafts no longer hold this published contact point: it goes at the next edition."""

    def __init__(self, published):
        super().__init__(published.public_id)
        self.published = published


def _editable(access, public_id):
    """The draft of a contact point the viewer may edit. 404 when the viewer sees no such
    entry, 403 when it is another member's, PendingRemoval when its draft was removed."""
    try:
        return queries.get_draft(access, public_id)
    except Http404:
        pass
    published = queries.get_contact_point(access, public_id)  # Http404 when not visible
    if not access.can_edit_member(published.member):
        raise PermissionDenied
    raise PendingRemoval(published)


def _pending_removal(request, exc: PendingRemoval):
    return render(request, "directory/pending_removal.html", {"cp": exc.published}, status=404)


def _is_published(access, cp) -> bool:
    return queries.visible_contact_points(access).filter(public_id=cp.public_id).exists()


def _with_another_channel(data):
    """The editor again as typed in, with one more empty channel row and no errors shown:
    the "Add another channel" button, which works without JavaScript."""
    form = ContactPointForm(
        initial={name: data.get(name, "") for name in ContactPointForm.base_fields}
    )
    formset = ChannelFormSet(initial=channel_rows_posted(data), prefix="channels")
    return form, formset


def _save(form, formset, save):
    """Validate the forms, call `save(raw)`; map FieldErrors back. The result, or None."""
    if not (form.is_valid() and formset.is_valid()):
        return None
    raw = form.raw()
    raw["channels"], rows = formset.raw_channels()
    try:
        return save(raw)
    except FieldErrors as exc:
        apply_field_errors(form, formset, rows, exc.errors)
        return None


@network_view(Perm.DIRECTORY_EDIT)
def contact_point_create(request, access):
    """New contact point of `?member=` (a coordinator's own member is chosen for it)."""
    chosen = request.POST.get("member") if request.method == "POST" else request.GET.get("member")
    if chosen:
        member = get_member(access, chosen)  # Http404 for a member the viewer cannot see
        if not access.can_edit_member(member):
            raise PermissionDenied
    else:
        editable = [m for m in visible_members(access) if access.can_edit_member(m)]
        if len(editable) != 1:
            # Pick the member first, so the form can start from its country's time zone.
            return render(request, "directory/choose_member.html", {"editable": editable})
        member = editable[0]

    if request.method == "POST" and ADD_CHANNEL in request.POST:
        form, formset = _with_another_channel(request.POST)
    elif request.method == "POST":
        form = ContactPointForm(request.POST)
        formset = ChannelFormSet(request.POST, prefix="channels")
        cp = _save(
            form,
            formset,
            lambda raw: services.create_contact_point(request.user, access, member, raw),
        )
        if cp is not None:
            messages.success(request, DRAFT_SAVED)
            return redirect("directory:changes", access.network.slug)
    else:
        form = ContactPointForm(
            initial={"availability": "24/7", "timezone": default_timezone(member)}
        )
        formset = ChannelFormSet(prefix="channels")
    return render(
        request,
        "directory/edit.html",
        {"form": form, "formset": formset, "cp": None, "member": member, "published": False},
    )


@network_view(Perm.DIRECTORY_EDIT)
def contact_point_edit(request, access, public_id):
    try:
        cp = _editable(access, public_id)
    except PendingRemoval as exc:
        return _pending_removal(request, exc)
    if request.method == "POST" and ADD_CHANNEL in request.POST:
        form, formset = _with_another_channel(request.POST)
    elif request.method == "POST":
        form = ContactPointForm(request.POST)
        formset = ChannelFormSet(request.POST, prefix="channels")
        saved = _save(
            form,
            formset,
            lambda raw: services.update_contact_point(request.user, access, cp, raw),
        )
        if saved is not None:
            messages.success(request, DRAFT_SAVED)
            return redirect("directory:changes", access.network.slug)
    else:
        queries.record_contact_point_view(request.user, access, cp)  # the form shows it all
        initial = current_data(cp)
        initial["review_date"] = cp.review_date.isoformat() if cp.review_date else ""
        form = ContactPointForm(initial=initial)
        formset = ChannelFormSet(initial=channel_initial(cp), prefix="channels")
    return render(
        request,
        "directory/edit.html",
        {
            "form": form,
            "formset": formset,
            "cp": cp,
            "member": cp.member,
            "published": _is_published(access, cp),
        },
    )


@network_view(Perm.DIRECTORY_EDIT)
def contact_point_delete(request, access, public_id):
    try:
        cp = _editable(access, public_id)
    except PendingRemoval as exc:
        return _pending_removal(request, exc)
    if request.method == "POST":
        services.delete_contact_point(request.user, access, cp)
        messages.success(request, DRAFT_REMOVED)
        return redirect("directory:changes", access.network.slug)
    return render(
        request, "directory/delete.html", {"cp": cp, "published": _is_published(access, cp)}
    )


@network_view(Perm.DIRECTORY_EDIT)
@require_POST
def contact_point_confirm(request, access, public_id):
    try:
        cp = _editable(access, public_id)
    except PendingRemoval as exc:
        cp = exc.published  # the review record is kept on both layers: still confirmable
    services.confirm_contact_point(request.user, access, cp)
    messages.success(request, _("Marked as still correct: the next review is in a year."))
    # From the list, back to the list as it was (its filters are in the query string).
    back = urlsplit(request.POST.get("next", ""))
    list_path = reverse("directory:list", args=[access.network.slug])
    if not back.scheme and not back.netloc and back.path == list_path:
        return redirect(back.geturl())
    return redirect("directory:detail", access.network.slug, cp.public_id)
