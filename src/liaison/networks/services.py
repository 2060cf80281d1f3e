"""The only write path of networks and members: create, update, dated status changes.

Every function takes the acting user first. `actor=None` is the command line (whoever runs it
already controls the deployment); a user must hold `network.manage` in the network.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pycountry
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm
from liaison.networks.models import Member, MemberKind, MemberStatus, MemberStatusChange, Network
from liaison.networks.queries import resolve_access

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# One rule for the member form and the directory import: a capital letter first, so that an
# organisation code is never mistaken for a number.
ORGANISATION_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
# How far ahead a status change may be recorded (a ratification with a known entry into force).
MAX_FUTURE = dt.timedelta(days=366)

NETWORK_FIELDS = (
    "name",
    "legal_basis",
    "description",
    "secretariat_name",
    "observers_see_directory",
    "justification_required",
)
_TEXT_LIMITS = {"name": 200, "legal_basis": 300, "secretariat_name": 200}
_BOOL_FIELDS = {"observers_see_directory", "justification_required"}

UNSET: Any = object()


# --- authorisation -------------------------------------------------------------------------


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _require_manage(actor, network: Network, access: NetworkAccess | None = None) -> None:
    """The command line (actor None) may; a user needs network.manage in `network`."""
    if actor is None:
        return
    if access is None or access.network.pk != network.pk:
        access = resolve_access(actor, network)
    if not access.has(Perm.NETWORK_MANAGE):
        raise PermissionDenied(_("Only the Secretariat may manage this network."))


def _user_or_none(actor):
    return actor if _is_user(actor) else None


# --- validation ----------------------------------------------------------------------------


def _clean_text(value: Any, field: str, *, required: bool, limit: int | None = None) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ServiceError(_("%(field)s is required") % {"field": field.replace("_", " ")}, field)
    if limit is not None and len(text) > limit:
        raise ServiceError(
            _("%(field)s is too long (at most %(limit)d characters)")
            % {"field": field.replace("_", " "), "limit": limit},
            field,
        )
    return text


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip()
    if not slug:
        raise ServiceError(_("a slug is required"), "slug")
    if len(slug) > 60 or len(slug) < 2 or not SLUG_RE.match(slug):
        raise ServiceError(
            _(
                "invalid slug '%(slug)s': use 2 to 60 lowercase letters, digits and single "
                "hyphens (e.g. budapest-247)"
            )
            % {"slug": slug[:60]},
            "slug",
        )
    return slug


def validate_kind(kind: str) -> str:
    kind = (kind or "").strip().lower()
    if kind not in MemberKind.values:
        raise ServiceError(
            _("unknown kind '%(kind)s' (state or organisation)") % {"kind": kind}, "kind"
        )
    return kind


def validate_status(status: str) -> str:
    status = (status or "").strip().lower()
    if status not in MemberStatus.values:
        raise ServiceError(
            _("unknown status '%(status)s' (party, observer or non_party)") % {"status": status},
            "status",
        )
    return status


def _country(code: str):
    if len(code) != 2 or not code.isalpha():
        return None
    return pycountry.countries.get(alpha_2=code)


def validate_code(code: str, kind: str) -> str:
    """A state's ISO 3166-1 alpha-2 code, or an organisation's code (EU, INTERPOL, OAS_CICTE)."""
    code = (code or "").strip().upper()
    if not code:
        raise ServiceError(_("a member code is required"), "code")
    if kind == MemberKind.STATE:
        if _country(code) is None:
            raise ServiceError(
                _("unknown country code '%(code)s' (use ISO 3166-1 alpha-2, e.g. FR)")
                % {"code": code[:16]},
                "code",
            )
    elif not ORGANISATION_CODE_RE.match(code):
        raise ServiceError(
            _(
                "invalid organisation code '%(code)s': 2 to 16 capital letters, digits or _, "
                "starting with a letter (e.g. EU, INTERPOL, OAS_CICTE)"
            )
            % {"code": code[:16]},
            "code",
        )
    return code


def default_member_name(code: str, kind: str) -> str:
    """The country's common name for a state ("Bolivia", not "Bolivia, Plurinational State of")."""
    country = _country(code) if kind == MemberKind.STATE else None
    if country is None:
        return ""
    return getattr(country, "common_name", None) or country.name


def _today() -> dt.date:
    return timezone.localdate()


def _validate_effective(
    effective_on: dt.date | None, previous: dt.date | None, field: str = "status_since"
) -> dt.date:
    effective_on = effective_on or _today()
    if isinstance(effective_on, dt.datetime):
        effective_on = effective_on.date()
    if not isinstance(effective_on, dt.date):
        raise ServiceError(_("invalid date"), field)
    if effective_on > _today() + MAX_FUTURE:
        raise ServiceError(
            _("the date %(date)s is more than a year in the future")
            % {"date": effective_on.isoformat()},
            field,
        )
    if previous is not None and effective_on < previous:
        raise ServiceError(
            _("the date %(date)s is before the previous status change (%(previous)s)")
            % {"date": effective_on.isoformat(), "previous": previous.isoformat()},
            field,
        )
    return effective_on


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# --- networks ------------------------------------------------------------------------------


def create_network(
    actor,
    slug: str,
    name: str,
    *,
    legal_basis: str = "",
    description: str = "",
    secretariat_name: str = "",
    observers_see_directory: bool = True,
    justification_required: bool = False,
    is_demo: bool = False,
) -> Network:
    """Create a network. From the command line (actor None) or by a platform administrator."""
    if actor is not None and not (_is_user(actor) and actor.is_superuser):
        raise PermissionDenied(_("Only an administrator may create a network."))
    slug = validate_slug(slug)
    name = _clean_text(name, "name", required=True, limit=200)
    legal_basis = _clean_text(legal_basis, "legal_basis", required=False, limit=300)
    secretariat_name = _clean_text(secretariat_name, "secretariat_name", required=False, limit=200)
    description = _clean_text(description, "description", required=False)
    with transaction.atomic():
        if Network.objects.filter(slug=slug).exists():
            raise ServiceError(
                _("a network with the slug '%(slug)s' already exists") % {"slug": slug}, "slug"
            )
        network = Network.objects.create(
            slug=slug,
            name=name,
            legal_basis=legal_basis,
            description=description,
            secretariat_name=secretariat_name,
            observers_see_directory=bool(observers_see_directory),
            justification_required=bool(justification_required),
            is_demo=bool(is_demo),
        )
        record_event(
            _user_or_none(actor),
            "network.create",
            obj=network,
            network=network,
            details={"slug": slug, "name": name, "is_demo": bool(is_demo)},
        )
    return network


def update_network(
    actor, network: Network, *, access: NetworkAccess | None = None, **fields: Any
) -> Network:
    """Change a network's name, description or policies (Secretariat only)."""
    unknown = sorted(set(fields) - set(NETWORK_FIELDS))
    if unknown:
        raise ServiceError(
            _("unknown network field '%(field)s'") % {"field": unknown[0]}, unknown[0]
        )
    _require_manage(actor, network, access)
    cleaned: dict[str, Any] = {}
    for field, value in fields.items():
        if field in _BOOL_FIELDS:
            cleaned[field] = bool(value)
        elif field == "description":
            cleaned[field] = _clean_text(value, field, required=False)
        else:
            cleaned[field] = _clean_text(
                value, field, required=field == "name", limit=_TEXT_LIMITS[field]
            )
    with transaction.atomic():
        network = Network.objects.select_for_update().get(pk=network.pk)
        changes = {
            field: {"from": getattr(network, field), "to": value}
            for field, value in cleaned.items()
            if getattr(network, field) != value
        }
        if not changes:
            return network
        for field, change in changes.items():
            setattr(network, field, change["to"])
        network.save(update_fields=list(changes))
        record_event(
            _user_or_none(actor),
            "network.update",
            obj=network,
            network=network,
            details={"changes": changes},
        )
    return network


# --- members -------------------------------------------------------------------------------


def add_member(
    actor,
    network: Network,
    *,
    code: str,
    name: str = "",
    kind: str,
    status: str,
    status_since: dt.date | None = None,
    access: NetworkAccess | None = None,
) -> Member:
    """Add a state or organisation to the network, with the first entry of its status history."""
    _require_manage(actor, network, access)
    kind = validate_kind(kind)
    code = validate_code(code, kind)
    status = validate_status(status)
    name = _clean_text(name, "name", required=False, limit=200) or default_member_name(code, kind)
    if not name:
        raise ServiceError(_("name is required"), "name")
    effective_on = _validate_effective(status_since, None)
    with transaction.atomic():
        if Member.objects.filter(network=network, code=code).exists():
            raise ServiceError(
                _("the member '%(code)s' already exists in this network") % {"code": code}, "code"
            )
        member = Member.objects.create(
            network=network,
            code=code,
            name=name,
            kind=kind,
            status=status,
            status_since=effective_on,
        )
        MemberStatusChange.objects.create(
            member=member,
            status=status,
            effective_on=effective_on,
            recorded_by=_user_or_none(actor),
            note=_("admitted to the network"),
        )
        record_event(
            _user_or_none(actor),
            "member.create",
            obj=member,
            network=network,
            details={
                "code": code,
                "name": name,
                "kind": kind,
                "status": status,
                "status_since": effective_on.isoformat(),
            },
        )
    return member


def _latest_changes(member: Member) -> list[MemberStatusChange]:
    """The last two status changes, newest first."""
    return list(member.status_changes.order_by("-effective_on", "-recorded_at", "-id")[:2])


def update_member(
    actor,
    member: Member,
    *,
    name: str = UNSET,
    status: str = UNSET,
    status_since: dt.date | None = UNSET,
    note: str = "",
    access: NetworkAccess | None = None,
) -> Member:
    """Rename a member or change its status; a new status is appended to the dated history.

    `status_since` with the same status corrects the date of the current status (the last
    entry of the history) instead of adding one.
    """
    network = member.network
    _require_manage(actor, network, access)
    note = _clean_text(note, "note", required=False, limit=300)
    if name is not UNSET:
        name = _clean_text(name, "name", required=True, limit=200)
    if status is not UNSET:
        status = validate_status(status)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        changes: dict[str, dict[str, Any]] = {}
        if name is not UNSET and name != member.name:
            changes["name"] = {"from": member.name, "to": name}
            member.name = name
        latest = _latest_changes(member)
        if status is not UNSET and status != member.status:
            previous = latest[0].effective_on if latest else None
            effective_on = _validate_effective(
                None if status_since is UNSET else status_since, previous
            )
            MemberStatusChange.objects.create(
                member=member,
                status=status,
                effective_on=effective_on,
                recorded_by=_user_or_none(actor),
                note=note,
            )
            changes["status"] = {"from": member.status, "to": status}
            changes["status_since"] = {
                "from": _jsonable(member.status_since),
                "to": effective_on.isoformat(),
            }
            member.status = status
            member.status_since = effective_on
        elif (
            status_since is not UNSET
            and status_since is not None
            and status_since != member.status_since
        ):
            # Correcting the date of the current status: it stays after the change before it.
            previous = latest[1].effective_on if len(latest) > 1 else None
            effective_on = _validate_effective(status_since, previous)
            if latest and latest[0].status == member.status:
                latest[0].effective_on = effective_on
                if note:
                    latest[0].note = note
                latest[0].save(update_fields=["effective_on", "note"])
            else:  # no history yet (members created before histories were kept)
                MemberStatusChange.objects.create(
                    member=member,
                    status=member.status,
                    effective_on=effective_on,
                    recorded_by=_user_or_none(actor),
                    note=note,
                )
            changes["status_since"] = {
                "from": _jsonable(member.status_since),
                "to": effective_on.isoformat(),
            }
            member.status_since = effective_on
        if not changes:
            return member
        member.save(update_fields=[f for f in ("name", "status", "status_since") if f in changes])
        record_event(
            _user_or_none(actor),
            "member.update",
            obj=member,
            network=network,
            details={"code": member.code, "changes": changes, "note": note},
        )
    return member


def load_members_by_code(network: Network) -> dict[str, Member]:
    """Every member of `network` keyed by code: the cache that `upsert_member` takes."""
    return {m.code: m for m in Member.objects.filter(network=network)}


def upsert_member(
    actor,
    network: Network,
    code: str,
    name: str,
    kind: str,
    status: str,
    *,
    existing: dict[str, Member] | None = None,
    access: NetworkAccess | None = None,
) -> tuple[Member, bool]:
    """Create the member `code`, or bring its name, kind and status up to date (the import).

    For bulk use pass `existing=load_members_by_code(network)` (it must hold every member of
    the network; new members are added to it) and the caller's `access`: a row that changes
    nothing then costs no query at all.
    """
    _require_manage(actor, network, access)
    kind = validate_kind(kind)
    code = validate_code(code, kind)
    status = validate_status(status)
    name = _clean_text(name, "name", required=False, limit=200)
    if existing is not None:
        member = existing.get(code)
    else:
        member = Member.objects.filter(network=network, code=code).first()
    if member is None:
        name = name or default_member_name(code, kind)
        if not name:
            raise ServiceError(_("name is required"), "name")
        try:
            member = add_member(
                actor,
                network,
                code=code,
                name=name,
                kind=kind,
                status=status,
                access=_authorised(network),
            )
        except IntegrityError as exc:  # a stale cache: the member was added meanwhile
            raise ServiceError(
                _("the member '%(code)s' already exists in this network") % {"code": code}, "code"
            ) from exc
        if existing is not None:
            existing[code] = member
        return member, True
    name = name or member.name  # a blank name keeps the member's
    if member.name == name and member.kind == kind and member.status == status:
        return member, False
    with transaction.atomic():
        if member.kind != kind:
            Member.objects.filter(pk=member.pk).update(kind=kind)
            record_event(
                _user_or_none(actor),
                "member.update",
                obj=member,
                network=network,
                details={"code": code, "changes": {"kind": {"from": member.kind, "to": kind}}},
            )
        updated = update_member(
            actor, member, name=name, status=status, access=_authorised(network)
        )
    if existing is not None:
        existing[code] = updated
    return updated, False


def _authorised(network: Network) -> NetworkAccess:
    """Handed to inner calls once `upsert_member` has authorised, to skip a second look-up."""
    return NetworkAccess(network=network, perms=frozenset({Perm.NETWORK_MANAGE}))
