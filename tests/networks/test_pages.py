"""Network pages: who may open which page, what they show, and the Secretariat's forms."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from liaison.audit.models import AuditEvent
from liaison.networks.models import Member
from tests.factories import (
    ContactPointFactory,
    MemberFactory,
    PublishedContactPointFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ALL = ["secretariat", "auditor", "coordinator_a", "officer_a", "coordinator_b", "officer_b"]
MEMBER_VIEWERS = {"secretariat", "coordinator_a", "officer_a", "coordinator_b", "officer_b"}


def _pages(world):
    slug = world.network.slug
    member = world.member_a.public_id
    return {
        "detail": (reverse("networks:detail", args=[slug]), set(ALL)),
        "members": (reverse("networks:members", args=[slug]), MEMBER_VIEWERS),
        "member": (reverse("networks:member", args=[slug, member]), MEMBER_VIEWERS),
        "member_create": (reverse("networks:member_create", args=[slug]), {"secretariat"}),
        "member_edit": (reverse("networks:member_edit", args=[slug, member]), {"secretariat"}),
        "settings": (reverse("networks:settings", args=[slug]), {"secretariat"}),
    }


@pytest.mark.parametrize(
    "page", ["detail", "members", "member", "member_create", "member_edit", "settings"]
)
def test_permission_matrix(client, world, page):
    url, allowed = _pages(world)[page]
    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    for who, user in world.users().items():
        client.force_login(user)
        status = client.get(url).status_code
        expected = 404 if who == "outsider" else 200 if who in allowed else 403
        assert status == expected, (who, status)
        client.logout()


def test_unknown_member_is_404(client, world):
    client.force_login(world.secretariat)
    url = reverse("networks:member", args=[world.network.slug, "mb_doesnotexist"])
    assert client.get(url).status_code == 404
    # A member of another network is not reachable through this one.
    other = MemberFactory(network=world.other_network, code="ES")
    url = reverse("networks:member", args=[world.network.slug, other.public_id])
    assert client.get(url).status_code == 404


def test_detail_shows_policies_roles_and_counts(client, world):
    client.force_login(world.coordinator_a)
    html = client.get(reverse("networks:detail", args=["budapest"])).content.decode()
    assert "Budapest 24/7 Network" in html
    assert "ETS No. 185, Art. 35" in html
    assert "National coordinator: France (FR)" in html
    assert "2 members (2 parties)" in html
    assert reverse("networks:members", args=["budapest"]) in html
    assert reverse("networks:settings", args=["budapest"]) not in html


def test_members_table_filters_and_counts(client, world):
    PublishedContactPointFactory(member=world.member_b)
    MemberFactory(network=world.network, code="JP", name="Japan", status="observer")
    MemberFactory(
        network=world.network,
        code="EU",
        name="European Union",
        kind="organisation",
        status="observer",
    )
    client.force_login(world.officer_a)
    url = reverse("networks:members", args=["budapest"])
    html = client.get(url).content.decode()
    assert "4 members" in html
    assert html.index("European Union") < html.index("France") < html.index("Germany")
    germany_row = html[html.index("Germany") :].split("</tr>")[0]
    assert '<td data-label="Contact points" class="num">2</td>' in germany_row
    html = client.get(url, {"status": "observer"}).content.decode()
    assert "2 members" in html
    assert "Japan" in html
    assert "France" not in html
    html = client.get(url, {"status": "observer", "kind": "organisation"}).content.decode()
    assert "1 member" in html
    assert "European Union" in html
    assert "Japan" not in html
    html = client.get(url, {"q": "ger"}).content.decode()
    assert "Germany" in html
    assert "France" not in html
    html = client.get(url, {"q": "fr"}).content.decode()  # exact code, any case
    assert "France" in html
    assert "Germany" not in html
    html = client.get(url, {"q": "zzz"}).content.decode()
    assert "No member matches these filters." in html


def test_members_page_query_count_is_constant(client, world):
    client.force_login(world.secretariat)
    url = reverse("networks:members", args=["budapest"])
    client.get(url)  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(40):
        member = MemberFactory(network=world.network, code=f"Z{i}", name=f"State {i}")
        ContactPointFactory(member=member)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert "42 members" in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_member_page_for_the_secretariat(client, world):
    client.force_login(world.secretariat)
    html = client.get(reverse("networks:member", args=["budapest", world.member_a.public_id]))
    html = html.content.decode()
    assert "France" in html
    assert "Police nationale" in html
    assert reverse("directory:detail", args=["budapest", world.cp_a.public_id]) in html
    assert "coord@fr.example" in html  # people
    assert "officer@fr.example" in html
    assert "coord@de.example" not in html
    assert reverse("networks:member_edit", args=["budapest", world.member_a.public_id]) in html


@pytest.mark.parametrize(
    ("who", "sees_people"),
    [("coordinator_a", True), ("officer_a", False), ("coordinator_b", False)],
)
def test_member_people_only_for_own_coordinator(client, world, who, sees_people):
    client.force_login(getattr(world, who))
    url = reverse("networks:member", args=["budapest", world.member_a.public_id])
    html = client.get(url).content.decode()
    assert ("officer@fr.example" in html) is sees_people
    assert "Police nationale" in html  # contact points: directory readers all see them


def test_member_page_hides_the_directory_from_observers_when_parties_only(client, world):
    observer = MemberFactory(network=world.network, code="JP", name="Japan", status="observer")
    user = UserFactory()
    RoleAssignmentFactory(user=user, network=world.network, role="officer", member=observer)
    world.network.observers_see_directory = False
    world.network.save()
    client.force_login(user)
    url = reverse("networks:member", args=["budapest", world.member_a.public_id])
    assert client.get(url).status_code == 403
    assert client.get(reverse("networks:detail", args=["budapest"])).status_code == 200


def test_create_member_form(client, world):
    client.force_login(world.secretariat)
    url = reverse("networks:member_create", args=["budapest"])
    response = client.post(
        url, {"kind": "state", "code": "pt", "name": "", "status": "party", "status_since": ""}
    )
    member = Member.objects.get(network=world.network, code="PT")
    assert response.status_code == 302
    assert response["Location"] == reverse("networks:member", args=["budapest", member.public_id])
    assert member.name == "Portugal"
    event = AuditEvent.objects.get(action="member.create")
    assert (event.actor_id, event.via) == (world.secretariat.pk, "web")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "state", "code": "XX"}, "code", "unknown country code &#x27;XX&#x27;"),
        ({"kind": "state", "code": "FR"}, "code", "the member &#x27;FR&#x27; already exists"),
        ({"kind": "organisation", "code": "EU", "name": ""}, "name", "name is required"),
    ],
)
def test_create_member_form_shows_service_errors_on_the_field(client, world, data, field, message):
    client.force_login(world.secretariat)
    url = reverse("networks:member_create", args=["budapest"])
    response = client.post(url, {"status": "party", "name": "", **data})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert message in response.content.decode()
    assert Member.objects.filter(network=world.network).count() == 2


def test_coordinator_cannot_post_the_create_form(client, world):
    client.force_login(world.coordinator_a)
    url = reverse("networks:member_create", args=["budapest"])
    response = client.post(url, {"kind": "state", "code": "PT", "status": "party"})
    assert response.status_code == 403
    assert not Member.objects.filter(code="PT").exists()


def test_edit_member_changes_status_with_history(client, world):
    client.force_login(world.secretariat)
    url = reverse("networks:member_edit", args=["budapest", world.member_b.public_id])
    response = client.post(
        url,
        {"name": "Germany", "status": "observer", "status_since": "2024-03-01", "note": "test"},
    )
    assert response.status_code == 302
    world.member_b.refresh_from_db()
    assert (world.member_b.status, world.member_b.status_since) == (
        "observer",
        dt.date(2024, 3, 1),
    )
    page = client.get(reverse("networks:member", args=["budapest", world.member_b.public_id]))
    assert "Observer" in page.content.decode()
    # A date before that change is refused on the date field.
    response = client.post(
        url, {"name": "Germany", "status": "party", "status_since": "2023-01-01", "note": ""}
    )
    assert response.status_code == 200
    assert "before the previous status change" in response.context["form"].errors["status_since"][0]


def test_settings_form(client, world):
    client.force_login(world.secretariat)
    url = reverse("networks:settings", args=["budapest"])
    page = client.get(url).content.decode()
    assert 'value="Budapest 24/7 Network"' in page
    response = client.post(
        url,
        {
            "name": "Budapest Convention 24/7 Network",
            "legal_basis": "ETS No. 185, Art. 35",
            "secretariat_name": "Council of Europe",
            "description": "",
            "justification_required": "on",
        },
    )
    assert response.status_code == 302
    world.network.refresh_from_db()
    assert world.network.name == "Budapest Convention 24/7 Network"
    assert world.network.observers_see_directory is False  # unchecked box
    assert world.network.justification_required is True
    response = client.post(url, {"name": "", "legal_basis": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


def test_edit_form_leaves_the_date_blank_so_a_new_status_takes_effect_today(client, world):
    from django.utils import timezone

    world.member_b.status_since = dt.date(2010, 1, 1)
    world.member_b.save()
    client.force_login(world.secretariat)
    url = reverse("networks:member_edit", args=["budapest", world.member_b.public_id])
    page = client.get(url)
    assert page.context["form"]["status_since"].value() is None
    assert "Current status: Party since 1 Jan 2010." in page.content.decode()
    client.post(url, {"name": "Germany", "status": "observer", "status_since": "", "note": ""})
    world.member_b.refresh_from_db()
    assert world.member_b.status_since == timezone.localdate()
