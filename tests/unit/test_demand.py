"""Demand patterns by weekday and hour, and Erlang C staffing against textbook values."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from careroute.demand import (
    arrivals,
    erlang_b,
    erlang_c,
    handling_times,
    mean_handling,
    median_handling,
    queue_targets,
    servers_needed,
    slot_occurrences,
    staffing,
    wait_exceeds,
)
from careroute.metrics import TaskFacts

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 10, 5, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT
MIN = timedelta(minutes=1)


def facts(
    i: int,
    at: datetime,
    *,
    queue: str = "billing",
    type: str = "billing_inquiry",
    urgency: str = "routine",
    channel: str = "portal",
    claim: timedelta | None = None,
    handle: timedelta | None = None,
) -> TaskFacts:
    claimed = at + claim if claim is not None else None
    resolved = claimed + handle if claimed is not None and handle is not None else None
    return TaskFacts(
        task_id=i,
        created_at=at,
        channel=channel,
        type=type,
        urgency=urgency,
        initial_queue=queue,
        final_queue=queue,
        first_claim_at=claimed,
        first_resolved_at=resolved,
    )


def erlang_c_textbook(c: int, a: Fraction) -> Fraction:
    """The factorial formula, exactly, for small c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


# -- Erlang C ----------------------------------------------------------------------------------------


def test_erlang_c_matches_known_values() -> None:
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)  # A = 2 erlangs, 3 servers
    assert erlang_c(1, 0.75) == pytest.approx(0.75)  # M/M/1: the chance of waiting is the utilisation
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    for c, a in [(5, Fraction(3)), (11, Fraction(10)), (12, Fraction(10)), (20, Fraction(37, 2))]:
        assert erlang_c(c, float(a)) == pytest.approx(float(erlang_c_textbook(c, a)), rel=1e-12)
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)  # the textbook table value


def test_erlang_c_is_stable_for_thousands_of_servers() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    c, a = 2000, 1950.0
    b = scipy_stats.poisson.pmf(c, a) / scipy_stats.poisson.cdf(c, a)  # Erlang B as a truncated Poisson
    assert erlang_b(c, a) == pytest.approx(b, rel=1e-9)
    value = erlang_c(c, a)
    assert 0 < value < 1 and math.isfinite(value)
    assert erlang_c(1950, a) == 1.0  # no more servers than load: everyone waits
    assert erlang_c(3, 0.0) == 0.0


def test_the_wait_tail_falls_exponentially() -> None:
    # M/M/1, 3 per hour, 10 minutes each: P(W > t) = rho * exp(-(mu - lambda) t) with mu = 6/h.
    p = wait_exceeds(1, 3.0, 10 * MIN, 20 * MIN)
    assert p == pytest.approx(0.5 * math.exp(-(6 - 3) * (20 / 60)))
    assert wait_exceeds(1, 6.0, 10 * MIN, 20 * MIN) == 1.0
    assert wait_exceeds(1, 0.0, 10 * MIN, 20 * MIN) == 0.0


def test_servers_needed_is_the_fewest_that_meet_the_target() -> None:
    # 10 erlangs (60 an hour, 10 minutes each), median wait under 30 seconds.
    c = servers_needed(60, 10 * MIN, timedelta(seconds=30))
    assert wait_exceeds(c, 60, 10 * MIN, timedelta(seconds=30)) <= 0.5
    assert wait_exceeds(c - 1, 60, 10 * MIN, timedelta(seconds=30)) > 0.5
    assert c == 12  # C(11, 10) e^(-1/20) = 0.65 waits too long; C(12, 10) = 0.45 already halves it
    assert servers_needed(60, 10 * MIN, timedelta(seconds=30), quantile=0.9) > c
    assert servers_needed(0, 10 * MIN, 30 * MIN) == 0
    assert servers_needed(0.2, 10 * MIN, 30 * MIN) == 1
    with pytest.raises(ValueError):
        servers_needed(1, timedelta(0), 30 * MIN)


# -- arrivals ------------------------------------------------------------------------------------------


def test_arrivals_are_counted_on_the_practices_wall_clock_and_averaged_per_occurrence() -> None:
    rows = [facts(i, T0 + timedelta(days=7 * (i % 2)), channel="fax" if i % 3 == 0 else "portal") for i in range(6)]
    rows.append(facts(9, datetime(2026, 10, 12, 3, 30, tzinfo=UTC), type="records_request"))  # Sunday 23:30 EDT
    pattern = arrivals(rows, zone=NY, start=T0 - timedelta(hours=9), end=T0 + timedelta(days=14))
    assert pattern.counts["billing_inquiry"][0][9] == 6  # Monday 09:00 local
    assert pattern.occurrences[0][9] == 2  # two Mondays in the range
    assert pattern.rate("billing_inquiry", 0, 9) == 3.0
    assert pattern.rate("records_request", 6, 23) == 0.5
    assert pattern.rate("nothing", 0, 9) == 0.0
    by_channel = arrivals(rows, zone=NY, by="channel")
    assert by_channel.counts["fax"][0][9] == 2 and by_channel.counts["portal"][0][9] == 4
    assert arrivals([], zone=NY).occurrences[0][0] == 0


def test_a_dst_day_has_no_skipped_hour_and_one_repeated_hour() -> None:
    spring = slot_occurrences(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC), NY)
    assert spring[6][2] == 0 and spring[6][1] == 1 and spring[6][3] == 1 and sum(spring[6]) == 23
    fall = slot_occurrences(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC), NY)
    assert fall[6][1] == 1 and sum(fall[6]) == 24


# -- staffing --------------------------------------------------------------------------------------------


def test_staffing_sizes_each_queue_hour_to_its_target() -> None:
    rows: list[TaskFacts] = []
    for week in range(4):
        for k in range(12):  # 12 billing arrivals in the Monday 09:00 hour, every week
            at = T0 + timedelta(days=7 * week, minutes=5 * k)
            rows.append(facts(len(rows), at, claim=2 * MIN, handle=20 * MIN))
        at = T0 + timedelta(days=7 * week, hours=1)
        rows.append(facts(len(rows), at, queue="clinical_triage", urgency="urgent", claim=MIN, handle=6 * MIN))
    pattern = arrivals(rows, zone=NY, by="queue", start=T0 - timedelta(hours=9), end=T0 + timedelta(days=28))
    handle = mean_handling(handling_times(rows))
    assert handle == {"billing": 20 * MIN, "clinical_triage": 6 * MIN}
    assert median_handling(handling_times(rows))["billing"] == 20 * MIN
    targets = queue_targets(rows)
    assert targets == {"billing": timedelta(hours=4), "clinical_triage": timedelta(minutes=30)}
    plan = {q.queue: q for q in staffing(pattern, handle, targets)}
    billing = plan["billing"]
    assert billing.staff[0][9] == servers_needed(12, 20 * MIN, timedelta(hours=4)) == 5  # 4 erlangs
    assert billing.staff[0][10] == 0 and billing.staff_hours_per_week == 5
    assert billing.peak() == (0, 9, 5)
    assert plan["clinical_triage"].staff[0][10] == 1
    two_at_once = {q.queue: q for q in staffing(pattern, handle, targets, tasks_per_person=2)}
    assert two_at_once["billing"].staff[0][9] == 3
    with pytest.raises(ValueError, match="by queue"):
        staffing(arrivals(rows, zone=NY), handle, targets)


def test_handling_times_skip_tasks_never_claimed_or_resolved() -> None:
    rows = [facts(1, T0), facts(2, T0, claim=MIN), facts(3, T0, claim=MIN, handle=timedelta(seconds=5))]
    assert handling_times(rows) == {"billing": [timedelta(seconds=5)]}
    assert mean_handling(handling_times(rows)) == {"billing": MIN}  # the floor
