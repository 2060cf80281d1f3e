"""The only read path of the directory: what the acting user may see, and the search filters."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.directory import snapshots
from liaison.directory.diffing import DocumentDiff, diff_documents
from liaison.directory.models import (
    AvailabilityExceptionRow,
    AvailabilityWindow,
    Channel,
    ContactPoint,
    ContactPointType,
    Edition,
    EditionAcknowledgement,
    Layer,
)
from liaison.networks.models import Member


@dataclass(frozen=True)
class DirectoryFilters:
    member: str = ""  # member code or public id
    type: str = ""
    language: str = ""
    q: str = ""
    available_at: datetime | None = None


def _with_channels(qs: QuerySet[ContactPoint]) -> QuerySet[ContactPoint]:
    return qs.select_related("member").prefetch_related(
        Prefetch("channels", queryset=Channel.objects.order_by("position", "id"))
    )


def visible_contact_points(access: NetworkAccess) -> QuerySet[ContactPoint]:
    """The published contact points (the current edition) the actor may read (none without
    directory.view). Drafts are read with draft_contact_points."""
    if not access.has(Perm.DIRECTORY_VIEW):
        return ContactPoint.objects.none()
    return _with_channels(
        ContactPoint.objects.filter(network=access.network, layer=Layer.PUBLISHED)
    )


def draft_contact_points(access: NetworkAccess) -> QuerySet[ContactPoint]:
    """The drafts the actor may edit: every member's for the Secretariat, its own member's for a
    coordinator, none for anyone else."""
    if not access.has(Perm.DIRECTORY_EDIT):
        return ContactPoint.objects.none()
    qs = ContactPoint.objects.filter(network=access.network, layer=Layer.DRAFT)
    if not access.is_secretariat:
        qs = qs.filter(member_id__in=access.members_by_role.get("coordinator", set()))
    return _with_channels(qs)


def get_draft(access: NetworkAccess, public_id: str) -> ContactPoint:
    """The draft of a contact point the actor may edit; 404 when there is none (never created,
    removed from the drafts, or another member's)."""
    cp = draft_contact_points(access).filter(public_id=public_id).first()
    if cp is None:
        raise Http404
    return cp


def editions(access: NetworkAccess) -> QuerySet[Edition]:
    """The network's published editions, newest first (metadata only: content is deferred)."""
    if not access.has(Perm.DIRECTORY_VIEW):
        return Edition.objects.none()
    return (
        Edition.objects.filter(network=access.network)
        .select_related("published_by")
        .defer("content")
        .order_by("-number")
    )


def current_edition(access: NetworkAccess) -> Edition | None:
    if not access.has(Perm.DIRECTORY_VIEW):
        return None
    return Edition.objects.filter(network=access.network).order_by("-number").first()


def get_edition(access: NetworkAccess, number: int | None = None) -> Edition:
    """Edition `number` (None: the current one), or a ServiceError that says what exists."""
    if not access.has(Perm.DIRECTORY_VIEW):
        raise PermissionDenied
    qs = Edition.objects.filter(network=access.network)
    edition = qs.order_by("-number").first() if number is None else qs.filter(number=number).first()
    if edition is not None:
        return edition
    last = qs.order_by("-number").values_list("number", flat=True).first()
    if last is None:
        raise ServiceError(_("no edition of this directory has been published yet"), "edition")
    raise ServiceError(
        _("edition %(number)s does not exist (editions 1 to %(last)d exist)")
        % {"number": number, "last": last},
        "edition",
    )


def draft_document(access: NetworkAccess) -> dict:
    """All drafts in the edition format: what the next edition would hold (Secretariat only)."""
    if not access.has(Perm.DIRECTORY_PUBLISH):
        raise PermissionDenied
    return snapshots.draft_document(access.network)


def get_contact_point(access: NetworkAccess, public_id: str) -> ContactPoint:
    cp = visible_contact_points(access).filter(public_id=public_id).first()
    if cp is None:
        raise Http404
    return cp


def language_q(code: str) -> Q:
    code = code.strip().lower()
    return (
        Q(languages=code)
        | Q(languages__startswith=f"{code},")
        | Q(languages__endswith=f",{code}")
        | Q(languages__contains=f",{code},")
    )


def available_q(network_id: int, at: datetime) -> Q:
    """Contact points of the network available at the instant `at`, evaluated in SQL.

    For each time zone used in the network, `at` is turned into that zone's local weekday,
    minute and date once; a contact point is then available when (no exception covers its local
    date and it is 24/7 or a weekly window contains the minute) or an exception covering the
    date is open at that minute.
    """
    if at.tzinfo is None:
        raise ValueError("available_at must carry a time zone")
    zones = (
        ContactPoint.objects.filter(network_id=network_id)
        .order_by()
        .values_list("timezone", flat=True)
        .distinct()
    )
    clauses = Q(pk__in=[])
    for zone in zones:
        local = at.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        day = local.date()
        exception_today = AvailabilityExceptionRow.objects.filter(
            contact_point=OuterRef("pk"), start_date__lte=day, end_date__gte=day
        )
        open_exception = exception_today.filter(start_minute__lte=minute, end_minute__gt=minute)
        window_open = AvailabilityWindow.objects.filter(
            contact_point=OuterRef("pk"),
            weekday=local.weekday(),
            start_minute__lte=minute,
            end_minute__gt=minute,
        )
        regular = Q(~Exists(exception_today)) & (Q(always_available=True) | Q(Exists(window_open)))
        clauses |= Q(timezone=zone) & (regular | Q(Exists(open_exception)))
    return clauses


def filter_contact_points(
    qs: QuerySet[ContactPoint], access: NetworkAccess, filters: DirectoryFilters
) -> QuerySet[ContactPoint]:
    if filters.member:
        qs = qs.filter(Q(member__code=filters.member.upper()) | Q(member__public_id=filters.member))
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.language:
        qs = qs.filter(language_q(filters.language))
    if filters.q:
        term = filters.q.strip()
        qs = qs.filter(
            Q(institution__icontains=term)
            | Q(unit__icontains=term)
            | Q(member__name__icontains=term)
            | Q(member__code__iexact=term)
            | Q(instructions__icontains=term)
        )
    if filters.available_at is not None:
        qs = qs.filter(available_q(access.network.pk, filters.available_at))
    return qs


def filter_choices(access: NetworkAccess) -> tuple[list[tuple[str, str]], list[str]]:
    """For the list's filters, in one query: the members that have visible contact points, as
    (code, name) sorted by name, and the ISO 639-1 codes those contact points speak."""
    rows = (
        visible_contact_points(access)
        .prefetch_related(None)
        .order_by()
        .values_list("member__code", "member__name", "languages")
        .distinct()
    )
    members: set[tuple[str, str]] = set()
    languages: set[str] = set()
    for code, name, text in rows:
        members.add((code, name))
        languages.update(lang for lang in text.split(",") if lang)
    return sorted(members, key=lambda m: (m[1].casefold(), m[0])), sorted(languages)


def record_list_consultation(
    actor, access: NetworkAccess, filters: DirectoryFilters, result_count: int
) -> None:
    """Audit a consultation of the directory list: which filters, how many results."""
    used = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in vars(filters).items()
        if value not in ("", None)
    }
    record_event(
        actor,
        "directory.list",
        network=access.network,
        details={"filters": used, "results": result_count},
    )


def record_contact_point_view(actor, access: NetworkAccess, cp: ContactPoint) -> None:
    """Audit a consultation of one contact point's details."""
    record_event(
        actor,
        "directory.view_contact_point",
        obj=cp,
        network=access.network,
        details={"member": cp.member.code},
    )


def read_contact_point(actor, access: NetworkAccess, public_id: str) -> ContactPoint:
    """get_contact_point, audited as a consultation ("directory.view_contact_point")."""
    cp = get_contact_point(access, public_id)
    record_contact_point_view(actor, access, cp)
    return cp


# --- review of pending changes, and acknowledgements of editions ------------------------------


@dataclass(frozen=True)
class DraftEntry:
    """One of the actor's drafts and how it differs from the current edition."""

    cp: ContactPoint
    change: str  # "added" | "edited" | "" (as published)


@dataclass(frozen=True)
class RemovedEntry:
    """A published contact point that the drafts no longer hold."""

    id: str
    title: str
    type_label: str


@dataclass(frozen=True)
class DraftGroup:
    """A member whose entries the actor edits: its drafts, and the entries removed from them."""

    member: Member
    count: int  # of its drafts
    drafts: list[DraftEntry]  # listed when PendingChanges.drafts_detailed, else []
    removed: list[RemovedEntry]
    changed: bool


# Past this many entries, the page lists the members, each a link to review it alone, instead
# of every entry at once (a first edition of 10,000 entries would be megabytes of HTML).
DETAIL_LIMIT = 200


@dataclass(frozen=True)
class PendingChanges:
    """What the next edition would change, restricted to the members the actor may edit.

    `diff` covers all of them (the summary); `shown` the member chosen, or all of them when the
    changes are few enough to show at once (else it is empty and `diff_detailed` is False).
    """

    current: Edition | None
    diff: DocumentDiff
    shown: DocumentDiff
    diff_detailed: bool
    groups: list[DraftGroup]
    drafts_detailed: bool
    members: list[Member]  # every member the actor edits (to choose one)
    member: Member | None  # the one chosen, if any
    fingerprint: str  # of the reviewed state (all the actor's members): checked on publishing

    @property
    def next_number(self) -> int:
        return self.current.number + 1 if self.current else 1


def _editable_members(access: NetworkAccess) -> QuerySet[Member]:
    members = Member.objects.filter(network=access.network).order_by("name", "code")
    if access.is_secretariat:
        return members
    return members.filter(pk__in=access.members_by_role.get(Role.COORDINATOR, set()))


def _only(document: dict, codes: set[str]) -> dict:
    return {**document, "members": [m for m in document["members"] if m["code"] in codes]}


def pending_changes(access: NetworkAccess, member: str = "") -> PendingChanges:
    """The current edition → the drafts, member by member, for the members the actor edits
    (every member for the Secretariat, its own for a coordinator); `member` (a code or public
    id; Http404 when the actor does not edit it) narrows what is shown in detail.

    A fixed number of queries whatever the size of the directory: the current edition (1), the
    drafts as a document (3), the editable members (1), the drafts counted (1) and listed (1).
    """
    if not access.has(Perm.DIRECTORY_EDIT):
        raise PermissionDenied
    current = Edition.objects.filter(network=access.network).order_by("-number").first()
    members = list(_editable_members(access))
    chosen = None
    if member:
        chosen = next((m for m in members if member in (m.code, m.public_id)), None)
        if chosen is None:
            raise Http404
    codes = {m.code for m in members}
    draft = _only(snapshots.draft_document(access.network), codes)
    old = _only(current.document(), codes) if current else None
    diff = diff_documents(old, draft)
    reviewed = json.dumps(
        [current.number if current else 0, draft["members"]],
        sort_keys=True,
        separators=(",", ":"),
    )

    focus = [chosen] if chosen else members
    shown_members = tuple(m for m in diff.members if chosen is None or m.code == chosen.code)
    diff_detailed = chosen is not None or sum(len(m.contact_points) for m in diff.members) <= (
        DETAIL_LIMIT
    )
    shown = DocumentDiff(diff.from_edition, diff.to_edition, shown_members if diff_detailed else ())
    by_code = {m.code: m for m in diff.members}
    changes = {cp.id: cp.change for m in diff.members for cp in m.contact_points}

    own_drafts = draft_contact_points(access).prefetch_related(None).select_related(None)
    if chosen:
        own_drafts = own_drafts.filter(member=chosen)
    counts = dict(
        own_drafts.order_by()
        .values_list("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    )
    drafts_detailed = chosen is not None or sum(counts.values()) <= DETAIL_LIMIT
    drafts: dict[int, list[DraftEntry]] = {}
    if drafts_detailed:
        for cp in own_drafts.order_by("member_id", "position", "id"):
            entry = DraftEntry(cp, changes.get(cp.public_id, ""))
            drafts.setdefault(cp.member_id, []).append(entry)
    groups = []
    for m in focus:
        member_diff = by_code.get(m.code)
        entries = drafts.get(m.pk, [])
        for entry in entries:
            entry.cp.member = m  # shown with its member, without a join per row
        # The Secretariat sees the members that have entries or changes; a coordinator its own.
        if counts.get(m.pk) or member_diff or not access.is_secretariat or chosen:
            removed = [
                RemovedEntry(cp.id, cp.title, _type_label(cp.current.get("type", "")))
                for cp in (member_diff.contact_points if member_diff else ())
                if cp.change == "removed"
            ]
            groups.append(
                DraftGroup(m, counts.get(m.pk, 0), entries, removed, member_diff is not None)
            )
    return PendingChanges(
        current=current,
        diff=diff,
        shown=shown,
        diff_detailed=diff_detailed,
        groups=groups,
        drafts_detailed=drafts_detailed,
        members=members,
        member=chosen,
        fingerprint=hashlib.sha256(reviewed.encode()).hexdigest(),
    )


def _type_label(value: str) -> str:
    return str(dict(ContactPointType.choices).get(value, value))


def read_pending_changes(actor, access: NetworkAccess, member: str = "") -> PendingChanges:
    """pending_changes, audited as a consultation of the drafts ("directory.changes")."""
    pending = pending_changes(access, member)
    details: dict = {"changed_members": pending.diff.changed_members}
    if pending.member is not None:
        details["member"] = pending.member.code
    record_event(actor, "directory.changes", network=access.network, details=details)
    return pending


def pending_change_members(access: NetworkAccess) -> list[str]:
    """Codes of the members whose drafts differ from the current edition (what publishing would
    change), for the Secretariat; [] for anyone else. Four queries."""
    if not access.has(Perm.DIRECTORY_PUBLISH):
        return []
    current = Edition.objects.filter(network=access.network).order_by("-number").first()
    draft = snapshots.draft_document(access.network)
    return snapshots.changed_members(current.document() if current else None, draft)


def _entry_content(cp: ContactPoint) -> tuple:
    return (
        tuple(getattr(cp, name) for name in snapshots.CONTACT_POINT_FIELDS),
        cp.languages,
        tuple((ch.kind, ch.value, ch.notes) for ch in cp.channels.all()),
    )


def draft_state(access: NetworkAccess, published: ContactPoint) -> str:
    """For someone who may edit its member, how the draft of a published contact point differs
    from it: "" (no difference, or not an editor), "edited", or "removed" (from the drafts)."""
    if not access.can_edit_member(published.member):
        return ""
    draft = draft_contact_points(access).filter(public_id=published.public_id).first()
    if draft is None:
        return "removed"
    return "" if _entry_content(draft) == _entry_content(published) else "edited"


@dataclass(frozen=True)
class AcknowledgementStatus:
    member: Member
    acknowledgement: EditionAcknowledgement | None


def _acknowledgements(edition: Edition, members: QuerySet[Member]) -> list[AcknowledgementStatus]:
    acks = {
        ack.member_id: ack
        for ack in EditionAcknowledgement.objects.filter(edition=edition).select_related(
            "acknowledged_by"
        )
    }
    return [AcknowledgementStatus(m, acks.get(m.pk)) for m in members.order_by("code")]


def acknowledgement_status(access: NetworkAccess, edition: Edition) -> list[AcknowledgementStatus]:
    """Every member of the network and its acknowledgement of `edition` (the Secretariat's
    table): those that have not acknowledged first, then by code. Two queries."""
    if not access.has(Perm.DIRECTORY_PUBLISH) or edition.network_id != access.network.pk:
        raise PermissionDenied
    rows = _acknowledgements(edition, Member.objects.filter(network=access.network))
    return sorted(rows, key=lambda row: row.acknowledgement is not None)  # stable: by code


def own_acknowledgements(access: NetworkAccess, edition: Edition) -> list[AcknowledgementStatus]:
    """The members the actor acknowledges editions for (as coordinator or officer) and whether
    they have acknowledged `edition`. Two queries; none for people acting for no member."""
    if not access.has(Perm.EDITION_ACKNOWLEDGE) or edition.network_id != access.network.pk:
        return []
    own = access.members_by_role.get(Role.COORDINATOR, set()) | access.members_by_role.get(
        Role.OFFICER, set()
    )
    if not own:
        return []
    return _acknowledgements(edition, Member.objects.filter(network=access.network, pk__in=own))
