"""Weekly availability of contact points: parsing, canonical text and "open at T" checks.

Pure Python (no Django) so forms, the API, imports and background jobs share one set of rules
and the rules can be property-tested in isolation. Schedules are wall-clock times in the contact
point's IANA zone: a desk that opens at 08:00 opens at 08:00 local time in summer and winter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SPELLINGS = (
    "mon monday",
    "tue tues tuesday",
    "wed weds wednesday",
    "thu thur thurs thursday",
    "fri friday",
    "sat saturday",
    "sun sunday",
)
_DAY_ALIASES = {alias: day for day, aliases in enumerate(_SPELLINGS) for alias in aliases.split()}
_ALWAYS = frozenset({"24/7", "24x7", "24h/7d", "24/7/365"})
_ALL_DAYS = frozenset({"daily", "every day", "everyday"})
_DAY_MINUTES = 24 * 60
# Users paste from word processors, which turn "-" into en or em dashes.
_DASH = re.compile("[-\u2013\u2014]")
# ASCII digits only: str.isdigit() and \d accept e.g. "²", which int() then rejects.
_DIGIT = re.compile("[0-9]")
_TIME = re.compile("([0-9]{1,2}):([0-9]{2})")
_DATE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXPECTED_DAYS = "expected Mon, Tue, Wed, Thu, Fri, Sat, Sun"
_EXAMPLE = "(expected e.g. '24/7' or 'Mon-Fri 08:00-18:00')"

Interval = tuple[int, int]  # [start, end) in minutes since local midnight


class AvailabilityError(ValueError):
    """Malformed availability text; the message is shown to users as is."""


@dataclass(frozen=True, order=True)
class Window:
    weekday: int  # 0 = Monday, as date.weekday()
    start: int  # minutes since local midnight, 0..1439
    end: int  # exclusive, 1..1440

    def __post_init__(self) -> None:
        if not (0 <= self.weekday <= 6 and 0 <= self.start < self.end <= _DAY_MINUTES):
            raise ValueError(f"invalid window {self!r}")


@dataclass(frozen=True)
class Schedule:
    always: bool
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        # Normalising on construction gives every schedule exactly one representation, so `==`,
        # the canonical text and the derived database rows all agree.
        windows = () if self.always else _normalise(self.windows)
        full_week = len(windows) == 7 and all(
            (w.start, w.end) == (0, _DAY_MINUTES) for w in windows
        )
        object.__setattr__(self, "always", self.always or full_week)
        object.__setattr__(self, "windows", () if full_week else windows)

    def to_text(self) -> str:
        """Canonical text; '' for a schedule that is never open (parse rejects it)."""
        if self.always:
            return "24/7"
        groups: dict[tuple[Interval, ...], list[int]] = {}
        for day, hours in enumerate(_by_day(self.windows)):
            if hours:
                groups.setdefault(hours, []).append(day)
        # Dicts keep insertion order, so segments are ordered by the first day they cover.
        return "; ".join(f"{_format_days(days)} {_format_hours(h)}" for h, days in groups.items())


@dataclass(frozen=True)
class AvailabilityException:
    start: date  # inclusive, local date
    end: date  # inclusive, local date
    hours: tuple[Interval, ...] = ()  # open intervals that day; () = closed all day

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"exception ends before it starts: {self!r}")
        if any(not 0 <= s < e <= _DAY_MINUTES for s, e in self.hours):
            raise ValueError(f"invalid exception hours: {self.hours!r}")
        object.__setattr__(self, "hours", _merge(self.hours))

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


# --- parsing -------------------------------------------------------------------------------


def parse_availability(text: str) -> Schedule:
    if "".join(text.split()).lower() in _ALWAYS:
        return Schedule(always=True)
    # Empty segments are skipped so that a trailing ';' is not an error.
    segments = [seg.strip() for seg in text.split(";") if seg.strip()]
    if not segments:
        raise AvailabilityError(f"availability is empty {_EXAMPLE}")
    windows: list[Window] = []
    for segment in segments:
        windows.extend(_parse_segment(segment))
    return Schedule(always=False, windows=tuple(windows))


def format_availability(schedule: Schedule) -> str:
    return schedule.to_text()


def parse_exceptions(text: str) -> tuple[AvailabilityException, ...]:
    result: list[AvailabilityException] = []
    for raw in text.split(";"):
        entry = re.sub(r"\s*\.\.\s*", "..", raw.strip())
        if not entry:
            continue
        head, *tail = entry.split(None, 1)
        rest = tail[0].strip() if tail else ""
        bounds = head.split("..")
        if len(bounds) > 2:
            raise AvailabilityError(f"date range '{head}' is not in YYYY-MM-DD..YYYY-MM-DD form")
        start, end = _parse_date(bounds[0]), _parse_date(bounds[-1])
        if end < start:
            raise AvailabilityError(f"date range '{head}' ends before it starts")
        if rest.lower() == "closed":
            hours: tuple[Interval, ...] = ()
        elif rest and _DIGIT.search(rest):
            hours = tuple(_parse_ranges(rest, overnight=False))
        else:
            got = f", got '{rest}'" if rest else ""
            raise AvailabilityError(
                f"expected 'closed' or opening hours such as '09:00-12:00' after '{head}'{got}"
            )
        result.append(AvailabilityException(start, end, hours))
    return tuple(result)


def format_exceptions(excs: Iterable[AvailabilityException]) -> str:
    parts = []
    for exc in excs:
        dates = exc.start.isoformat() if exc.start == exc.end else f"{exc.start}..{exc.end}"
        parts.append(f"{dates} {_format_hours(exc.hours) if exc.hours else 'closed'}")
    return "; ".join(parts)


def _parse_segment(segment: str) -> list[Window]:
    # Day names contain no digits, so the first digit starts the time part; that is what lets
    # ',' separate days before it and time ranges after it.
    first_digit = _DIGIT.search(segment)
    if first_digit is None:
        raise AvailabilityError(f"'{segment}' has no time range {_EXAMPLE}")
    day_part = segment[: first_digit.start()].strip()
    if not day_part:
        raise AvailabilityError(f"'{segment}' does not start with a day {_EXAMPLE}")
    days = _parse_days(day_part)
    windows = []
    for start, end in _parse_ranges(segment[first_digit.start() :], overnight=True):
        for day in days:
            # Overnight shift: the part after midnight belongs to the next day (Sun -> Mon).
            windows.append(Window(day, start, end if start < end else _DAY_MINUTES))
            if 0 < end < start:
                windows.append(Window((day + 1) % 7, 0, end))
    return windows


def _parse_days(part: str) -> list[int]:
    if " ".join(part.lower().split()) in _ALL_DAYS:
        return list(range(7))
    days: list[int] = []
    for raw in part.split(","):
        item = raw.strip()
        if not item:
            raise AvailabilityError(f"missing day in '{part}' ({_EXPECTED_DAYS})")
        ends = [end.strip() for end in _DASH.split(item)]
        if len(ends) == 1:
            days.append(_parse_day(item))
            continue
        if len(ends) != 2 or not all(ends):
            raise AvailabilityError(f"day range '{item}' is not in a form such as 'Mon-Fri'")
        first, last = _parse_day(ends[0]), _parse_day(ends[1])
        # Ranges may wrap past Sunday ("Fri-Mon") because weekend rosters are written that way.
        days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return days


def _parse_day(token: str) -> int:
    try:
        return _DAY_ALIASES[token.lower()]
    except KeyError:
        raise AvailabilityError(f"unknown day '{token}' ({_EXPECTED_DAYS})") from None


def _parse_ranges(text: str, *, overnight: bool) -> list[Interval]:
    ranges = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise AvailabilityError(f"missing time range in '{text.strip()}'")
        ends = [end.strip() for end in _DASH.split(item)]
        if len(ends) != 2 or not all(ends):
            raise AvailabilityError(f"time range '{item}' is not in HH:MM-HH:MM form")
        start, end = _parse_time(ends[0], is_end=False), _parse_time(ends[1], is_end=True)
        if start == end:
            raise AvailabilityError(f"empty time range '{item}'")
        if end < start and not overnight:
            raise AvailabilityError(
                f"time range '{item}' crosses midnight; end it at 24:00 and continue the next day"
            )
        ranges.append((start, end))
    return ranges


def _parse_time(token: str, *, is_end: bool) -> int:
    match = _TIME.fullmatch(token)
    if match:
        hour, minute = int(match[1]), int(match[2])
        if hour < 24 and minute < 60:
            return hour * 60 + minute
        if (hour, minute) == (24, 0):
            if is_end:
                return _DAY_MINUTES
            raise AvailabilityError(f"time '{token}' can only end a range (use 00:00 to start)")
    raise AvailabilityError(f"time '{token}' is not a valid HH:MM time")


def _parse_date(token: str) -> date:
    try:
        if _DATE.fullmatch(token):
            return date.fromisoformat(token)
    except ValueError:
        pass
    raise AvailabilityError(f"date '{token}' is not a valid YYYY-MM-DD date")


# --- normalising and formatting ------------------------------------------------------------


def _merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:  # overlapping or adjacent
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _by_day(windows: Iterable[Window]) -> list[tuple[Interval, ...]]:
    days: list[list[Interval]] = [[] for _ in range(7)]
    for window in windows:
        days[window.weekday].append((window.start, window.end))
    return [_merge(hours) for hours in days]


def _normalise(windows: Iterable[Window]) -> tuple[Window, ...]:
    return tuple(Window(day, s, e) for day, hours in enumerate(_by_day(windows)) for s, e in hours)


def _format_days(days: Sequence[int]) -> str:
    if len(days) == 7:
        return "daily"
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        for run in runs
    )


def _format_hours(hours: Iterable[Interval]) -> str:
    return ", ".join(f"{_format_minute(s)}-{_format_minute(e)}" for s, e in hours)


def _format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# --- evaluation ----------------------------------------------------------------------------


def local_now(tz: str | tzinfo, at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("'at' must be a timezone-aware datetime")
    return at.astimezone(_zone(tz))


def is_available(
    schedule: Schedule,
    tz: str | tzinfo,
    at: datetime,
    exceptions: Iterable[AvailabilityException] = (),
) -> bool:
    local = local_now(tz, at)
    return _open(
        _hours_on(schedule, tuple(exceptions), local.date()), local.hour * 60 + local.minute
    )


def next_available(
    schedule: Schedule,
    tz: str | tzinfo,
    at: datetime,
    exceptions: Iterable[AvailabilityException] = (),
    horizon_days: int = 14,
) -> datetime | None:
    """Earliest instant >= `at` (in UTC) when the contact point is available, if within horizon."""
    zone, excs = _zone(tz), tuple(exceptions)
    t = local_now(zone, at).astimezone(UTC)
    limit = t + timedelta(days=horizon_days)
    while t <= limit:
        local = t.astimezone(zone)
        hours, minute = _hours_on(schedule, excs, local.date()), local.hour * 60 + local.minute
        if _open(hours, minute):
            return t
        # Availability only changes at a window start, at local midnight or at a UTC offset
        # change, so jump straight to the nearest of those instead of scanning minutes.
        wall = local.replace(tzinfo=None)
        target = min((s for s, _ in hours if s > minute), default=_DAY_MINUTES)
        candidate = t + (datetime.combine(wall.date(), time()) + timedelta(minutes=target) - wall)
        if candidate.astimezone(zone).utcoffset() == local.utcoffset():
            t = candidate
        else:
            # Wall-clock and elapsed time diverge across a DST change: stop at the change.
            t = _offset_change(zone, t, candidate)
    return None


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: some keys (e.g. "Europe") name a directory of the zone database.
        raise AvailabilityError(f"unknown time zone '{tz}'") from None


def _hours_on(
    schedule: Schedule, exceptions: Sequence[AvailabilityException], day: date
) -> tuple[Interval, ...]:
    # Exceptions covering a date replace the weekly schedule; several combine by union so the
    # result does not depend on their order (and matches a SQL EXISTS over exception rows):
    # "12-24..12-26 closed; 12-24 09:00-12:00" opens only the morning of the 24th.
    matching = [exc for exc in exceptions if exc.covers(day)]
    if matching:
        return _merge(interval for exc in matching for interval in exc.hours)
    if schedule.always:
        return ((0, _DAY_MINUTES),)
    return tuple((w.start, w.end) for w in schedule.windows if w.weekday == day.weekday())


def _open(hours: Iterable[Interval], minute: int) -> bool:
    return any(s <= minute < e for s, e in hours)


def _offset_change(zone: tzinfo, lo: datetime, hi: datetime) -> datetime:
    """First instant in (lo, hi] whose UTC offset differs from lo's (zone data is whole seconds)."""
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    # Transitions fall on whole seconds and lo < transition <= hi <= lo + 1s.
    return lo.replace(microsecond=0) + timedelta(seconds=1)
