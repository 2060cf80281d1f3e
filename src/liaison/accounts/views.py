"""Your account (profile, roles, second factors, API tokens), a network's people and
invitations, and the public page where an invitation is accepted."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liaison.accounts import queries, services
from liaison.accounts.forms import AcceptInvitationForm, InviteForm, ProfileForm, TokenForm
from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm, Role
from liaison.core.views import authenticated, network_view, public

# --- your account --------------------------------------------------------------------------


def _account_page(request, *, profile_form=None, token_form=None, new_token=None, status=200):
    user = request.user
    context = {
        "profile_form": profile_form
        or ProfileForm(initial={"full_name": user.full_name, "language": user.language}),
        "token_form": token_form or TokenForm(),
        "roles": queries.own_roles(user),
        "tokens": queries.own_tokens(user),
        "new_token": new_token,
    }
    return render(request, "accounts/account.html", context, status=status)


@authenticated
def account(request):
    if request.method != "POST":
        return _account_page(request)
    action = request.POST.get("action")
    if action == "profile":
        form = ProfileForm(request.POST)
        if not form.is_valid():
            return _account_page(request, profile_form=form, status=400)
        try:
            services.update_profile(request.user, request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return _account_page(request, profile_form=form, status=400)
        messages.success(request, _("Your profile has been saved."))
        response = redirect("accounts:account")
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            request.user.language,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
        return response
    if action == "token":
        form = TokenForm(request.POST)
        if not form.is_valid():
            return _account_page(request, token_form=form, status=400)
        try:
            token, raw = services.create_token(request.user, request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return _account_page(request, token_form=form, status=400)
        # Shown once, in this response only: never in a URL, a redirect or a message.
        return _account_page(request, new_token={"token": token, "raw": raw})
    return _account_page(request, status=400)


@authenticated
@require_POST
def token_revoke(request, public_id: str):
    token = queries.get_own_token(request.user, public_id)
    try:
        services.revoke_token(request.user, token)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The token has been revoked."))
    return redirect("accounts:account")


# --- a network's people --------------------------------------------------------------------


def _people_page(request, access, *, form=None, status=200):
    roles = queries.invitable_roles(access)
    members = queries.invitable_members(access)
    assignments = list(queries.people(access))
    for assignment in assignments:
        assignment.can_revoke = access.can_invite(assignment.role, assignment.member)
    context = {
        "network": access.network,
        "form": form or InviteForm(roles=roles, members=members),
        "assignments": assignments,
        "invitations": queries.pending_invitations(access),
        "member_roles": [Role.COORDINATOR.value, Role.OFFICER.value],
    }
    return render(request, "accounts/people.html", context, status=status)


@network_view(Perm.USERS_INVITE)
def people(request, access):
    if request.method != "POST":
        return _people_page(request, access)
    form = InviteForm(
        request.POST,
        roles=queries.invitable_roles(access),
        members=queries.invitable_members(access),
    )
    if not form.is_valid():
        return _people_page(request, access, form=form, status=400)
    data = form.cleaned_data
    try:
        invitation, _raw = services.invite(
            request.user, access.network, data["email"], data["role"], data["member"]
        )
    except ServiceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _people_page(request, access, form=form, status=400)
    except PermissionDenied:
        form.add_error("role", _("You may not invite someone to this role."))
        return _people_page(request, access, form=form, status=403)
    # The e-mail is in the outbox: a worker sends it, retries it, and shows the Secretariat
    # on the Deliveries page if it cannot be delivered.
    messages.success(
        request, _("An invitation is on its way to %(email)s.") % {"email": invitation.email}
    )
    return redirect("accounts:people", access.network.slug)


@network_view(Perm.USERS_INVITE)
@require_POST
def invitation_revoke(request, access, public_id: str):
    invitation = queries.get_invitation(access, public_id)
    try:
        services.revoke_invitation(request.user, invitation)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The invitation for %(email)s has been withdrawn.") % {"email": invitation.email},
        )
    return redirect("accounts:people", access.network.slug)


@network_view(Perm.USERS_INVITE)
@require_POST
def role_revoke(request, access, public_id: str):
    assignment = queries.get_assignment(access, public_id)
    try:
        services.revoke_role(request.user, assignment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(email)s no longer holds the role %(role)s.")
            % {"email": assignment.user.email, "role": assignment.get_role_display()},
        )
    return redirect("accounts:people", access.network.slug)


# --- accepting an invitation (public) ------------------------------------------------------

# The raw token from the e-mailed link, kept server-side in the session between the link and
# the acceptance form (as Django does for password-reset links), so that it is in one URL only.
INVITATION_SESSION_KEY = "liaison_invitation_token"


def _private(response):
    """For responses to the tokened URL: no Referer carries the token to another request, and
    Django's request logger never writes the path (it logs 4xx responses with their path)."""
    response["Referrer-Policy"] = "no-referrer"
    response._has_been_logged = True
    return response


def _invitation_page(request, raw: str, *, form=None, error: str | None = None, status=200):
    invitation, problem = services.check_invitation(raw) if raw else (None, None)
    if not raw:
        problem = _("Open the invitation link from your e-mail (again) to continue.")
        status = 400
    elif problem and error is None:
        status = 404 if invitation is None else 410
    problem = error or problem
    context = {
        "invitation": None if problem else invitation,
        "problem": problem,
        "form": form or AcceptInvitationForm(),
        "role_label": Role(invitation.role).label if invitation else "",
        "signed_in_as_invitee": (
            invitation is not None
            and request.user.is_authenticated
            and request.user.email.lower() == invitation.email.lower()
        ),
    }
    return render(request, "accounts/invitation.html", context, status=status)


@public
def invitation(request, token: str):
    """The link from the e-mail: remember the token in the session and go on to the
    acceptance page, whose URL holds no secret (its form can then post with a normal Origin,
    which a no-referrer page would send as "null"). Merely following the link changes nothing:
    mail scanners fetch links."""
    _invitation, problem = services.check_invitation(token)
    if problem:
        return _private(_invitation_page(request, token))
    request.session[INVITATION_SESSION_KEY] = token
    return _private(redirect("accounts:invitation_accept"))


@public
def invitation_accept(request):
    raw = request.session.get(INVITATION_SESSION_KEY, "")
    if request.method != "POST":
        return _invitation_page(request, raw)
    if not raw:
        return _invitation_page(request, raw)
    if request.user.is_authenticated:
        try:
            services.accept_invitation(raw, user=request.user)
        except ServiceError as exc:
            return _invitation_page(request, raw, error=exc.message, status=400)
        request.session.pop(INVITATION_SESSION_KEY, None)
        messages.success(request, _("The invitation has been accepted: your new role is active."))
        return redirect("home")
    form = AcceptInvitationForm(request.POST)
    if not form.is_valid():
        return _invitation_page(request, raw, form=form, status=400)
    try:
        services.accept_invitation(
            raw, password=form.cleaned_data["password1"], full_name=form.cleaned_data["full_name"]
        )
    except ServiceError as exc:
        if exc.field == "password":
            form.add_error("password1", exc.message)
            return _invitation_page(request, raw, form=form, status=400)
        return _invitation_page(request, raw, error=exc.message, status=400)
    request.session.pop(INVITATION_SESSION_KEY, None)
    messages.success(
        request,
        _(
            "Your account is ready. Sign in with your e-mail address and password; you will then "
            "set up two-factor authentication."
        ),
    )
    return redirect("account_login")
