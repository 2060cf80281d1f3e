"""When probes go out: now, at a time, at random in a window, and outside declared hours.

Every off-hours instant is checked against directory.availability.is_available (the reference
definition of "open"), in zones on both sides of the date line and across DST changes.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from liaison.directory.availability import is_available, parse_availability, parse_exceptions
from liaison.reachability import scheduling
from liaison.reachability.scheduling import plan_probe_times

UTC = dt.UTC
OFFICE = "Mon-Fri 09:00-17:00"


def cp(public_id: str, tz: str, availability: str = "24/7", exceptions: str = "") -> dict:
    return {
        "public_id": public_id,
        "timezone": tz,
        "availability": availability,
        "availability_exceptions": exceptions,
    }


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def reference_open(point: dict, at: dt.datetime) -> bool:
    return is_available(
        parse_availability(point["availability"]),
        point["timezone"],
        at,
        parse_exceptions(point["availability_exceptions"]),
    )


def local(point: dict, at: dt.datetime) -> dt.datetime:
    return at.astimezone(ZoneInfo(point["timezone"]))


def is_night(point: dict, at: dt.datetime) -> bool:
    hour = local(point, at).hour
    return hour >= 22 or hour < 6


# --- now, at, uniform --------------------------------------------------------------------------


def test_now_and_at_schedule_everyone_at_the_start_with_truthful_in_hours():
    start = utc(2025, 3, 5, 12, 0)  # Wednesday: 13:00 Paris, 02:00 Honolulu
    points = [cp("cp_paris", "Europe/Paris", OFFICE), cp("cp_hnl", "Pacific/Honolulu", OFFICE)]
    for timing in ("now", "at"):
        plan = plan_probe_times(
            points, timing=timing, starts_at=start, window_ends_at=None, off_hours=False, rng=None
        )
        assert plan == {"cp_paris": (start, True), "cp_hnl": (start, False)}


def test_random_picks_uniform_instants_inside_the_window_repeatably():
    start, end = utc(2025, 3, 5, 0, 0), utc(2025, 3, 8, 0, 0)
    points = [cp(f"cp_{i}", "Europe/Paris", OFFICE) for i in range(300)]
    plan = plan_probe_times(
        points,
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=False,
        rng=random.Random(7),
    )
    again = plan_probe_times(
        points,
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=False,
        rng=random.Random(7),
    )
    assert plan == again
    instants = [at for at, _ in plan.values()]
    assert all(start <= at < end for at in instants)
    assert len(set(instants)) > 290  # independent draws, not one instant for all
    # Spread over the whole window: each of the three days gets a fair share.
    per_day = [sum(at.day == day for at in instants) for day in (5, 6, 7)]
    assert all(60 < n < 140 for n in per_day), per_day
    for point in points:
        at, in_hours = plan[point["public_id"]]
        assert in_hours == reference_open(point, at)


def test_a_random_window_of_zero_length_schedules_at_its_start():
    start = utc(2025, 3, 5, 12)
    plan = plan_probe_times(
        [cp("cp_1", "UTC")], timing="random", starts_at=start, window_ends_at=start, off_hours=True
    )
    assert plan == {"cp_1": (start, True)}


# --- outside declared hours ------------------------------------------------------------------


ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Pacific/Kiritimati",  # UTC+14: across the date line, a day ahead of Honolulu
    "Pacific/Honolulu",  # UTC-10
    "Pacific/Pago_Pago",  # UTC-11
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # half-hour DST
]


@pytest.mark.parametrize("tz", ZONES)
def test_off_hours_instants_are_outside_the_declared_hours(tz):
    # Two weeks spanning Europe's and Lord Howe's DST changes (2025-03-30 and 2025-04-06).
    start, end = utc(2025, 3, 27, 0, 0), utc(2025, 4, 10, 0, 0)
    points = [
        cp(f"cp_{i}", tz, availability, exceptions)
        for i, (availability, exceptions) in enumerate(
            [
                (OFFICE, ""),
                ("Mon-Fri 08:00-12:00, 14:00-18:00", "2025-04-01 closed"),
                ("Mon-Sun 20:00-04:00", ""),  # overnight shifts
                ("daily 06:00-22:00", "2025-04-02..2025-04-03 10:00-11:00"),
            ]
        )
        for _copy in range(25)
    ]
    plan = plan_probe_times(
        points,
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(tz),
    )
    for point in points:
        at, in_hours = plan[point["public_id"]]
        assert start <= at < end
        assert in_hours is False
        assert not reference_open(point, at), (point, at, local(point, at))


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("availability", "exceptions"),
    [
        (OFFICE, ""),
        ("Mon-Fri 08:00-12:00, 14:00-18:00", "2025-03-31 closed; 2025-11-03 10:00-11:00"),
        ("Fri-Mon 21:30-03:15", ""),
        ("daily 06:00-22:00", ""),
        ("24/7", "2025-11-02 closed"),
    ],
)
@pytest.mark.parametrize(
    "start",
    [utc(2025, 3, 28, 10, 0), utc(2025, 10, 24, 10, 0)],  # across spring and autumn DST changes
    ids=["spring", "autumn"],
)
def test_off_hours_segments_hold_exactly_the_minutes_the_reference_allows(
    tz, availability, exceptions, start
):
    """The segments an off-hours probe draws from cover every allowed minute and nothing else:
    closed minutes for a desk with hours, open night minutes for a 24/7 desk."""
    point = cp("cp_1", tz, availability, exceptions)
    end = start + dt.timedelta(days=11)
    hours = scheduling._parse_hours(tz, availability, exceptions)
    segments = scheduling._off_hours_segments(hours, start, end)
    always = parse_availability(availability).always

    def allowed(at: dt.datetime) -> bool:
        if always:
            return reference_open(point, at) and is_night(point, at)
        return not reference_open(point, at)

    expected = 0
    minute = start
    while minute < end:
        expected += allowed(minute)
        minute += dt.timedelta(minutes=1)
    assert scheduling._Choice(segments).total == expected * 60
    for seg in segments:
        # Both ends of each segment agree with the reference (the last second too).
        assert allowed(seg.start)
        assert allowed(seg.end - dt.timedelta(seconds=1))


def test_across_the_date_line_the_local_day_decides():
    """Sunday 19:00-23:00 UTC is Monday morning in Kiritimati (open: fall back to a uniform,
    in-hours instant) and Sunday morning in Honolulu and Pago Pago (closed: off-hours)."""
    start, end = utc(2025, 3, 9, 19, 0), utc(2025, 3, 9, 23, 0)
    points = [
        cp("cp_kiritimati", "Pacific/Kiritimati", OFFICE),
        cp("cp_honolulu", "Pacific/Honolulu", OFFICE),
        cp("cp_pago", "Pacific/Pago_Pago", OFFICE),
    ]
    plan = plan_probe_times(
        points,
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(1),
    )
    kiritimati, in_hours = plan["cp_kiritimati"]
    assert local(points[0], kiritimati).strftime("%a") == "Mon"
    assert start <= kiritimati < end
    assert in_hours is True
    for point in points[1:]:
        at, in_hours = plan[point["public_id"]]
        assert local(point, at).strftime("%a") == "Sun"
        assert start <= at < end
        assert in_hours is False


def test_only_the_closed_part_of_a_window_is_used():
    # Friday 2025-03-07 in Kiritimati: open 09:00-17:00 local = Thursday 19:00 - Friday 03:00 UTC.
    start, end = utc(2025, 3, 6, 18, 0), utc(2025, 3, 7, 4, 0)
    point = cp("cp_k", "Pacific/Kiritimati", OFFICE)
    rng = random.Random(3)
    seen = set()
    for _ in range(200):
        at, in_hours = plan_probe_times(
            [point], timing="random", starts_at=start, window_ends_at=end, off_hours=True, rng=rng
        )["cp_k"]
        assert in_hours is False
        assert at < utc(2025, 3, 6, 19) or at >= utc(2025, 3, 7, 3)
        seen.add(at < utc(2025, 3, 6, 19))
    assert seen == {True, False}  # both closed stretches are drawn from


def test_an_exception_day_counts_as_outside_hours():
    # Monday 2025-03-10 is a holiday in Paris; the window is that Monday's office hours.
    start, end = utc(2025, 3, 10, 8, 0), utc(2025, 3, 10, 16, 0)
    point = cp("cp_p", "Europe/Paris", OFFICE, "2025-03-10 closed")
    at, in_hours = plan_probe_times(
        [point],
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(5),
    )["cp_p"]
    assert start <= at < end
    assert in_hours is False


def test_a_window_inside_office_hours_falls_back_to_a_uniform_instant():
    start, end = utc(2025, 3, 5, 9, 0), utc(2025, 3, 5, 11, 0)  # Wednesday 10:00-12:00 Paris
    point = cp("cp_p", "Europe/Paris", OFFICE)
    instants = set()
    for seed in range(20):
        at, in_hours = plan_probe_times(
            [point],
            timing="random",
            starts_at=start,
            window_ends_at=end,
            off_hours=True,
            rng=random.Random(seed),
        )["cp_p"]
        assert start <= at < end
        assert in_hours is True
        instants.add(at)
    assert len(instants) == 20


# --- 24/7 desks: verified at night -------------------------------------------------------------


@pytest.mark.parametrize("tz", ZONES)
def test_24_7_desks_are_probed_at_local_night(tz):
    start, end = utc(2025, 3, 27, 0, 0), utc(2025, 4, 3, 0, 0)
    points = [cp(f"cp_{i}", tz) for i in range(100)]
    plan = plan_probe_times(
        points,
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(tz),
    )
    hours = set()
    for point in points:
        at, in_hours = plan[point["public_id"]]
        assert start <= at < end
        assert in_hours is True  # a 24/7 desk is never outside its hours
        assert is_night(point, at), local(point, at)
        hours.add(local(point, at).hour)
    assert hours == {22, 23, 0, 1, 2, 3, 4, 5}  # the whole night, not one hour of it


def test_24_7_desks_fall_back_to_the_day_when_the_window_has_no_night():
    # 10:00-14:00 in Kiritimati (UTC+14) is 20:00-24:00 UTC the day before.
    start, end = utc(2025, 3, 5, 20, 0), utc(2025, 3, 6, 0, 0)
    point = cp("cp_k", "Pacific/Kiritimati")
    at, in_hours = plan_probe_times(
        [point],
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(2),
    )["cp_k"]
    assert start <= at < end
    assert in_hours is True
    assert 10 <= local(point, at).hour < 14


def test_24_7_night_excludes_a_night_the_desk_declared_closed():
    # A 24/7 desk closed on the night of 2025-03-06 local: only the other nights are used.
    start, end = utc(2025, 3, 5, 12, 0), utc(2025, 3, 7, 12, 0)
    point = cp("cp_p", "Europe/Paris", "24/7", "2025-03-06 closed")
    rng = random.Random(11)
    for _ in range(100):
        at, in_hours = plan_probe_times(
            [point], timing="random", starts_at=start, window_ends_at=end, off_hours=True, rng=rng
        )["cp_p"]
        assert in_hours is True
        assert is_night(point, at)
        assert local(point, at).date() != dt.date(2025, 3, 6)


# --- inputs ------------------------------------------------------------------------------------


def test_objects_with_attributes_are_accepted():
    start, end = utc(2025, 3, 5), utc(2025, 3, 6)
    point = SimpleNamespace(
        public_id="cp_obj",
        timezone="Pacific/Pago_Pago",
        availability=OFFICE,
        availability_exceptions="",
    )
    at, in_hours = plan_probe_times(
        [point],
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(0),
    )["cp_obj"]
    assert start <= at < end
    assert in_hours is False


def test_an_unreadable_schedule_gets_a_uniform_instant_and_unknown_in_hours():
    start, end = utc(2025, 3, 5), utc(2025, 3, 6)
    plan = plan_probe_times(
        [cp("cp_bad", "Mars/Olympus", OFFICE), cp("cp_bad2", "UTC", "whenever")],
        timing="random",
        starts_at=start,
        window_ends_at=end,
        off_hours=True,
        rng=random.Random(0),
    )
    for at, in_hours in plan.values():
        assert start <= at < end
        assert in_hours is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timing": "soon"}, "unknown timing"),
        ({"timing": "random", "window_ends_at": None}, "end of the window"),
        ({"timing": "random", "window_ends_at": utc(2025, 3, 4)}, "ends before it starts"),
        ({"starts_at": dt.datetime(2025, 3, 5, 12)}, "timezone-aware"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    arguments = {
        "timing": "now",
        "starts_at": utc(2025, 3, 5, 12),
        "window_ends_at": utc(2025, 3, 6),
        "off_hours": False,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        plan_probe_times([cp("cp_1", "UTC")], **arguments)


def test_ten_thousand_contact_points_are_planned_quickly():
    """Contact points sharing a schedule and a zone share the work (measured, generously
    bounded: the real figure is printed with -s)."""
    zones = [*ZONES, "Europe/Berlin", "Asia/Tokyo", "America/Sao_Paulo"]
    schedules = [OFFICE, "24/7", "Mon-Fri 08:00-18:00; Sat 09:00-12:00", "daily 07:00-23:00"]
    points = [
        cp(f"cp_{i}", zones[i % len(zones)], schedules[(i // len(zones)) % len(schedules)])
        for i in range(10_000)
    ]
    began = time.perf_counter()
    plan = plan_probe_times(
        points,
        timing="random",
        starts_at=utc(2025, 3, 24),
        window_ends_at=utc(2025, 4, 7),
        off_hours=True,
        rng=random.Random(0),
    )
    elapsed = time.perf_counter() - began
    print(f"planned 10,000 off-hours probes over 14 days in {elapsed:.2f} s")
    assert len(plan) == 10_000
    assert elapsed < 10
