"""Edition pages: the list of published editions, one edition with what it changed, and the
diff between any two. Everyone who reads the directory reads its editions.

Thin: parse, call directory.edition_queries (which reads through directory.queries and audits),
render. An unknown edition is a 404 page that names what exists.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.directory import edition_queries
from liaison.directory.diffing import DocumentDiff
from liaison.directory.edition_queries import UnknownEditions

PAGE_SIZE = 50
# Past this many changed contact points, a diff page lists the members and shows one member's
# changes at a time (?member=FR): the first edition of a 10,000-entry directory is all "added".
FULL_DIFF_LIMIT = 200


class CompareForm(forms.Form):
    a = forms.TypedChoiceField(label=_("From edition"), coerce=int)
    b = forms.TypedChoiceField(label=_("To edition"), coerce=int)

    def __init__(self, *args, numbers: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(n, str(n)) for n in numbers]
        for name in ("a", "b"):
            cast(forms.ChoiceField, self.fields[name]).choices = choices


def _diff_context(request, diff: DocumentDiff) -> dict:
    code = request.GET.get("member", "").strip().upper()[:16]
    if code:
        members = tuple(m for m in diff.members if m.code == code)
        return {
            "diff": DocumentDiff(diff.from_edition, diff.to_edition, members),
            "whole_diff": diff,
            "member_filter": code,
        }
    if sum(diff.totals.values()) > FULL_DIFF_LIMIT:
        return {"diff": diff, "whole_diff": diff, "diff_summary_only": True}
    return {"diff": diff, "whole_diff": diff}


def _missing(request, exc: UnknownEditions):
    return render(request, "directory/edition_missing.html", {"message": exc.message}, status=404)


@network_view(Perm.DIRECTORY_VIEW)
def edition_list(request, access):
    editions = edition_queries.list_editions(request.user, access)
    numbers = [e.number for e in editions]  # newest first
    data = request.GET if {"a", "b"} <= request.GET.keys() else None
    initial = {"a": numbers[1], "b": numbers[0]} if len(numbers) > 1 else {}
    form = CompareForm(data, numbers=numbers, initial=initial)
    if data is not None and form.is_valid():
        return redirect(
            "directory:edition_diff",
            access.network.slug,
            form.cleaned_data["a"],
            form.cleaned_data["b"],
        )
    page = Paginator(editions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "directory/editions.html",
        {
            "page": page,
            "form": form,
            "current": numbers[0] if numbers else None,
            "can_compare": len(numbers) > 1,
        },
    )


@network_view(Perm.DIRECTORY_VIEW)
def edition_detail(request, access, number):
    try:
        view = edition_queries.read_edition(request.user, access, number)
    except UnknownEditions as exc:
        return _missing(request, exc)
    context = {
        **_diff_context(request, view.diff),
        "edition": view.edition,
        "previous": view.previous,
        "is_current": view.is_current,
        # Acknowledgement status and download buttons (directory/_edition_actions.html).
        "show_edition_actions": True,
    }
    return render(request, "directory/edition.html", context)


@network_view(Perm.DIRECTORY_VIEW)
def edition_diff(request, access, a, b):
    try:
        diff = edition_queries.diff_editions(request.user, access, a, b)
    except UnknownEditions as exc:
        return _missing(request, exc)
    return render(request, "directory/diff.html", {**_diff_context(request, diff), "a": a, "b": b})
