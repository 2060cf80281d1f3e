"""Directory pages: list and filters, a contact point's page, the editor, delete and confirm."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from liaison.audit.models import AuditEvent
from liaison.directory import services
from liaison.directory.models import Channel, ContactPoint, Layer
from liaison.networks.queries import resolve_access
from tests.factories import (
    ChannelFactory,
    MemberFactory,
    PublishedContactPointFactory,
)
from tests.fixtures import publish

pytestmark = pytest.mark.django_db

SLUG = "budapest"


def url(name: str, *args: str) -> str:
    return reverse(f"directory:{name}", args=(SLUG, *args))


def make_cp(world, member, **fields):
    """A contact point built through the service, so that its derived rows exist."""
    raw = {
        "type": "police",
        "institution": "Desk",
        "availability": "24/7",
        "timezone": "Europe/Paris",
        "languages": "en",
        "channels": [{"kind": "email", "value": "desk@example.org"}],
        **fields,
    }
    access = resolve_access(world.secretariat, world.network)
    return services.create_contact_point(world.secretariat, access, member, raw)


@pytest.fixture
def points(world):
    """Three published contact points with known availability, besides the world's two."""
    drafts = {
        "always": make_cp(world, world.member_a, institution="Always Open Desk", languages="it"),
        "closed": make_cp(
            world,
            world.member_b,
            institution="Closed Desk",
            type="prosecution",
            availability="Mon-Fri 08:00-18:00",
            availability_exceptions="2000-01-01..2099-12-31 closed",
        ),
        "office": make_cp(
            world,
            world.member_b,
            institution="Office Hours Desk",
            type="cybersecurity",
            availability="Mon-Fri 08:00-18:00",
            timezone="Europe/Paris",
        ),
    }
    publish(world.network)
    return {
        name: ContactPoint.objects.get(public_id=cp.public_id, layer=Layer.PUBLISHED)
        for name, cp in drafts.items()
    }


def listed(response) -> set[str]:
    """Institutions linked from the results table."""
    html = response.content.decode()
    return set(re.findall(r'<a href="/networks/budapest/directory/cp_[^"]+/">([^<]+)</a>', html))


def formset_data(channels, *, extra: int = 1, initial: int = 0) -> dict[str, str]:
    data = {
        "channels-TOTAL_FORMS": str(len(channels) + extra),
        "channels-INITIAL_FORMS": str(initial),
        "channels-MIN_NUM_FORMS": "0",
        "channels-MAX_NUM_FORMS": "30",
    }
    for i, (kind, value, notes) in enumerate(channels):
        data |= {
            f"channels-{i}-kind": kind,
            f"channels-{i}-value": value,
            f"channels-{i}-notes": notes,
        }
    return data


def edit_data(**overrides) -> dict[str, str]:
    data = {
        "type": "police",
        "institution": "Police nationale",
        "unit": "OFAC",
        "availability": "Mon-Fri 08:00-18:00",
        "availability_exceptions": "",
        "timezone": "Europe/Paris",
        "languages": "fr, en",
        "instructions": "Call first.",
        "pgp_key": "",
        "review_date": "",
    }
    channels = overrides.pop("channels", [("phone", "+33 1 40 97 80 00", "24/7 desk")])
    return {**data, **overrides, **formset_data(channels)}


def events(action: str):
    return AuditEvent.objects.filter(action=action)


# --- list ----------------------------------------------------------------------------------


def test_list_renders_for_an_officer_and_is_audited(client, world):
    client.force_login(world.officer_a)
    response = client.get(url("list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(response) == {"Police nationale", "Bundeskriminalamt"}
    assert 'href="tel:+33123456789"' in html  # primary channel of FR, in E.164
    assert "English, French" in html  # languages by name
    assert 'aria-live="polite"' in html
    event = events("directory.list").get()
    assert event.actor == world.officer_a
    assert event.network_slug == SLUG
    assert event.details["results"] == 2
    assert "+33123456789" not in str(event.details)


def test_list_language_names_follow_the_interface_language(client, world):
    client.force_login(world.officer_a)
    html = client.get(url("list"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Allemand" in html  # the language filter lists German (BKA) by its French name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"member": "DE"}, {"Bundeskriminalamt", "Closed Desk", "Office Hours Desk"}),
        ({"type": "prosecution"}, {"Closed Desk"}),
        ({"language": "it"}, {"Always Open Desk"}),
        ({"language": "de"}, {"Bundeskriminalamt"}),
        ({"q": "office hours"}, {"Office Hours Desk"}),
        ({"q": "germany", "type": "cybersecurity"}, {"Office Hours Desk"}),
    ],
)
def test_list_filters(client, world, points, query, expected):
    client.force_login(world.officer_b)
    response = client.get(url("list"), query)
    assert response.status_code == 200
    assert listed(response) == expected
    assert events("directory.list").get().details["results"] == len(expected)


def test_available_now_keeps_open_contact_points_only(client, world, points):
    client.force_login(world.officer_a)
    response = client.get(url("list"), {"available": "now"})
    names = listed(response)
    assert {"Always Open Desk", "Police nationale", "Bundeskriminalamt"} <= names
    assert "Closed Desk" not in names
    assert events("directory.list").get().details["filters"]["available_at"]


@pytest.mark.parametrize(
    ("at", "tz", "office_open"),
    [
        ("2026-03-10T10:00", "Europe/Paris", True),  # a Tuesday, 10:00 in Paris
        ("2026-03-10T20:00", "Europe/Paris", False),
        ("2026-03-10T16:30", "UTC", True),  # 17:30 in Paris
        ("2026-03-10T17:30", "UTC", False),  # 18:30 in Paris
        ("2026-03-14T10:00", "Europe/Paris", False),  # Saturday
    ],
)
def test_available_at_a_given_time_in_the_viewers_zone(client, world, points, at, tz, office_open):
    client.force_login(world.officer_a)
    response = client.get(url("list"), {"available": "at", "at": at, "tz": tz})
    names = listed(response)
    assert ("Office Hours Desk" in names) is office_open
    assert "Always Open Desk" in names
    assert "Closed Desk" not in names


def test_a_date_alone_means_available_then(client, world, points):
    client.force_login(world.officer_a)
    saturday = client.get(url("list"), {"at": "2026-03-14T10:00", "tz": "Europe/Paris"})
    assert "Office Hours Desk" not in listed(saturday)
    assert "Always Open Desk" in listed(saturday)
    tuesday = client.get(url("list"), {"at": "2026-03-10T10:00", "tz": "Europe/Paris"})
    assert "Office Hours Desk" in listed(tuesday)


def test_available_badges_are_computed_per_row(client, world, points):
    client.force_login(world.officer_a)
    html = client.get(url("list"), {"available": "at", "at": "2026-03-10T20:00"}).content.decode()
    assert "Not available" not in html  # only available rows are listed
    html = client.get(url("list"), {"q": "desk"}).content.decode()
    rows = {
        name: row
        for row in html.split("<tr>")[2:]
        for name in re.findall(r'/">([^<]+)</a>', row)[:1]
    }
    assert "badge-ok" in rows["Always Open Desk"]
    assert "badge-bad" in rows["Closed Desk"]


def test_invalid_at_shows_an_error_and_does_not_filter(client, world):
    client.force_login(world.officer_a)
    response = client.get(url("list"), {"available": "at", "at": "tomorrow"})
    assert response.status_code == 200
    assert "Enter a date and time" in response.content.decode()
    assert listed(response) == {"Police nationale", "Bundeskriminalamt"}
    partial = client.get(url("list"), {"at": "tomorrow"}, HTTP_HX_REQUEST="true")
    assert "filters could not be read" in partial.content.decode()


def test_htmx_request_gets_the_results_partial_only(client, world):
    client.force_login(world.officer_a)
    full = client.get(url("list"), {"member": "FR"})
    assert b"<html" in full.content
    assert b'<form method="get"' in full.content
    partial = client.get(url("list"), {"member": "FR"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b"<html" not in partial.content
    assert b'<form method="get"' not in partial.content
    assert listed(partial) == {"Police nationale"}
    assert "HX-Request" in partial.headers["Vary"]
    restore = client.get(
        url("list"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in restore.content


def test_list_is_paginated_by_50(client, world):
    for i in range(55):
        PublishedContactPointFactory(
            member=world.member_a, institution=f"Unit {i:02d}", position=i + 1
        )
    client.force_login(world.officer_a)
    first = client.get(url("list"), {"member": "FR"})
    assert len(listed(first)) == 50
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(url("list"), {"member": "FR", "page": "2"})
    assert len(listed(second)) == 6
    assert 'href="/networks/budapest/directory/?member=FR&amp;page=1"' in second.content.decode()
    for past_the_end in ("3", "99999999999999999999", "-1", "x"):
        response = client.get(url("list"), {"member": "FR", "page": past_the_end})
        assert response.status_code == 200
        assert len(listed(response)) in (6, 50)


def test_list_query_count_does_not_grow_with_rows(client, world, django_assert_max_num_queries):
    members = [world.member_a, world.member_b] + [
        MemberFactory(network=world.network, code=code) for code in ("IT", "ES", "PT", "NL")
    ]
    for i in range(60):
        cp = PublishedContactPointFactory(
            member=members[i % len(members)],
            availability="Mon-Fri 08:00-18:00" if i % 2 else "24/7",
            always_available=not i % 2,
            availability_exceptions="2026-12-25 closed" if i % 3 else "",
            timezone=("Europe/Paris", "America/New_York", "Asia/Tokyo")[i % 3],
            languages=("en,fr", "de", "es,it")[i % 3],
        )
        ChannelFactory(contact_point=cp, kind="phone", value="+33123456789")
        ChannelFactory(contact_point=cp, kind="email", position=1)
    client.force_login(world.officer_a)
    client.get(url("list"))  # warm the session
    with django_assert_max_num_queries(QUERY_CEILING):
        response = client.get(url("list"), {"available": "now", "language": "en"})
    assert response.status_code == 200
    with django_assert_max_num_queries(QUERY_CEILING):
        response = client.get(url("list"))
    assert len(listed(response)) == 50


# Measured (SQLite, in the test transaction): session, user, network, roles (4); the filter
# form's members and languages (1); the page with its total as a window (1); channels (1); the
# time zones for "available" (1); the audit event (3, plus SAVEPOINT/RELEASE in tests).
QUERY_CEILING = 13


# --- contact point page ----------------------------------------------------------------------


def test_detail_shows_local_time_and_availability(client, world, points):
    client.force_login(world.officer_a)
    response = client.get(url("detail", points["always"].public_id))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"Local time: \w{3} \d\d:\d\d \(Europe/Paris, UTC\+0[12]:00\)", html)
    assert "Available now" in html
    event = events("directory.view_contact_point").get()
    assert event.object_id == points["always"].public_id
    assert event.actor == world.officer_a

    html = client.get(url("detail", points["closed"].public_id)).content.decode()
    assert "Not available now" in html
    assert "not available in the next 14 days" in html

    html = client.get(url("detail", points["office"].public_id)).content.decode()
    assert "Available now" in html or re.search(
        r"next available \w{3} 08:00 local \(in (\d+ d )?(\d+ h )?\d+ (min|h)\)", html
    )


def test_detail_escapes_instructions_and_flags_an_overdue_review(client, world):
    cp = world.cp_a
    cp.instructions = "Line one\n<script>alert(1)</script>"
    cp.review_date = cp.created_at.date().replace(year=2020)
    cp.save()
    client.force_login(world.officer_b)
    html = client.get(url("detail", cp.public_id)).content.decode()
    assert "Line one<br>&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Review overdue" in html
    assert "+33 1 23 45 67 89" in html  # formatted for reading, dialled in E.164
    assert 'href="tel:+33123456789"' in html
    assert 'href="mailto:cyber@police.fr.example"' in html
    # An officer reads; the edit buttons are for those who may edit.
    assert url("edit", cp.public_id) not in html


def test_edit_buttons_only_for_who_may_edit(client, world):
    def edit_link_shown(cp) -> bool:
        return url("edit", cp.public_id) in client.get(url("detail", cp.public_id)).content.decode()

    client.force_login(world.coordinator_a)
    assert edit_link_shown(world.cp_a)
    assert not edit_link_shown(world.cp_b)
    client.force_login(world.secretariat)
    assert edit_link_shown(world.cp_b)


# --- editor ----------------------------------------------------------------------------------

DRAFT_SAVED = "Saved as a draft: it will appear in the directory when the Secretariat publishes"


def draft_of(cp) -> ContactPoint:
    return ContactPoint.objects.get(public_id=cp.public_id, layer=Layer.DRAFT)


def test_coordinator_edits_own_contact_point(client, world):
    cp = world.cp_a
    client.force_login(world.coordinator_a)
    page = client.get(url("edit", cp.public_id))
    assert page.status_code == 200
    assert 'value="Police nationale"' in page.content.decode()
    assert "You are editing a draft" in page.content.decode()
    assert page.context["cp"].layer == Layer.DRAFT
    assert len(page.context["formset"].forms) == 2 + 1  # its channels + 1 spare row

    response = client.post(
        url("edit", cp.public_id),
        edit_data(
            institution="Police nationale (OFAC)",
            channels=[
                ("email", "desk@ofac.fr.example", ""),
                ("phone", "01 40 97 80 00", "night line"),
            ],
        ),
        follow=True,
    )
    assert response.redirect_chain == [(url("changes"), 302)]
    assert DRAFT_SAVED in response.content.decode()
    draft = draft_of(cp)
    assert draft.institution == "Police nationale (OFAC)"
    assert draft.availability == "Mon-Fri 08:00-18:00"
    assert draft.languages == "en,fr"
    assert [(c.kind, c.value, c.notes) for c in draft.channels.order_by("position")] == [
        ("email", "desk@ofac.fr.example", ""),
        ("phone", "+33140978000", "night line"),  # read in the member's country (FR)
    ]
    # Readers still see the published entry until the next edition.
    cp.refresh_from_db()
    assert cp.institution == "Police nationale"
    assert cp.channels.count() == 2
    event = events("directory.contact_point.update").get()
    assert event.actor == world.coordinator_a
    assert event.object_id == cp.public_id


def test_removing_a_channel_row(client, world):
    cp = world.cp_a
    client.force_login(world.coordinator_a)
    data = edit_data(channels=[("phone", "+33123456789", ""), ("email", "a@b.fr.example", "")])
    data["channels-1-DELETE"] = "on"
    assert client.post(url("edit", cp.public_id), data).status_code == 302
    assert list(draft_of(cp).channels.values_list("kind", flat=True)) == ["phone"]
    assert cp.channels.count() == 2  # the published entry keeps its two


def test_invalid_phone_is_shown_on_its_row_and_nothing_is_written(client, world):
    cp = world.cp_a
    client.force_login(world.coordinator_a)
    data = edit_data(
        institution="Changed",
        channels=[("", "", ""), ("email", "ok@police.fr.example", ""), ("phone", "12", "")],
    )
    response = client.post(url("edit", cp.public_id), data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert formset.forms[2].errors["value"] == ["'12' is not a valid phone number"]
    assert not formset.forms[1].errors
    assert "Nothing was saved" in response.content.decode()
    draft = draft_of(cp)
    assert draft.institution == "Police nationale"
    assert draft.channels.count() == 2
    assert not events("directory.contact_point.update").exists()


def test_schema_errors_land_on_their_fields(client, world):
    client.force_login(world.coordinator_a)
    data = edit_data(availability="Mon-Fri 8-18", languages="xx", channels=[])
    response = client.post(url("edit", world.cp_a.public_id), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "availability" in form.errors
    assert "languages" in form.errors
    assert response.context["formset"].non_form_errors()


def test_coordinator_creates_for_own_member(client, world):
    client.force_login(world.coordinator_a)
    page = client.get(url("create"))  # its only member is chosen for it
    assert page.status_code == 200
    assert page.context["member"] == world.member_a
    assert page.context["form"].initial["timezone"] == "Europe/Paris"  # FR's zone

    data = edit_data(institution="Gendarmerie", member=world.member_a.public_id)
    response = client.post(url("create"), data, follow=True)
    assert response.redirect_chain == [(url("changes"), 302)]
    assert DRAFT_SAVED in response.content.decode()
    cp = ContactPoint.objects.get(institution="Gendarmerie")
    assert cp.member == world.member_a
    assert cp.layer == Layer.DRAFT  # not in the directory until published
    assert events("directory.contact_point.create").get().object_id == cp.public_id
    # A new draft has no page in the directory; the changes page links to its editor.
    assert client.get(url("detail", cp.public_id)).status_code == 404
    assert url("edit", cp.public_id) in response.content.decode()
    editor = client.get(url("edit", cp.public_id))
    assert editor.status_code == 200
    assert editor.context["published"] is False
    assert f'href="{url("detail", cp.public_id)}"' not in editor.content.decode()


def test_secretariat_picks_the_member_first(client, world):
    client.force_login(world.secretariat)
    chooser = client.get(url("create"))
    assert chooser.status_code == 200
    assert [m.code for m in chooser.context["editable"]] == ["FR", "DE"]  # by name
    page = client.get(url("create"), {"member": world.member_b.public_id})
    assert page.context["member"] == world.member_b
    assert page.context["form"].initial["timezone"] == "Europe/Berlin"
    data = edit_data(institution="BKA night desk", member=world.member_b.public_id)
    data["channels-0-value"] = "+49 611 550"
    assert client.post(url("create"), data).status_code == 302
    assert ContactPoint.objects.get(institution="BKA night desk").member == world.member_b


def test_coordinator_cannot_create_for_another_member(client, world):
    client.force_login(world.coordinator_a)
    other = world.member_b.public_id
    assert client.get(url("create"), {"member": other}).status_code == 403
    data = edit_data(institution="Intruder", member=other)
    assert client.post(url("create"), data).status_code == 403
    other_network_member = world.outsider.role_assignments.get().member
    assert client.get(url("create"), {"member": other_network_member.public_id}).status_code == 404
    assert not ContactPoint.objects.filter(institution="Intruder").exists()


def test_coordinator_gets_403_on_another_members_entry(client, world):
    cp = world.cp_b
    client.force_login(world.coordinator_a)
    assert client.get(url("edit", cp.public_id)).status_code == 403
    assert (
        client.post(url("edit", cp.public_id), edit_data(institution="Hijacked")).status_code == 403
    )
    assert client.get(url("delete", cp.public_id)).status_code == 403
    assert client.post(url("delete", cp.public_id)).status_code == 403
    assert client.post(url("confirm", cp.public_id)).status_code == 403
    for row in ContactPoint.objects.filter(public_id=cp.public_id):  # both layers
        assert row.institution == "Bundeskriminalamt"
        assert row.last_confirmed_at is None


def test_another_members_new_draft_is_invisible_to_a_coordinator(client, world):
    draft = make_cp(world, world.member_b, institution="Unpublished LKA desk")
    client.force_login(world.coordinator_a)
    assert client.get(url("edit", draft.public_id)).status_code == 404
    assert client.post(url("delete", draft.public_id)).status_code == 404
    assert ContactPoint.objects.filter(pk=draft.pk).exists()


def test_officer_reads_but_gets_403_on_edit(client, world):
    cp = world.cp_a
    client.force_login(world.officer_a)
    assert client.get(url("edit", cp.public_id)).status_code == 403
    assert client.post(url("edit", cp.public_id), edit_data()).status_code == 403
    assert client.get(url("create")).status_code == 403
    assert client.post(url("delete", cp.public_id)).status_code == 403
    assert client.post(url("confirm", cp.public_id)).status_code == 403
    assert ContactPoint.objects.filter(public_id=cp.public_id).count() == 2


def test_outsider_gets_404_everywhere(client, world):
    cp = world.cp_a
    client.force_login(world.outsider)
    for target in (
        url("list"),
        url("create"),
        url("detail", cp.public_id),
        url("edit", cp.public_id),
        url("delete", cp.public_id),
    ):
        assert client.get(target).status_code == 404, target
    for target in (
        url("edit", cp.public_id),
        url("delete", cp.public_id),
        url("confirm", cp.public_id),
    ):
        assert client.post(target).status_code == 404, target
    assert ContactPoint.objects.filter(public_id=cp.public_id).count() == 2
    seen = AuditEvent.objects.filter(action__startswith="directory.")
    assert not seen.exclude(action="directory.publish").exists()  # the fixture's edition 1


def test_unknown_contact_point_is_404(client, world):
    client.force_login(world.secretariat)
    assert client.get(url("detail", "cp_doesnotexist")).status_code == 404
    assert client.get(url("edit", "cp_doesnotexist")).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(url("detail", world.cp_a.public_id))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_delete_removes_the_draft_and_the_entry_stays_until_published(client, world):
    cp = world.cp_a
    draft = draft_of(cp)
    client.force_login(world.coordinator_a)
    page = client.get(url("delete", cp.public_id))
    assert page.status_code == 200
    assert "disappears from the directory when the Secretariat publishes" in page.content.decode()
    assert ContactPoint.objects.filter(pk=draft.pk).exists()
    response = client.post(url("delete", cp.public_id), follow=True)
    assert response.redirect_chain == [(url("changes"), 302)]
    assert "Removed from the drafts" in response.content.decode()
    assert not ContactPoint.objects.filter(pk=draft.pk).exists()
    assert not Channel.objects.filter(contact_point_id=draft.pk).exists()
    assert events("directory.contact_point.delete").get().object_id == cp.public_id
    # The published entry is still read, with a notice for its editors.
    assert ContactPoint.objects.filter(pk=cp.pk).exists()
    detail = client.get(url("detail", cp.public_id)).content.decode()
    assert "Unpublished changes" in detail
    assert "removed from the drafts" in detail
    # Nothing is left to edit or delete: a clear page, not an error.
    for target in (url("edit", cp.public_id), url("delete", cp.public_id)):
        response = client.get(target)
        assert response.status_code == 404
        assert "Pending removal" in response.content.decode()
        assert url("changes") in response.content.decode()
    assert client.post(url("delete", cp.public_id)).status_code == 404
    # Published: gone from the directory.
    publish(world.network)
    assert not ContactPoint.objects.filter(public_id=cp.public_id).exists()
    assert client.get(url("detail", cp.public_id)).status_code == 404


def test_deleting_a_new_draft_says_it_was_never_published(client, world):
    draft = make_cp(world, world.member_a, institution="Short-lived desk")
    client.force_login(world.coordinator_a)
    page = client.get(url("delete", draft.public_id)).content.decode()
    assert "It was never published" in page
    assert f'href="{url("detail", draft.public_id)}"' not in page
    assert client.post(url("delete", draft.public_id)).status_code == 302
    assert not ContactPoint.objects.filter(public_id=draft.public_id).exists()


def test_detail_notice_shows_unpublished_changes_to_editors_only(client, world):
    cp = world.cp_a

    def notice(user) -> bool:
        client.force_login(user)
        return "Unpublished changes" in client.get(url("detail", cp.public_id)).content.decode()

    assert not notice(world.coordinator_a)  # the draft equals the published entry
    access = resolve_access(world.coordinator_a, world.network)
    services.update_contact_point(world.coordinator_a, access, cp, {"unit": "Night desk"})
    assert notice(world.coordinator_a)
    assert notice(world.secretariat)
    assert not notice(world.officer_a)
    assert not notice(world.coordinator_b)
    client.force_login(world.coordinator_a)
    assert url("changes") in client.get(url("detail", cp.public_id)).content.decode()
    publish(world.network)
    assert not notice(world.coordinator_a)


def test_confirm_is_post_only_and_audited(client, world):
    cp = world.cp_b
    client.force_login(world.secretariat)
    assert client.get(url("confirm", cp.public_id)).status_code == 405
    response = client.post(url("confirm", cp.public_id))
    assert response.status_code == 302
    for row in ContactPoint.objects.filter(public_id=cp.public_id):  # both layers
        assert row.last_confirmed_at is not None
        assert row.review_date > row.last_confirmed_at.date()
    assert events("directory.contact_point.confirm").get().actor == world.secretariat


def test_confirm_still_works_while_removal_is_pending(client, world):
    cp = world.cp_a
    access = resolve_access(world.coordinator_a, world.network)
    services.delete_contact_point(world.coordinator_a, access, cp)
    client.force_login(world.coordinator_a)
    assert client.post(url("confirm", cp.public_id)).status_code == 302
    cp.refresh_from_db()
    assert cp.last_confirmed_at is not None
