"""The dispatch scoreboard: queue age, reroute rate, first-contact resolution and escalation rate (pure).

Everything is computed from the event log, in two steps that scale: each task's
events fold into one small `TaskFacts` record (`step` applies one event, so the
shell can keep a `task_facts` row up to date in the same transaction as each
event it appends), and `aggregate` turns any number of those records into a
report by week or day, overall and per queue, type, urgency, channel and pilot
arm, each figure beside its target. A store can instead count the records
itself, into `Cell`s by period and `cell_fields` (a GROUP BY), and
`aggregate_cells` makes the same report from them, figure for figure. No
message text is read or carried: only ids, queues, types, channels and times.

Definitions (exact; the README and the API docs copy them from here)
--------------------------------------------------------------------

Task. One task per `created` event. A duplicate merged into an open task is
not a task of its own. A follow-up (the same request back after its task was
resolved) and an item split off by an unmerge are new tasks, created when
their `created` event was written.

Period. A task belongs to the week (or day) of its creation on the practice's
wall clock: a week starts at the first instant the practice's clock reads
Monday 00:00 and ends at the next such instant, so a DST week is 167 or 169
hours long, and a task created Sunday 23:30 in New York belongs to the week
that is ending even though it is Monday in UTC. A row labelled by period shows
the tasks created in that period, as the log stood when the facts were folded:
a recent week's numbers still move as its tasks are claimed, resolved or reopened.

Dimensions. A task's type and urgency are those of its `classified` event
(what routing saw), its queue is the queue its first `routed` event chose
(`initial_queue`; `final_queue` is where it stands now), its channel is that of
its `created` event and its pilot arm that of its `routed` event. Tasks not in a
pilot have no pilot-arm row.

Queue age. The time from a task's creation to the first time someone took it
up: its first `claimed` event, or its first `resolved` event if that came
first (resolving without claiming takes the task up too). The clock does not
restart on a reroute or a return to the queue. Reported as the median and the
90th percentile, both nearest-rank (the smallest age such that at least 50% or
90% of the ages are at or below it; PostgreSQL's `percentile_disc`), overall and
per urgency; each urgency's median is judged against its target (met when
strictly below). Tasks never taken up are not in these figures: they are
counted beside them as "still waiting", with their age at the report time
(median and oldest).

Reroute rate. Tasks moved to another queue by a person after initial routing,
over all tasks: a task counts once however many times it was moved, and a
reroute back to the first queue still counts. Reroutes made by careroute itself
(actor `careroute`: a more urgent duplicate of the request arrived) are not
staff corrections of routing; they are counted separately as the careroute
reroute rate. An escalation that reassigns a task writes an `escalated` event,
not a reroute: it counts in the escalation rate only. In a pilot, a task routed to the
manual dispatch queue (rule `pilot.manual`) is supposed to be moved: its first
move out is the manual dispatch decision, not a reroute; later moves are. Met
when strictly below the target.

First-contact resolution. Of the tasks resolved at least once, the share never
reopened: no `reopened` event, and no `followed_up` event (the same request
arriving again after the task was resolved) within the reopen window (default
72 hours, the duplicate-detection window) of the resolution before it. Met when
strictly above the target.

Escalation rate. Tasks with at least one `escalated` event, over all tasks.
Met when strictly below the target.

A rate with no tasks to count has no value and is neither met nor missed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

from careroute.model import URGENCIES, require_aware
from careroute.sla import Duration

#: The actor careroute writes its own decisions under; anyone else is a person.
SYSTEM_ACTOR = "careroute"
#: The routing rule of the pilot's manual arm: its first move out of the manual queue is dispatch, not a reroute.
MANUAL_DISPATCH_RULE = "pilot.manual"

Period = Literal["week", "day"]
Dimension = Literal["all", "queue", "final_queue", "type", "urgency", "channel", "pilot_arm"]
DIMENSIONS: tuple[Dimension, ...] = ("all", "queue", "type", "urgency", "channel", "pilot_arm")


class EventLike(Protocol):
    """What metrics read of an event: `careroute.model.Event` and store rows both fit."""

    @property
    def task_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def rule_ids(self) -> Sequence[str]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


# -- per-task facts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """All the metrics need to know about one task: the compact row the shell keeps per task.

    Empty strings mean "not yet known" (the intake events are written together,
    so a committed row always has them).
    """

    task_id: int
    created_at: datetime
    channel: str = ""
    type: str = ""
    urgency: str = ""
    initial_queue: str = ""
    final_queue: str = ""
    route_rule: str = ""
    pilot_arm: str | None = None
    item_id: int | None = None
    #: The task this one follows up (the same request came back after that one was resolved).
    follows_task_id: int | None = None
    first_claim_at: datetime | None = None
    first_resolved_at: datetime | None = None
    last_resolved_at: datetime | None = None
    #: Reroutes by a person, and by careroute itself; the pilot's manual dispatch is neither.
    reroutes: int = 0
    careroute_reroutes: int = 0
    manually_dispatched: bool = False
    reopens: int = 0
    #: Shortest time from a resolution to a `followed_up` after it.
    follow_up_after: timedelta | None = None
    escalations: int = 0

    def __post_init__(self) -> None:
        require_aware(self.created_at, "created_at")

    @property
    def taken_up_at(self) -> datetime | None:
        """When queue age stops: the first claim, or the first resolution if that came first."""
        claim, resolved = self.first_claim_at, self.first_resolved_at
        if claim is None:
            return resolved
        return claim if resolved is None or claim <= resolved else resolved

    def reopened(self, window: timedelta) -> bool:
        return self.reopens > 0 or (self.follow_up_after is not None and self.follow_up_after <= window)

    def to_row(self) -> dict[str, Any]:
        """The facts as a plain dict (for a `task_facts` table row or JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Fold:
    """Mutable accumulator behind `step` and `fold`: one allocation per task, not per event."""

    __slots__ = tuple(f.name for f in fields(TaskFacts))

    task_id: int
    created_at: datetime
    channel: str
    type: str
    urgency: str
    initial_queue: str
    final_queue: str
    route_rule: str
    pilot_arm: str | None
    item_id: int | None
    follows_task_id: int | None
    first_claim_at: datetime | None
    first_resolved_at: datetime | None
    last_resolved_at: datetime | None
    reroutes: int
    careroute_reroutes: int
    manually_dispatched: bool
    reopens: int
    follow_up_after: timedelta | None
    escalations: int

    def __init__(self, facts: TaskFacts) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(facts, name))

    def freeze(self) -> TaskFacts:
        return TaskFacts(**{name: getattr(self, name) for name in self.__slots__})

    def apply(self, e: EventLike) -> None:
        kind = e.kind
        if e.queue:
            self.final_queue = e.queue
        if kind == "claimed":
            if self.first_claim_at is None:
                self.first_claim_at = e.at
        elif kind == "resolved":
            if self.first_resolved_at is None:
                self.first_resolved_at = e.at
            self.last_resolved_at = e.at
        elif kind == "rerouted":
            if e.actor == SYSTEM_ACTOR:
                self.careroute_reroutes += 1
            elif self.route_rule == MANUAL_DISPATCH_RULE and not self.manually_dispatched:
                self.manually_dispatched = True
            else:
                self.reroutes += 1
        elif kind == "reopened":
            self.reopens += 1
        elif kind == "followed_up":
            if self.last_resolved_at is not None:
                gap = e.at - self.last_resolved_at
                if self.follow_up_after is None or gap < self.follow_up_after:
                    self.follow_up_after = gap
        elif kind == "escalated":
            self.escalations += 1
        elif kind == "classified":
            if not self.type:
                self.type = str(e.data.get("type", ""))
                self.urgency = str(e.data.get("urgency", ""))
        elif kind == "routed" and not self.initial_queue:
            self.initial_queue = e.queue or ""
            self.route_rule = e.rule_ids[0] if e.rule_ids else ""
            arm = e.data.get("pilot_arm")
            self.pilot_arm = str(arm) if arm else None


def _created(e: EventLike) -> TaskFacts:
    if e.kind != "created":
        raise ValueError(f"task {e.task_id}: the first event must be 'created', not {e.kind!r}")
    d = e.data
    item, follows = d.get("item_id"), d.get("follows_task_id")
    return TaskFacts(
        task_id=e.task_id,
        created_at=e.at,
        channel=str(d.get("channel", "")),
        final_queue=e.queue or "",
        item_id=int(item) if item is not None else None,
        follows_task_id=int(follows) if follows is not None else None,
    )


def step(facts: TaskFacts | None, event: EventLike) -> TaskFacts:
    """The task's facts after one more event (None before its `created` event): the incremental form."""
    if facts is None:
        return _created(event)
    if event.task_id != facts.task_id:
        raise ValueError(f"event of task {event.task_id} applied to the facts of task {facts.task_id}")
    acc = _Fold(facts)
    acc.apply(event)
    return acc.freeze()


def fold(events: Iterable[EventLike]) -> TaskFacts:
    """One task's facts from its events in log order (the first must be `created`)."""
    acc: _Fold | None = None
    for e in events:
        if acc is None:
            acc = _Fold(_created(e))
        elif e.task_id != acc.task_id:
            raise ValueError(f"fold got events of tasks {acc.task_id} and {e.task_id}; use fold_log")
        else:
            acc.apply(e)
    if acc is None:
        raise ValueError("fold needs at least the task's 'created' event")
    return acc.freeze()


def fold_log(events: Iterable[EventLike]) -> dict[int, TaskFacts]:
    """Facts of every task in a log of many tasks' events, in log order.

    Events of a task whose `created` event is not in the log are skipped: a log
    cut at a date must not invent tasks from their tails.
    """
    folds: dict[int, _Fold] = {}
    for e in events:
        acc = folds.get(e.task_id)
        if acc is not None:
            acc.apply(e)
        elif e.kind == "created":
            folds[e.task_id] = _Fold(_created(e))
    return {task_id: acc.freeze() for task_id, acc in folds.items()}


# -- targets --------------------------------------------------------------------------------------

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _real_time(value: Any) -> Any:
    """Accept "30 minutes" as the rule pack writes it; queue age is real elapsed time, never business time."""
    if not isinstance(value, str):
        return value
    duration = Duration.model_validate(value)
    if duration.business:
        raise ValueError(f"{value!r}: queue age is measured in real time; write e.g. '4 hours'")
    return timedelta(**{duration.unit + "s": duration.amount})


def _share(value: Any) -> Any:
    if isinstance(value, str) and (m := _PERCENT.match(value)):
        return float(m.group(1)) / 100
    return value


class MetricTargets(BaseModel):
    """The `metrics:` section of a rule pack: each figure's target and the reopen window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Median queue age to stay strictly below, per urgency ("30 minutes").
    queue_age_median: dict[str, timedelta] = {
        "emergent": timedelta(minutes=5),
        "urgent": timedelta(minutes=30),
        "routine": timedelta(hours=4),
    }
    #: Reroute rate to stay strictly below ("10%" or 0.10).
    reroute_rate: float = 0.10
    #: First-contact resolution to stay strictly above.
    first_contact_resolution: float = 0.75
    #: Escalation rate to stay strictly below.
    escalation_rate: float = 0.08
    #: A follow-up of the same request this soon after a resolution counts as a reopen.
    reopen_window: timedelta = timedelta(hours=72)

    @field_validator("queue_age_median", mode="before")
    @classmethod
    def _ages(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in URGENCIES]
            if unknown:
                raise ValueError(f"{unknown[0]!r} is not an urgency (one of: {', '.join(URGENCIES)})")
            return {k: _real_time(v) for k, v in value.items()}
        return value

    @field_validator("reopen_window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return _real_time(value)

    @field_validator("reroute_rate", "first_contact_resolution", "escalation_rate", mode="before")
    @classmethod
    def _rates(cls, value: Any) -> Any:
        return _share(value)

    @field_validator("reroute_rate", "first_contact_resolution", "escalation_rate")
    @classmethod
    def _in_unit_interval(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("a rate target is a share between 0 and 1 (or a percentage such as '10%')")
        return value


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgeStat:
    """Queue age of the tasks taken up: nearest-rank median and 90th percentile."""

    tasks: int
    median: timedelta | None
    p90: timedelta | None
    target: timedelta | None = None  # for the median

    @property
    def met(self) -> bool | None:
        if self.target is None or self.median is None:
            return None
        return self.median < self.target


@dataclass(frozen=True, slots=True)
class StillWaiting:
    """Tasks nobody has taken up yet, with their age at the report time."""

    tasks: int
    median_age: timedelta | None
    oldest_age: timedelta | None


@dataclass(frozen=True, slots=True)
class Rate:
    """count of `of`, beside a target that the value must stay below (or above)."""

    count: int
    of: int
    target: float | None
    below: bool = True  # met when strictly below the target; else strictly above

    @property
    def value(self) -> float | None:
        return self.count / self.of if self.of else None

    @property
    def met(self) -> bool | None:
        value = self.value
        if value is None or self.target is None:
            return None
        return value < self.target if self.below else value > self.target


@dataclass(frozen=True, slots=True)
class Metrics:
    """The four figures for one group of tasks."""

    tasks: int
    #: Keys: "all" (no target) and each urgency present (with its target).
    queue_age: Mapping[str, AgeStat]
    still_waiting: StillWaiting
    reroute_rate: Rate
    careroute_reroute_rate: Rate
    first_contact_resolution: Rate
    escalation_rate: Rate


@dataclass(frozen=True, slots=True)
class Row:
    """One group: the tasks created in `period` (None: the whole range) with `dimension` == `value`."""

    period: date | None
    dimension: str
    value: str
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class Report:
    period: Period | None
    timezone: str
    now: datetime
    targets: MetricTargets
    rows: tuple[Row, ...]

    def row(self, dimension: str = "all", value: str = "all", period: date | None = None) -> Row | None:
        return next(
            (r for r in self.rows if r.dimension == dimension and r.value == value and r.period == period), None
        )

    def records(self) -> list[dict[str, Any]]:
        """Flat records, one per row, for JSON and CSV (minutes and shares, rounded)."""
        return [_record(r) for r in self.rows]


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 2)


def _record(row: Row) -> dict[str, Any]:
    m = row.metrics
    out: dict[str, Any] = {
        "period": row.period.isoformat() if row.period else None,
        "dimension": row.dimension,
        "value": row.value,
        "tasks": m.tasks,
    }
    for key, stat in m.queue_age.items():
        out[f"queue_age_{key}_tasks"] = stat.tasks
        out[f"queue_age_{key}_median_min"] = _minutes(stat.median)
        out[f"queue_age_{key}_p90_min"] = _minutes(stat.p90)
        if stat.target is not None:
            out[f"queue_age_{key}_target_min"] = _minutes(stat.target)
            out[f"queue_age_{key}_met"] = stat.met
    out["still_waiting"] = m.still_waiting.tasks
    out["still_waiting_median_age_min"] = _minutes(m.still_waiting.median_age)
    out["still_waiting_oldest_age_min"] = _minutes(m.still_waiting.oldest_age)
    for name in ("reroute_rate", "careroute_reroute_rate", "first_contact_resolution", "escalation_rate"):
        rate: Rate = getattr(m, name)
        out[name] = None if rate.value is None else round(rate.value, 4)
        out[f"{name}_count"] = rate.count
        out[f"{name}_of"] = rate.of
        if rate.target is not None:
            out[f"{name}_target"] = rate.target
            out[f"{name}_met"] = rate.met
    return out


# -- periods ---------------------------------------------------------------------------------------


def period_start(at: datetime, zone: ZoneInfo, period: Period = "week") -> date:
    """The local date that labels the day or week (its Monday) holding the instant `at`."""
    return _Periods(zone, period).of(require_aware(at, "at"))


def period_labeller(zone: ZoneInfo, period: Period = "week") -> Callable[[datetime], date]:
    """`period_start` for many instants: the span found last is remembered (facts come mostly in time order)."""
    return _Periods(zone, period).of


class _Periods:
    """Maps instants to periods; remembers the last span, as facts mostly come in time order."""

    def __init__(self, zone: ZoneInfo, period: Period) -> None:
        self.zone = zone
        self.step = timedelta(days=7 if period == "week" else 1)
        self.lo = self.hi = datetime.min.replace(tzinfo=UTC)
        self.label = date.min

    def _begin(self, d: date) -> datetime:
        # The first instant the local clock reads 00:00 on d: fold=0 gives the transition
        # instant when midnight is skipped and the first pass when it is repeated.
        return datetime.combine(d, time(), tzinfo=self.zone).astimezone(UTC)

    def of(self, at: datetime) -> date:
        if self.lo <= at < self.hi:
            return self.label
        local = at.astimezone(self.zone).date()
        label = local - timedelta(days=local.weekday()) if self.step.days == 7 else local
        lo = self._begin(label)
        # Only where midnight itself is skipped or repeated can the local date and the
        # period's first instant disagree; move to the period whose span holds `at`.
        while at < lo:
            label -= self.step
            lo = self._begin(label)
        hi = self._begin(label + self.step)
        while at >= hi:
            label, lo = label + self.step, hi
            hi = self._begin(label + self.step)
        self.label, self.lo, self.hi = label, lo, hi
        return label


# -- aggregation -----------------------------------------------------------------------------------


class _Tally:
    __slots__ = ("ages", "escalated", "fcr", "rerouted", "resolved", "system_rerouted", "tasks", "waiting")

    def __init__(self) -> None:
        self.tasks = 0
        self.ages: dict[str, list[float]] = {}
        self.waiting: list[float] = []
        self.rerouted = 0
        self.system_rerouted = 0
        self.resolved = 0
        self.fcr = 0
        self.escalated = 0

    def add(self, other: _Tally) -> None:
        self.tasks += other.tasks
        for urgency, ages in other.ages.items():
            mine = self.ages.get(urgency)
            if mine is None:
                self.ages[urgency] = list(ages)
            else:
                mine.extend(ages)
        self.waiting.extend(other.waiting)
        self.rerouted += other.rerouted
        self.system_rerouted += other.system_rerouted
        self.resolved += other.resolved
        self.fcr += other.fcr
        self.escalated += other.escalated


def _nearest_rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def nearest_rank(values: Iterable[float], q: float) -> float | None:
    """The smallest value with at least a share q of the values at or below it (None when empty)."""
    ordered = sorted(values)
    return _nearest_rank(ordered, q) if ordered else None


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _age_stat(ages: list[float], target: timedelta | None) -> AgeStat:
    ages.sort()
    if not ages:
        return AgeStat(0, None, None, target)
    return AgeStat(len(ages), _seconds(_nearest_rank(ages, 0.5)), _seconds(_nearest_rank(ages, 0.9)), target)


def _urgency_order(urgency: str) -> tuple[int, str]:
    return (URGENCIES.index(urgency) if urgency in URGENCIES else len(URGENCIES), urgency)


def _metrics(t: _Tally, targets: MetricTargets) -> Metrics:
    by_urgency = {u: _age_stat(t.ages[u], targets.queue_age_median.get(u)) for u in sorted(t.ages, key=_urgency_order)}
    # Sorted per urgency first, the concatenation is a few sorted runs, which sorting merges in linear time.
    everyone = [a for ages in t.ages.values() for a in ages]
    queue_age = {"all": _age_stat(everyone, None), **by_urgency}
    t.waiting.sort()
    waiting = StillWaiting(
        len(t.waiting),
        _seconds(_nearest_rank(t.waiting, 0.5)) if t.waiting else None,
        _seconds(t.waiting[-1]) if t.waiting else None,
    )
    return Metrics(
        tasks=t.tasks,
        queue_age=queue_age,
        still_waiting=waiting,
        reroute_rate=Rate(t.rerouted, t.tasks, targets.reroute_rate),
        careroute_reroute_rate=Rate(t.system_rerouted, t.tasks, None),
        first_contact_resolution=Rate(t.fcr, t.resolved, targets.first_contact_resolution, below=False),
        escalation_rate=Rate(t.escalated, t.tasks, targets.escalation_rate),
    )


#: Which TaskFacts field each dimension reads ("all" reads none).
_FIELD: Mapping[str, str] = {
    "queue": "initial_queue",
    "final_queue": "final_queue",
    "type": "type",
    "urgency": "urgency",
    "channel": "channel",
    "pilot_arm": "pilot_arm",
}


def cell_fields(by: Sequence[Dimension]) -> list[str]:
    """The `TaskFacts` fields that tell the cells of a report by `by` apart: urgency first, then each dimension's."""
    unknown = [d for d in by if d != "all" and d not in _FIELD]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}; one of all, {', '.join(_FIELD)}")
    return ["urgency", *dict.fromkeys(_FIELD[d] for d in by if d != "all" and d != "urgency")]


def period_spans(
    start: datetime, end: datetime, zone: ZoneInfo, period: Period | None
) -> list[tuple[date | None, datetime]]:
    """The periods that hold the instants in [start, end): each one's label and first instant, in order.

    The first instant of the first period is `start` itself (the report reads
    nothing before it); every later one is where `period_start` moves on to the
    next label, so a store that counts by these boundaries puts each task in the
    period `aggregate` would.
    """
    require_aware(start, "start")
    if period is None:
        return [(None, start)]
    periods = _Periods(zone, period)
    spans: list[tuple[date | None, datetime]] = [(periods.of(start), start)]
    while periods.hi < end:
        begin = periods.hi
        spans.append((periods.of(begin), begin))
    return spans


@dataclass(slots=True)
class Cell:
    """The tasks of one period that share their value of every field of `cell_fields`, counted by a store.

    `values` follows `cell_fields(by)`; `queue_ages` are the seconds from
    creation to being taken up of the tasks taken up, and `waiting_since` the
    creation instants of the others. The counts are of tasks.
    """

    period: date | None
    values: tuple[Any, ...]
    tasks: int
    queue_ages: list[float]
    waiting_since: list[datetime]
    rerouted: int
    careroute_rerouted: int
    resolved: int
    first_contact_resolved: int
    escalated: int


def aggregate_cells(
    cells: Iterable[Cell],
    *,
    zone: ZoneInfo,
    now: datetime,
    period: Period | None = "week",
    by: Sequence[Dimension] = DIMENSIONS,
    targets: MetricTargets | None = None,
    fields: Sequence[str] | None = None,
) -> Report:
    """`aggregate` from cells counted elsewhere (a store's GROUP BY): the same rows, figure for figure.

    The cells must be those of `fields` (default `cell_fields(by)`; more fields
    only split cells further, so one count can serve reports by different
    dimensions) over the spans of `period_spans` (or all labelled None when
    `period` is None), counting first-contact resolution with `targets.reopen_window`.
    """
    targets = targets or MetricTargets()
    require_aware(now, "now")
    names = list(fields) if fields is not None else cell_fields(by)
    missing = [f for f in cell_fields(by) if f not in names]
    if missing or names[0] != "urgency":
        raise ValueError(f"cells by {names} cannot give a report by {list(by)}")
    tallies: dict[tuple[date | None, tuple[Any, ...]], _Tally] = {}
    for c in cells:
        key = (c.period, c.values)
        t = tallies.get(key)
        if t is None:
            t = tallies[key] = _Tally()
        t.tasks += c.tasks
        if c.queue_ages:
            urgency = c.values[0]
            ages = t.ages.get(urgency)
            if ages is None:
                ages = t.ages[urgency] = []
            ages.extend(c.queue_ages)
        t.waiting.extend((now - created).total_seconds() for created in c.waiting_since)
        t.rerouted += c.rerouted
        t.system_rerouted += c.careroute_rerouted
        t.resolved += c.resolved
        t.fcr += c.first_contact_resolved
        t.escalated += c.escalated
    return _report(tallies, names, zone=zone, now=now, period=period, by=by, targets=targets)


def aggregate(
    facts: Iterable[TaskFacts],
    *,
    zone: ZoneInfo,
    now: datetime,
    period: Period | None = "week",
    by: Sequence[Dimension] = DIMENSIONS,
    targets: MetricTargets | None = None,
) -> Report:
    """The four metrics per period (None: one row per group over everything) and per dimension value.

    `now` is the report time: still-waiting ages are measured to it. Rows come
    sorted by period, then dimension in the order of `by`, then value.
    """
    targets = targets or MetricTargets()
    require_aware(now, "now")
    window = targets.reopen_window
    # Each task is counted once, into the cell of its period and its values of every
    # dimension asked for; the rows are then sums of cells. One dictionary update per
    # task whatever the number of dimensions keeps 1,000,000 tasks near a second.
    names = cell_fields(by)
    cell_of = attrgetter(*names) if len(names) > 1 else attrgetter("urgency", "urgency")
    periods = _Periods(zone, period) if period is not None else None
    cells: dict[tuple[date | None, tuple[Any, ...]], _Tally] = {}
    find = cells.get
    # The current period's span, checked inline: most facts fall in the same period as the one before.
    label: date | None = None
    lo = hi = now
    for f in facts:
        created = f.created_at
        if periods is not None and not lo <= created < hi:
            label = periods.of(created)
            lo, hi = periods.lo, periods.hi
        key = (label, cell_of(f))
        t = find(key)
        if t is None:
            t = cells[key] = _Tally()
        t.tasks += 1
        claim, resolved = f.first_claim_at, f.first_resolved_at
        taken = claim if resolved is None or (claim is not None and claim <= resolved) else resolved
        if taken is not None:
            ages = t.ages.get(f.urgency)
            if ages is None:
                ages = t.ages[f.urgency] = []
            ages.append((taken - created).total_seconds())
        else:
            t.waiting.append((now - created).total_seconds())
        if f.reroutes:
            t.rerouted += 1
        if f.careroute_reroutes:
            t.system_rerouted += 1
        if resolved is not None:
            t.resolved += 1
            if not f.reopens and (f.follow_up_after is None or f.follow_up_after > window):
                t.fcr += 1
        if f.escalations:
            t.escalated += 1
    return _report(cells, names, zone=zone, now=now, period=period, by=by, targets=targets)


def _report(
    cells: Mapping[tuple[date | None, tuple[Any, ...]], _Tally],
    names: Sequence[str],
    *,
    zone: ZoneInfo,
    now: datetime,
    period: Period | None,
    by: Sequence[Dimension],
    targets: MetricTargets,
) -> Report:
    """Rows as sums of cells: a cell holds the tasks of one period with the same value of every field in `names`."""
    position = {name: i for i, name in enumerate(names)}
    tallies: dict[tuple[date | None, str, str], _Tally] = {}
    for (label, values), cell in cells.items():
        for dimension in by:
            value = "all" if dimension == "all" else values[position[_FIELD[dimension]]]
            if value is None:
                continue
            row = tallies.get((label, dimension, value))
            if row is None:
                row = tallies[(label, dimension, value)] = _Tally()
            row.add(cell)
    order: dict[str, int] = {d: i for i, d in enumerate(by)}
    keys = sorted(tallies, key=lambda k: (k[0] or date.min, order[k[1]], k[2]))
    rows = tuple(Row(k[0], k[1], k[2], _metrics(tallies[k], targets)) for k in keys)
    return Report(period, zone.key, now, targets, rows)


def scoreboard(facts: Iterable[TaskFacts], *, now: datetime, targets: MetricTargets | None = None) -> Metrics:
    """The four metrics over all the given tasks, in one group."""
    report = aggregate(facts, zone=ZoneInfo("UTC"), now=now, period=None, by=("all",), targets=targets)
    row = report.row()
    if row is None:
        return _metrics(_Tally(), targets or MetricTargets())
    return row.metrics
