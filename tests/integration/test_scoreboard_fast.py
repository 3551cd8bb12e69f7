"""The scoreboard counted by the database equals the pure fold, figure for figure, on SQLite and PostgreSQL.

`scoreboard.report` groups the summary rows in SQL and takes percentiles of the
ages it fetches; `metrics.aggregate` over `metrics.fold_log` of the events is the
definition. Random logs (seeded) cover what can go wrong between the two: tasks
never taken up, resolutions before claims, reroutes by staff and by careroute,
the pilot's manual dispatch, reopens and follow-ups on either side of the reopen
window, escalations, tasks created on the instant a practice week or day begins
(and a microsecond before) in zones whose clocks change, and pilot arms.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from careroute import demand, metrics, scoreboard
from careroute.dispatcher import Dispatcher
from careroute.metrics import DIMENSIONS, Dimension, MetricTargets, Period, TaskFacts
from careroute.model import URGENCIES, Event
from careroute.store.migrate import downgrade, upgrade
from careroute.store.repository import Store
from careroute.store.tables import tasks
from careroute.web import data
from tests.conftest import make_item

#: New York (weeks of 167 and 169 hours), Santiago (its clock skips or repeats midnight), Kolkata (no DST,
#: a half-hour offset) and UTC: the same stored rows fall into different periods in each.
ZONES = ("America/New_York", "America/Santiago", "Asia/Kolkata", "UTC")
#: A quarter that holds Santiago's September change and New York's November one.
FIRST = datetime(2026, 8, 17, tzinfo=UTC)
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
WEEKS = 14
TARGETS = MetricTargets(reopen_window=timedelta(hours=72))
QUEUES = ("billing", "records", "nurse", "refills", "manual_dispatch")
TYPES = ("billing_inquiry", "records_request", "clinical_question", "medication_refill")
CHANNELS = ("portal", "fax", "phone", "email")
STAFF = ("luis", "yusuf", "pam")
#: Gaps between a task's events: none, a microsecond, a second, minutes, hours, exactly the reopen window.
GAPS = (
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(minutes=7, microseconds=250),
    timedelta(hours=5),
    timedelta(hours=72),
    timedelta(hours=72, microseconds=1),
    timedelta(days=3, hours=23),
)
REPORTS: Sequence[tuple[Period | None, Sequence[Dimension]]] = (
    ("week", DIMENSIONS),
    ("day", ("all", "urgency", "pilot_arm")),
    (None, ("all", "final_queue", "channel")),
    ("week", ("all",)),
)


def _boundaries() -> list[datetime]:
    """The first instants of the local days in the range, in every zone: where a period can end."""
    out = []
    for name in ZONES:
        zone = ZoneInfo(name)
        day = FIRST.astimezone(zone).date()
        while (begin := datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)) < NOW:
            out.append(begin)
            day += timedelta(days=1)
    return out


def random_log(rng: random.Random, n: int) -> list[Event]:
    """Events of n tasks: intake, then up to seven staff and careroute actions each, in log order."""
    ids = itertools.count(1)
    edges = _boundaries()
    task_id, at = 0, FIRST

    def ev(kind: str, actor: str = "careroute", queue: str | None = None, **kw: Any) -> Event:
        return Event(next(ids), task_id, kind, at, actor, queue=queue, **kw)

    span = (NOW - FIRST).total_seconds()
    log: list[Event] = []
    for task_id in range(1, n + 1):
        pick = rng.random()
        if pick < 0.15:  # on the instant a local day (and so maybe a week) begins, or just before
            at = rng.choice(edges) - rng.choice((timedelta(0), timedelta(microseconds=1)))
        else:
            at = FIRST + timedelta(seconds=rng.uniform(0, span), microseconds=rng.randrange(1_000_000))

        queue = rng.choice(QUEUES)
        manual = rng.random() < 0.15
        created: dict[str, Any] = {"item_id": task_id, "channel": rng.choice(CHANNELS)}
        if task_id > 1 and rng.random() < 0.1:
            created["follows_task_id"] = rng.randrange(1, task_id)
        log.append(ev("created", queue=queue, data=created))
        if rng.random() < 0.95:  # a task whose intake stopped short has empty type and urgency
            urgency = rng.choice(URGENCIES)
            log.append(ev("classified", data={"type": rng.choice(TYPES), "urgency": urgency, "confidence": 0.9}))
            arm = rng.choice((None, None, "auto", "manual"))
            rule = "pilot.manual" if manual else f"tag.{rng.choice(TYPES)}"
            log.append(ev("routed", queue=queue, rule_ids=(rule,), data={"pilot_arm": arm} if arm else {}))
        for _ in range(rng.randrange(8)):
            at += rng.choice(GAPS)
            kind = rng.choice(("claimed", "resolved", "rerouted", "reopened", "followed_up", "escalated", "assigned"))
            who = rng.choice(STAFF)
            if kind == "rerouted":
                actor = "careroute" if rng.random() < 0.3 else who
                to = rng.choice(QUEUES)
                log.append(ev(kind, actor, queue=to, rule_ids=("r",), data={"from_queue": queue}))
                queue = to
            elif kind == "escalated":
                log.append(ev(kind, queue=queue if rng.random() < 0.5 else None, rule_ids=("esc.x",)))
            elif kind == "followed_up":
                log.append(ev(kind, data={"follow_up_task_id": task_id + 1}))
            else:
                log.append(ev(kind, who, queue=queue))
    return log


def store_facts(store: Store, facts: Sequence[TaskFacts]) -> None:
    """Each task's row (what the summary refers to) and its summary row, as the dispatcher writes it."""
    rows: list[dict[str, Any]] = [
        {
            "id": f.task_id, "status": "open", "type": f.type, "urgency": f.urgency, "urgency_rank": 2,
            "queue": f.final_queue, "assignee": None, "effort": 1, "skills": [], "pilot_arm": f.pilot_arm,
            "confidence": 0.9, "channel": f.channel, "external_id": f"fast-{f.task_id}", "route_rule": f.route_rule,
            "pack_version": "test", "item_count": 1, "follows_task_id": None, "created_at": f.created_at,
            "updated_at": f.created_at, "due_at": f.created_at, "assigned_at": None, "first_claimed_at": None,
            "resolved_at": None, "acknowledged_at": None, "on_hold": False, "next_escalation_at": None,
        }
        for f in facts
    ]  # fmt: skip
    with store.write() as conn:
        conn.execute(insert(tasks), rows)
        store.save_facts(conn, facts, [])


def pure(
    facts: Sequence[TaskFacts], zone: ZoneInfo, period: Period | None, by: Sequence[Dimension]
) -> metrics.Report:
    start, end = scoreboard.report_range(NOW, zone, WEEKS)
    kept = [f for f in facts if start <= f.created_at < end]
    return metrics.aggregate(kept, zone=zone, now=NOW, period=period, by=by, targets=TARGETS)


def counted(store: Store, zone: ZoneInfo, period: Period | None, by: Sequence[Dimension]) -> metrics.Report:
    start, end = scoreboard.report_range(NOW, zone, WEEKS)
    spans = metrics.period_spans(start, end, zone, period)
    with store.read() as conn:
        cells = store.scoreboard_cells(conn, spans, end, metrics.cell_fields(by), TARGETS.reopen_window)
    return metrics.aggregate_cells(cells, zone=zone, now=NOW, period=period, by=by, targets=TARGETS)


def assert_same(fast: metrics.Report, reference: metrics.Report) -> None:
    assert [(r.period, r.dimension, r.value) for r in fast.rows] == [
        (r.period, r.dimension, r.value) for r in reference.rows
    ]
    for mine, theirs in zip(fast.rows, reference.rows, strict=True):
        assert mine == theirs, (mine.period, mine.dimension, mine.value)
    assert fast == reference
    assert fast.records() == reference.records()


@pytest.fixture
def fact_store(db_url: str) -> Iterator[tuple[Store, list[TaskFacts]]]:
    store = Store.from_url(db_url)
    facts = list(metrics.fold_log(random_log(random.Random(20261127), 900)).values())
    store_facts(store, facts)
    yield store, facts
    store.engine.dispose()


@pytest.mark.parametrize("zone_name", ZONES)
def test_it_counts_in_the_database_exactly_what_the_fold_counts(
    fact_store: tuple[Store, list[TaskFacts]], zone_name: str
) -> None:
    store, facts = fact_store
    zone = ZoneInfo(zone_name)
    for period, by in REPORTS:
        reference = pure(facts, zone, period, by)
        assert_same(counted(store, zone, period, by), reference)
    # The log is varied enough to mean something: every kind of figure is there to get wrong.
    total = pure(facts, zone, None, ("all",)).rows[0].metrics
    assert total.still_waiting.tasks > 20 and total.queue_age["all"].tasks > 200
    assert 0 < total.first_contact_resolution.count < total.first_contact_resolution.of
    assert total.reroute_rate.count and total.careroute_reroute_rate.count and total.escalation_rate.count


def test_a_changed_time_zone_moves_every_stored_task_to_its_new_week_at_once(
    fact_store: tuple[Store, list[TaskFacts]],
) -> None:
    # Nothing about a task's week is stored: each report cuts the weeks in the zone it is given.
    store, facts = fact_store
    new_york, kolkata = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    before, after = counted(store, new_york, "week", ("all",)), counted(store, kolkata, "week", ("all",))
    assert [r.metrics.tasks for r in before.rows] != [r.metrics.tasks for r in after.rows]
    assert_same(after, pure(facts, kolkata, "week", ("all",)))


@pytest.mark.parametrize("seed", range(4))
def test_small_random_logs_agree_too(db_url: str, seed: int) -> None:
    # Few tasks: many cells of one task, empty urgencies and weeks, single-age percentiles.
    store = Store.from_url(db_url)
    rng = random.Random(seed)
    facts = list(metrics.fold_log(random_log(rng, rng.randrange(1, 40))).values())
    store_facts(store, facts)
    zone = ZoneInfo(rng.choice(ZONES))
    for period, by in REPORTS:
        assert_same(counted(store, zone, period, by), pure(facts, zone, period, by))
    store.engine.dispose()


def test_an_empty_store_gives_an_empty_report(db_url: str) -> None:
    store = Store.from_url(db_url)
    zone = ZoneInfo("America/New_York")
    assert counted(store, zone, "week", DIMENSIONS).rows == ()
    store.engine.dispose()


def test_the_migration_fills_in_the_ages_of_rows_folded_before_it(db_url: str) -> None:
    store = Store.from_url(db_url)
    facts = list(metrics.fold_log(random_log(random.Random(7), 200)).values())
    store_facts(store, facts)
    downgrade(store.engine, "0002")  # drops the stored ages, as a database from before them had none
    upgrade(store.engine)
    store.engine.dispose()
    store = Store.from_url(db_url)
    zone = ZoneInfo("America/New_York")
    for period, by in REPORTS:
        assert_same(counted(store, zone, period, by), pure(facts, zone, period, by))
    store.engine.dispose()


def work_a_little(dispatcher: Dispatcher) -> None:
    """Three tasks through the dispatcher, which keeps their summary rows up to date event by event."""
    clock = dispatcher.clock
    a = dispatcher.intake(make_item("fast-1")).task_id
    b = dispatcher.intake(make_item("fast-2", body="Can I get a copy of my records for my new doctor?")).task_id
    dispatcher.intake(make_item("fast-3", body="Question about my bill from March"))
    clock.now += timedelta(minutes=9, seconds=3)  # type: ignore[attr-defined]
    dispatcher.claim(a, actor="luis")
    dispatcher.reroute(a, "records", "records request", actor="luis", reason_code="wrong_type")
    dispatcher.resolve(a, actor="yusuf")
    dispatcher.reopen(a, actor="pam", reason="the patient wrote back")
    clock.now += timedelta(days=8)  # type: ignore[attr-defined]
    dispatcher.resolve(b, actor="yusuf")


def test_the_report_served_equals_the_report_folded(dispatcher: Dispatcher) -> None:
    work_a_little(dispatcher)
    for period, weeks in (("week", 8), ("day", 2), (None, 2)):
        fast = scoreboard.report(dispatcher, weeks=weeks, period=period)  # type: ignore[arg-type]
        assert_same(fast, scoreboard.report_from_facts(dispatcher, weeks=weeks, period=period))  # type: ignore[arg-type]
        assert fast.rows


def test_the_scoreboard_page_shows_what_the_fold_of_its_weeks_gives(dispatcher: Dispatcher) -> None:
    work_a_little(dispatcher)
    now = dispatcher.clock()
    sb = data.scoreboard_data(dispatcher, now)
    since, end = now - timedelta(weeks=data.HISTORY_WEEKS), now + timedelta(seconds=1)
    with dispatcher.store.read() as conn:
        facts = dispatcher.store.facts_created_between(conn, since, end)
    targets, zone = data.pack_targets(dispatcher), dispatcher.zone
    weekly = metrics.aggregate(facts, zone=zone, now=now, period="week", by=("all", "urgency"), targets=targets)
    assert_same(sb.weekly, weekly)
    arms = metrics.aggregate(facts, zone=zone, now=now, period=None, by=("all", "pilot_arm"), targets=targets)
    assert_same(sb.arms, arms)
    pattern = demand.arrivals(facts, zone=zone, by="urgency", start=since, end=end)
    # Per-urgency rates summed, or all arrivals over the same occurrences: equal but for the last bit.
    expected = [[sum(pattern.rate(v, d, h) for v in pattern.counts) for h in range(24)] for d in range(7)]
    assert [list(row) for row in sb.demand] == [pytest.approx(row) for row in expected]
    assert sb.tasks == len(facts) == 3 and sum(map(sum, sb.demand)) > 0
