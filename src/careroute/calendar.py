"""The practice's business calendar: when the clock of a business-hours SLA runs.

A `BusinessCalendar` answers four questions exactly, to the microsecond:
is the practice open at an instant, when does it next open, what instant is a
given amount of business time after another, and how much business time lies
between two instants. All arithmetic is done on UTC instants and answers are
returned in UTC (convert to the practice's zone only to show them). Local
opening hours are converted to UTC spans once per date and summed per year,
so a query is a binary search: nights, weekends, holidays and daylight-saving
changes cost nothing per query, and 2,000 business hours take microseconds.

Opening hours are wall-clock intervals of a local date. An interval opens at
the first instant the practice's clock reads its start time and closes at the
first instant the clock reads its end time ("the door opens once and shuts
once"). That rule keeps DST harmless: on the spring-forward night a start time
inside the skipped hour opens when the clock jumps past it, and on the
fall-back night the repeated hour is counted once as real elapsed time, never
as a second opening.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careroute.model import require_aware

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
#: How far ahead add_business_time looks before deciding the calendar never opens.
_MAX_YEARS_AHEAD = 50
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, order=True, slots=True)
class Opening:
    """One wall-clock opening interval of a day, in minutes after local midnight (end may be 1440)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}–{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_opening(text: str) -> Opening:
    """Read "08:00-12:00" (an end of "24:00" means midnight at the end of the day)."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an opening interval like '08:00-17:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440:
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 24:00")
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; split a night shift at 24:00 across two days")
    return Opening(start, end)


def _parse_day(raw: Any) -> tuple[Opening, ...]:
    """Openings of one day, sorted; overlapping intervals are a mistake worth naming."""
    items = [raw] if isinstance(raw, str) else list(raw)
    openings = sorted(parse_opening(str(x)) for x in items)
    for before, after in pairwise(openings):
        if after.start < before.end:
            raise ValueError(f"opening intervals {before} and {after} overlap")
    return tuple(openings)


def _canonical_day(raw: Any) -> list[str]:
    return [f"{_hhmm(o.start)}-{_hhmm(o.end)}" for o in _parse_day(raw)]


class CalendarSpec(_Section):
    """The `calendar:` section of a rule pack."""

    timezone: str = "America/New_York"
    #: Weekly opening hours; a weekday that is not listed (or lists nothing) is closed.
    hours: dict[Weekday, list[str]] = Field(default_factory=lambda: {day: ["08:00-17:00"] for day in WEEKDAYS[:5]})
    #: US federal holidays from the `holidays` library are closed days.
    us_federal_holidays: bool = True
    #: Close on the weekday a weekend holiday is observed (Friday 2026-07-03 for Saturday 07-04).
    observed: bool = True
    #: The practice's own closed days, with a reason for the documentation ("Christmas Eve").
    closures: dict[date, str] = {}
    #: Half-days and other special hours; they replace the weekly hours (and a holiday) on that date.
    special_hours: dict[date, list[str]] = {}
    #: How many business hours "1 business day" means; by default the most common weekday's length.
    business_day_hours: float | None = Field(default=None, gt=0, le=24)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as 'America/New_York'") from None
        return value

    @field_validator("hours", "special_hours", mode="before")
    @classmethod
    def _canonical_hours(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        # A single string is accepted as shorthand for one interval; stored canonically so
        # that two packs that mean the same hours compare (and diff) equal.
        return {key: _canonical_day([] if raw is None else raw) for key, raw in value.items()}

    @field_validator("closures", mode="before")
    @classmethod
    def _closures_as_mapping(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {day: "" for day in value}
        return value

    @model_validator(mode="after")
    def _some_hours(self) -> CalendarSpec:
        if not any(self.hours.get(day) for day in WEEKDAYS):
            raise ValueError("the weekly hours open on no day: business-hours clocks would never run")
        both = sorted(set(self.closures) & set(self.special_hours))
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a closure and a day with special hours")
        return self


@lru_cache(maxsize=128)
def _federal_holidays(year: int, observed: bool) -> Mapping[date, str]:
    # The next year is asked for too: New Year's Day on a Saturday is observed on 31 December.
    found = holidays.country_holidays("US", years=[year, year + 1], observed=observed)
    return MappingProxyType({day: str(name) for day, name in sorted(found.items()) if day.year == year})


@dataclass(frozen=True, slots=True)
class _Year:
    """One local calendar year's openings as sorted UTC spans (in microseconds since the epoch)."""

    year: int
    begin: int  # first instant of 1 January, local time
    end: int  # first instant of the next 1 January
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    before: tuple[int, ...]  # business microseconds in this year before span i opens
    after: tuple[int, ...]  # business microseconds in this year when span i closes
    total: int

    def elapsed(self, u: int) -> int:
        """Business microseconds between the start of the year and u."""
        i = bisect_right(self.starts, u) - 1
        if i < 0:
            return 0
        return self.before[i] + min(u, self.ends[i]) - self.starts[i]

    def locate(self, amount: int) -> int:
        """The first instant at which `amount` (0 < amount <= total) business microseconds have elapsed."""
        i = bisect_left(self.after, amount)
        return self.starts[i] + amount - self.before[i]

    def open_span(self, u: int) -> int | None:
        i = bisect_right(self.starts, u) - 1
        return i if i >= 0 and u < self.ends[i] else None


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in one time zone, with holidays, closures and special hours; pure and thread-safe."""

    spec: CalendarSpec
    zone: ZoneInfo = field(init=False, repr=False)
    _weekly: tuple[tuple[Opening, ...], ...] = field(init=False, repr=False)
    _special: Mapping[date, tuple[Opening, ...]] = field(init=False, repr=False)
    # Years are built on first use and never change; a race only builds the same year twice.
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.spec.timezone))
        weekly = tuple(_parse_day(self.spec.hours.get(day, [])) for day in WEEKDAYS)
        object.__setattr__(self, "_weekly", weekly)
        special = {day: _parse_day(raw) for day, raw in self.spec.special_hours.items()}
        object.__setattr__(self, "_special", MappingProxyType(special))

    # -- the schedule of one local date ------------------------------------------------------

    def closed_because(self, day: date) -> str | None:
        """Why a date that would normally open is closed (a closure or a holiday), else None."""
        if day in self.spec.closures:
            return self.spec.closures[day] or "practice closed"
        if day in self._special:
            return None if self._special[day] else "practice closed"
        if self.spec.us_federal_holidays:
            return _federal_holidays(day.year, self.spec.observed).get(day)
        return None

    def openings_on(self, day: date) -> tuple[Opening, ...]:
        """The wall-clock openings of a local date after closures, special hours and holidays."""
        if day in self._special:
            return self._special[day]
        if self.closed_because(day) is not None:
            return ()
        return self._weekly[day.weekday()]

    @property
    def business_day(self) -> timedelta:
        """The length of "1 business day": the pack's figure, else the most common weekday's hours."""
        if self.spec.business_day_hours is not None:
            return timedelta(hours=self.spec.business_day_hours)
        lengths = Counter(sum(o.end - o.start for o in day) for day in self._weekly)
        lengths.pop(0, None)
        minutes = max(lengths.items(), key=lambda kv: (kv[1], kv[0]))[0]
        return timedelta(minutes=minutes)

    # -- the questions ------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        u = _micros(require_aware(at, "at"))
        return self._year_at(u).open_span(u) is not None

    def next_open(self, at: datetime) -> datetime:
        """`at` itself (in UTC) when open, else the instant the practice next opens."""
        u = _micros(require_aware(at, "at"))
        year = self._year_at(u)
        for _ in range(_MAX_YEARS_AHEAD):
            if year.open_span(u) is not None:
                return self._out(u)
            j = bisect_right(year.starts, u)
            if j < len(year.starts):
                return self._out(year.starts[j])
            year = self._year(year.year + 1)
            u = year.begin
        raise ValueError(f"the practice does not open within {_MAX_YEARS_AHEAD} years of {at.isoformat()}")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant by which `duration` of business time has passed since `start`.

        Counting begins at the next opening when `start` is outside hours; a deadline
        that falls exactly on a closing time is that closing time, not the next opening.
        """
        u = _micros(require_aware(start, "start"))
        if duration < timedelta(0):
            raise ValueError("a business duration cannot be negative")
        need = duration // _MICROSECOND
        if need == 0:
            return self._out(u)
        year = self._year_at(u)
        target = year.elapsed(u) + need
        for _ in range(_MAX_YEARS_AHEAD):
            if target <= year.total:
                return self._out(year.locate(target))
            target -= year.total
            year = self._year(year.year + 1)
        raise ValueError(f"{duration} of business time does not fit in {_MAX_YEARS_AHEAD} years")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); zero when b is not after a."""
        ua, ub = _micros(require_aware(a, "a")), _micros(require_aware(b, "b"))
        if ub <= ua:
            return timedelta(0)
        first, last = self._year_at(ua), self._year_at(ub)
        if first.year == last.year:
            amount = last.elapsed(ub) - first.elapsed(ua)
        else:
            middle = sum(self._year(y).total for y in range(first.year + 1, last.year))
            amount = first.total - first.elapsed(ua) + middle + last.elapsed(ub)
        return timedelta(microseconds=amount)

    # -- conversion between local wall time and UTC -----------------------------------------

    def _out(self, u: int) -> datetime:
        # Answers are in UTC on purpose: PEP 495 makes a datetime in a zone's repeated
        # hour compare unequal to every datetime in another zone, so a deadline of
        # 01:30 EDT on the fall-back night would never "equal" the same instant in UTC.
        return _EPOCH + timedelta(microseconds=u)

    def _wall(self, u: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=u)).astimezone(self.zone).replace(tzinfo=None)

    def _first_instant(self, day: date, minute: int) -> int:
        """The first UTC instant at which the local clock reads at least `minute` past midnight of `day`.

        DST hazard: on the spring-forward night a wall time such as 02:30 never
        happens, and zoneinfo would place it an hour late (fold=0) or early (fold=1);
        on the fall-back night 01:30 happens twice. Taking the *first* instant the
        clock reads at least that time gives the transition instant for a skipped
        time and the first pass for a repeated one, so an opening interval always
        maps to one contiguous, correctly-timed UTC span.
        """
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)  # a local wall time, naive on purpose
        u = _micros(wall.replace(tzinfo=self.zone))
        if self._wall(u) == wall:
            return u  # fold=0 is the earlier of a repeated time, and exact for an ordinary one
        # A skipped time: the answer lies between the two offsets' readings; find it to the second.
        other = _micros(wall.replace(tzinfo=self.zone, fold=1))
        lo, hi = min(u, other) // 1_000_000, -(-max(u, other) // 1_000_000)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._wall(mid * 1_000_000) >= wall:
                hi = mid
            else:
                lo = mid
        return hi * 1_000_000

    def _year(self, year: int) -> _Year:
        built = self._years.get(year)
        if built is None:
            built = self._build_year(year)
            self._years[year] = built
        return built

    def _year_at(self, u: int) -> _Year:
        year = self._year(self._wall(u).year)
        if u < year.begin:
            return self._year(year.year - 1)
        if u >= year.end:
            return self._year(year.year + 1)
        return year

    def _build_year(self, year: int) -> _Year:
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        total = 0
        day = date(year, 1, 1)
        while day.year == year:
            for opening in self.openings_on(day):
                s, e = self._first_instant(day, opening.start), self._first_instant(day, opening.end)
                if e <= s:
                    continue  # the whole interval fell inside a skipped DST hour
                if ends and ends[-1] == s:
                    ends[-1] = e  # an overnight opening continues across midnight
                else:
                    starts.append(s)
                    ends.append(e)
                    before.append(total)
                total += e - s
            day += _ONE_DAY
        after = tuple(b + e - s for b, s, e in zip(before, starts, ends, strict=True))
        return _Year(
            year=year,
            begin=self._first_instant(date(year, 1, 1), 0),
            end=self._first_instant(date(year + 1, 1, 1), 0),
            starts=tuple(starts),
            ends=tuple(ends),
            before=tuple(before),
            after=after,
            total=total,
        )

    # -- plain language -----------------------------------------------------------------------

    def describe(self) -> str:
        """The calendar as one or two sentences a practice administrator can check."""
        return describe_calendar(self.spec)


def _describe_openings(openings: tuple[Opening, ...]) -> str:
    if openings == (Opening(0, 1440),):
        return "around the clock"
    return " and ".join(str(o) for o in openings)


def describe_hours(spec: CalendarSpec) -> str:
    """Weekly hours grouped into runs of days with the same hours: "Monday to Friday 08:00–17:00"."""
    weekly = [_parse_day(spec.hours.get(day, [])) for day in WEEKDAYS]
    runs: list[tuple[int, int, tuple[Opening, ...]]] = []
    for i, openings in enumerate(weekly):
        if runs and runs[-1][2] == openings and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i, openings)
        else:
            runs.append((i, i, openings))
    parts = []
    for first, last, openings in runs:
        if not openings:
            continue
        days = WEEKDAYS[first].title()
        if last > first:
            joiner = " and " if last == first + 1 else " to "
            days += joiner + WEEKDAYS[last].title()
        parts.append(f"{days} {_describe_openings(openings)}")
    return "; ".join(parts)


def describe_calendar(spec: CalendarSpec) -> str:
    text = f"Business hours: {describe_hours(spec)} {spec.timezone}"
    closed: list[str] = []
    if spec.us_federal_holidays:
        closed.append("on US federal holidays" + (" (observed)" if spec.observed else ""))
    if spec.closures:
        days = [f"{d.isoformat()} ({why})" if why else d.isoformat() for d, why in sorted(spec.closures.items())]
        closed.append("on " + _join(days))
    if closed:
        text += ", closed " + " and ".join(closed)
    text += "."
    if spec.special_hours:
        special = [
            f"{d.isoformat()} {_describe_openings(_parse_day(raw)) if raw else 'closed'}"
            for d, raw in sorted(spec.special_hours.items())
        ]
        text += " Special hours: " + "; ".join(special) + "."
    if spec.business_day_hours is not None:
        text += f" A business day counts as {spec.business_day_hours:g} business hours."
    return text


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
