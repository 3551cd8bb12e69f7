"""The business calendar, checked against a brute-force walk one minute at a time.

The oracle below shares no code with careroute.calendar: it walks UTC minutes,
reads the practice's wall clock at each, and says "open" when the furthest the
clock has read so far falls inside that date's opening hours. That is the
calendar's contract (an interval opens the first time the clock reads its
start and closes the first time it reads its end), so on DST nights a skipped
opening time opens at the jump and a repeated hour is counted once.
"""

from __future__ import annotations

import time as wallclock
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from careroute.calendar import BusinessCalendar, CalendarSpec, describe_calendar

NY = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

OFFICE = CalendarSpec(
    closures={date(2026, 12, 24): "Christmas Eve"},
    special_hours={date(2026, 11, 27): ["08:00-12:00"], date(2026, 12, 31): ["08:00-12:00"]},
)
SPLIT = CalendarSpec.model_validate(
    {
        "hours": {day: ["08:00-12:00", "13:00-17:00"] for day in DAY_NAMES[:5]} | {"saturday": ["09:00-12:00"]},
        "observed": False,
    }
)
# Openings that start, end or sit inside the skipped (2026-03-08) and repeated (2026-11-01) hours.
NIGHTS = CalendarSpec.model_validate(
    {
        "hours": {day: ["00:00-02:15", "17:00-24:00"] for day in DAY_NAMES[:6]}
        | {"sunday": ["00:30-01:30", "01:45-02:30", "02:45-24:00"]},
        "us_federal_holidays": False,
        "special_hours": {"2026-03-08": ["01:00-01:59", "02:10-02:20", "02:40-03:20"]},
    }
)
SPECS = (OFFICE, SPLIT, NIGHTS)
CALENDARS = tuple(BusinessCalendar(spec) for spec in SPECS)
AROUND_THE_CLOCK = BusinessCalendar(
    CalendarSpec.model_validate({"hours": {day: ["00:00-24:00"] for day in DAY_NAMES}, "us_federal_holidays": False})
)

# Local dates the oracle covers: both DST weeks, the observed Fourth of July, Thanksgiving, Christmas and New Year.
WINDOWS = (
    (date(2026, 3, 4), date(2026, 3, 12)),
    (date(2026, 6, 30), date(2026, 7, 8)),
    (date(2026, 10, 28), date(2026, 11, 5)),
    (date(2026, 11, 23), date(2026, 12, 1)),
    (date(2026, 12, 21), date(2027, 1, 6)),
)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


# -- the oracle ---------------------------------------------------------------------------------------


def _minutes(text: str) -> tuple[int, int]:
    start, end = text.split("-")
    return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])


def _schedule(spec: CalendarSpec, day: date) -> list[tuple[int, int]]:
    if day in spec.closures:
        return []
    if day in spec.special_hours:
        return [_minutes(t) for t in spec.special_hours[day]]
    if spec.us_federal_holidays and day in holidays.country_holidays("US", years=day.year, observed=spec.observed):
        return []
    return [_minutes(t) for t in spec.hours.get(DAY_NAMES[day.weekday()], [])]  # type: ignore[call-overload]


@dataclass(frozen=True)
class Oracle:
    start: datetime  # UTC, the instant of minute 0
    open: tuple[bool, ...]  # whether minute i is open
    prefix: tuple[int, ...]  # open minutes before minute i

    def at(self, i: int) -> datetime:
        return self.start + i * MINUTE


def walk(spec: CalendarSpec, first: date, last: date) -> Oracle:
    zone = ZoneInfo(spec.timezone)
    begin = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC)
    furthest = (begin - 3 * HOUR).astimezone(zone).replace(tzinfo=None)
    schedules: dict[date, list[tuple[int, int]]] = {}
    opened: list[bool] = []
    t = begin - 3 * HOUR  # start early so the furthest reading is right at `begin`
    while t < end:
        furthest = max(furthest, t.astimezone(zone).replace(tzinfo=None))
        if t >= begin:
            day = furthest.date()
            if day not in schedules:
                schedules[day] = _schedule(spec, day)
            minute = furthest.hour * 60 + furthest.minute
            opened.append(any(s <= minute < e for s, e in schedules[day]))
        t += MINUTE
    prefix = [0]
    for is_open in opened:
        prefix.append(prefix[-1] + is_open)
    return Oracle(begin, tuple(opened), tuple(prefix))


@cache
def oracle(spec_index: int, window: int) -> Oracle:
    return walk(SPECS[spec_index], *WINDOWS[window])


calendar_and_window = st.tuples(st.integers(0, len(SPECS) - 1), st.integers(0, len(WINDOWS) - 1))


# -- properties against the oracle --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(calendar_and_window, st.data())
def test_business_time_between_matches_a_minute_walk(which: tuple[int, int], data: st.DataObject) -> None:
    o = oracle(*which)
    n = len(o.open)
    i = data.draw(st.integers(0, n), label="a")
    j = data.draw(st.integers(0, n), label="b")
    expected = max(0, o.prefix[j] - o.prefix[i]) if j >= i else 0
    assert CALENDARS[which[0]].business_time_between(o.at(i), o.at(j)) == expected * MINUTE


@settings(max_examples=200, deadline=None)
@given(calendar_and_window, st.data())
def test_add_business_time_matches_a_minute_walk(which: tuple[int, int], data: st.DataObject) -> None:
    o = oracle(*which)
    i = data.draw(st.integers(0, len(o.open) - 1), label="start")
    room = o.prefix[-1] - o.prefix[i]
    if room == 0:
        return
    minutes = data.draw(st.integers(1, room), label="minutes")
    expected = bisect_left(o.prefix, o.prefix[i] + minutes)
    assert CALENDARS[which[0]].add_business_time(o.at(i), minutes * MINUTE) == o.at(expected)


@settings(max_examples=200, deadline=None)
@given(calendar_and_window, st.data())
def test_is_open_and_next_open_match_a_minute_walk(which: tuple[int, int], data: st.DataObject) -> None:
    o = oracle(*which)
    calendar = CALENDARS[which[0]]
    i = data.draw(st.integers(0, len(o.open) - 1), label="at")
    assert calendar.is_open(o.at(i)) == o.open[i]
    following = next((j for j in range(i, len(o.open)) if o.open[j]), None)
    if following is not None:
        assert calendar.next_open(o.at(i)) == o.at(following)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 47), st.integers(1, 12)), min_size=1, max_size=4),
    st.sampled_from([date(2026, 3, 7), date(2026, 10, 31)]),
    st.data(),
)
def test_random_sunday_hours_survive_both_dst_nights(
    pieces: list[tuple[int, int]], saturday: date, data: st.DataObject
) -> None:
    # Random quarter-hour openings on a DST Sunday, laid end to start without overlap.
    intervals, cursor = [], 0
    for gap, length in pieces:
        start = cursor + gap * 15
        end = min(start + length * 15, 1440)
        if start >= end:
            break
        intervals.append(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
        cursor = end
    spec = CalendarSpec(hours={"sunday": intervals, "saturday": ["22:00-24:00"]}, us_federal_holidays=False)
    o = walk(spec, saturday, saturday + timedelta(days=2))
    calendar = BusinessCalendar(spec)
    i = data.draw(st.integers(0, len(o.open)), label="a")
    j = data.draw(st.integers(i, len(o.open)), label="b")
    assert calendar.business_time_between(o.at(i), o.at(j)) == (o.prefix[j] - o.prefix[i]) * MINUTE
    if o.prefix[j] > o.prefix[i]:
        target = bisect_left(o.prefix, o.prefix[j])
        assert calendar.add_business_time(o.at(i), (o.prefix[j] - o.prefix[i]) * MINUTE) == o.at(target)


@pytest.mark.parametrize("spec_index", range(len(SPECS)))
def test_every_minute_of_every_window_matches_the_walk(spec_index: int) -> None:
    # Exhaustive where it is cheap: business time from each window's start to every minute in it,
    # and whether that minute is open. Any drift across a DST night or a holiday shows up here.
    calendar = CALENDARS[spec_index]
    step = 1 if SPECS[spec_index] is NIGHTS else 7  # NIGHTS is the one with openings inside the DST hours
    for window in range(len(WINDOWS)):
        o = oracle(spec_index, window)
        for i in range(0, len(o.open), step):
            assert calendar.business_time_between(o.start, o.at(i)) == o.prefix[i] * MINUTE, o.at(i)
            assert calendar.is_open(o.at(i)) == o.open[i], o.at(i)


# -- invariants to the microsecond ---------------------------------------------------------------------

BASE = datetime(2025, 12, 20, tzinfo=UTC)
instants = st.integers(0, 400 * 24 * 3600 * 1_000_000).map(lambda us: BASE + timedelta(microseconds=us))
durations = st.integers(1, 2_000 * 3600 * 1_000_000).map(lambda us: timedelta(microseconds=us))
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations)
def test_the_business_time_added_is_the_business_time_between(
    calendar: BusinessCalendar, a: datetime, d: timedelta
) -> None:
    assert calendar.business_time_between(a, calendar.add_business_time(a, d)) == d


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations, durations)
def test_adding_in_two_steps_is_adding_once(
    calendar: BusinessCalendar, a: datetime, d1: timedelta, d2: timedelta
) -> None:
    assert calendar.add_business_time(calendar.add_business_time(a, d1), d2) == calendar.add_business_time(a, d1 + d2)


@settings(max_examples=200, deadline=None)
@given(calendars, st.lists(instants, min_size=3, max_size=3).map(sorted))
def test_business_time_adds_up_and_never_exceeds_real_time(calendar: BusinessCalendar, abc: list[datetime]) -> None:
    a, b, c = abc
    between = calendar.business_time_between
    assert between(a, c) == between(a, b) + between(b, c)
    assert timedelta(0) <= between(a, c) <= c - a
    assert between(c, a) == timedelta(0)
    assert calendar.add_business_time(a, between(a, c)) <= c


@settings(max_examples=200, deadline=None)
@given(instants, instants)
def test_a_calendar_open_around_the_clock_counts_real_time(a: datetime, b: datetime) -> None:
    assert AROUND_THE_CLOCK.business_time_between(a, b) == max(b - a, timedelta(0))


# -- examples a practice would check by hand ----------------------------------------------------------

OFFICE_CAL = CALENDARS[0]


def test_friday_afternoon_plus_two_hours_is_monday_morning() -> None:
    assert OFFICE_CAL.add_business_time(ny(2026, 10, 16, 16, 30), 2 * HOUR) == ny(2026, 10, 19, 9, 30)


def test_a_deadline_on_closing_time_is_closing_time_not_the_next_morning() -> None:
    assert OFFICE_CAL.add_business_time(ny(2026, 10, 16, 16, 0), HOUR) == ny(2026, 10, 16, 17, 0)


def test_counting_starts_at_the_next_opening() -> None:
    assert OFFICE_CAL.add_business_time(ny(2026, 10, 17, 11, 0), HOUR) == ny(2026, 10, 19, 9, 0)
    assert OFFICE_CAL.add_business_time(ny(2026, 10, 19, 6, 0), HOUR) == ny(2026, 10, 19, 9, 0)


def test_the_weekend_before_spring_forward_counts_no_lost_hour() -> None:
    friday, monday = ny(2026, 3, 6, 16, 0), ny(2026, 3, 9, 9, 0)
    assert OFFICE_CAL.business_time_between(friday, monday) == 2 * HOUR
    assert OFFICE_CAL.add_business_time(friday, 2 * HOUR) == monday
    assert monday.utcoffset() == timedelta(hours=-4)


def test_observed_independence_day_thanksgiving_and_christmas_are_closed() -> None:
    assert OFFICE_CAL.add_business_time(ny(2026, 7, 2, 16, 0), 2 * HOUR) == ny(2026, 7, 6, 9, 0)
    assert OFFICE_CAL.add_business_time(ny(2026, 11, 25, 16, 0), 2 * HOUR) == ny(2026, 11, 27, 9, 0)
    assert OFFICE_CAL.closed_because(date(2026, 7, 3)) == "Independence Day (observed)"
    assert not OFFICE_CAL.is_open(ny(2026, 12, 25, 10, 0))


def test_a_closure_and_a_holiday_back_to_back() -> None:
    # Wed 23 Dec 16:00, closed Thu 24 (Christmas Eve) and Fri 25 (Christmas): due Monday.
    assert OFFICE_CAL.add_business_time(ny(2026, 12, 23, 16, 0), 2 * HOUR) == ny(2026, 12, 28, 9, 0)
    assert OFFICE_CAL.closed_because(date(2026, 12, 24)) == "Christmas Eve"


def test_a_half_day_closes_at_noon() -> None:
    assert OFFICE_CAL.add_business_time(ny(2026, 11, 27, 11, 0), 2 * HOUR) == ny(2026, 11, 30, 9, 0)
    assert OFFICE_CAL.business_time_between(ny(2026, 11, 27, 0, 0), ny(2026, 11, 28, 0, 0)) == 4 * HOUR


def test_observed_dates_can_be_switched_off() -> None:
    calendar = BusinessCalendar(CalendarSpec(observed=False))
    assert calendar.is_open(ny(2026, 7, 3, 10, 0))
    without = BusinessCalendar(CalendarSpec(us_federal_holidays=False))
    assert without.is_open(ny(2026, 11, 26, 10, 0))


def test_new_years_day_observed_on_the_last_friday_of_the_year_before() -> None:
    # 1 January 2028 is a Saturday; the federal holiday is observed on Friday 31 December 2027.
    assert not OFFICE_CAL.is_open(ny(2027, 12, 31, 10, 0))


def test_a_day_around_the_clock_is_23_or_25_hours_on_dst_nights() -> None:
    spring = AROUND_THE_CLOCK.business_time_between(ny(2026, 3, 8, 0, 0), ny(2026, 3, 9, 0, 0))
    autumn = AROUND_THE_CLOCK.business_time_between(ny(2026, 11, 1, 0, 0), ny(2026, 11, 2, 0, 0))
    assert (spring, autumn) == (23 * HOUR, 25 * HOUR)


def test_an_opening_inside_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    calendar = BusinessCalendar(CalendarSpec(hours={"sunday": ["02:30-04:00"]}, us_federal_holidays=False))
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 01:59:59 EST is followed by 03:00 EDT
    assert not calendar.is_open(jump - timedelta(seconds=1))
    assert calendar.next_open(jump - HOUR) == jump
    assert calendar.business_time_between(ny(2026, 3, 8, 0, 0), ny(2026, 3, 9, 0, 0)) == HOUR


def test_the_repeated_hour_is_one_stretch_of_real_time() -> None:
    calendar = BusinessCalendar(CalendarSpec(hours={"sunday": ["01:00-03:00"]}, us_federal_holidays=False))
    assert calendar.business_time_between(ny(2026, 11, 1, 0, 0), ny(2026, 11, 2, 0, 0)) == 3 * HOUR
    second_pass = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)
    assert calendar.is_open(second_pass)


def test_instants_come_back_in_utc_whatever_zone_goes_in() -> None:
    start = datetime(2026, 10, 16, 20, 30, tzinfo=UTC)  # 16:30 in New York
    due = OFFICE_CAL.add_business_time(start, 2 * HOUR)
    assert due == ny(2026, 10, 19, 9, 30) and due.tzinfo == UTC
    # In the repeated hour a New York datetime never equals a UTC one (PEP 495): hence UTC answers.
    calendar = BusinessCalendar(CalendarSpec(hours={"sunday": ["00:00-24:00"]}, us_federal_holidays=False))
    assert calendar.add_business_time(ny(2026, 11, 1, 0, 0), HOUR) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        OFFICE_CAL.add_business_time(datetime(2026, 1, 5, 9, 0), HOUR)
    with pytest.raises(ValueError, match="UTC offset"):
        OFFICE_CAL.is_open(datetime(2026, 1, 5, 9, 0))
    with pytest.raises(ValueError, match="negative"):
        OFFICE_CAL.add_business_time(ny(2026, 1, 5, 9, 0), -HOUR)


def test_zero_business_time_is_no_time() -> None:
    saturday = ny(2026, 10, 17, 11, 0)
    assert OFFICE_CAL.add_business_time(saturday, timedelta(0)) == saturday
    assert OFFICE_CAL.business_time_between(saturday, saturday) == timedelta(0)


def test_two_thousand_business_hours_take_microseconds_not_a_walk() -> None:
    calendar = BusinessCalendar(OFFICE)
    start = ny(2026, 10, 16, 16, 30)
    t0 = wallclock.perf_counter()
    cold = calendar.add_business_time(start, 2_000 * HOUR)  # builds two years of openings
    cold_seconds = wallclock.perf_counter() - t0
    t0 = wallclock.perf_counter()
    for _ in range(1_000):
        assert calendar.add_business_time(start, 2_000 * HOUR) == cold
    warm_each = (wallclock.perf_counter() - t0) / 1_000
    assert calendar.business_time_between(start, cold) == 2_000 * HOUR
    assert cold_seconds < 0.25
    assert warm_each < 0.001


def test_a_year_later_and_a_decade_later_still_add_up() -> None:
    start = ny(2026, 1, 5, 8, 0)
    for years in (1, 10):
        end = ny(2026 + years, 1, 5, 8, 0)
        assert OFFICE_CAL.add_business_time(start, OFFICE_CAL.business_time_between(start, end)) <= end


# -- the spec ----------------------------------------------------------------------------------------


def test_it_describes_itself_in_plain_words() -> None:
    spec = CalendarSpec(closures={date(2026, 12, 24): ""})
    assert describe_calendar(spec) == (
        "Business hours: Monday to Friday 08:00–17:00 America/New_York, "
        "closed on US federal holidays (observed) and on 2026-12-24."
    )
    assert describe_calendar(SPLIT) == (
        "Business hours: Monday to Friday 08:00–12:00 and 13:00–17:00; Saturday 09:00–12:00 America/New_York,"
        " closed on US federal holidays."
    )
    assert "Special hours: 2026-11-27 08:00–12:00; 2026-12-31 08:00–12:00." in OFFICE_CAL.describe()


def test_a_single_string_is_one_interval_and_lists_and_mappings_of_closures_both_read() -> None:
    spec = CalendarSpec.model_validate(
        {"hours": {"monday": "8:00 - 12:00"}, "closures": ["2026-12-24"], "special_hours": {"2026-12-31": []}}
    )
    assert spec.hours == {"monday": ["08:00-12:00"]}
    assert spec.closures == {date(2026, 12, 24): ""}
    calendar = BusinessCalendar(spec)
    assert calendar.openings_on(date(2026, 12, 31)) == ()
    assert calendar.business_day == 4 * HOUR


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"hours": {"monday": ["17:00-08:00"]}}, "ends before it starts"),
        ({"hours": {"monday": ["08:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({"hours": {"monday": ["8am-5pm"]}}, "not an opening interval"),
        ({"hours": {"monday": ["08:00-24:30"]}}, "between 00:00 and 24:00"),
        ({"hours": {"funday": ["08:00-17:00"]}}, "funday"),
        ({"hours": {}}, "open on no day"),
        ({"closures": ["2026-12-31"], "special_hours": {"2026-12-31": ["08:00-12:00"]}}, "both a closure"),
        ({"opening_hours": {}}, "Extra inputs are not permitted"),
    ],
)
def test_a_calendar_spec_mistake_is_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarSpec.model_validate(data)
