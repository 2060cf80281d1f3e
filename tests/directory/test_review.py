"""Review and publication of drafts on the web, and acknowledgement of editions.

The `world` fixture has published edition 1 (FR: Police nationale, DE: Bundeskriminalamt).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from liaison.audit.models import AuditEvent
from liaison.directory import queries, services
from liaison.directory.models import ContactPoint, Edition, EditionAcknowledgement, Layer
from liaison.networks.queries import resolve_access
from tests.factories import ChannelFactory, ContactPointFactory, MemberFactory
from tests.fixtures import publish

pytestmark = pytest.mark.django_db

SLUG = "budapest"


def url(name: str, *args) -> str:
    return reverse(f"directory:{name}", args=(SLUG, *args))


def edit(world, user, cp, **changes):
    access = resolve_access(user, world.network)
    return services.update_contact_point(user, access, cp, changes)


def add(world, user, member, institution: str):
    access = resolve_access(user, world.network)
    raw = {
        "type": "prosecution",
        "institution": institution,
        "timezone": "Europe/Berlin",
        "languages": "de",
        "channels": [{"kind": "email", "value": "night@lka.de.example"}],
    }
    return services.create_contact_point(user, access, member, raw)


def page(client, user, name="changes", *args):
    client.force_login(user)
    response = client.get(url(name, *args))
    assert response.status_code == 200
    return response


def publish_as_secretariat(client, world, note="Second edition", **extra):
    reviewed = page(client, world.secretariat).context["pending"].fingerprint
    return client.post(url("publish"), {"note": note, "reviewed": reviewed, **extra}, follow=True)


# --- changes page ----------------------------------------------------------------------------


def test_a_coordinators_edit_is_a_draft_shown_old_beside_new(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    world.cp_a.refresh_from_db()
    assert world.cp_a.unit == "Cybercrime desk"  # the published entry is unchanged

    response = page(client, world.coordinator_a)
    html = response.content.decode()
    assert "Changes since edition 1" in html
    assert "<del>Cybercrime desk</del>" in html
    assert "<ins>Night desk</ins>" in html
    assert "Edited, not published" in html
    assert url("edit", world.cp_a.public_id) in html
    assert response.context["diff"].changed_members == ["FR"]
    assert 'action="' + url("publish") not in html  # coordinators do not publish
    event = AuditEvent.objects.filter(action="directory.changes").get()
    assert event.actor == world.coordinator_a
    assert event.details == {"changed_members": ["FR"]}
    # Officers read the directory but not the drafts.
    client.force_login(world.officer_a)
    assert client.get(url("list")).content.decode().count(url("changes")) == 0


def test_a_coordinator_sees_only_its_own_members_changes(client, world):
    edit(world, world.secretariat, world.cp_b, unit="SO 4")
    new = add(world, world.secretariat, world.member_b, "Landeskriminalamt")
    html = page(client, world.coordinator_a).content.decode()
    assert "No pending change" in html
    assert "SO 4" not in html
    assert "Landeskriminalamt" not in html
    assert "Bundeskriminalamt" not in html  # not even DE's unchanged drafts
    assert url("edit", new.public_id) not in html
    assert "Police nationale" in html  # its own drafts, with their edit links
    assert url("edit", world.cp_a.public_id) in html

    html = page(client, world.coordinator_b).content.decode()
    assert "<ins>SO 4</ins>" in html
    assert "Landeskriminalamt" in html
    assert "New, not published" in html
    assert url("edit", new.public_id) in html


def test_the_secretariat_sees_every_member_with_a_summary_and_the_publish_form(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    access = resolve_access(world.secretariat, world.network)
    services.delete_contact_point(world.secretariat, access, world.cp_b)
    response = page(client, world.secretariat)
    html = response.content.decode()
    assert "2 members with changes" in html
    assert 'href="#diff-FR"' in html
    assert 'href="#diff-DE"' in html
    assert "Removed: disappears at the next edition" in html
    assert "<del>Bundeskriminalamt" in html
    assert "Publish edition 2" in html
    assert 'action="' + url("publish") + '"' in html
    assert 'name="note"' in html


def test_no_pending_change(client, world):
    html = page(client, world.secretariat).content.decode()
    assert "No pending change: the drafts are the same as edition 1." in html
    assert 'action="' + url("publish") + '"' not in html  # nothing to publish: no form


def test_who_may_open_the_changes_page(client, world):
    for user, status in (
        (world.secretariat, 200),
        (world.coordinator_a, 200),
        (world.coordinator_b, 200),
        (world.officer_a, 403),
        (world.auditor, 403),
        (world.outsider, 404),
    ):
        client.force_login(user)
        assert client.get(url("changes")).status_code == status, user
    client.logout()
    assert "/accounts/login/" in client.get(url("changes"))["Location"]


def test_the_secretariat_reviews_one_member_at_a_time(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    edit(world, world.coordinator_b, world.cp_b, unit="SO 4")
    client.force_login(world.secretariat)
    response = client.get(url("changes"), {"member": "DE"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pending changes: Germany" in html
    assert "<ins>SO 4</ins>" in html
    assert "Night desk" not in html
    assert 'action="' + url("publish") + '"' not in html  # publication covers every member
    event = AuditEvent.objects.filter(action="directory.changes").latest("seq")
    assert event.details == {"changed_members": ["DE", "FR"], "member": "DE"}
    assert client.get(url("changes"), {"member": "XX"}).status_code == 404
    # A coordinator may only choose its own member.
    client.force_login(world.coordinator_a)
    assert client.get(url("changes"), {"member": "DE"}).status_code == 404
    assert client.get(url("changes"), {"member": "FR"}).status_code == 200


def test_a_large_change_is_reviewed_member_by_member(client, world, monkeypatch):
    monkeypatch.setattr(queries, "DETAIL_LIMIT", 2)
    for name in ("LKA Berlin", "LKA Hessen", "LKA Bayern"):
        add(world, world.secretariat, world.member_b, name)
    edit(world, world.secretariat, world.cp_a, unit="Night desk")
    html = page(client, world.secretariat).content.decode()
    assert "Too many changes to show at once" in html
    assert "LKA Hessen" not in html  # neither in the diff nor in the drafts list
    assert 'href="?member=DE"' in html
    assert "Publish edition 2" in html  # the summary is enough to publish
    client.force_login(world.secretariat)
    html = client.get(url("changes"), {"member": "DE"}).content.decode()
    assert html.count("LKA Hessen") >= 2  # in the diff and in the drafts list
    assert "Too many changes" not in html


def test_changes_page_query_count_does_not_grow_with_the_directory(client, world):
    client.force_login(world.secretariat)
    client.get(url("changes"))  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("changes")).status_code == 200
    members = [MemberFactory(network=world.network, code=f"Z{i}") for i in range(6)]
    for i in range(60):
        cp = ContactPointFactory(member=members[i % 6])
        ChannelFactory(contact_point=cp, kind="phone", value="+33123456789")
        ChannelFactory(contact_point=cp, kind="email", position=1)
    edit(world, world.secretariat, world.cp_a, unit="Night desk")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url("changes"))
    assert response.context["diff"].totals == {"edited": 1, "added": 60, "removed": 0}
    assert len(many.captured_queries) == len(few.captured_queries)
    # Measured (SQLite, in the test transaction): session, user, MFA, roles (4); the current
    # edition (1); the drafts as a document (3); members, draft counts, drafts (3); the audit
    # event (3, plus SAVEPOINT/RELEASE); the navigation's undelivered count (1).
    assert len(many.captured_queries) <= 16, [q["sql"] for q in many.captured_queries]


# --- publish ---------------------------------------------------------------------------------


def test_the_secretariat_publishes_edition_2(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    first = Edition.objects.get(network=world.network, number=1)
    first_document = first.document()

    response = publish_as_secretariat(client, world, note="Night desk for FR")
    assert response.redirect_chain == [(url("edition", 2), 302)]
    assert "Edition 2 published; 4 people notified." in response.content.decode()
    edition = Edition.objects.get(network=world.network, number=2)
    assert edition.note == "Night desk for FR"
    assert edition.changed_members == ["FR"]
    assert edition.published_by == world.secretariat
    # Readers now see the new value; edition 1 still holds the old one.
    client.force_login(world.officer_b)
    assert "Night desk" in client.get(url("detail", world.cp_a.public_id)).content.decode()
    first = Edition.objects.get(pk=first.pk)
    assert first.document() == first_document
    unit = first.document()["members"][1]["contact_points"][0]["unit"]  # DE, FR by code
    assert unit == "Cybercrime desk"
    assert AuditEvent.objects.filter(action="directory.publish", actor=world.secretariat).exists()
    html = page(client, world.secretariat).content.decode()
    assert "No pending change: the drafts are the same as edition 2." in html


def test_publishing_with_nothing_pending_says_so(client, world):
    response = publish_as_secretariat(client, world)
    assert response.redirect_chain == []
    assert response.status_code == 200
    assert "nothing to publish: no pending change since edition 1" in response.content.decode()
    assert response.context["form"].non_field_errors()
    assert not Edition.objects.filter(number=2).exists()


def test_a_note_too_long_is_a_form_error(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    response = publish_as_secretariat(client, world, note="x" * 2001)
    assert response.status_code == 200
    assert response.context["form"].errors["note"]
    assert not Edition.objects.filter(number=2).exists()


def test_drafts_changed_since_the_review_are_not_published_unseen(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    reviewed = page(client, world.secretariat).context["pending"].fingerprint
    edit(world, world.coordinator_b, world.cp_b, unit="Changed meanwhile")
    response = client.post(url("publish"), {"note": "", "reviewed": reviewed})
    assert response.status_code == 200
    assert "The drafts changed since you opened this page" in response.content.decode()
    assert "<ins>Changed meanwhile</ins>" in response.content.decode()
    assert not Edition.objects.filter(number=2).exists()
    # The page now carries what it shows: publishing again works.
    again = response.context["form"]["reviewed"].value()
    response = client.post(url("publish"), {"note": "", "reviewed": again})
    assert response.status_code == 302
    assert Edition.objects.get(number=2).changed_members == ["DE", "FR"]


def test_only_the_secretariat_publishes(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    for user in (world.coordinator_a, world.officer_a, world.auditor):
        client.force_login(user)
        assert client.post(url("publish"), {"reviewed": "x"}).status_code == 403
    client.force_login(world.outsider)
    assert client.post(url("publish"), {"reviewed": "x"}).status_code == 404
    client.force_login(world.secretariat)
    assert client.get(url("publish")).status_code == 405
    assert not Edition.objects.filter(number=2).exists()


def test_list_links_to_the_changes_and_counts_them_for_the_secretariat(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    html = page(client, world.secretariat, "list").content.decode()
    assert url("changes") in html
    assert "pending changes: 1 member" in html
    html = page(client, world.coordinator_a, "list").content.decode()
    assert url("changes") in html
    assert "pending changes" not in html
    publish(world.network)
    assert "pending changes" not in page(client, world.secretariat, "list").content.decode()


# --- acknowledgements ------------------------------------------------------------------------


def test_an_officer_acknowledges_receipt_once(client, world):
    html = page(client, world.officer_a, "edition", 1).content.decode()
    assert "Acknowledge receipt for France" in html
    assert "Acknowledge receipt for Germany" not in html
    assert 'value="' + world.member_a.public_id + '"' in html

    response = client.post(url("acknowledge", 1), {"member": world.member_a.public_id}, follow=True)
    assert response.redirect_chain == [(url("edition", 1), 302)]
    html = response.content.decode()
    assert "Receipt of edition 1 acknowledged for France." in html
    assert "acknowledged by " + world.officer_a.get_full_name() in html
    assert "Acknowledge receipt for France" not in html
    ack = EditionAcknowledgement.objects.get()
    assert (ack.member, ack.acknowledged_by) == (world.member_a, world.officer_a)
    event = AuditEvent.objects.get(action="directory.edition.acknowledge")
    assert event.actor == world.officer_a
    assert event.details == {"number": 1, "member": "FR"}

    # Again, by the coordinator of the same member: nothing changes, and it says so.
    client.force_login(world.coordinator_a)
    response = client.post(url("acknowledge", 1), follow=True)  # its only member by default
    assert "was already acknowledged for France by " + world.officer_a.get_full_name() in (
        response.content.decode()
    )
    assert EditionAcknowledgement.objects.count() == 1
    assert AuditEvent.objects.filter(action="directory.edition.acknowledge").count() == 1


def test_nobody_acknowledges_for_another_member(client, world):
    client.force_login(world.officer_a)
    response = client.post(url("acknowledge", 1), {"member": world.member_b.public_id})
    assert response.status_code == 403
    client.force_login(world.outsider)
    assert client.post(url("acknowledge", 1)).status_code == 404
    client.force_login(world.auditor)
    assert client.post(url("acknowledge", 1)).status_code == 403
    # The Secretariat acts for no member: it is told, nothing is written.
    client.force_login(world.secretariat)
    response = client.post(url("acknowledge", 1), follow=True)
    assert "say for which member you acknowledge this edition" in response.content.decode()
    assert not EditionAcknowledgement.objects.exists()


def test_acknowledging_an_unknown_edition(client, world):
    client.force_login(world.officer_a)
    response = client.post(url("acknowledge", 7))
    assert response.status_code == 404
    assert "Unknown edition: 7 (this network has only edition 1)." in response.content.decode()
    assert client.get(url("acknowledge", 1)).status_code == 405
    assert not EditionAcknowledgement.objects.exists()


def test_the_secretariat_sees_who_has_not_acknowledged(client, world):
    MemberFactory(network=world.network, code="AT", name="Austria")
    client.force_login(world.officer_b)
    client.post(url("acknowledge", 1))
    response = page(client, world.secretariat, "edition", 1)
    html = response.content.decode()
    assert "1 of 3 members acknowledged" in html
    assert "Not yet" in html
    assert "Acknowledge receipt" not in html  # it acts for no member
    table = html[html.index("acknowledgement-table") :]
    # Not yet first (AT, FR by code), then DE with who and when.
    assert table.index("Austria") < table.index("France") < table.index("Germany")
    assert world.officer_b.get_full_name() in table
    # Members' people do not see the table.
    html = page(client, world.officer_a, "edition", 1).content.decode()
    assert "members acknowledged" not in html
    assert world.officer_b.get_full_name() not in html


def test_edition_page_query_count_does_not_grow_with_members(client, world):
    client.force_login(world.secretariat)
    client.get(url("edition", 1))  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as few:
        html = client.get(url("edition", 1)).content.decode()
    assert "0 of 2 members acknowledged" in html
    for i in range(20):
        MemberFactory(network=world.network, code=f"Z{i}")
    edition = Edition.objects.get(number=1)
    access = resolve_access(world.officer_b, world.network)
    services.acknowledge_edition(world.officer_b, access, edition)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url("edition", 1)).content.decode()
    assert "1 of 22 members acknowledged" in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_drafts_are_not_published_by_the_acknowledgement(client, world):
    edit(world, world.coordinator_a, world.cp_a, unit="Night desk")
    client.force_login(world.officer_a)
    client.post(url("acknowledge", 1))
    published = ContactPoint.objects.get(public_id=world.cp_a.public_id, layer=Layer.PUBLISHED)
    assert published.unit == "Cybercrime desk"
