"""Security headers and the request's origin (for the audit trail)."""

from __future__ import annotations

from django.conf import settings

from liaison.core.context import Origin, reset_origin, set_origin

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the address a trusted proxy saw when LIAISON_TRUSTED_PROXIES is set."""
    hops = settings.LIAISON_TRUSTED_PROXIES
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = "api" if request.path.startswith("/api/") else "web"
        token = set_origin(
            Origin(
                via=via,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            reset_origin(token)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if not request.path.startswith("/static/"):
            # Restricted pages must not linger in shared caches or the browser's back cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
