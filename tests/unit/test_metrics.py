"""The four dispatch metrics on hand-built event logs: each definition, exactly, with its edge cases."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from careroute.metrics import (
    MetricTargets,
    Rate,
    TaskFacts,
    aggregate,
    fold,
    fold_log,
    nearest_rank,
    period_start,
    scoreboard,
    step,
)
from careroute.model import Event

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 10, 5, 13, 0, tzinfo=UTC)  # Monday 09:00 in New York
MIN = timedelta(minutes=1)
_ids = itertools.count(1)


def ev(
    task_id: int,
    kind: str,
    at: datetime,
    *,
    actor: str = "careroute",
    queue: str | None = None,
    rule_ids: tuple[str, ...] = (),
    data: Mapping[str, Any] | None = None,
) -> Event:
    return Event(next(_ids), task_id, kind, at, actor, queue=queue, rule_ids=rule_ids, data=data or {})


def intake(
    task_id: int,
    at: datetime,
    *,
    queue: str = "billing",
    type: str = "billing_inquiry",
    urgency: str = "routine",
    channel: str = "portal",
    rule: str | None = None,
    pilot_arm: str | None = None,
    follows: int | None = None,
) -> list[Event]:
    created: dict[str, Any] = {"item_id": task_id * 10, "channel": channel, "external_id": f"x-{task_id}"}
    if follows is not None:
        created.update(follows_task_id=follows, duplicate_of=f"x-{follows}")
    return [
        ev(task_id, "created", at, data=created),
        ev(task_id, "classified", at, data={"type": type, "urgency": urgency, "confidence": 0.9}),
        ev(
            task_id,
            "routed",
            at,
            queue=queue,
            rule_ids=(rule or f"tag.{type}",),
            data={"pilot_arm": pilot_arm} if pilot_arm else {},
        ),
    ]


def claim(task_id: int, at: datetime, who: str = "zara", queue: str = "billing") -> Event:
    return ev(task_id, "claimed", at, actor=who, queue=queue)


def resolve(task_id: int, at: datetime, who: str = "zara", queue: str = "billing") -> Event:
    return ev(task_id, "resolved", at, actor=who, queue=queue)


def reroute(task_id: int, at: datetime, to: str, frm: str, *, actor: str = "zara", rule: str = "r") -> Event:
    return ev(task_id, "rerouted", at, actor=actor, queue=to, rule_ids=(rule,), data={"from_queue": frm})


def overall(events: list[Event], now: datetime, **kw: Any) -> Any:
    return scoreboard(fold_log(events).values(), now=now, **kw)


# -- queue age -------------------------------------------------------------------------------------


def test_it_measures_queue_age_from_creation_to_first_claim() -> None:
    log = [*intake(1, T0), ev(1, "assigned", T0 + MIN, queue="billing"), claim(1, T0 + 10 * MIN)]
    log += [ev(1, "returned", T0 + 20 * MIN, queue="billing"), claim(1, T0 + 30 * MIN, who="pam")]
    m = overall(log, T0 + timedelta(hours=1))
    assert m.queue_age["all"].median == 10 * MIN
    assert m.queue_age["routine"].tasks == 1
    assert m.still_waiting.tasks == 0


def test_it_reports_tasks_never_claimed_as_still_waiting_with_their_age_now() -> None:
    log = [*intake(1, T0), claim(1, T0 + 5 * MIN), *intake(2, T0 + 10 * MIN), *intake(3, T0 + 40 * MIN)]
    m = overall(log, T0 + timedelta(hours=1))
    assert m.tasks == 3
    assert m.queue_age["all"].tasks == 1 and m.queue_age["all"].median == 5 * MIN
    assert m.still_waiting.tasks == 2
    assert m.still_waiting.oldest_age == 50 * MIN
    assert m.still_waiting.median_age == 20 * MIN  # nearest rank: the lower of the two


def test_it_counts_a_resolution_without_a_claim_as_taking_the_task_up() -> None:
    log = [*intake(1, T0), resolve(1, T0 + 7 * MIN), *intake(2, T0), resolve(2, T0 + 3 * MIN)]
    log += [ev(2, "reopened", T0 + 4 * MIN, actor="zara"), claim(2, T0 + 9 * MIN)]
    m = overall(log, T0 + timedelta(hours=1))
    assert sorted(s for s in [m.queue_age["all"].median, m.queue_age["all"].p90] if s) == [3 * MIN, 7 * MIN]
    assert m.still_waiting.tasks == 0


def test_it_keeps_the_queue_age_clock_running_across_a_reroute_before_the_claim() -> None:
    log = [*intake(1, T0), reroute(1, T0 + 20 * MIN, "records", "billing"), claim(1, T0 + 50 * MIN, queue="records")]
    facts = fold_log(log)[1]
    assert facts.initial_queue == "billing" and facts.final_queue == "records"
    report = aggregate(fold_log(log).values(), zone=NY, now=T0 + timedelta(hours=2), by=("queue", "final_queue"))
    first = report.row("queue", "billing", date(2026, 10, 5))
    last = report.row("final_queue", "records", date(2026, 10, 5))
    assert first is not None and last is not None
    assert first.metrics.queue_age["all"].median == 50 * MIN
    assert first.metrics.reroute_rate.count == 1
    assert last.metrics.tasks == 1


def test_it_takes_nearest_rank_median_and_p90() -> None:
    log: list[Event] = []
    for i, minutes in enumerate([4, 1, 3, 2], start=1):
        log += [*intake(i, T0), claim(i, T0 + minutes * MIN)]
    m = overall(log, T0 + timedelta(hours=1))
    assert m.queue_age["all"].median == 2 * MIN  # even count: the lower middle (percentile_disc)
    assert m.queue_age["all"].p90 == 4 * MIN
    assert nearest_rank(range(1, 11), 0.9) == 9
    assert nearest_rank(range(1, 11), 0.5) == 5
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([7], 0.9) == 7


def test_it_judges_each_urgency_against_its_own_target() -> None:
    log = [*intake(1, T0, urgency="urgent", queue="clinical_triage"), claim(1, T0 + 29 * MIN)]
    log += [*intake(2, T0, urgency="urgent", queue="clinical_triage"), claim(2, T0 + 30 * MIN)]
    log += [*intake(3, T0), claim(3, T0 + timedelta(hours=3, minutes=59))]
    log += [*intake(4, T0, urgency="emergent", queue="clinical_triage"), claim(4, T0 + 6 * MIN)]
    m = overall(log, T0 + timedelta(hours=5))
    assert list(m.queue_age) == ["all", "emergent", "urgent", "routine"]
    assert m.queue_age["urgent"].median == 29 * MIN and m.queue_age["urgent"].met is True
    assert m.queue_age["routine"].met is True
    assert m.queue_age["emergent"].met is False  # 6 minutes is not under 5
    assert m.queue_age["all"].target is None and m.queue_age["all"].met is None
    strict = MetricTargets.model_validate({"queue_age_median": {"urgent": "29 minutes"}})
    assert overall(log, T0 + timedelta(hours=5), targets=strict).queue_age["urgent"].met is False


# -- reroute rate ------------------------------------------------------------------------------------


def test_it_counts_a_task_rerouted_twice_once() -> None:
    log = [*intake(1, T0), reroute(1, T0 + MIN, "records", "billing"), reroute(1, T0 + 2 * MIN, "billing", "records")]
    log += [*intake(2, T0)]
    m = overall(log, T0 + timedelta(hours=1))
    assert (m.reroute_rate.count, m.reroute_rate.of) == (1, 2)
    assert fold_log(log)[1].reroutes == 2


def test_it_counts_careroute_reroutes_apart_from_staff_reroutes() -> None:
    merged = ev(1, "merged", T0 + MIN, queue="billing", data={"channel": "phone", "duplicate_of": "x-1"})
    moved = reroute(1, T0 + MIN, "clinical_triage", "billing", actor="careroute")
    log = [*intake(1, T0), merged, moved, *intake(2, T0)]
    m = overall(log, T0 + timedelta(hours=1))
    assert m.reroute_rate.count == 0
    assert (m.careroute_reroute_rate.count, m.careroute_reroute_rate.of) == (1, 2)


def test_it_does_not_count_the_pilot_manual_dispatch_as_a_reroute() -> None:
    manual: dict[str, Any] = {"queue": "manual_dispatch", "rule": "pilot.manual", "pilot_arm": "manual"}
    log = [*intake(1, T0, **manual), reroute(1, T0 + MIN, "billing", "manual_dispatch", rule="pilot.manual")]
    log += [*intake(2, T0, **manual), reroute(2, T0 + MIN, "billing", "manual_dispatch", rule="pilot.manual")]
    log += [reroute(2, T0 + 2 * MIN, "records", "billing", rule="pilot.manual")]
    log += [*intake(3, T0, pilot_arm="auto")]
    facts = fold_log(log)
    assert facts[1].manually_dispatched and facts[1].reroutes == 0
    assert facts[2].reroutes == 1
    report = aggregate(facts.values(), zone=NY, now=T0 + timedelta(hours=1), period=None, by=("pilot_arm",))
    manual_row, auto_row = report.row("pilot_arm", "manual"), report.row("pilot_arm", "auto")
    assert manual_row is not None and auto_row is not None
    assert (manual_row.metrics.reroute_rate.count, manual_row.metrics.reroute_rate.of) == (1, 2)
    assert auto_row.metrics.tasks == 1


def test_it_leaves_tasks_outside_a_pilot_out_of_pilot_arm_rows() -> None:
    report = aggregate(fold_log(intake(1, T0)).values(), zone=NY, now=T0, period=None, by=("pilot_arm",))
    assert report.rows == ()


# -- first-contact resolution --------------------------------------------------------------------------


def test_it_counts_a_reopened_task_against_first_contact_resolution() -> None:
    log = [*intake(1, T0), claim(1, T0 + MIN), resolve(1, T0 + 5 * MIN)]
    log += [*intake(2, T0), claim(2, T0 + MIN), resolve(2, T0 + 5 * MIN), ev(2, "reopened", T0 + 6 * MIN, actor="pam")]
    log += [*intake(3, T0), claim(3, T0 + MIN)]  # not resolved: not in the denominator
    m = overall(log, T0 + timedelta(hours=1))
    assert (m.first_contact_resolution.count, m.first_contact_resolution.of) == (1, 2)
    assert m.first_contact_resolution.met is False  # 50% is not above 75%


def test_it_counts_a_follow_up_after_a_merge_and_resolution_as_a_reopen() -> None:
    log = [*intake(1, T0), ev(1, "merged", T0 + MIN, queue="billing", data={"channel": "phone", "duplicate_of": "x-1"})]
    log += [claim(1, T0 + 2 * MIN), resolve(1, T0 + 10 * MIN)]
    back = T0 + timedelta(hours=30)
    log += [ev(1, "followed_up", back, rule_ids=("dedup.same_request",), data={"follow_up_task_id": 2})]
    log += [*intake(2, back, follows=1), claim(2, back + MIN), resolve(2, back + 2 * MIN)]
    facts = fold_log(log)
    assert facts[1].follow_up_after == timedelta(hours=30) - 10 * MIN
    assert facts[2].follows_task_id == 1
    m = scoreboard(facts.values(), now=back + timedelta(hours=1))
    # Task 1 was reopened by its follow-up; task 2 (the follow-up itself) was resolved at first contact.
    assert (m.first_contact_resolution.count, m.first_contact_resolution.of) == (1, 2)
    short = MetricTargets.model_validate({"reopen_window": "24 hours"})
    m = scoreboard(facts.values(), now=back + timedelta(hours=1), targets=short)
    assert (m.first_contact_resolution.count, m.first_contact_resolution.of) == (2, 2)


def test_it_ignores_a_follow_up_before_any_resolution() -> None:
    log = [*intake(1, T0), ev(1, "followed_up", T0 + MIN, data={"follow_up_task_id": 9}), resolve(1, T0 + 2 * MIN)]
    m = overall(log, T0 + timedelta(hours=1))
    assert m.first_contact_resolution.count == 1


# -- escalation rate -------------------------------------------------------------------------------------


def test_it_counts_tasks_with_at_least_one_escalation() -> None:
    fired = {"action": "notify", "timer": "within 2 business hours"}
    log = [*intake(1, T0), ev(1, "escalated", T0 + MIN, rule_ids=("esc.a",), data=fired)]
    log += [ev(1, "escalated", T0 + 2 * MIN, rule_ids=("esc.b",), data=fired)]
    log += [e for i in range(2, 14) for e in intake(i, T0)]
    m = overall(log, T0 + timedelta(hours=1))
    assert (m.escalation_rate.count, m.escalation_rate.of) == (1, 13)
    assert m.escalation_rate.met is True  # 7.7% is under 8%
    assert fold_log(log)[1].escalations == 2


def test_a_rate_with_nothing_to_count_has_no_value() -> None:
    rate = Rate(0, 0, 0.1)
    assert rate.value is None and rate.met is None
    m = scoreboard([], now=T0)
    assert m.tasks == 0 and m.first_contact_resolution.value is None


# -- periods in the practice's time zone ---------------------------------------------------------------------


def test_a_task_created_sunday_night_in_new_york_belongs_to_the_ending_week() -> None:
    sunday_night = datetime(2026, 10, 12, 3, 30, tzinfo=UTC)  # Sunday 11 October 23:30 EDT; Monday in UTC
    monday_midnight = datetime(2026, 10, 12, 4, 0, tzinfo=UTC)  # Monday 00:00 EDT
    assert period_start(sunday_night, NY) == date(2026, 10, 5)
    assert period_start(monday_midnight, NY) == date(2026, 10, 12)
    assert period_start(sunday_night, NY, "day") == date(2026, 10, 11)
    log = [*intake(1, sunday_night), *intake(2, monday_midnight), *intake(3, T0)]
    report = aggregate(fold_log(log).values(), zone=NY, now=monday_midnight, by=("all",))
    assert [(r.period, r.metrics.tasks) for r in report.rows] == [(date(2026, 10, 5), 2), (date(2026, 10, 12), 1)]


@pytest.mark.parametrize(
    ("last_instant", "monday", "hours"),
    [
        # Spring forward on Sunday 8 March 2026: that week has 167 hours.
        (datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC), date(2026, 3, 2), 167),
        # Fall back on Sunday 1 November 2026: that week has 169 hours.
        (datetime(2026, 11, 2, 4, 59, 59, tzinfo=UTC), date(2026, 10, 26), 169),
    ],
)
def test_dst_weeks_run_from_local_monday_midnight_to_the_next(last_instant: datetime, monday: date, hours: int) -> None:
    first_instant = last_instant + timedelta(seconds=1) - timedelta(hours=hours)
    assert period_start(first_instant, NY) == monday
    assert period_start(first_instant - timedelta(seconds=1), NY) == monday - timedelta(days=7)
    assert period_start(last_instant, NY) == monday
    assert period_start(last_instant + timedelta(seconds=1), NY) == monday + timedelta(days=7)


def test_the_fall_back_day_is_25_hours_long() -> None:
    start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # Sunday 00:00 EDT
    assert period_start(start, NY, "day") == date(2026, 11, 1)
    assert period_start(start + timedelta(hours=24, minutes=59), NY, "day") == date(2026, 11, 1)
    assert period_start(start + timedelta(hours=25), NY, "day") == date(2026, 11, 2)


def test_periods_are_right_in_any_order_of_facts() -> None:
    times = [T0 + timedelta(hours=37 * i) for i in range(40)]
    shuffled = times[::3] + times[1::3] + times[2::3]
    log = [e for i, at in enumerate(shuffled) for e in intake(i + 1, at)]
    report = aggregate(fold_log(log).values(), zone=NY, now=T0, by=("all",), period="day")
    expected: dict[date, int] = {}
    for at in times:
        day = at.astimezone(NY).date()
        expected[day] = expected.get(day, 0) + 1
    assert {r.period: r.metrics.tasks for r in report.rows} == expected


# -- the report -------------------------------------------------------------------------------------------------


def test_the_report_has_a_row_per_period_dimension_and_value_in_order() -> None:
    log = [*intake(1, T0, channel="fax"), *intake(2, T0, queue="records", type="records_request")]
    log += [*intake(3, T0 + timedelta(days=7), urgency="urgent", queue="clinical_triage", type="clinical_urgent")]
    report = aggregate(fold_log(log).values(), zone=NY, now=T0 + timedelta(days=8))
    keys = [(r.period, r.dimension, r.value) for r in report.rows]
    week1, week2 = date(2026, 10, 5), date(2026, 10, 12)
    assert keys[:6] == [
        (week1, "all", "all"),
        (week1, "queue", "billing"),
        (week1, "queue", "records"),
        (week1, "type", "billing_inquiry"),
        (week1, "type", "records_request"),
        (week1, "urgency", "routine"),
    ]
    assert (week1, "channel", "fax") in keys and (week2, "urgency", "urgent") in keys
    assert all(k[0] == week2 for k in keys[keys.index((week2, "all", "all")) :])
    record = report.records()[0]
    assert record["tasks"] == 2 and record["still_waiting"] == 2 and record["reroute_rate"] == 0.0
    assert record["reroute_rate_target"] == 0.1 and record["reroute_rate_met"] is True
    with pytest.raises(ValueError, match="unknown dimension"):
        aggregate([], zone=NY, now=T0, by=("colour",))  # type: ignore[arg-type]


def test_targets_read_as_the_pack_writes_them() -> None:
    t = MetricTargets.model_validate(
        {"queue_age_median": {"urgent": "20 minutes"}, "reroute_rate": "12%", "reopen_window": "48 hours"}
    )
    assert t.queue_age_median == {"urgent": timedelta(minutes=20)}
    assert t.reroute_rate == pytest.approx(0.12) and t.reopen_window == timedelta(hours=48)
    assert MetricTargets().first_contact_resolution == 0.75 and MetricTargets().escalation_rate == 0.08
    for bad in (
        {"queue_age_median": {"urgent": "2 business hours"}},
        {"queue_age_median": {"soon": "2 hours"}},
        {"reroute_rate": 12},
        {"color": 1},
    ):
        with pytest.raises(ValidationError):
            MetricTargets.model_validate(bad)


# -- folding ----------------------------------------------------------------------------------------------------


def _log_of_everything() -> list[Event]:
    log = [*intake(1, T0, pilot_arm="auto"), ev(1, "assigned", T0 + MIN, queue="billing", actor="careroute")]
    log += [claim(1, T0 + 2 * MIN), reroute(1, T0 + 3 * MIN, "records", "billing"), claim(1, T0 + 4 * MIN)]
    log += [resolve(1, T0 + 5 * MIN, queue="records"), ev(1, "reopened", T0 + 6 * MIN, queue="records")]
    log += [ev(1, "escalated", T0 + 7 * MIN, rule_ids=("esc.x",)), resolve(1, T0 + 8 * MIN, queue="records")]
    log += [ev(1, "followed_up", T0 + 9 * MIN, data={"follow_up_task_id": 2})]
    return log


def test_stepping_event_by_event_gives_the_same_facts_as_folding() -> None:
    log = _log_of_everything()
    facts: TaskFacts | None = None
    for n, e in enumerate(log, start=1):
        facts = step(facts, e)
        assert facts == fold(log[:n])
    assert facts is not None
    assert facts.first_claim_at == T0 + 2 * MIN and facts.first_resolved_at == T0 + 5 * MIN
    assert facts.last_resolved_at == T0 + 8 * MIN and facts.follow_up_after == MIN
    assert (facts.reroutes, facts.reopens, facts.escalations, facts.pilot_arm) == (1, 1, 1, "auto")
    assert facts.item_id == 10 and facts.route_rule == "tag.billing_inquiry"
    assert facts.to_row()["final_queue"] == "records"


def test_folding_refuses_a_log_that_does_not_start_with_created() -> None:
    with pytest.raises(ValueError, match="created"):
        fold([claim(1, T0)])
    with pytest.raises(ValueError, match="created"):
        step(None, claim(1, T0))
    with pytest.raises(ValueError, match="task"):
        step(fold(intake(1, T0)), claim(2, T0))
    with pytest.raises(ValueError):
        fold([])


def test_fold_log_skips_tasks_whose_creation_is_not_in_the_log() -> None:
    log = [claim(7, T0), resolve(7, T0 + MIN), *intake(8, T0)]
    assert list(fold_log(log)) == [8]


def test_facts_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        TaskFacts(task_id=1, created_at=datetime(2026, 1, 1))


def _interleaved(n: int) -> Iterator[Event]:
    per_task = [_log_of_everything() for _ in range(n)]
    for i, log in enumerate(per_task):
        for e in log:
            yield Event(e.id, i + 1, e.kind, e.at, e.actor, e.queue, e.assignee, e.rule_ids, e.reason, e.data)


def test_fold_log_keeps_tasks_apart() -> None:
    events = sorted(_interleaved(5), key=lambda e: (e.at, e.task_id))
    facts = fold_log(events)
    assert sorted(facts) == [1, 2, 3, 4, 5]
    assert {f.reroutes for f in facts.values()} == {1}
