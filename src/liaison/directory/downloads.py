"""Downloads of a published edition from the web: a file per format, audited with a unique mark.

POST only (a form with the CSRF token, and the justification when the network requires one):
a download is an audited consultation of the whole directory, not something a link prefetcher
or another site should be able to trigger, and the justification stays out of the URL. The PDF
names the person who downloaded it and carries the download's mark on every page.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.directory import queries
from liaison.directory.exporting import FORMATS, export_edition


def _problem(request, access, message: str, status: int, edition=None):
    return render(
        request,
        "directory/download_problem.html",
        {"message": message, "network": access.network, "edition": edition},
        status=status,
    )


@network_view(Perm.DIRECTORY_EXPORT)
def download_edition(request, access, number: int, fmt: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if fmt not in FORMATS:
        return _problem(
            request,
            access,
            _("unknown format '%(format)s' (expected one of: %(formats)s)")
            % {"format": fmt[:20], "formats": ", ".join(FORMATS)},
            404,
        )
    try:
        edition = queries.get_edition(access, number)
    except ServiceError as exc:
        return _problem(request, access, exc.message, 404)
    try:
        export = export_edition(
            request.user,
            access,
            edition,
            fmt,
            justification=request.POST.get("justification", ""),
        )
    except ServiceError as exc:
        return _problem(request, access, exc.message, 400, edition)
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    return response
