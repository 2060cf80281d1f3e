"""The web UI's presentation rules: links a person needs on the home page, one label style, one
date format, the channel rows of the editor (one spare row, "Add another channel" without
JavaScript), the directory filters a phone shows first, the language switch and the favicon."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from liaison.directory.models import ChannelKind, ContactPoint
from liaison.directory.templatetags.directory_tags import channel_display
from tests.factories import ChannelFactory, ContactPointFactory

SLUG = "budapest"


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A request in French leaves French active in this thread (LocaleMiddleware does not
    reset it): later tests that render outside a request would read French."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


# --- home ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "shown", "hidden"),
    [
        ("officer_a", {"directory:list", "networks:members"}, {"reports:stats", "audit:list"}),
        ("auditor", {"reports:stats", "audit:list"}, {"directory:list", "networks:members"}),
        (
            "secretariat",
            {"directory:list", "networks:members", "reports:stats", "audit:list"},
            set(),
        ),
    ],
)
def test_home_cards_link_straight_to_the_pages_the_roles_open(client, world, who, shown, hidden):
    client.force_login(getattr(world, who))
    found = links(client.get(reverse("home")).content.decode())
    for name in shown:
        assert reverse(name, args=[SLUG]) in found, name
    for name in hidden:
        assert reverse(name, args=[SLUG]) not in found, name
    assert reverse("directory:list", args=["other"]) not in found  # not its network


def test_home_resolves_access_with_a_query_per_network(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.secretariat)
    client.get(reverse("home"))  # warm caches (session, content types)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("home")).status_code == 200


# --- forms, dates, language switch, favicon --------------------------------------------------


def test_labels_carry_no_colon_suffix(client, world):
    client.force_login(world.secretariat)
    pages = [
        reverse("directory:edit", args=[SLUG, world.cp_a.public_id]),
        reverse("directory:list", args=[SLUG]),
        reverse("networks:members", args=[SLUG]),
        reverse("networks:settings", args=[SLUG]),
        reverse("accounts:account"),
        reverse("audit:list", args=[SLUG]),
    ]
    for url in pages:
        html = client.get(url).content.decode()
        labels = re.findall(r"<label[^>]*>([^<]*)</label>", html)
        assert labels, url
        assert not [label for label in labels if label.strip().endswith(":")], url


def test_dates_read_day_month_year(client, world):
    cp = world.cp_a
    cp.review_date = dt.date(2027, 6, 30)
    cp.save(update_fields=["review_date"])
    client.force_login(world.officer_a)
    url = reverse("directory:detail", args=[SLUG, cp.public_id])
    assert "30 Jun 2027" in client.get(url).content.decode()
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "30 juin 2027" in french


def test_datetime_format_names_its_zone():
    from django.utils.formats import date_format

    moment = dt.datetime(2027, 6, 30, 14, 5, tzinfo=dt.UTC)
    with translation.override("en"):
        assert date_format(moment, "DATETIME_FORMAT") == "30 Jun 2027 14:05 UTC"
    with translation.override("fr"):
        assert date_format(moment, "DATETIME_FORMAT") == "30 juin 2027 14:05 UTC"


def test_language_switch_names_the_language_in_itself(client, world):
    client.force_login(world.officer_a)
    html = client.get(reverse("home")).content.decode()
    assert re.search(r'<button[^>]*value="fr"[^>]*lang="fr"[^>]*>Français</button>', html)
    french = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert re.search(r'<button[^>]*value="en"[^>]*lang="en"[^>]*>English</button>', french)


def test_pages_point_to_an_svg_favicon(client, world):
    client.force_login(world.officer_a)
    html = client.get(reverse("home")).content.decode()
    assert re.search(
        r'<link rel="icon" href="[^"]*liaison/favicon\.svg" type="image/svg\+xml">', html
    )
    icon = Path(settings.BASE_DIR) / "static" / "liaison" / "favicon.svg"
    assert icon.read_text().startswith("<svg")


def test_invitation_messages_put_the_role_on_a_wrapper(client, world):
    html = client.get(reverse("accounts:invitation", args=["x" * 43])).content.decode()
    assert '<div role="alert"><ul class="messages">' in html
    assert not re.search(r"<ul[^>]*role=", html)


def test_email_may_break_before_its_at_sign_and_is_escaped():
    channel = ChannelFactory.build(kind=ChannelKind.EMAIL, value="duty<x>@police.fr.example")
    assert str(channel_display(channel)) == "duty&lt;x&gt;<wbr>@police.fr.example"
    phone = ChannelFactory.build(kind=ChannelKind.PHONE, value="+33123456789")
    assert channel_display(phone) == "+33 1 23 45 67 89"


# --- directory list --------------------------------------------------------------------------


def test_more_filters_start_closed_unless_one_of_them_is_set(client, world):
    client.force_login(world.officer_a)
    url = reverse("directory:list", args=[SLUG])
    closed = client.get(url).content.decode()
    assert re.search(r'<details class="more-filters" data-open-on-wide-screens>', closed)
    # Search and availability come before "More filters"; member, type and language inside.
    summary = closed.index("<summary>")
    assert closed.index('id="id_q"') < summary < closed.index('id="id_language"')
    assert closed.index('id="id_available"') < summary < closed.index('id="id_member"')
    for query in ({"language": "fr"}, {"member": "FR"}, {"type": "police"}):
        html = client.get(url, query).content.decode()
        assert re.search(r'<details class="more-filters" data-open-on-wide-screens open>', html)
    html = client.get(url, {"q": "police"}).content.decode()
    assert re.search(r'<details class="more-filters" data-open-on-wide-screens>', html)


def test_date_fields_are_marked_for_the_given_time_choice_only(client, world):
    client.force_login(world.officer_a)
    html = client.get(reverse("directory:list", args=[SLUG])).content.decode()
    marked = re.findall(r'<div class="field field-(\w+)" data-shown-for="available=at">', html)
    assert marked == ["at", "tz"]


# --- editor ----------------------------------------------------------------------------------


def edit_url(cp) -> str:
    return reverse("directory:edit", args=[SLUG, cp.public_id])


def editor_post(channels, **fields) -> dict[str, str]:
    data = {
        "type": "police",
        "institution": "Police nationale",
        "unit": "Cybercrime desk",
        "availability": "24/7",
        "availability_exceptions": "",
        "timezone": "Europe/Paris",
        "languages": "fr, en",
        "instructions": "",
        "pgp_key": "",
        "review_date": "",
        "channels-TOTAL_FORMS": str(len(channels)),
        "channels-INITIAL_FORMS": "0",
        "channels-MIN_NUM_FORMS": "0",
        "channels-MAX_NUM_FORMS": "30",
    }
    for i, (kind, value) in enumerate(channels):
        data |= {
            f"channels-{i}-kind": kind,
            f"channels-{i}-value": value,
            f"channels-{i}-notes": "",
        }
    return data | fields


def test_editor_has_one_spare_row_without_a_preset_kind(client, world):
    client.force_login(world.coordinator_a)
    page = client.get(edit_url(world.cp_a))
    formset = page.context["formset"]
    assert len(formset.forms) == 2 + 1
    spare = formset.forms[-1]
    assert spare["kind"].value() in (None, "")
    assert spare.fields["kind"].choices[0] == ("", "—")
    html = page.content.decode()
    # "Remove" only on rows that hold a channel, its box before its label.
    assert html.count('name="channels-0-DELETE"') == 1
    assert 'name="channels-2-DELETE"' not in html
    assert re.search(r'<input type="checkbox" name="channels-0-DELETE"[^>]*>\s*<label', html)


def test_add_another_channel_keeps_what_was_typed_and_saves_nothing(client, world):
    cp = world.cp_a
    client.force_login(world.coordinator_a)
    data = editor_post(
        [("phone", "+33 1 23 45 67 89"), ("", "")], unit="Typed, not saved", add_channel="1"
    )
    data["institution"] = ""  # would be an error on saving: not shown while adding a row
    response = client.post(edit_url(cp), data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert len(formset.forms) == 3
    assert formset.forms[0]["value"].value() == "+33 1 23 45 67 89"
    assert formset.forms[2]["value"].value() in (None, "")
    assert response.context["form"]["unit"].value() == "Typed, not saved"
    html = response.content.decode()
    assert "Nothing was saved" not in html
    assert 'class="errorlist' not in html
    cp.refresh_from_db()
    assert cp.unit != "Typed, not saved"
    # The rows come back with the next save: the new one is used.
    data = editor_post([("phone", "+33 1 23 45 67 89"), ("email", "night@police.fr.example")])
    assert client.post(edit_url(cp), data).status_code == 302
    assert [c.kind for c in cp.channels.order_by("position")] == ["phone", "email"]


def test_add_another_channel_works_on_a_new_contact_point(client, world):
    client.force_login(world.coordinator_a)
    data = editor_post([("", "")], member=world.member_a.public_id, add_channel="1")
    response = client.post(reverse("directory:create", args=[SLUG]), data)
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert f'value="{world.member_a.public_id}"' in response.content.decode()


def test_a_value_without_its_kind_is_asked_for_and_an_empty_row_is_ignored(client, world):
    cp = world.cp_a
    client.force_login(world.coordinator_a)
    data = editor_post([("phone", "+33 1 23 45 67 89"), ("", "night@police.fr.example"), ("", "")])
    response = client.post(edit_url(cp), data)
    assert response.status_code == 200
    assert response.context["formset"].forms[1].errors["kind"] == ["Choose the kind of channel."]
    assert cp.channels.count() == 2  # unchanged
    data = editor_post([("phone", "+33 1 23 45 67 89"), ("", "")])
    assert client.post(edit_url(cp), data).status_code == 302
    draft = ContactPoint.objects.get(public_id=cp.public_id, layer="draft")
    assert [c.kind for c in draft.channels.all()] == ["phone"]


def test_enter_in_a_field_saves(client, world):
    """The first submit button is the form's default one (Enter): it is Save, not "Add"."""
    client.force_login(world.coordinator_a)
    html = client.get(edit_url(world.cp_a)).content.decode()
    form = html[html.index('<form method="post"') :]
    first = re.search(r"<button[^>]*>([^<]*)</button>", form)
    assert 'name="add_channel"' not in first.group(0)
    assert first.group(1) == "Save"


def test_result_cards_link_phone_numbers_unbroken(client, world):
    ContactPointFactory(member=world.member_b, institution="Zoll")
    client.force_login(world.officer_a)
    html = client.get(reverse("directory:list", args=[SLUG])).content.decode()
    assert '<a href="tel:+33123456789">+33 1 23 45 67 89</a>' in html
    assert "desk<wbr>@bka.de.example" in html
