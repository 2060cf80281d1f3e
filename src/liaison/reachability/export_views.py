"""Download of a ping test's report as PDF or XLSX (the Secretariat's meeting documents).

POST only: a download is an audited act, and the choice (anonymised or not) stays out of URLs
and proxies' caches. A coordinator's or officer's download covers its own member only.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm
from liaison.core.views import network_view
from liaison.reachability import queries
from liaison.reachability.report_export import export_report


@network_view(Perm.PINGTEST_VIEW)
@require_POST
def report_download(request, access, public_id: str, fmt: str):
    test = queries.get_ping_test(access, public_id)
    anonymise = request.POST.get("anonymised") == "1"
    try:
        export = export_report(request.user, access, test, fmt, anonymise=anonymise)
    except ServiceError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
