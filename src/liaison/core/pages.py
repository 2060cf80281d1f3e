"""Home, health and error pages."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from liaison.core.views import authenticated, public
from liaison.networks.queries import visible_networks


@authenticated
def home(request):
    networks = list(visible_networks(request.user))
    return render(request, "core/home.html", {"networks": networks})


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
