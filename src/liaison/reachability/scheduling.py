"""When each probe of a ping test goes out: now, at a set time, or at random instants in a window.

Pure Python (no Django), like directory/availability.py whose rules it uses: a contact point's
declared hours are its weekly schedule and dated exceptions, in wall-clock time of its own IANA
zone, so "outside the declared hours" means the same thing here as in the directory.

Off-hours tests exist to check that a desk answers when few people are watching:

- a desk that claims 24/7 has no "outside its hours", so it gets a random instant at local night
  (22:00-06:00 in its zone) while it claims to be open: a confirmation then is exactly what
  verifies a 24/7 claim at night, and the probe is recorded in_hours=True, truthfully;
- a desk with declared hours gets a random instant outside them: it is expected not to answer,
  and probing it says whether it does anyway (or whether its stated hours are right);
- when no instant of the window satisfies that (a one-hour window in the middle of office
  hours), the probe falls back to a uniform instant of the window.

`in_hours` is always computed from the real schedule at the chosen instant (None when the
contact point's schedule cannot be read, which published data never should be).

The window is cut into segments in which nothing changes (open or not, night or not): the state
only changes at a window edge, at local midnight or at a UTC offset change, so a week-long window
takes a few dozen segments per contact point instead of ten thousand minute checks, and contact
points sharing a schedule and a zone (most of a large network) share the computation.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

# The private evaluation helpers too: using them (rather than a copy) keeps one definition of
# "open at minute m of local day d", exceptions and DST included.
from liaison.directory.availability import (
    AvailabilityError,
    AvailabilityException,
    Schedule,
    _hours_on,
    _offset_change,
    _zone,
    is_available,
    parse_availability,
    parse_exceptions,
)

UTC = dt.UTC
NIGHT_STARTS = 22 * 60  # local 22:00
NIGHT_ENDS = 6 * 60  # local 06:00
_DAY_MINUTES = 24 * 60

TIMING_NOW = "now"
TIMING_AT = "at"
TIMING_RANDOM = "random"
TIMINGS = (TIMING_NOW, TIMING_AT, TIMING_RANDOM)

Plan = dict[str, tuple[dt.datetime, bool | None]]


@dataclass(frozen=True)
class _Segment:
    start: dt.datetime  # UTC, inclusive
    end: dt.datetime  # UTC, exclusive
    open: bool  # inside the declared hours
    night: bool  # local 22:00-06:00


@dataclass(frozen=True)
class _Hours:
    """A contact point's declared hours, parsed once."""

    schedule: Schedule
    exceptions: tuple[AvailabilityException, ...]
    zone: dt.tzinfo

    def open_at(self, at: dt.datetime) -> bool:
        return is_available(self.schedule, self.zone, at, self.exceptions)


def plan_probe_times(
    contact_points: Iterable[Mapping | object],
    *,
    timing: str,
    starts_at: dt.datetime,
    window_ends_at: dt.datetime | None = None,
    off_hours: bool = False,
    rng: random.Random | None = None,
) -> Plan:
    """{public_id: (scheduled_at in UTC, in_hours)} for each contact point.

    A contact point is a mapping (or an object) with `public_id`, `timezone`, `availability`
    (text, e.g. "24/7" or "Mon-Fri 08:00-18:00") and `availability_exceptions` (text, may be
    empty). "now" and "at" schedule every probe at `starts_at`; "random" picks, per contact
    point, an instant in [starts_at, window_ends_at) — uniformly, or with `off_hours` outside
    its declared hours as the module docstring says. Pass a seeded `rng` for repeatable plans.
    """
    if timing not in TIMINGS:
        raise ValueError(f"unknown timing {timing!r} (expected one of {', '.join(TIMINGS)})")
    _require_aware("starts_at", starts_at)
    starts_at = starts_at.astimezone(UTC)
    if timing == TIMING_RANDOM:
        if window_ends_at is None:
            raise ValueError("random timing needs the end of the window")
        _require_aware("window_ends_at", window_ends_at)
        window_ends_at = window_ends_at.astimezone(UTC)
        if window_ends_at < starts_at:
            raise ValueError("the window ends before it starts")
    rng = rng or random.Random()  # noqa: S311 - spreading probes protects nothing
    hours_cache: dict[tuple[str, str, str], _Hours | None] = {}
    # Allowed segments per (schedule, zone): most contact points of a network share a few.
    allowed_cache: dict[tuple[str, str, str], _Choice] = {}
    plan: Plan = {}
    for cp in contact_points:
        key = (
            _field(cp, "timezone"),
            _field(cp, "availability"),
            _field(cp, "availability_exceptions"),
        )
        if key not in hours_cache:
            hours_cache[key] = _parse_hours(*key)
        hours = hours_cache[key]
        if timing != TIMING_RANDOM or window_ends_at == starts_at:
            at = starts_at
        elif not off_hours or hours is None:
            at = _uniform(rng, starts_at, window_ends_at)
        else:
            if key not in allowed_cache:
                allowed_cache[key] = _Choice(_off_hours_segments(hours, starts_at, window_ends_at))
            choice = allowed_cache[key]
            at = choice.pick(rng) if choice else _uniform(rng, starts_at, window_ends_at)
        plan[_field(cp, "public_id")] = (at, hours.open_at(at) if hours is not None else None)
    return plan


def declared_open(contact_point: Mapping | object, at: dt.datetime) -> bool | None:
    """Whether `at` is inside the contact point's declared hours (None if unreadable)."""
    hours = _parse_hours(
        _field(contact_point, "timezone"),
        _field(contact_point, "availability"),
        _field(contact_point, "availability_exceptions"),
    )
    return hours.open_at(at) if hours is not None else None


# --- internals -----------------------------------------------------------------------------------


def _require_aware(name: str, value: dt.datetime) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _field(cp: Mapping | object, name: str) -> str:
    value = cp.get(name) if isinstance(cp, Mapping) else getattr(cp, name, None)
    return "" if value is None else str(value)


def _parse_hours(timezone: str, availability: str, exceptions: str) -> _Hours | None:
    try:
        return _Hours(
            schedule=parse_availability(availability or "24/7"),
            exceptions=parse_exceptions(exceptions or ""),
            zone=_zone(timezone or "UTC"),
        )
    except AvailabilityError:
        # Published entries are validated; an unreadable one is scheduled like a plain random
        # probe and its in_hours left unknown rather than guessed.
        return None


def _uniform(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A uniform instant in [start, end), to the second."""
    seconds = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randrange(seconds)) if seconds > 0 else start


class _Choice:
    """Uniform sampling over a union of segments, to the second."""

    def __init__(self, segments: Iterable[_Segment]):
        self.starts: list[dt.datetime] = []
        self.cumulative: list[int] = []  # seconds before the end of each segment
        total = 0
        for seg in segments:
            length = int((seg.end - seg.start).total_seconds())
            if length <= 0:
                continue
            total += length
            self.starts.append(seg.start)
            self.cumulative.append(total)
        self.total = total

    def __bool__(self) -> bool:
        return self.total > 0

    def pick(self, rng: random.Random) -> dt.datetime:
        k = rng.randrange(self.total)
        index = bisect.bisect_right(self.cumulative, k)
        before = self.cumulative[index - 1] if index else 0
        return self.starts[index] + dt.timedelta(seconds=k - before)


def _off_hours_segments(hours: _Hours, start: dt.datetime, end: dt.datetime) -> list[_Segment]:
    """The parts of [start, end) an off-hours probe may use (empty: none, fall back)."""
    segments = list(_segments(hours, start, end))
    if hours.schedule.always:
        # A 24/7 claim is verified at night, while the desk says it is open.
        return [s for s in segments if s.open and s.night]
    return [s for s in segments if not s.open]


def _segments(hours: _Hours, start: dt.datetime, end: dt.datetime) -> Iterator[_Segment]:
    """[start, end) cut where the declared hours open or close, or local night starts or ends.

    Within a segment the local minute-of-day stays inside one band of constant state, so any
    instant of it gives the same answer as availability.is_available (which reads the minute).
    """
    zone = hours.zone
    t = start
    while t < end:
        local = t.astimezone(zone)
        intervals = _hours_on(hours.schedule, hours.exceptions, local.date())
        minute = local.hour * 60 + local.minute
        is_open = any(s <= minute < e for s, e in intervals)
        night = minute < NIGHT_ENDS or minute >= NIGHT_STARTS
        bounds = {NIGHT_ENDS, NIGHT_STARTS, _DAY_MINUTES}
        bounds.update(b for interval in intervals for b in interval)
        target = min(b for b in bounds if b > minute)
        wall = local.replace(tzinfo=None)
        midnight = dt.datetime.combine(wall.date(), dt.time())
        candidate = t + (midnight + dt.timedelta(minutes=target) - wall)
        if candidate.astimezone(zone).utcoffset() != local.utcoffset():
            # Wall-clock and elapsed time diverge across a DST change: stop at the change.
            candidate = _offset_change(zone, t, candidate)
        following = min(candidate, end)
        yield _Segment(t, following, is_open, night)
        t = following
