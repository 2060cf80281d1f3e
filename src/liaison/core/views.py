"""View decorators that declare and enforce each view's permission (deny by default).

Every view in urls.py is wrapped by exactly one of `public`, `authenticated` or `network_view`;
tests/test_permission_matrix.py fails on a URL pattern whose view declares nothing.
"""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from liaison.core.permissions import Perm

PERMISSION_ATTR = "liaison_permission"


def public(view):
    """Reachable without an account (login, invitation acceptance, health)."""
    setattr(view, PERMISSION_ATTR, "public")
    return view


def authenticated(view):
    """Any signed-in person; the view shows only what that person's roles allow."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    setattr(wrapper, PERMISSION_ATTR, "authenticated")
    return wrapper


def network_view(perm: Perm):
    """Signed in, holding a role in the network `slug` (else 404), with `perm` (else 403)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, slug, *args, **kwargs):
            from liaison.networks.queries import network_access

            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = network_access(request.user, slug)  # Http404 for outsiders
            if not access.has(perm):
                raise PermissionDenied
            request.access = access
            return view(request, access, *args, **kwargs)

        setattr(wrapper, PERMISSION_ATTR, str(perm))
        return wrapper

    return decorator
