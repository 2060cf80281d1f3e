"""The only write path of accounts: people, roles, invitations and personal API tokens.

Every function takes the acting user first. `actor=None` is the command line or the system
(whoever runs the CLI already controls the deployment); a user is checked against its roles in
the network through `networks.queries.resolve_access`.

Secrets (passwords, TOTP secrets, raw invitation and API tokens) never reach the audit trail,
a log line or an error message: only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from liaison.accounts.models import ApiToken, Invitation, InvitationStatus, User
from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import MEMBER_ROLES, Role
from liaison.delivery.kinds import INVITATION as INVITATION_KIND
from liaison.delivery.services import enqueue_email
from liaison.networks.models import Member, Network, RoleAssignment
from liaison.networks.queries import resolve_access

logger = logging.getLogger(__name__)

INVITATION_DAYS = 7
TOKEN_PREFIX = "lz_"  # noqa: S105 - a marker that tells Liaison tokens apart, not a secret
TOKEN_DAYS_MAX = 365
# last_used_at is refreshed at most this often, so that API calls do not each cost a write.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)
MIN_TOTP_SECRET_LENGTH = 16


# --- helpers -------------------------------------------------------------------------------


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _user_or_none(actor):
    return actor if _is_user(actor) else None


def token_hash(raw: str) -> str:
    """The SHA-256 (hex) under which a token is stored; the raw token is never kept."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email:
        raise ServiceError(_("an e-mail address is required"), "email")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError(
            _("invalid e-mail address '%(email)s'") % {"email": email[:254]}, "email"
        ) from exc
    return email


def clean_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in Role.values:
        raise ServiceError(
            _("unknown role '%(role)s' (choose %(choices)s)")
            % {"role": role, "choices": ", ".join(Role.values)},
            "role",
        )
    return role


def _check_member(network: Network, role: str, member: Member | None) -> None:
    """Coordinators and officers act for one member of the network; the others for none."""
    if role in MEMBER_ROLES:
        if member is None:
            raise ServiceError(
                _("a member is required for role %(role)s") % {"role": role}, "member"
            )
        if member.network_id != network.pk:
            raise ServiceError(
                _("member '%(code)s' is not in network '%(network)s'")
                % {"code": member.code, "network": network.slug},
                "member",
            )
    elif member is not None:
        raise ServiceError(
            _("role %(role)s acts for the whole network: give no member") % {"role": role},
            "member",
        )


def clean_totp_secret(secret: str) -> str:
    """A base32 secret of at least 16 characters (80 bits), as authenticator apps expect."""
    secret = (secret or "").strip().replace(" ", "").upper()
    if len(secret) < MIN_TOTP_SECRET_LENGTH:
        raise ServiceError(
            _("the TOTP secret must be at least %(n)d base32 characters")
            % {"n": MIN_TOTP_SECRET_LENGTH},
            "totp_secret",
        )
    try:
        base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError(
            _("the TOTP secret is not valid base32 (letters A-Z and digits 2-7)"), "totp_secret"
        ) from exc
    return secret


def _role_label(role: str) -> str:
    return str(Role(role).label)


def _assignment_exists(user: User, network: Network, role: str, member: Member | None) -> bool:
    return RoleAssignment.objects.filter(
        user=user, network=network, role=role, member=member
    ).exists()


def _duplicate_role_error(user_email: str, network: Network, role: str, member) -> ServiceError:
    where = f"{role} for {member.code}" if member is not None else role
    return ServiceError(
        _("%(email)s already holds this role (%(where)s in %(network)s)")
        % {"email": user_email, "where": where, "network": network.slug},
        "role",
    )


def _ensure_email_address(user: User) -> None:
    """The account's address is verified: it came through an invitation or the operator."""
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def _assign(actor, user: User, network: Network, role: str, member: Member | None):
    assignment = RoleAssignment.objects.create(
        user=user, network=network, role=role, member=member, created_by=_user_or_none(actor)
    )
    record_event(
        _user_or_none(actor),
        "network.role.assign",
        obj=assignment,
        network=network,
        details={
            "user": user.public_id,
            "email": user.email,
            "role": role,
            "member": member.code if member is not None else None,
        },
    )
    return assignment


def _may_manage_role(actor, network: Network, role: str, member: Member | None) -> bool:
    """Secretariat: any role; coordinator: officers of its own member; CLI: anything."""
    if actor is None:
        return True
    return resolve_access(actor, network).can_invite(role, member)


# --- people and roles ----------------------------------------------------------------------


def create_user(
    actor,
    email: str,
    *,
    network: Network,
    role: str,
    member: Member | None = None,
    password: str | None = None,
    totp_secret: str | None = None,
    full_name: str = "",
) -> User:
    """Create an account (or reuse the existing one for `email`) and give it `role`.

    Re-adding a role the person already holds is an error ("already holds this role"), so that
    the operator learns that nothing changed. An existing account keeps its password and
    authenticator: `password` and `totp_secret` are only for new accounts (an existing account
    without an authenticator app may be given one).
    """
    email = clean_email(email)
    role = clean_role(role)
    _check_member(network, role, member)
    if not _may_manage_role(actor, network, role, member):
        raise PermissionDenied(_("You may not give this role."))
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise ServiceError(_("the name is too long (at most 200 characters)"), "full_name")
    if totp_secret is not None:
        totp_secret = clean_totp_secret(totp_secret)

    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        if user is None:
            user = User(email=email, full_name=full_name)
            if password is not None:
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise ServiceError(" ".join(exc.messages), "password") from exc
            user.set_password(password)  # None gives an unusable password
            user.save()
            record_event(
                _user_or_none(actor),
                "account.user.create",
                obj=user,
                details={"email": email, "password_set": password is not None},
            )
        else:
            if password is not None:
                raise ServiceError(
                    _(
                        "the account %(email)s already exists: its password is changed by its "
                        "owner, not here"
                    )
                    % {"email": email},
                    "password",
                )
            if _assignment_exists(user, network, role, member):
                raise _duplicate_role_error(email, network, role, member)
            if (
                totp_secret is not None
                and Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
            ):
                raise ServiceError(
                    _("the account %(email)s already has an authenticator app") % {"email": email},
                    "totp_secret",
                )
        _ensure_email_address(user)
        _assign(actor, user, network, role, member)
        if totp_secret is not None:
            # Audited as "account.mfa.totp.activate" (and recovery_codes) by the Authenticator's
            # post_save receiver (signals.py), in this transaction. Recovery codes come with the
            # first factor, as on allauth's own pages; the person sees them on the MFA page.
            TOTP.activate(user, totp_secret)
            if not Authenticator.objects.filter(
                user=user, type=Authenticator.Type.RECOVERY_CODES
            ).exists():
                RecoveryCodes.activate(user)
    return user


def assign_role(
    actor, user: User, *, network: Network, role: str, member: Member | None = None
) -> RoleAssignment:
    """Give an existing account a role in a network."""
    role = clean_role(role)
    _check_member(network, role, member)
    if not _may_manage_role(actor, network, role, member):
        raise PermissionDenied(_("You may not give this role."))
    with transaction.atomic():
        if _assignment_exists(user, network, role, member):
            raise _duplicate_role_error(user.email, network, role, member)
        return _assign(actor, user, network, role, member)


def revoke_role(actor, assignment: RoleAssignment) -> None:
    """Take a role away. A network keeps at least one Secretariat account."""
    network = assignment.network
    if not _may_manage_role(actor, network, assignment.role, assignment.member):
        raise PermissionDenied(_("You may not take this role away."))
    with transaction.atomic():
        locked = (
            # of=("self",): PostgreSQL cannot lock the nullable side of the member outer join.
            RoleAssignment.objects.select_for_update(of=("self",))
            .select_related("user", "member", "network")
            .filter(pk=assignment.pk)
            .first()
        )
        if locked is None:
            raise ServiceError(_("this role has already been taken away"), "role")
        assignment = locked
        if (
            assignment.role == Role.SECRETARIAT
            and RoleAssignment.objects.filter(network=network, role=Role.SECRETARIAT).count() <= 1
        ):
            raise ServiceError(
                _("the last Secretariat role of a network cannot be taken away"), "role"
            )
        details = {
            "user": assignment.user.public_id,
            "email": assignment.user.email,
            "role": assignment.role,
            "member": assignment.member.code if assignment.member else None,
        }
        record_event(
            _user_or_none(actor),
            "network.role.revoke",
            obj=assignment,
            network=network,
            details=details,
        )
        assignment.delete()


def update_profile(actor, user: User, *, full_name: str, language: str) -> User:
    """A person changes its own name and language."""
    if actor is None or actor.pk != user.pk:
        raise PermissionDenied(_("You may only change your own profile."))
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise ServiceError(_("the name is too long (at most 200 characters)"), "full_name")
    languages = [code for code, _name in settings.LANGUAGES]
    if language not in languages:
        raise ServiceError(_("unknown language '%(code)s'") % {"code": language}, "language")
    changes = {}
    if user.full_name != full_name:
        changes["full_name"] = {"from": user.full_name, "to": full_name}
    if user.language != language:
        changes["language"] = {"from": user.language, "to": language}
    if not changes:
        return user
    with transaction.atomic():
        user.full_name = full_name
        user.language = language
        user.save(update_fields=["full_name", "language"])
        record_event(actor, "account.profile.update", obj=user, details={"changes": changes})
    return user


# --- invitations ---------------------------------------------------------------------------


def invite(
    actor, network: Network, email: str, role: str, member: Member | None = None
) -> tuple[Invitation, str]:
    """Invite `email` to hold `role` in `network`; the link goes out through the outbox.

    Returns the invitation and the raw token (only its SHA-256 is stored). A pending
    invitation for the same person and role is superseded (revoked) by the new one.
    """
    if not _is_user(actor):
        raise PermissionDenied(_("Invitations are sent by a signed-in person."))
    email = clean_email(email)
    role = clean_role(role)
    _check_member(network, role, member)
    access = resolve_access(actor, network)
    if not access.can_invite(role, member):
        raise PermissionDenied(_("You may not invite someone to this role."))
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        existing = User.objects.filter(email=email).first()
        if existing is not None and _assignment_exists(existing, network, role, member):
            raise _duplicate_role_error(email, network, role, member)
        invitation = Invitation.objects.create(
            email=email,
            network=network,
            role=role,
            member=member,
            token_hash=token_hash(raw),
            invited_by=actor,
            expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        )
        superseded = (
            Invitation.objects.select_for_update()
            .filter(
                email=email,
                network=network,
                role=role,
                member=member,
                status=InvitationStatus.PENDING,
            )
            .exclude(pk=invitation.pk)
        )
        for old in superseded:
            old.status = InvitationStatus.REVOKED
            old.save(update_fields=["status"])
            record_event(
                actor,
                "account.invitation.revoke",
                obj=old,
                network=network,
                details={"email": email, "superseded_by": invitation.public_id},
            )
        record_event(
            actor,
            "account.invitation.create",
            obj=invitation,
            network=network,
            details={
                "email": email,
                "role": role,
                "member": member.code if member is not None else None,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        # The e-mail is an outbox row of this transaction: a rolled-back invitation sends
        # nothing, a committed one is sent by a worker, retried, and visible to the Secretariat
        # if it fails (Deliveries page). The body holds the link; the outbox never shows or
        # logs bodies and blanks them once sent (docs/adr/0003).
        _enqueue_invitation_mail(invitation, raw)
    return invitation, raw


def invitation_link(raw: str) -> str:
    return f"{settings.BASE_URL}/invitations/{raw}/"


def _enqueue_invitation_mail(invitation: Invitation, raw: str) -> None:
    """The e-mail holds the network's name, the role and the link: no directory data."""
    context = {
        "network_name": invitation.network.name,
        "role": _role_label(invitation.role),
        "link": invitation_link(raw),
        "days": INVITATION_DAYS,
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/email/invitation_message.txt", context)
    enqueue_email(
        to=invitation.email,
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        body=body,
        kind=INVITATION_KIND,
        network=invitation.network,
        obj=invitation,
    )


def _invitation_problem(invitation: Invitation | None, now=None) -> str | None:
    """Why an invitation cannot be accepted (a message for the person), or None."""
    now = now or timezone.now()
    if invitation is None:
        return _("This invitation link is not valid. Check that you copied the whole link.")
    if invitation.status == InvitationStatus.REVOKED:
        return _("This invitation has been withdrawn. Ask the person who invited you.")
    if invitation.status == InvitationStatus.ACCEPTED:
        return _("This invitation has already been used. Sign in with your account.")
    if invitation.expires_at <= now:
        return _("This invitation has expired. Ask the person who invited you for a new one.")
    inviter = invitation.invited_by
    if inviter is not None and not (
        inviter.is_active
        and resolve_access(inviter, invitation.network).can_invite(
            invitation.role, invitation.member
        )
    ):
        # The inviter has lost the right to invite meanwhile: its invitations lapse with it.
        return _("This invitation is no longer valid. Ask your Secretariat for a new one.")
    return None


def find_invitation(raw_token: str) -> Invitation | None:
    """The invitation whose link carries `raw_token`, or None (looked up by hash)."""
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        Invitation.objects.select_related("network", "member", "invited_by")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )


def check_invitation(raw_token: str) -> tuple[Invitation | None, str | None]:
    """The invitation and, when it cannot be accepted, the reason."""
    invitation = find_invitation(raw_token)
    return invitation, _invitation_problem(invitation)


def accept_invitation(
    raw_token: str, *, user: User | None = None, password: str | None = None, full_name: str = ""
) -> User:
    """Accept an invitation: create the account, or add the role to the signed-in `user`.

    Expired, withdrawn or used invitations raise ServiceError and change nothing. A new account
    then signs in, where enrolment of a second factor is forced.
    """
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise ServiceError(_("the name is too long (at most 200 characters)"), "full_name")
    with transaction.atomic():
        invitation = find_invitation(raw_token)
        if invitation is not None:
            invitation = (
                Invitation.objects.select_for_update(of=("self",))
                .select_related("network", "member", "invited_by")
                .get(pk=invitation.pk)
            )
        problem = _invitation_problem(invitation)
        if problem or invitation is None:
            raise ServiceError(problem or "", "token")
        network, role, member = invitation.network, invitation.role, invitation.member
        if user is not None and _is_user(user):
            if user.email.lower() != invitation.email.lower():
                raise ServiceError(
                    _(
                        "This invitation was sent to another e-mail address. Sign out, then open "
                        "the link again."
                    ),
                    "token",
                )
            account = user
        else:
            if User.objects.filter(email=invitation.email).exists():
                raise ServiceError(
                    _(
                        "An account with this e-mail address already exists: sign in first, "
                        "then open the link again."
                    ),
                    "token",
                )
            if not password:
                raise ServiceError(_("a password is required"), "password")
            account = User(email=invitation.email, full_name=full_name)
            try:
                validate_password(password, account)
            except ValidationError as exc:
                raise ServiceError(" ".join(exc.messages), "password") from exc
            account.set_password(password)
            account.save()
            record_event(
                account,
                "account.user.create",
                obj=account,
                details={"email": account.email, "invitation": invitation.public_id},
            )
        _ensure_email_address(account)
        if not _assignment_exists(account, network, role, member):
            # Attributed to the inviter, who decided it; the acceptance is the person's act.
            _assign(invitation.invited_by, account, network, role, member)
        invitation.status = InvitationStatus.ACCEPTED
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = account
        invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
        record_event(
            account,
            "account.invitation.accept",
            obj=invitation,
            network=network,
            details={"email": account.email, "role": role, "new_account": user is None},
        )
    return account


def revoke_invitation(actor, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once."""
    if not _is_user(actor):
        raise PermissionDenied
    if not resolve_access(actor, invitation.network).can_invite(invitation.role, invitation.member):
        raise PermissionDenied(_("You may not withdraw this invitation."))
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        target = InvitationStatus.REVOKED
        if target not in Invitation.TRANSITIONS[InvitationStatus(invitation.status)]:
            raise ServiceError(
                _("this invitation is %(status)s and can no longer be withdrawn")
                % {"status": InvitationStatus(invitation.status).label.lower()},
                "status",
            )
        invitation.status = target
        invitation.save(update_fields=["status"])
        record_event(
            actor,
            "account.invitation.revoke",
            obj=invitation,
            network=invitation.network,
            details={"email": invitation.email},
        )
    return invitation


# --- personal API tokens -------------------------------------------------------------------


def create_token(
    actor, user: User, *, can_write: bool = False, days: int = 90, name: str = ""
) -> tuple[ApiToken, str]:
    """A personal API token for `user`: returns the row and the raw token (shown once)."""
    if actor is not None and (not _is_user(actor) or actor.pk != user.pk):
        raise PermissionDenied(_("You may only create tokens for yourself."))
    if isinstance(days, bool) or not isinstance(days, int):
        raise ServiceError(_("days must be a whole number between 1 and 365"), "days")
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise ServiceError(
            _("days must be between 1 and %(max)d, got %(days)d")
            % {"max": TOKEN_DAYS_MAX, "days": days},
            "days",
        )
    if not user.is_active:
        raise ServiceError(_("the account %(email)s is disabled") % {"email": user.email}, "user")
    name = (name or "").strip()
    if len(name) > 100:
        raise ServiceError(_("the name is too long (at most 100 characters)"), "name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=raw[:8],
            token_hash=token_hash(raw),
            can_write=bool(can_write),
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        record_event(
            _user_or_none(actor),
            "account.token.create",
            obj=token,
            details={
                "user": user.public_id,
                "email": user.email,
                "name": name,
                "can_write": bool(can_write),
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return token, raw


def authenticate_token(raw: str | None) -> ApiToken | None:
    """The usable token for a raw Bearer value, or None (unknown, revoked, expired, disabled)."""
    if not raw or not isinstance(raw, str) or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    digest = token_hash(raw)
    # Looked up by the hash of the presented value: the database compares hashes, which leak
    # nothing about stored tokens; compare_digest guards the final equality anyway.
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = timezone.now()
    if not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_token(actor, token: ApiToken) -> ApiToken:
    """Revoke a token at once (its owner, or the command line)."""
    if actor is not None and (not _is_user(actor) or actor.pk != token.user_id):
        raise PermissionDenied(_("You may only revoke your own tokens."))
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update(of=("self",)).select_related("user").get(pk=token.pk)
        )
        if token.revoked_at is not None:
            raise ServiceError(_("this token has already been revoked"), "token")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event(
            _user_or_none(actor),
            "account.token.revoke",
            obj=token,
            details={"user": token.user.public_id, "email": token.user.email},
        )
    return token


# --- authentication events (called from signal receivers, see signals.py) ------------------


def record_auth_event(actor, action: str, details: dict[str, Any] | None = None, subject=None):
    """An authentication event (login, logout, failure); never a password or a code.

    `subject` is the account concerned when it is not the actor (a failed sign-in).
    """
    subject = subject if subject is not None else _user_or_none(actor)
    with transaction.atomic():
        record_event(_user_or_none(actor), action, obj=subject, details=details)
