"""Review and publication of the drafts, and acknowledgement of editions.

The changes page shows an editor what the next edition would change for the members it edits
(the Secretariat: all of them, with the publish form); publishing makes the drafts the next
edition; a member's people acknowledge its receipt. Thin: directory.queries reads,
directory.services writes.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from liaison.core.errors import ServiceError
from liaison.core.forms import Form
from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.directory import edition_queries, queries, services
from liaison.directory.edition_queries import UnknownEditions
from liaison.networks.queries import get_member


class PublishForm(Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=services.NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Shown with the edition, e.g. what changed and why. Recipients are told by e-mail "
            "that a new edition exists; the e-mail holds a link, not the directory."
        ),
    )
    # What the Secretariat reviewed: publishing refuses if the drafts changed since.
    reviewed = forms.CharField(widget=forms.HiddenInput)


def _changes_page(request, access, form: PublishForm | None, status: int = 200):
    pending = queries.read_pending_changes(request.user, access, request.GET.get("member", ""))
    can_publish = access.has(Perm.DIRECTORY_PUBLISH)
    if can_publish and form is None:
        form = PublishForm(initial={"reviewed": pending.fingerprint})
    elif form is not None:
        # Re-shown after an error: the next attempt publishes what the page now shows.
        form.data = form.data.copy()
        form.data["reviewed"] = pending.fingerprint
    return render(
        request,
        "directory/changes.html",
        {
            "pending": pending,
            "diff": pending.shown,
            "form": form if can_publish else None,
            "can_publish": can_publish,
        },
        status=status,
    )


@network_view(Perm.DIRECTORY_EDIT)
def changes(request, access):
    """The pending changes of the members the viewer edits, and (Secretariat) publication."""
    return _changes_page(request, access, None)


@network_view(Perm.DIRECTORY_PUBLISH)
@require_POST
def publish(request, access):
    form = PublishForm(request.POST)
    if form.is_valid():
        if form.cleaned_data["reviewed"] != queries.pending_changes(access).fingerprint:
            form.add_error(
                None,
                _(
                    "The drafts changed since you opened this page: review the changes below "
                    "again, then publish."
                ),
            )
        else:
            try:
                edition = services.publish_edition(request.user, access, form.cleaned_data["note"])
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                notified = services.edition_recipients(access.network).count()
                messages.success(
                    request,
                    ngettext(
                        "Edition %(number)d published; %(count)d person notified.",
                        "Edition %(number)d published; %(count)d people notified.",
                        notified,
                    )
                    % {"number": edition.number, "count": notified},
                )
                return redirect("directory:edition", access.network.slug, edition.number)
    return _changes_page(request, access, form)


@network_view(Perm.EDITION_ACKNOWLEDGE)
@require_POST
def acknowledge(request, access, number):
    """Acknowledge receipt of an edition for one's member (again: nothing changes)."""
    try:
        edition = edition_queries.resolve_editions(access, [number], content=False)[number]
    except UnknownEditions as exc:
        return render(
            request, "directory/edition_missing.html", {"message": exc.message}, status=404
        )
    chosen = request.POST.get("member", "")
    member = get_member(access, chosen) if chosen else None  # Http404 for an unknown member
    started = timezone.now()
    try:
        ack = services.acknowledge_edition(request.user, access, edition, member)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        names = {"number": edition.number, "member": ack.member.name}
        if ack.acknowledged_at >= started:
            messages.success(
                request, _("Receipt of edition %(number)d acknowledged for %(member)s.") % names
            )
        else:
            by = ack.acknowledged_by.get_full_name() if ack.acknowledged_by else "—"
            when = formats.date_format(timezone.localtime(ack.acknowledged_at), "DATETIME_FORMAT")
            messages.info(
                request,
                _(
                    "Edition %(number)d was already acknowledged for %(member)s by %(by)s "
                    "on %(when)s."
                )
                % {**names, "by": by, "when": when},
            )
    return redirect("directory:edition", access.network.slug, edition.number)
