"""Availability schedules: grammar, canonical text, and "open at T" across time zones."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.directory.availability import (
    AvailabilityError,
    AvailabilityException,
    Schedule,
    Window,
    format_availability,
    format_exceptions,
    is_available,
    local_now,
    next_available,
    parse_availability,
    parse_exceptions,
)

ZONES = [
    "Europe/Paris",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "America/New_York",
    "Asia/Kolkata",  # half-hour offset
]
DAY_SPELLINGS = [
    ["Mon", "monday", "MON"],
    ["Tue", "Tues", "tuesday"],
    ["Wed", "Weds", "WEDNESDAY"],
    ["Thu", "Thurs", "thursday"],
    ["Fri", "fri", "Friday"],
    ["Sat", "saturday", "SAT"],
    ["Sun", "Sunday", "sun"],
]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- parsing and canonical text -----------------------------------------------------------


def test_contract_example_round_trips() -> None:
    text = "Mon-Fri 08:00-18:00; Sat 09:00-12:00"
    schedule = parse_availability(text)
    assert not schedule.always
    assert schedule.windows == (
        *(Window(day, 480, 1080) for day in range(5)),
        Window(5, 540, 720),
    )
    assert format_availability(schedule) == schedule.to_text() == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (
            "  mon - FRI  8:00 \u2013 18:00 ;sat 09:00-12:00 ;",
            "Mon-Fri 08:00-18:00; Sat 09:00-12:00",
        ),
        ("Monday-Friday 08:00-12:00, 13:00-17:00", "Mon-Fri 08:00-12:00, 13:00-17:00"),
        ("Mon,Wed,Fri 08:00-18:00", "Mon,Wed,Fri 08:00-18:00"),
        ("Tues, Thurs 7:30-9:00", "Tue,Thu 07:30-09:00"),
        ("daily 08:00-20:00", "daily 08:00-20:00"),
        ("Every  Day 08:00-20:00", "daily 08:00-20:00"),
        ("Mon-Sun 08:00-20:00", "daily 08:00-20:00"),
        ("Fri-Mon 10:00-11:00", "Mon,Fri-Sun 10:00-11:00"),
        ("Mon 18:00-24:00", "Mon 18:00-24:00"),
        ("Mon 22:00-00:00", "Mon 22:00-24:00"),
        ("Mon 08:00-12:00, 10:00-14:00", "Mon 08:00-14:00"),
        ("Mon 08:00-10:00; Mon 10:00-12:00", "Mon 08:00-12:00"),
        ("Sat 09:00-12:00; Mon-Fri 08:00-18:00", "Mon-Fri 08:00-18:00; Sat 09:00-12:00"),
        (
            "Mon 09:00-10:00; Wed 09:00-10:00; Tue 11:00-12:00",
            "Mon,Wed 09:00-10:00; Tue 11:00-12:00",
        ),
    ],
)
def test_parse_accepts_variants_and_formats_canonically(text: str, canonical: str) -> None:
    assert parse_availability(text).to_text() == canonical


@pytest.mark.parametrize("text", ["24/7", "24x7", "24X7", " 24h/7d ", "24/7/365", "24 / 7"])
def test_always_spellings(text: str) -> None:
    assert parse_availability(text) == Schedule(always=True, windows=())
    assert parse_availability(text).to_text() == "24/7"


def test_overnight_range_continues_next_day() -> None:
    schedule = parse_availability("Fri 22:00-06:00")
    assert schedule.windows == (Window(4, 1320, 1440), Window(5, 0, 360))
    assert schedule.to_text() == "Fri 22:00-24:00; Sat 00:00-06:00"
    assert parse_availability(schedule.to_text()) == schedule


def test_overnight_range_wraps_sunday_to_monday() -> None:
    schedule = parse_availability("Sun 22:00-02:00")
    assert schedule.windows == (Window(0, 0, 120), Window(6, 1320, 1440))
    assert schedule.to_text() == "Mon 00:00-02:00; Sun 22:00-24:00"


@pytest.mark.parametrize(
    "text",
    [
        "daily 00:00-24:00",
        "Mon-Sun 00:00-12:00, 12:00-24:00",
        "Mon-Fri 00:00-24:00; Sat-Sun 00:00-24:00",
        "Mon 00:00-24:00; Tue-Sun 00:00-24:00",
        "daily 06:00-24:00, 00:00-06:00",
        "daily 00:00-18:00; daily 18:00-09:00",
    ],
)
def test_full_week_normalises_to_always(text: str) -> None:
    assert parse_availability(text) == Schedule(always=True)
    assert parse_availability(text).to_text() == "24/7"


def test_schedule_construction_normalises() -> None:
    messy = Schedule(always=False, windows=(Window(0, 600, 700), Window(0, 500, 650)))
    assert messy == Schedule(always=False, windows=(Window(0, 500, 700),))
    assert Schedule(always=True, windows=(Window(0, 1, 2),)).windows == ()
    assert Schedule(always=False).to_text() == ""


@pytest.mark.parametrize(
    ("weekday", "start", "end"), [(7, 0, 10), (-1, 0, 10), (0, 10, 10), (0, -1, 10), (0, 0, 1441)]
)
def test_invalid_window_is_rejected(weekday: int, start: int, end: int) -> None:
    with pytest.raises(ValueError, match="invalid window"):
        Window(weekday, start, end)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["availability is empty"]),
        ("  \n ", ["availability is empty"]),
        (" ; ;", ["availability is empty"]),
        ("Mno 08:00-10:00", ["unknown day 'Mno'", "expected Mon, Tue, Wed, Thu, Fri, Sat, Sun"]),
        ("Mon-Fri 08:00-10:00; Tuesdy 09:00-10:00", ["unknown day 'Tuesdy'"]),
        ("Mon-Fir 08:00-10:00", ["unknown day 'Fir'"]),
        ("Mon Wed 08:00-10:00", ["unknown day 'Mon Wed'"]),
        ("Mon 25:00-26:00", ["time '25:00' is not a valid HH:MM time"]),
        ("Mon 08:60-09:00", ["time '08:60'"]),
        ("Mon 08:00-123:00", ["time '123:00'"]),
        ("Mon 8-10", ["time '8'"]),
        ("Mon 08h00-10:00", ["time '08h00'"]),
        ("Mon 24:00-02:00", ["time '24:00' can only end a range"]),
        ("Mon 08:00-08:00", ["empty time range '08:00-08:00'"]),
        ("daily 00:00-00:00", ["empty time range '00:00-00:00'"]),
        ("Mon 08:00", ["time range '08:00' is not in HH:MM-HH:MM form"]),
        ("Mon 08:00-12:00 13:00-17:00", ["time range '08:00-12:00 13:00-17:00'"]),
        ("Mon 08:00-10:00,", ["missing time range in '08:00-10:00,'"]),
        ("Mon", ["'Mon' has no time range"]),
        ("Mon-Fri; Sat 09:00-12:00", ["'Mon-Fri' has no time range"]),
        ("08:00-10:00", ["'08:00-10:00' does not start with a day"]),
        ("24/7; Mon 08:00-10:00", ["'24/7' does not start with a day"]),
        ("Mon,,Wed 08:00-10:00", ["missing day in 'Mon,,Wed'"]),
        ("Mon, 08:00-10:00", ["missing day in 'Mon,'"]),
        ("Mon-Fri-Sat 08:00-10:00", ["day range 'Mon-Fri-Sat'"]),
        ("Mon- 08:00-10:00", ["day range 'Mon-'"]),
    ],
)
def test_parse_errors_name_the_offending_token(text: str, fragments: list[str]) -> None:
    with pytest.raises(AvailabilityError) as excinfo:
        parse_availability(text)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


def test_availability_error_is_a_value_error() -> None:
    assert issubclass(AvailabilityError, ValueError)


# --- exceptions -----------------------------------------------------------------------------


def test_parse_exceptions_contract_example() -> None:
    text = "2026-12-25 closed; 2026-12-31 09:00-12:00; 2027-01-01..2027-01-02 closed"
    excs = parse_exceptions(text)
    assert excs == (
        AvailabilityException(date(2026, 12, 25), date(2026, 12, 25)),
        AvailabilityException(date(2026, 12, 31), date(2026, 12, 31), ((540, 720),)),
        AvailabilityException(date(2027, 1, 1), date(2027, 1, 2), ()),
    )
    assert format_exceptions(excs) == text


def test_parse_exceptions_is_lenient_on_spacing_and_case() -> None:
    excs = parse_exceptions(
        " 2027-01-01 .. 2027-01-02   CLOSED ; 2026-12-31 11:00-12:00,09:00-11:00;"
    )
    assert format_exceptions(excs) == "2027-01-01..2027-01-02 closed; 2026-12-31 09:00-12:00"


@pytest.mark.parametrize("text", ["", "   ", " ; "])
def test_blank_exceptions(text: str) -> None:
    assert parse_exceptions(text) == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2026-13-01 closed", "date '2026-13-01' is not a valid YYYY-MM-DD date"),
        ("2026-02-30 closed", "date '2026-02-30'"),
        ("25/12/2026 closed", "date '25/12/2026'"),
        ("Dec 25 closed", "date 'Dec'"),
        ("2027-01-02..2027-01-01 closed", "date range '2027-01-02..2027-01-01' ends before"),
        ("2026-12-25..2026-12-26..2026-12-27 closed", "'2026-12-25..2026-12-26..2026-12-27'"),
        ("2026-12-25", "after '2026-12-25'"),
        ("2026-12-25 shut", "got 'shut'"),
        ("2026-12-31 22:00-02:00", "time range '22:00-02:00' crosses midnight"),
        ("2026-12-31 09:00-09:00", "empty time range '09:00-09:00'"),
        ("2026-12-31 09:00-25:00", "time '25:00'"),
    ],
)
def test_parse_exceptions_errors(text: str, fragment: str) -> None:
    with pytest.raises(AvailabilityError, match=re.escape(fragment)):
        parse_exceptions(text)


def test_exception_validates_and_normalises() -> None:
    with pytest.raises(ValueError, match="ends before"):
        AvailabilityException(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(ValueError, match="invalid exception hours"):
        AvailabilityException(date(2026, 1, 1), date(2026, 1, 1), ((600, 600),))
    exc = AvailabilityException(date(2026, 1, 1), date(2026, 1, 1), ((700, 800), (600, 700)))
    assert exc.hours == ((600, 800),)


# --- evaluation -----------------------------------------------------------------------------

OFFICE = parse_availability("Mon-Fri 08:00-18:00")


def test_is_available_in_local_time() -> None:
    # 2026-03-02 is a Monday; Paris is UTC+1 in winter.
    assert not is_available(OFFICE, "Europe/Paris", utc(2026, 3, 2, 6, 59))
    assert is_available(OFFICE, "Europe/Paris", utc(2026, 3, 2, 7, 0))
    assert is_available(OFFICE, ZoneInfo("Europe/Paris"), utc(2026, 3, 2, 16, 59, 59))
    assert not is_available(OFFICE, "Europe/Paris", utc(2026, 3, 2, 17, 0))  # end is exclusive
    # Summer time: 08:00 local is 06:00 UTC.
    assert is_available(OFFICE, "Europe/Paris", utc(2026, 7, 6, 6, 0))
    assert not is_available(OFFICE, "Europe/Paris", utc(2026, 3, 7, 10, 0))  # Saturday


def test_date_line_kiritimati_monday_is_utc_sunday() -> None:
    schedule = parse_availability("Mon 09:00-10:00")
    sunday_evening_utc = utc(2026, 1, 4, 19, 30)
    assert sunday_evening_utc.weekday() == 6
    assert is_available(schedule, "Pacific/Kiritimati", sunday_evening_utc)
    assert not is_available(schedule, "Pacific/Kiritimati", utc(2026, 1, 5, 19, 30))
    assert not is_available(schedule, "UTC", sunday_evening_utc)


def test_pago_pago_sunday_is_utc_monday() -> None:
    schedule = parse_availability("Sun 20:00-21:00")
    assert is_available(schedule, "Pacific/Pago_Pago", utc(2026, 1, 5, 7, 30))


def test_overnight_shift_is_available_after_midnight() -> None:
    schedule = parse_availability("Sun 22:00-02:00")
    # 2026-01-05 is a Monday.
    assert is_available(schedule, "UTC", utc(2026, 1, 5, 1, 59))
    assert not is_available(schedule, "UTC", utc(2026, 1, 5, 2, 0))
    assert is_available(schedule, "UTC", utc(2026, 1, 4, 23, 0))


def test_exceptions_override_weekly_schedule() -> None:
    excs = parse_exceptions("2026-12-25 closed; 2026-12-27 10:00-11:00")
    # 2026-12-25 is a Friday, 2026-12-27 a Sunday.
    assert is_available(OFFICE, "Europe/Paris", utc(2026, 12, 25, 9, 0))
    assert not is_available(OFFICE, "Europe/Paris", utc(2026, 12, 25, 9, 0), excs)
    assert is_available(OFFICE, "Europe/Paris", utc(2026, 12, 27, 9, 30), excs)
    assert not is_available(OFFICE, "Europe/Paris", utc(2026, 12, 27, 10, 0), excs)
    always = parse_availability("24/7")
    assert not is_available(always, "Europe/Paris", utc(2026, 12, 25, 9, 0), excs)
    assert is_available(always, "Europe/Paris", utc(2026, 12, 26, 9, 0), excs)
    # The exception date is the local date, not the UTC date.
    assert not is_available(always, "Europe/Paris", utc(2026, 12, 24, 23, 30), excs)


def test_overlapping_exceptions_combine_independent_of_order() -> None:
    excs = parse_exceptions("2026-12-24..2026-12-26 closed; 2026-12-24 09:00-12:00")
    at_morning, at_afternoon = utc(2026, 12, 24, 10, 0), utc(2026, 12, 24, 14, 0)
    for ordered in (excs, tuple(reversed(excs))):
        assert is_available(OFFICE, "UTC", at_morning, ordered)
        assert not is_available(OFFICE, "UTC", at_afternoon, ordered)
        assert not is_available(OFFICE, "UTC", utc(2026, 12, 25, 10, 0), ordered)


def test_exceptions_may_be_a_generator() -> None:
    excs = parse_exceptions("2026-12-25 closed")
    assert not is_available(OFFICE, "UTC", utc(2026, 12, 25, 10), (e for e in excs))
    assert next_available(OFFICE, "UTC", utc(2026, 12, 25, 10), (e for e in excs)) == utc(
        2026, 12, 28, 8
    )


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_available(OFFICE, "UTC", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_available(OFFICE, "UTC", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_now("UTC", naive)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "Europe", "../etc/passwd"])
def test_unknown_time_zone(tz: str) -> None:
    with pytest.raises(AvailabilityError, match="unknown time zone"):
        is_available(OFFICE, tz, utc(2026, 1, 1))


def test_local_now_converts() -> None:
    local = local_now("Asia/Kolkata", utc(2026, 1, 1, 0, 0))
    assert (local.hour, local.minute) == (5, 30)
    assert local.tzinfo == ZoneInfo("Asia/Kolkata")


def test_next_available_returns_now_when_open() -> None:
    at = datetime(2026, 3, 2, 9, 15, 42, tzinfo=ZoneInfo("Europe/Paris"))
    result = next_available(OFFICE, "Europe/Paris", at)
    assert result == at
    assert result is not None
    assert result.tzinfo == UTC


def test_next_available_jumps_to_next_opening() -> None:
    # Friday 2026-03-06 19:00 Paris -> Monday 08:00 Paris = 07:00 UTC.
    assert next_available(OFFICE, "Europe/Paris", utc(2026, 3, 6, 18, 0)) == utc(2026, 3, 9, 7)
    # Closing time is exclusive: at 18:00 sharp the next opening is Monday.
    assert next_available(OFFICE, "Europe/Paris", utc(2026, 3, 6, 17)) == utc(2026, 3, 9, 7)
    # Sub-minute precision: 07:59:30 local waits 30 seconds, not a whole minute.
    assert next_available(OFFICE, "Europe/Paris", utc(2026, 3, 9, 6, 59, 30)) == utc(2026, 3, 9, 7)


def test_next_available_respects_horizon_and_exceptions() -> None:
    schedule = parse_availability("Mon 09:00-10:00")
    closed = parse_exceptions("2026-01-01..2026-02-28 closed")
    assert next_available(schedule, "UTC", utc(2026, 1, 1), closed) is None
    assert next_available(schedule, "UTC", utc(2026, 1, 1), closed, horizon_days=70) == utc(
        2026, 3, 2, 9
    )
    assert next_available(schedule, "UTC", utc(2026, 1, 1), horizon_days=3) is None
    assert next_available(Schedule(always=False), "UTC", utc(2026, 1, 1)) is None


def test_next_available_across_spring_forward_gap() -> None:
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). 02:00-03:00 never happens,
    # so a window from 02:00 opens when the clocks show 03:00.
    schedule = parse_availability("Sun 02:00-04:00")
    assert not is_available(schedule, "America/New_York", utc(2026, 3, 8, 6, 59))
    assert next_available(schedule, "America/New_York", utc(2026, 3, 8, 5)) == utc(2026, 3, 8, 7)
    # Jumping 2 wall-clock hours from 01:00 EST must not skip past 03:00 EDT.
    after_gap = parse_availability("Sun 03:00-03:30")
    assert next_available(after_gap, "America/New_York", utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7)
    # A window entirely inside the gap does not exist that day.
    gap_only = parse_availability("Sun 02:15-02:45")
    assert next_available(gap_only, "America/New_York", utc(2026, 3, 8, 5)) == utc(
        2026, 3, 15, 6, 15
    )


def test_next_available_across_fall_back_repeats_the_hour() -> None:
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00 UTC); 01:00-01:30 happens
    # twice, so after missing the first occurrence the second one counts.
    schedule = parse_availability("Sun 01:00-01:30")
    assert next_available(schedule, "America/New_York", utc(2026, 11, 1, 4)) == utc(2026, 11, 1, 5)
    assert next_available(schedule, "America/New_York", utc(2026, 11, 1, 5, 45)) == utc(
        2026, 11, 1, 6
    )


# --- properties -----------------------------------------------------------------------------

MINUTE_PAIRS = st.lists(st.integers(0, 1440), min_size=2, max_size=2, unique=True).map(sorted)
WINDOWS = st.builds(
    lambda day, pair: Window(day, pair[0], pair[1]), st.integers(0, 6), MINUTE_PAIRS
)
SCHEDULES = st.one_of(
    st.just(Schedule(always=True)),
    st.lists(WINDOWS, min_size=1, max_size=12).map(lambda ws: Schedule(False, tuple(ws))),
)
INSTANTS = st.datetimes(
    min_value=datetime(1980, 1, 1),  # hypothesis bounds are naive
    max_value=datetime(2060, 1, 1),
    timezones=st.just(UTC),
)


# UTC instants of DST changes in zones from ZONES; random instants almost never land near one.
DST_CHANGES = [
    ("America/New_York", utc(2026, 3, 8, 7)),
    ("America/New_York", utc(2026, 11, 1, 6)),
    ("Europe/Paris", utc(2026, 3, 29, 1)),
    ("Europe/Paris", utc(2026, 10, 25, 1)),
]
ZONE_AND_INSTANT = st.one_of(
    st.tuples(st.sampled_from(ZONES), INSTANTS),
    st.builds(
        lambda change, minutes, seconds: (
            change[0],
            change[1] + timedelta(minutes=minutes, seconds=seconds),
        ),
        st.sampled_from(DST_CHANGES),
        st.integers(-2 * 1440, 1440),
        st.sampled_from([0, 0, 0, 30]),
    ),
)


@given(SCHEDULES)
def test_round_trip_of_normalised_schedules(schedule: Schedule) -> None:
    text = format_availability(schedule)
    assert parse_availability(text) == schedule
    assert format_availability(parse_availability(text)) == text


Meaning = list[tuple[list[int], int, int]]  # (days, start, end); end < start runs overnight


@st.composite
def raw_segments(draw: st.DrawFn) -> tuple[str, Meaning]:
    """A schedule as loosely written text, plus its meaning as (days, start, end) segments."""
    parts: list[str] = []
    meaning: Meaning = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            first, last = draw(st.integers(0, 6)), draw(st.integers(0, 6))
            days = [(first + i) % 7 for i in range((last - first) % 7 + 1)]
            day_text = f"{draw(st.sampled_from(DAY_SPELLINGS[first]))}-"
            day_text += draw(st.sampled_from(DAY_SPELLINGS[last]))
        else:
            days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
            day_text = ", ".join(draw(st.sampled_from(DAY_SPELLINGS[d])) for d in days)
        ranges: list[tuple[int, int]] = []
        range_texts: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.integers(0, 1439))
            end = draw(st.integers(1, 1440).filter(start.__ne__))
            dash = draw(st.sampled_from(["-", " - ", "\u2013"]))
            ranges.append((start, end))
            range_texts.append(
                f"{start // 60}:{start % 60:02d}{dash}{end // 60:02d}:{end % 60:02d}"
            )
        parts.append(f"{day_text} {' , '.join(range_texts)}")
        meaning.extend((days, start, end) for start, end in ranges)
    return " ; ".join(parts), meaning


def reference_available(meaning: Meaning, local: datetime) -> bool:
    weekday, minute = local.weekday(), local.hour * 60 + local.minute
    for days, start, end in meaning:
        for day in days:
            if start < end and weekday == day and start <= minute < end:
                return True
            if end < start and (
                (weekday == day and minute >= start) or (weekday == (day + 1) % 7 and minute < end)
            ):
                return True
    return False


@given(raw_segments())
def test_loosely_written_schedules_round_trip(raw: tuple[str, Meaning]) -> None:
    schedule = parse_availability(raw[0])
    assert parse_availability(schedule.to_text()) == schedule


@settings(max_examples=300)
@given(raw_segments(), ZONE_AND_INSTANT)
def test_is_available_matches_brute_force_reference(
    raw: tuple[str, Meaning], zone_and_instant: tuple[str, datetime]
) -> None:
    (text, meaning), (zone, at) = raw, zone_and_instant
    expected = reference_available(meaning, at.astimezone(ZoneInfo(zone)))
    assert is_available(parse_availability(text), zone, at) is expected


@given(SCHEDULES, st.sampled_from(ZONES), INSTANTS, st.lists(MINUTE_PAIRS, max_size=3))
def test_exception_on_the_local_date_decides(
    schedule: Schedule, zone: str, at: datetime, hours: list[list[int]]
) -> None:
    local = at.astimezone(ZoneInfo(zone))
    exc = AvailabilityException(local.date(), local.date(), tuple((s, e) for s, e in hours))
    minute = local.hour * 60 + local.minute
    expected = any(s <= minute < e for s, e in hours)
    assert is_available(schedule, zone, at, [exc]) is expected


ALPHABET = "MonTueWdhFriSatSun dailyevry0123456789:;,-\u2013./xh\t"


@given(st.one_of(st.text(), st.text(alphabet=ALPHABET)))
def test_garbage_raises_only_availability_error(text: str) -> None:
    try:
        schedule = parse_availability(text)
    except AvailabilityError:
        return
    assert parse_availability(schedule.to_text()) == schedule


@given(st.one_of(st.text(), st.text(alphabet="0123456789-. closedCLOSED:;,\u2013")))
def test_exception_garbage_raises_only_availability_error(text: str) -> None:
    try:
        excs = parse_exceptions(text)
    except AvailabilityError:
        return
    assert parse_exceptions(format_exceptions(excs)) == excs


EXCEPTIONS = st.builds(
    lambda start, days, hours: AvailabilityException(
        start, start + timedelta(days=days), tuple((s, e) for s, e in hours)
    ),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2050, 1, 1)),
    st.integers(0, 20),
    st.lists(MINUTE_PAIRS, max_size=3),
)


@given(st.lists(EXCEPTIONS, max_size=5))
def test_exceptions_round_trip(excs: list[AvailabilityException]) -> None:
    assert parse_exceptions(format_exceptions(excs)) == tuple(excs)


HORIZON_DAYS = 2


@settings(max_examples=100, deadline=None)
@given(
    SCHEDULES,
    ZONE_AND_INSTANT,
    st.lists(
        st.builds(
            lambda offset, hours: (offset, tuple((s, e) for s, e in hours)),
            st.integers(-1, 2),
            st.lists(MINUTE_PAIRS, max_size=2),
        ),
        max_size=2,
    ),
)
def test_next_available_is_the_earliest_available_minute(
    schedule: Schedule,
    zone_and_instant: tuple[str, datetime],
    exc_specs: list[tuple[int, tuple[tuple[int, int], ...]]],
) -> None:
    zone, at = zone_and_instant
    # Exceptions near `at` so that they actually influence the search.
    today = at.astimezone(ZoneInfo(zone)).date()
    excs = [
        AvailabilityException(today + timedelta(days=off), today + timedelta(days=off), hours)
        for off, hours in exc_specs
    ]
    result = next_available(schedule, zone, at, excs, horizon_days=HORIZON_DAYS)
    end = result if result is not None else at + timedelta(days=HORIZON_DAYS, minutes=1)
    if result is not None:
        assert result.tzinfo == UTC
        assert result >= at
        assert is_available(schedule, zone, result, excs)
        # Anything later than `at` itself must be a minute boundary (all offsets are whole minutes).
        assert result == at or (result.second, result.microsecond) == (0, 0)
    # Brute force: neither `at` nor any whole minute before the result is available.
    probe = at
    while probe < end:
        assert not is_available(schedule, zone, probe, excs), probe
        probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
