import os

from django.urls import include, path
from django.views.i18n import set_language

from liaison.core import views as core_views
from liaison.core.pages import healthz, home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("i18n/setlang/", core_views.public(set_language), name="set_language"),
    path("accounts/", include("allauth.urls")),
    path("", include("liaison.accounts.urls")),
    path("", include("liaison.networks.urls")),
    path("", include("liaison.directory.urls")),
    path("", include("liaison.audit.urls")),
    path("", include("liaison.reports.urls")),
    path("", include("liaison.delivery.urls")),
    path("", include("liaison.reachability.urls")),
    path("api/v1/", include("liaison.api.urls")),
]

if os.environ.get("LIAISON_BENCH") == "1":  # bench/directory.py's raw-SQL baseline only
    from liaison.core.bench import raw_contact_points

    urlpatterns.append(path("bench/<slug:slug>/contact-points", raw_contact_points))

handler403 = "liaison.core.pages.forbidden"
handler404 = "liaison.core.pages.not_found"
handler500 = "liaison.core.pages.server_error"
