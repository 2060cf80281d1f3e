"""Home, health and error pages."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from liaison.core.views import authenticated, public
from liaison.networks.queries import resolve_access, visible_networks


@authenticated
def home(request):
    # Each card links straight to the pages the user's roles open there (one query per
    # network: a person holds roles in a few networks at most).
    cards = [
        {"network": network, "perms": resolve_access(request.user, network).perms}
        for network in visible_networks(request.user)
    ]
    return render(request, "core/home.html", {"cards": cards})


@public
def healthz(request):
    return JsonResponse({"status": "ok"})


def _error(request, status: int, template: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": HttpResponse(status=status).reason_phrase}, status=status)
    return render(request, template, status=status)


def forbidden(request, exception=None):
    return _error(request, 403, "core/403.html")


def not_found(request, exception=None):
    return _error(request, 404, "core/404.html")


def server_error(request):
    return _error(request, 500, "core/500.html")
