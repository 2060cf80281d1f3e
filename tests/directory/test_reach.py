"""'Reach now': who at a member can be reached at an instant, in a shared language.

Every instant is fixed (passed as `at`), so the tests do not depend on the day they run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from liaison.audit.models import AuditEvent
from liaison.directory import availability as av
from liaison.directory import reach as rc
from liaison.directory import services
from liaison.directory.models import ContactPoint, Layer
from liaison.networks.queries import resolve_access
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SLUG = "budapest"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def desk(world, member, **fields) -> ContactPoint:
    """A published contact point with its derived rows (windows, exceptions, channels)."""
    raw = {
        "type": "police",
        "institution": "Desk",
        "availability": "24/7",
        "timezone": "Europe/Paris",
        "languages": "en",
        "channels": [{"kind": "phone", "value": "+33123456789"}],
        **fields,
    }
    access = resolve_access(world.secretariat, world.network)
    cp = services.create_contact_point(world.secretariat, access, member, raw)
    # Officers read the published layer: these tests are about reaching, not publishing.
    ContactPoint.objects.filter(pk=cp.pk).update(layer=Layer.PUBLISHED)
    return ContactPoint.objects.get(pk=cp.pk)


@pytest.fixture
def member(world):
    return MemberFactory(network=world.network, code="KI", name="Kiribati")


def ask(world, member, at, language="", user=None):
    user = user or world.officer_a
    return rc.reach(user, resolve_access(user, world.network), member, at, language)


def names(entries) -> list[str]:
    return [e.cp.institution for e in entries]


# --- pure functions -----------------------------------------------------------------------------


def test_type_order_is_one_constant_and_unknown_types_go_last():
    ranks = [rc.type_rank(t) for t in rc.TYPE_ORDER]
    assert ranks == sorted(ranks) == list(range(6))
    assert rc.TYPE_ORDER[:2] == ("police", "prosecution")
    assert rc.type_rank("astrology") == len(rc.TYPE_ORDER)


def test_shares_language():
    assert rc.shares_language(["de", "en"], "en") is True
    assert rc.shares_language(["de"], "EN") is False
    assert rc.shares_language(["de"], "") is None


def test_by_next_opening_puts_unknown_openings_last():
    def entry(name, next_at, type_="police", position=0):
        cp = ContactPoint(institution=name, type=type_, position=position)
        return rc.ReachEntry(cp, [], False, None, utc(2026, 1, 1), next_at)

    entries = [
        entry("never", None),
        entry("later", utc(2026, 1, 2)),
        entry("sooner-other", utc(2026, 1, 1, 9), type_="other"),
        entry("sooner-police", utc(2026, 1, 1, 9)),
    ]
    assert names(rc.by_next_opening(entries)) == [
        "sooner-police",
        "sooner-other",
        "later",
        "never",
    ]


# --- time zones, the date line, DST, exceptions -------------------------------------------------


def test_across_the_date_line_same_hours_different_days(world, member):
    # Sunday 1 March 2026, 20:00 UTC: Monday 10:00 on Kiritimati (UTC+14), Sunday 10:00 in
    # Honolulu (UTC-10). Same weekday hours, one desk open, the other not.
    desk(
        world,
        member,
        institution="Line Islands",
        timezone="Pacific/Kiritimati",
        availability="Mon-Fri 09:00-17:00",
    )
    desk(
        world,
        member,
        institution="Honolulu",
        timezone="Pacific/Honolulu",
        availability="Mon-Fri 09:00-17:00",
    )
    result = ask(world, member, utc(2026, 3, 1, 20))
    assert names(result.available) == ["Line Islands"]
    assert names(result.not_available) == ["Honolulu"]
    line, honolulu = result.available[0], result.not_available[0]
    assert (line.local.weekday(), line.local.hour) == (0, 10)  # Monday
    assert (honolulu.local.weekday(), honolulu.local.hour) == (6, 10)  # Sunday
    assert line.local.utcoffset() == timedelta(hours=14)
    # Monday 09:00 in Honolulu is Monday 19:00 UTC.
    assert honolulu.next_at == utc(2026, 3, 2, 19)


def test_spring_forward_gap_is_not_counted(world, member):
    # Paris, 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC). At 01:30 CET a desk
    # opening at 03:00 opens 30 minutes later, not 90.
    desk(world, member, institution="Early", availability="daily 03:00-05:00")
    result = ask(world, member, utc(2026, 3, 29, 0, 30))
    assert names(result.not_available) == ["Early"]
    assert result.not_available[0].next_at == utc(2026, 3, 29, 1)
    # …and at that instant SQL (available_q) agrees it is open, in summer time.
    result = ask(world, member, utc(2026, 3, 29, 1))
    assert names(result.available) == ["Early"]
    assert result.available[0].local.utcoffset() == timedelta(hours=2)


def test_next_opening_across_a_dst_weekend(world, member):
    desk(world, member, institution="Office", availability="Mon-Fri 08:00-18:00")
    result = ask(world, member, utc(2026, 3, 28, 12))  # Saturday 13:00 CET
    # Monday 08:00 CEST = 06:00 UTC: 42 hours later, not 43.
    assert result.not_available[0].next_at == utc(2026, 3, 30, 6)
    assert result.next_at == utc(2026, 3, 30, 6)


def test_closed_day_exception(world, member):
    desk(
        world,
        member,
        institution="Always but Christmas",
        availability_exceptions="2026-12-25 closed",
    )
    desk(world, member, institution="Short Eve", availability_exceptions="2026-12-24 09:00-12:00")
    # 25 December, 12:00 CET: the first is closed until midnight, the second is 24/7 again.
    result = ask(world, member, utc(2026, 12, 25, 11))
    assert names(result.available) == ["Short Eve"]
    assert names(result.not_available) == ["Always but Christmas"]
    assert result.not_available[0].next_at == utc(2026, 12, 25, 23)  # 26 Dec 00:00 CET
    # 24 December 13:00 CET: the eve's hours are over, until midnight.
    result = ask(world, member, utc(2026, 12, 24, 12))
    assert names(result.available) == ["Always but Christmas"]
    assert result.not_available[0].next_at == utc(2026, 12, 24, 23)


# --- ordering and languages ---------------------------------------------------------------------


def test_order_by_type_then_position_and_channels_in_order(world, member):
    for institution, type_ in [
        ("Other", "other"),
        ("Cyber", "cybersecurity"),
        ("Justice", "ministry_of_justice"),
        ("Security", "security_service"),
        ("Prosecutor", "prosecution"),
        ("Police 1", "police"),
        ("Police 2", "police"),
    ]:
        desk(
            world,
            member,
            institution=institution,
            type=type_,
            channels=[
                {"kind": "email", "value": f"{type_}@desk.example"},
                {"kind": "phone", "value": "+33123456789"},
            ],
        )
    result = ask(world, member, utc(2026, 6, 1, 12))
    assert names(result.available) == [
        "Police 1",
        "Police 2",
        "Prosecutor",
        "Security",
        "Justice",
        "Cyber",
        "Other",
    ]
    assert [c.kind for c in result.available[0].channels] == ["email", "phone"]


def test_language_split_lists_the_others_separately(world, member):
    desk(world, member, institution="German only", languages="de")
    desk(world, member, institution="Bilingual", languages="en,fr")
    desk(world, member, institution="French", languages="fr", type="prosecution")
    desk(world, member, institution="Closed French", languages="fr", availability="Mon 08:00-09:00")
    at = utc(2026, 6, 2, 12)  # a Tuesday
    result = ask(world, member, at, "fr")
    assert names(result.available) == ["Bilingual", "French"]
    assert names(result.available_no_shared_language) == ["German only"]
    assert names(result.not_available) == ["Closed French"]
    assert result.languages == ["de", "en", "fr"]
    anyone = ask(world, member, at)
    assert names(anyone.available) == ["German only", "Bilingual", "French"]
    assert {e.shares_language for e in anyone.available} == {None}
    assert anyone.available_no_shared_language == []


# --- against the Python reference ---------------------------------------------------------------

SCHEDULES = [
    ("Mon-Fri 08:00-18:00", "", "Europe/Paris"),
    ("Mon-Fri 18:00-08:00", "", "America/New_York"),
    ("Sat 09:00-12:00; Sun 10:00-11:00", "", "Pacific/Auckland"),
    ("Tue,Thu 22:00-02:00", "2026-03-31 closed", "Pacific/Kiritimati"),
    ("24/7", "2026-03-28..2026-03-30 closed; 2026-03-29 10:00-11:00", "Asia/Kolkata"),
]


def brute_force_next(cp, at: datetime, limit=timedelta(days=8)) -> datetime | None:
    """The first whole minute from `at` on when the desk is open, minute by minute."""
    schedule = av.parse_availability(cp.availability)
    exceptions = av.parse_exceptions(cp.availability_exceptions)
    t = at
    while t <= at + limit:
        if av.is_available(schedule, cp.timezone, t, exceptions):
            return t
        t += timedelta(minutes=1)
    return None


@pytest.mark.parametrize(
    "at",
    [utc(2026, 3, 27, 23, 17), utc(2026, 3, 29, 0, 59), utc(2026, 3, 31, 11), utc(2026, 4, 4, 21)],
)
def test_available_and_next_match_the_python_reference(world, member, at):
    cps = [
        desk(
            world,
            member,
            institution=f"Desk {i}",
            availability=text,
            availability_exceptions=exc,
            timezone=tz,
        )
        for i, (text, exc, tz) in enumerate(SCHEDULES)
    ]
    result = ask(world, member, at)
    by_id = {e.cp.pk: e for e in [*result.available, *result.not_available]}
    for cp in cps:
        entry = by_id[cp.pk]
        schedule = av.parse_availability(cp.availability)
        exceptions = av.parse_exceptions(cp.availability_exceptions)
        # SQL (available_q) and the Python rule agree.
        assert entry.available == av.is_available(schedule, cp.timezone, at, exceptions), cp
        if not entry.available:
            assert entry.next_at == av.next_available(schedule, cp.timezone, at, exceptions)
            assert entry.next_at == brute_force_next(cp, at), cp
    openings = [e.next_at for e in result.not_available]
    assert openings == sorted(openings, key=lambda t: (t is None, t or at))


# --- audit, queries -----------------------------------------------------------------------------


def test_a_reach_query_is_audited(world, member):
    desk(world, member, institution="A")
    desk(world, member, institution="B", languages="de")
    ask(world, member, utc(2026, 6, 1, 12), "en")
    event = AuditEvent.objects.filter(action="directory.reach").get()
    assert event.actor == world.officer_a
    assert event.network_slug == SLUG
    assert event.object_id == member.public_id
    assert event.details == {
        "member": "KI",
        "at": "2026-06-01T12:00:00+00:00",
        "language": "en",
        "results": 2,
        "available": 1,
    }


def test_naive_instants_are_refused(world, member):
    with pytest.raises(ValueError, match="timezone-aware"):
        ask(world, member, datetime(2026, 6, 1, 12))


def _page_queries(client, world, member) -> tuple[int, str]:
    url = reverse("directory:reach", args=[SLUG])
    params = {"member": member.code, "at": "2026-06-01T12:00", "tz": "UTC"}
    client.get(url, params)  # warm-up
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_query_count_does_not_grow_with_the_contact_points(world, member, client):
    client.force_login(world.officer_a)
    desk(world, member, institution="First", availability="Mon-Fri 08:00-09:00")
    few, _html = _page_queries(client, world, member)
    for i in range(12):
        desk(
            world,
            member,
            institution=f"More {i}",
            timezone=("Asia/Tokyo", "America/Lima")[i % 2],
            availability=("24/7", "Sat 10:00-11:00")[i % 2],
            availability_exceptions="2026-06-01 closed" if i % 3 == 0 else "",
            channels=[
                {"kind": "phone", "value": "+33123456789"},
                {"kind": "email", "value": "x@y.example"},
            ],
        )
    many, html = _page_queries(client, world, member)
    assert html.count('class="card reach-card') == 13
    assert many == few


# --- the page -----------------------------------------------------------------------------------


def url(**params) -> str:
    from urllib.parse import urlencode

    base = reverse("directory:reach", args=[SLUG])
    return f"{base}?{urlencode(params)}" if params else base


def test_page_lists_available_desks_with_a_big_first_channel(world, member, client):
    desk(
        world,
        member,
        institution="Line Islands Police",
        timezone="Pacific/Kiritimati",
        availability="Mon-Fri 09:00-17:00",
        languages="en,fr",
        channels=[
            {"kind": "phone", "value": "+33123456789", "notes": "ask for the duty officer"},
            {"kind": "email", "value": "desk@ki.example"},
        ],
    )
    desk(world, member, institution="Tarawa Desk", languages="de", timezone="Pacific/Tarawa")
    client.force_login(world.officer_b)
    response = client.get(url(member="KI", at="2026-03-01T20:00", tz="UTC", language="fr"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="button reach-call" href="tel:+33123456789"' in html
    assert 'href="mailto:desk@ki.example"' in html
    assert "ask for the duty officer" in html
    assert "Mon 10:00 in Pacific/Kiritimati, UTC+14:00" in html
    assert "Available, but no shared language" in html
    # The shared language is marked; the other desk's language is not.
    assert re.search(r'<strong class="badge badge-ok">French<span class="visually-hidden">', html)
    assert html.index("Line Islands Police") < html.index("Available, but no shared language")
    assert html.index("Available, but no shared language") < html.index("Tarawa Desk")
    # The language select offers the member's languages, plus "any".
    assert re.findall(
        r'<option value="(\w*)"', html.split('id="reach_language"')[1].split("</select>")[0]
    ) == ["", "de", "en", "fr"]


def test_page_when_nobody_is_available_says_when(world, member, client):
    desk(
        world,
        member,
        institution="Honolulu",
        timezone="Pacific/Honolulu",
        availability="Mon-Fri 09:00-17:00",
    )
    desk(
        world,
        member,
        institution="Auckland",
        timezone="Pacific/Auckland",
        availability="Mon-Fri 09:00-17:00",
    )
    client.force_login(world.officer_a)
    # Saturday 7 March 2026 22:00 UTC: Sunday 11:00 in Auckland (NZDT), Saturday 12:00 in
    # Honolulu. Auckland opens Monday 09:00 NZDT (Sunday 20:00 UTC, in 22 h); Honolulu Monday
    # 09:00 HST (Monday 19:00 UTC, in 1 d 21 h).
    response = client.get(url(member="KI", at="2026-03-07T22:00", tz="UTC"))
    html = response.content.decode()
    assert "Nobody at Kiribati is available at that time." in html
    assert "The first one opens in 22 h 0 min." in html
    assert html.index("Auckland") < html.index("Honolulu")
    assert "Opens in 22 h 0 min: Mon 09:00 local time" in html
    assert "Opens in 1 d 21 h: Mon 09:00 local time" in html
    assert "Sun 11:00 in Pacific/Auckland, UTC+13:00" in html
    assert 'class="button reach-call secondary"' in html


def test_page_reads_the_time_in_the_chosen_zone(world, member, client):
    desk(world, member, institution="Office", availability="Mon-Fri 08:00-18:00")
    client.force_login(world.officer_a)
    # Monday 1 June 2026, Paris is UTC+02:00: 08:30 there is 06:30 UTC.
    for at, tz, open_ in [
        ("2026-06-01T08:30", "Europe/Paris", True),
        ("2026-06-01T07:30", "Europe/Paris", False),
        ("2026-06-01T05:30", "UTC", False),
        ("2026-06-01T06:30", "UTC", True),
    ]:
        html = client.get(url(member="KI", at=at, tz=tz)).content.decode()
        assert ("Nobody at Kiribati" not in html) is open_, (at, tz)


def test_page_default_is_now_and_picker_without_member(world, member, client):
    desk(world, member, institution="Always")
    client.force_login(world.officer_a)
    html = client.get(url()).content.decode()
    assert "Choose a member" in html
    assert not AuditEvent.objects.filter(action="directory.reach").exists()
    html = client.get(url(member="KI")).content.decode()
    assert "now: " in html
    assert "Always" in html
    # An officer of France sees times in Paris by default.
    assert '<option value="Europe/Paris" selected>' in html
    assert AuditEvent.objects.filter(action="directory.reach").count() == 1


def test_page_bad_time_is_an_error_not_a_guess(world, member, client):
    client.force_login(world.officer_a)
    response = client.get(url(member="KI", at="next tuesday", tz="UTC"))
    assert response.status_code == 200
    assert "Enter a date and time such as" in response.content.decode()
    assert not AuditEvent.objects.filter(action="directory.reach").exists()


def test_htmx_gets_the_partial(world, member, client):
    desk(world, member, institution="Always")
    client.force_login(world.officer_a)
    response = client.get(
        url(member="KI"), headers={"HX-Request": "true", "HX-Target": "reach-results"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "Always" in html
    # The language choices follow the member, swapped out of band.
    assert '<div class="field field-language" id="reach-language" hx-swap-oob="true">' in html
    assert "HX-Request" in response["Vary"]


def test_links_from_the_member_page_and_the_directory(world, member, client):
    desk(world, member, institution="Always")
    client.force_login(world.officer_a)
    reach_url = reverse("directory:reach", args=[SLUG])
    html = client.get(reverse("networks:member", args=[SLUG, member.public_id])).content.decode()
    assert f'href="{reach_url}?member=KI"' in html
    # The directory's button submits its filters (member, language, time) to the reach page.
    html = client.get(reverse("directory:list", args=[SLUG])).content.decode()
    assert f'formaction="{reach_url}" hx-get="{reach_url}" hx-include="closest form"' in html
    response = client.get(reach_url, {"q": "", "member": "KI", "type": "", "available": "now"})
    assert "<strong>Kiribati (KI)</strong>" in response.content.decode()


# --- who may ask --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_key", "status"),
    [
        ("officer_a", 200),
        ("officer_b", 200),
        ("coordinator_a", 200),
        ("secretariat", 200),
        ("auditor", 403),
        ("outsider", 404),
    ],
)
def test_page_permissions(world, member, client, user_key, status):
    desk(world, member, institution="Always")
    client.force_login(getattr(world, user_key))
    response = client.get(url(member="KI"))
    assert response.status_code == status
    assert AuditEvent.objects.filter(action="directory.reach").count() == (status == 200)


def test_page_anonymous_goes_to_login(world, client):
    response = client.get(url(member="FR"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_member_of_another_network_is_not_offered(world, client):
    client.force_login(world.officer_a)
    response = client.get(url(member="IT"))  # Italy is in the outsider's network
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert "Italy" not in html
