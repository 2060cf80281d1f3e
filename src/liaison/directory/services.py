"""The only write path of the directory: drafts (create, update, delete, replace by import),
publication of editions and their acknowledgement.

Edits change the draft layer; readers see the published layer, which only publish_edition
changes. The review date and last confirmation are record-keeping, not directory content: they
are set on both layers at once, so "still correct" needs no new edition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from liaison.audit.services import record_event
from liaison.core.errors import ServiceError
from liaison.core.permissions import NetworkAccess, Perm, Role
from liaison.delivery.services import notify_people
from liaison.directory import snapshots
from liaison.directory.models import (
    AvailabilityExceptionRow,
    AvailabilityWindow,
    Channel,
    ContactPoint,
    Edition,
    EditionAcknowledgement,
    Layer,
)
from liaison.directory.schemas import ContactPointData, current_data, validate_contact_point
from liaison.networks.models import Member, Network, RoleAssignment

REVIEW_PERIOD = timedelta(days=365)


def _region(member: Member) -> str | None:
    return member.code if member.kind == "state" and len(member.code) == 2 else None


def _require_edit(access: NetworkAccess, member: Member) -> None:
    if not access.can_edit_member(member):
        raise PermissionDenied("you may not edit this member's entries")


def _apply(cp: ContactPoint, data: ContactPointData) -> None:
    cp.type = data.type
    cp.institution = data.institution
    cp.unit = data.unit
    cp.availability = data.availability
    cp.always_available = data.schedule.always
    cp.availability_exceptions = data.availability_exceptions
    cp.timezone = data.timezone
    cp.languages = data.languages
    cp.instructions = data.instructions
    cp.pgp_key = data.pgp_key
    cp.review_date = data.review_date or (timezone.now() + REVIEW_PERIOD).date()


def _derived_rows(cp: ContactPoint, data: ContactPointData):
    """Channels, weekly windows and exception rows: what SQL filters and pages read."""
    channels = [
        Channel(contact_point=cp, kind=ch.kind, value=ch.value, notes=ch.notes, position=i)
        for i, ch in enumerate(data.channels)
    ]
    windows = [
        AvailabilityWindow(
            contact_point=cp, weekday=w.weekday, start_minute=w.start, end_minute=w.end
        )
        for w in data.schedule.windows
    ]
    exceptions = []
    for exc in data.exceptions:
        hours = exc.hours or ((None, None),)
        exceptions += [
            AvailabilityExceptionRow(
                contact_point=cp,
                start_date=exc.start,
                end_date=exc.end,
                start_minute=start,
                end_minute=end,
            )
            for start, end in hours
        ]
    return channels, windows, exceptions


def _write_derived(cps_and_data: Sequence[tuple[ContactPoint, ContactPointData]]) -> None:
    channels: list[Channel] = []
    windows: list[AvailabilityWindow] = []
    exceptions: list[AvailabilityExceptionRow] = []
    for cp, data in cps_and_data:
        c, w, e = _derived_rows(cp, data)
        channels += c
        windows += w
        exceptions += e
    Channel.objects.bulk_create(channels, batch_size=1000)
    AvailabilityWindow.objects.bulk_create(windows, batch_size=1000)
    AvailabilityExceptionRow.objects.bulk_create(exceptions, batch_size=1000)


def _clear_derived(cp_ids: Iterable[int]) -> None:
    ids = list(cp_ids)
    Channel.objects.filter(contact_point_id__in=ids).delete()
    AvailabilityWindow.objects.filter(contact_point_id__in=ids).delete()
    AvailabilityExceptionRow.objects.filter(contact_point_id__in=ids).delete()


def create_contact_point(actor, access: NetworkAccess, member: Member, raw: dict[str, Any]):
    """Add a contact point to `member` from raw input (validated with the shared schema)."""
    _require_edit(access, member)
    data = validate_contact_point(raw, region=_region(member))
    with transaction.atomic():
        position = member.contact_points.filter(layer=Layer.DRAFT).count()
        cp = ContactPoint(
            network=member.network,
            member=member,
            layer=Layer.DRAFT,
            position=position,
            updated_by=actor,
        )
        _apply(cp, data)
        cp.save()
        _write_derived([(cp, data)])
        record_event(
            actor,
            "directory.contact_point.create",
            obj=cp,
            network=member.network,
            details={"member": member.code},
        )
    return cp


def _draft_of(cp: ContactPoint) -> ContactPoint:
    """The draft twin of a (published) contact point, or a ServiceError when the drafts no longer
    hold it (removed, to disappear at the next edition)."""
    if cp.layer == Layer.DRAFT:
        return cp
    draft = (
        ContactPoint.objects.filter(public_id=cp.public_id, layer=Layer.DRAFT)
        .select_related("member", "network")
        .first()
    )
    if draft is None:
        raise ServiceError(
            _("this contact point was removed from the drafts: it disappears at the next edition")
        )
    return draft


def _sync_review(cp: ContactPoint) -> None:
    """Review date and last confirmation are the same on both layers."""
    ContactPoint.objects.filter(public_id=cp.public_id).exclude(pk=cp.pk).update(
        review_date=cp.review_date, last_confirmed_at=cp.last_confirmed_at
    )


def update_contact_point(actor, access: NetworkAccess, cp: ContactPoint, changes: dict[str, Any]):
    """Partial update of the draft: `changes` overrides the stored values, and the whole is
    re-validated. Given a published contact point, its draft twin is updated (and returned)."""
    _require_edit(access, cp.member)
    cp = _draft_of(cp)
    before = current_data(cp)
    raw = {**before, **changes}
    data = validate_contact_point(raw, region=_region(cp.member))
    with transaction.atomic():
        cp = ContactPoint.objects.select_for_update().get(pk=cp.pk)
        _apply(cp, data)
        cp.updated_by = actor
        cp.save()
        _clear_derived([cp.pk])
        _write_derived([(cp, data)])
        _sync_review(cp)
        after = current_data(cp)
        changed = sorted(k for k in after if _jsonable(after[k]) != _jsonable(before[k]))
        record_event(
            actor,
            "directory.contact_point.update",
            obj=cp,
            network=cp.network,
            details={"member": cp.member.code, "fields": changed},
        )
    return cp


def delete_contact_point(actor, access: NetworkAccess, cp: ContactPoint) -> None:
    """Remove the draft: the published contact point disappears at the next edition."""
    _require_edit(access, cp.member)
    cp = _draft_of(cp)
    with transaction.atomic():
        record_event(
            actor,
            "directory.contact_point.delete",
            obj=cp,
            network=cp.network,
            details={"member": cp.member.code},
        )
        _clear_derived([cp.pk])
        cp.delete()


def confirm_contact_point(actor, access: NetworkAccess, cp: ContactPoint) -> ContactPoint:
    """'Still correct': moves the review date a period ahead, on both layers (no new edition)."""
    _require_edit(access, cp.member)
    with transaction.atomic():
        now = timezone.now()
        cp.last_confirmed_at = now
        cp.review_date = (now + REVIEW_PERIOD).date()
        cp.save(update_fields=["last_confirmed_at", "review_date", "updated_at"])
        _sync_review(cp)
        record_event(actor, "directory.contact_point.confirm", obj=cp, network=cp.network)
    return cp


@dataclass
class ReplaceResult:
    members_created: int
    members_updated: int
    contact_points_removed: int
    contact_points_created: int


def replace_member_entries(
    actor,
    network: Network,
    entries: Sequence[tuple[Member, Sequence[ContactPointData]]],
    *,
    source: str = "",
) -> ReplaceResult:
    """Each listed member ends up with exactly the given contact points (the import's rule).

    The caller has validated everything and upserted the members in the same transaction; this
    writes in bulk so that 10,000 rows cost a handful of statements per 1,000 rows.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("replace_member_entries must run inside the caller's transaction")
    member_ids = [m.pk for m, _ in entries]
    old = list(
        ContactPoint.objects.filter(
            network=network, layer=Layer.DRAFT, member_id__in=member_ids
        ).values_list(
            "pk",
            "member_id",
            "public_id",
            "type",
            "institution",
            "unit",
            "review_date",
            "last_confirmed_at",
        )
    )
    old_ids = [row[0] for row in old]
    kept = _match_identities(old, entries)
    for start in range(0, len(old_ids), 900):  # SQLite's bound-parameter limit
        chunk = old_ids[start : start + 900]
        _clear_derived(chunk)
        ContactPoint.objects.filter(pk__in=chunk).delete()
    pairs: list[tuple[ContactPoint, ContactPointData]] = []
    review_changes: list[ContactPoint] = []
    for member, datas in entries:
        for position, data in enumerate(datas):
            public_id, review, confirmed = kept.get((member.pk, position), ("", None, None))
            cp = ContactPoint(
                network=network,
                member=member,
                layer=Layer.DRAFT,
                position=position,
                updated_by=actor,
                public_id=public_id,
            )
            _apply(cp, data)
            if public_id:  # the desk keeps its review record unless the file sets a date
                cp.last_confirmed_at = confirmed
                if data.review_date is None and review is not None:
                    cp.review_date = review
                elif cp.review_date != review:
                    review_changes.append(cp)
            pairs.append((cp, data))
    created = ContactPoint.objects.bulk_create([cp for cp, _ in pairs], batch_size=1000)
    if any(cp.pk is None for cp in created):  # backends that don't return ids on bulk insert
        raise RuntimeError("the database did not return primary keys for bulk inserts")
    _write_derived(pairs)
    for cp in review_changes:
        _sync_review(cp)
    record_event(
        actor,
        "directory.import",
        network=network,
        details={
            "source": source,
            "members": sorted(m.code for m, _ in entries),
            "contact_points_removed": len(old_ids),
            "contact_points_created": len(pairs),
        },
    )
    return ReplaceResult(0, 0, len(old_ids), len(pairs))


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _match_identities(
    old: Sequence[tuple], entries: Sequence[tuple[Member, Sequence[ContactPointData]]]
) -> dict[tuple[int, int], tuple]:
    """Which imported rows are desks that already exist, so that they keep their public id.

    Re-importing an unchanged file must leave nothing to publish, and a desk whose unit or
    phone changed must show in the diff as an edit of that contact point, not as a removal and
    an addition. First pass: same member, type, institution and unit; second pass, among what
    is left: same member, type and institution, in file order. Returns (member pk, position)
    → (public id, review date, last confirmation) of the desk taken over.
    """
    free: dict[tuple, list[tuple]] = {}
    loose: dict[tuple, list[tuple]] = {}
    for _pk, member_id, public_id, type_, institution, unit, review, confirmed in old:
        record = (public_id, review, confirmed)
        free.setdefault((member_id, type_, _norm(institution), _norm(unit)), []).append(record)
        loose.setdefault((member_id, type_, _norm(institution)), []).append(record)
    taken: set[str] = set()
    kept: dict[tuple[int, int], tuple] = {}
    for exact in (True, False):
        for member, datas in entries:
            for position, data in enumerate(datas):
                if (member.pk, position) in kept:
                    continue
                key: tuple = (member.pk, data.type, _norm(data.institution))
                candidates = (free if exact else loose).get(
                    (*key, _norm(data.unit)) if exact else key, []
                )
                for record in candidates:
                    if record[0] not in taken:
                        taken.add(record[0])
                        kept[(member.pk, position)] = record
                        break
    return kept


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def require_perm(access: NetworkAccess, perm: Perm) -> None:
    if not access.has(perm):
        raise PermissionDenied


# --- editions ------------------------------------------------------------------------------

NOTE_MAX_LENGTH = 2000
EDITION_NOTICE = "directory.edition.published"  # the outbox kind (delivery/kinds.py)


def _columns(model, *, skip: tuple[str, ...] = ("id",)) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if f.column not in skip]


def _in_list(values: Sequence[int]) -> str:
    return ", ".join(str(int(v)) for v in values)  # integers only: safe to inline


def _copy_drafts_to_published(network: Network, member_ids: Sequence[int]) -> None:
    """Make the published rows of these members an exact copy of their drafts, in SQL.

    Four INSERT … SELECT statements (contact points, channels, windows, exceptions) after the
    deletes, whatever the number of rows: publishing 10,000 contact points stays well under a
    second. Derived rows find their new contact point through the shared public id.
    """
    if not member_ids:
        return
    qn = connection.ops.quote_name
    cp_table = qn(ContactPoint._meta.db_table)
    members = _in_list(member_ids)
    published_ids = (
        f"SELECT id FROM"  # noqa: S608 (identifiers from _meta, integers, parameters)
        f" {cp_table} WHERE network_id = %s AND layer = %s "
        f"AND member_id IN ({members})"
    )
    derived = (Channel, AvailabilityWindow, AvailabilityExceptionRow)
    with connection.cursor() as cursor:
        for model in derived:
            cursor.execute(
                f"DELETE FROM {qn(model._meta.db_table)} "  # noqa: S608 (identifiers from _meta)
                f"WHERE contact_point_id IN ({published_ids})",
                [network.pk, Layer.PUBLISHED],
            )
        cursor.execute(
            f"DELETE FROM {cp_table} WHERE network_id = %s AND layer = %s "  # noqa: S608
            f"AND member_id IN ({members})",
            [network.pk, Layer.PUBLISHED],
        )
        columns = [qn(c) for c in _columns(ContactPoint, skip=("id", "layer"))]
        cursor.execute(
            f"INSERT INTO {cp_table} ({', '.join(columns)}, {qn('layer')}) "  # noqa: S608
            f"SELECT {', '.join(columns)}, %s FROM {cp_table} "
            f"WHERE network_id = %s AND layer = %s AND member_id IN ({members})",
            [Layer.PUBLISHED, network.pk, Layer.DRAFT],
        )
        for model in derived:
            table = qn(model._meta.db_table)
            columns = [qn(c) for c in _columns(model, skip=("id", "contact_point_id"))]
            source = ", ".join(f"d.{c}" for c in columns)
            cursor.execute(
                f"INSERT INTO {table} (contact_point_id, {', '.join(columns)}) "  # noqa: S608
                f"SELECT p.id, {source} FROM {table} d "
                f"JOIN {cp_table} draft ON draft.id = d.contact_point_id "
                f"JOIN {cp_table} p ON p.public_id = draft.public_id AND p.layer = %s "
                f"WHERE draft.network_id = %s AND draft.layer = %s "
                f"AND draft.member_id IN ({members})",
                [Layer.PUBLISHED, network.pk, Layer.DRAFT],
            )


def publish_edition(actor, access: NetworkAccess, note: str = "") -> Edition:
    """Publish the drafts as the next edition: numbered, immutable, with the changed members.

    Everyone in the network reads the new edition at once; its officers and coordinators are
    told by e-mail (a link, no directory content), in the same transaction (the outbox).
    """
    if not access.has(Perm.DIRECTORY_PUBLISH):
        raise PermissionDenied(_("Only the Secretariat publishes editions."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ServiceError(
            _("the note is longer than %(max)d characters") % {"max": NOTE_MAX_LENGTH}, "note"
        )
    with transaction.atomic():
        # One publication at a time per network (PostgreSQL; SQLite writes one at a time).
        network = Network.objects.select_for_update().get(pk=access.network.pk)
        current = Edition.objects.filter(network=network).order_by("-number").first()
        draft = snapshots.draft_document(network)
        changed = snapshots.changed_members(current.document() if current else None, draft)
        if not changed:
            if current is None:
                raise ServiceError(
                    _("nothing to publish: the directory has no contact point yet"), "note"
                )
            raise ServiceError(
                _("nothing to publish: no pending change since edition %(number)d")
                % {"number": current.number},
                "note",
            )
        number = current.number + 1 if current else 1
        by_code = dict(Member.objects.filter(network=network).values_list("code", "pk"))
        _copy_drafts_to_published(network, [by_code[c] for c in changed if c in by_code])
        now = timezone.now()
        document = {
            **draft,
            "edition": number,
            "published_at": now.isoformat(timespec="seconds"),
            "note": note,
            "changed_members": changed,
        }
        content, digest = snapshots.encode_content(document)
        count = sum(len(m["contact_points"]) for m in document["members"])
        edition = Edition.objects.create(
            network=network,
            number=number,
            published_at=now,
            published_by=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
            changed_members=changed,
            contact_point_count=count,
            content=content,
            content_sha256=digest,
        )
        edition._document = document
        record_event(
            actor if getattr(actor, "is_authenticated", False) else None,
            "directory.publish",
            obj=edition,
            network=network,
            details={
                "number": number,
                "changed_members": changed,
                "contact_points": count,
                "sha256": digest,
            },
        )
        _announce(edition, network)
    return edition


def edition_recipients(network: Network):
    """The people told of a new edition: the network's coordinators and officers (not those of
    observers when the network keeps its directory for parties)."""
    from django.contrib.auth import get_user_model

    assignments = RoleAssignment.objects.filter(
        network=network, role__in=[Role.COORDINATOR, Role.OFFICER]
    )
    if not network.observers_see_directory:  # they could not open the edition
        assignments = assignments.exclude(member__status="observer")
    user_ids = assignments.values("user_id")
    return (
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .exclude(email="")
        .order_by("pk")
    )


def _announce(edition: Edition, network: Network) -> None:
    """One notice per coordinator and officer, in their language, through the outbox."""
    base = settings.BASE_URL.rstrip("/")
    link = f"{base}/networks/{network.slug}/directory/editions/{edition.number}/"
    values = {
        "number": edition.number,
        "network": network.name,
        "date": edition.published_at.strftime("%Y-%m-%d %H:%M"),
        "link": link,
    }

    def subject(user) -> str:
        with translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
            return _("Edition %(number)d of the %(network)s directory") % values

    def body(user) -> str:
        # No directory content: what changed is read in Liaison, where access is checked.
        with translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
            return (
                _(
                    "Edition %(number)d of the directory of %(network)s was published on "
                    "%(date)s UTC.\n\nRead it, and acknowledge its receipt for your member, in "
                    "Liaison:\n%(link)s\n\nYou receive this message because you are a coordinator "
                    "or duty officer in this network."
                )
                % values
            )

    notify_people(
        users=edition_recipients(network),
        subject=subject,
        body=body,
        kind=EDITION_NOTICE,
        network=network,
        obj=edition,
    )


def acknowledge_edition(
    actor, access: NetworkAccess, edition: Edition, member: Member | None = None
) -> EditionAcknowledgement:
    """A member acknowledges receipt of an edition (once: acknowledging again changes nothing).

    `member` defaults to the one the actor acts for as coordinator or officer.
    """
    if edition.network_id != access.network.pk or not access.has(Perm.EDITION_ACKNOWLEDGE):
        raise PermissionDenied(_("You may not acknowledge editions in this network."))
    own = set(access.members_by_role.get(Role.COORDINATOR, set())) | set(
        access.members_by_role.get(Role.OFFICER, set())
    )
    if member is None:
        if len(own) != 1:
            raise ServiceError(_("say for which member you acknowledge this edition"), "member")
        member = Member.objects.get(pk=next(iter(own)))
    elif member.pk not in own:
        raise PermissionDenied(_("You may only acknowledge for your own member."))
    with transaction.atomic():
        existing = EditionAcknowledgement.objects.filter(edition=edition, member=member).first()
        if existing is not None:
            return existing
        ack = EditionAcknowledgement.objects.create(
            edition=edition, member=member, acknowledged_by=actor, acknowledged_at=timezone.now()
        )
        record_event(
            actor,
            "directory.edition.acknowledge",
            obj=edition,
            network=edition.network,
            details={"number": edition.number, "member": member.code},
        )
    return ack
