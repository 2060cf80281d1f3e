"""The REST API v1: assembles the apps' routers under /api/v1/ (OpenAPI at /api/v1/openapi.json).

Authentication is by personal Bearer token only (no session, hence no CSRF question). The
interactive docs at /api/v1/docs serve Swagger UI from the static files shipped in the ninja
package ("ninja" in INSTALLED_APPS), so they work under our CSP (script-src 'self'), offline.
"""

from __future__ import annotations

from ninja import NinjaAPI, Swagger

from liaison.api import errors
from liaison.api.auth import PUBLIC, TokenAuth, register_permissions
from liaison.core.views import PERMISSION_ATTR
from liaison.directory.api import router as directory_router
from liaison.directory.editions_api import router as editions_router
from liaison.directory.reach_api import router as reach_router
from liaison.networks.api import router as networks_router
from liaison.reachability.api import router as reachability_router
from liaison.reports.api import router as reports_router

api = NinjaAPI(
    title="Liaison API",
    version="1",
    description=(
        "Directory and statistics of 24/7 networks of contact points. Authenticate with a "
        "personal token: `Authorization: Bearer <token>` (`liaison token create EMAIL`). "
        "Each operation lists the permission it needs as `x-permission`."
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)

ROUTERS = [
    ("", networks_router),
    ("", directory_router),
    ("", editions_router),
    ("", reach_router),
    ("", reports_router),
    ("", reachability_router),
]
for _prefix, _router in ROUTERS:
    api.add_router(_prefix, _router)

errors.install(api, body_params={"changes", "ping_test"})
register_permissions(api, ROUTERS)

urlpatterns = api.urls[0]

# The site-wide permission walk (core/views.py) needs every URL pattern to declare something:
# the schema and the docs are public; operations declare theirs per method (api/auth.py).
for _pattern in urlpatterns:
    _callback = _pattern.callback
    if not hasattr(_callback, PERMISSION_ATTR):
        name = _pattern.name or ""
        setattr(
            _callback,
            PERMISSION_ATTR,
            PUBLIC if name in {"api-root", "openapi-json", "openapi-view"} else "api-token",
        )

app_name = api.urls_namespace  # the docs page reverses "api-v1:openapi-json"
