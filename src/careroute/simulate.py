"""What-if simulation: a week of work through a roster, on a simulated clock (pure, deterministic per seed).

Arrivals come already routed (the caller ran the pack's routing); staff work in
shifts on the practice's wall clock; waiting tasks are pushed to people by the
dispatcher's own policy (`careroute.assignment.plan`); each person claims the
most urgent task they hold when a hand is free, works it for a handling time
drawn from a lognormal with the type's median and 90th percentile, and
resolves it. A task routed to the wrong queue (its `correct_queue` differs) is
rerouted there by whoever claims it, after `reroute_after`. Escalation rules
fire through a hook (`PackEscalations` runs the pack's own rules): a reassign
moves the task and a raised urgency reorders it, as in the dispatcher;
notifications and pages are only recorded.

The output is an event log in the same shape as the real one (`created`,
`classified`, `routed`, `assigned`, `claimed`, `rerouted`, `returned`,
`resolved`, `escalated`), so `careroute.metrics` computes the four figures from
it unchanged. Nobody reopens a task in a simulation: first-contact resolution
there only reflects nothing.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from careroute.assignment import URGENCY_RANK, Person, Requirements, WaitingTask, plan
from careroute.calendar import BusinessCalendar
from careroute.escalation import (
    EscalationDue,
    EscalationSpec,
    Fired,
    RaiseUrgency,
    Reassign,
    due_escalations,
    next_escalation_at,
    raised_urgency,
)
from careroute.metrics import SYSTEM_ACTOR, AgeStat, Metrics, MetricTargets, Rate, fold_log, scoreboard
from careroute.model import Event, require_aware
from careroute.rules.schema import WEEKDAYS, RulePack
from careroute.sla import SlaSpec, TaskFacts

_Z90 = 1.2815515655446004  # the standard normal's 90th percentile
#: Waiting tasks per queue one push looks at, as the dispatcher bounds it.
PUSH_SCAN = 200


@dataclass(frozen=True, slots=True)
class Arrival:
    """One item arriving, already classified and routed."""

    at: datetime
    type: str
    urgency: str
    queue: str
    channel: str = "portal"
    external_id: str = ""
    rule_id: str = "sim.route"
    effort: int = 1
    skills: tuple[str, ...] = ()
    #: Where staff will move the task if routing got it wrong (None: it was right).
    correct_queue: str | None = None
    pilot_arm: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class Shift:
    """A weekly shift on the practice's wall clock; an end at or before the start runs past midnight."""

    weekday: int  # 0 Monday
    start: time
    end: time

    def covers(self, weekday: int, clock: time) -> bool:
        if self.end > self.start:
            return weekday == self.weekday and self.start <= clock < self.end
        return (weekday == self.weekday and clock >= self.start) or (
            weekday == (self.weekday + 1) % 7 and clock < self.end
        )


@dataclass(frozen=True, slots=True)
class Rostered:
    """A person in the simulated roster; no shifts means always on."""

    id: str
    queues: tuple[str, ...]
    credential: str = "coordinator"
    capacity: int = 10
    queue_capacity: Mapping[str, int] = field(default_factory=dict)
    skills: tuple[str, ...] = ()
    shifts: tuple[Shift, ...] = ()


@dataclass(frozen=True, slots=True)
class HandlingTime:
    """A lognormal handling time (claim to resolve) given by its median and 90th percentile."""

    median: timedelta
    p90: timedelta

    def __post_init__(self) -> None:
        if self.median <= timedelta(0) or self.p90 < self.median:
            raise ValueError("a handling time needs 0 < median <= p90")

    def sample(self, rng: random.Random) -> timedelta:
        sigma = math.log(self.p90 / self.median) / _Z90
        return timedelta(seconds=rng.lognormvariate(math.log(self.median.total_seconds()), sigma))


class EscalationHook(Protocol):
    """When a task may next escalate, and what is due on it now (the pack's rules, or a test's)."""

    def next_at(self, task: TaskFacts, now: datetime, fired: Mapping[tuple[int, str], Fired]) -> datetime | None: ...

    def due(
        self, task: TaskFacts, now: datetime, fired: Mapping[tuple[int, str], Fired]
    ) -> Sequence[EscalationDue]: ...


@dataclass(frozen=True)
class PackEscalations:
    """The pack's escalation rules as a simulation hook."""

    rules: EscalationSpec
    calendar: BusinessCalendar
    sla: SlaSpec | None = None

    def next_at(self, task: TaskFacts, now: datetime, fired: Mapping[tuple[int, str], Fired]) -> datetime | None:
        return next_escalation_at(task, self.rules, self.calendar, now, fired, sla=self.sla)

    def due(self, task: TaskFacts, now: datetime, fired: Mapping[tuple[int, str], Fired]) -> Sequence[EscalationDue]:
        return due_escalations([task], self.rules, self.calendar, now, fired, sla=self.sla)


# -- from a rule pack ---------------------------------------------------------------------------------


def _clock(text: str) -> time:
    return time(0) if text == "24:00" else time.fromisoformat(text)


def roster_from_pack(pack: RulePack) -> list[Rostered]:
    """The pack's staff as a simulated roster."""
    out = []
    for p in pack.staff:
        shifts = []
        for s in p.shifts:
            start, end = (_clock(x) for x in s.hours.split("-"))
            shifts += [Shift(WEEKDAYS.index(day), start, end) for day in s.days]
        out.append(
            Rostered(
                p.id, tuple(p.queues), p.credential, p.capacity, dict(p.queue_capacity), tuple(p.skills), tuple(shifts)
            )
        )
    return out


def requirements_from_pack(pack: RulePack) -> Requirements:
    return Requirements(
        queue_credentials={q.id: frozenset(q.requires) for q in pack.queues if q.requires},
        type_credentials={t: frozenset(s.requires) for t, s in pack.tags.items() if s.requires},
    )


# -- the simulation -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Task:
    id: int
    arrival: Arrival
    queue: str
    urgency: str
    due_at: datetime
    status: str = "open"
    assignee: str | None = None
    first_claimed_at: datetime | None = None
    resolved_at: datetime | None = None

    def waiting(self) -> WaitingTask:
        a = self.arrival
        return WaitingTask(self.id, self.queue, a.type, self.urgency, a.effort, a.at, self.due_at, a.skills)

    def clock_facts(self) -> TaskFacts:
        a = self.arrival
        return TaskFacts(self.id, a.type, self.urgency, a.at, self.queue, self.first_claimed_at, self.resolved_at)


@dataclass(slots=True)
class _Person:
    spec: Rostered
    on: bool = False
    held: list[int] = field(default_factory=list)  # assigned, not yet claimed
    working: int = 0
    queue_load: dict[str, int] = field(default_factory=dict)
    idle_since: datetime | None = None

    @property
    def load(self) -> int:
        return sum(self.queue_load.values())

    def view(self) -> Person:
        s = self.spec
        return Person(
            s.id,
            s.credential,
            frozenset(s.queues),
            frozenset(s.skills),
            s.capacity,
            "available" if self.on else "off_shift",
            self.load,
            s.queue_capacity,
            dict(self.queue_load),
            self.idle_since,
        )


#: Claim deadlines that order waiting tasks of one urgency: the dispatcher's defaults (not imported: it is the shell).
_CLAIM_TARGET = {"emergent": timedelta(minutes=5), "urgent": timedelta(minutes=30), "routine": timedelta(hours=4)}


class _Run:
    def __init__(
        self,
        arrivals: Sequence[Arrival],
        roster: Sequence[Rostered],
        handling: Mapping[str, HandlingTime],
        *,
        zone: ZoneInfo,
        seed: int,
        requirements: Requirements,
        escalations: EscalationHook | None,
        work_in_parallel: int,
        reroute_after: timedelta,
        pack_version: str | None,
    ) -> None:
        self.arrivals = sorted(arrivals, key=lambda a: a.at)
        self.handling = handling
        self.zone = zone
        self.rng = random.Random(seed)
        self.req = requirements
        self.hook = escalations
        self.parallel = work_in_parallel
        self.reroute_after = reroute_after
        self.pack_version = pack_version
        self.people = {p.id: _Person(p) for p in roster}
        self.tasks: dict[int, _Task] = {}
        self.open: dict[str, set[int]] = {}
        #: Per queue, (push order, task id) of its waiting tasks, so a push reads the first few without
        #: scanning a backlog. Entries go stale when a task leaves the queue or its urgency rises; they
        #: are skipped when read (the set above is the truth).
        self.waiting_order: dict[str, list[tuple[tuple[int, float, float, int], int]]] = {}
        self.fired: dict[tuple[int, str], Fired] = {}
        self.events: list[Event] = []
        self.heap: list[tuple[datetime, int, str, Any]] = []
        self.seq = 0

    # -- bookkeeping --------------------------------------------------------------------------------

    def schedule(self, at: datetime, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    def emit(self, task: _Task, kind: str, at: datetime, actor: str = SYSTEM_ACTOR, **kw: Any) -> None:
        self.events.append(Event(len(self.events) + 1, task.id, kind, at, actor, pack_version=self.pack_version, **kw))

    def handling_time(self, task: _Task) -> timedelta:
        dist = self.handling.get(task.arrival.type) or self.handling.get("default")
        if dist is None:
            raise ValueError(f"no handling time for type {task.arrival.type!r} and no 'default'")
        return dist.sample(self.rng)

    # -- shifts -------------------------------------------------------------------------------------

    def on_shift(self, person: Rostered, at: datetime) -> bool:
        if not person.shifts:
            return True
        local = at.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        return any(s.covers(local.weekday(), clock) for s in person.shifts)

    def next_change(self, person: Rostered, after: datetime) -> datetime | None:
        """The first shift boundary after `after` at which the person comes on or goes off."""
        if not person.shifts:
            return None
        now_on = self.on_shift(person, after)
        today = after.astimezone(self.zone).date()
        candidates = []
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            for s in person.shifts:
                if s.weekday != day.weekday():
                    continue
                end_day = day if s.end > s.start else day + timedelta(days=1)
                candidates += [self._instant(day, s.start), self._instant(end_day, s.end)]
        for at in sorted(c for c in candidates if c > after):
            if self.on_shift(person, at) != now_on:
                return at
        return None

    def _instant(self, day: date, clock: time) -> datetime:
        # fold=0: a wall time the clock skips maps just past the jump, a repeated one to its first pass.
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    # -- what happens ------------------------------------------------------------------------------

    def arrive(self, index: int, now: datetime) -> None:
        a = self.arrivals[index]
        task = _Task(index + 1, a, a.queue, a.urgency, a.at + _CLAIM_TARGET.get(a.urgency, timedelta(hours=4)))
        self.tasks[task.id] = task
        created: dict[str, Any] = {"item_id": None, "channel": a.channel, "external_id": a.external_id}
        self.emit(task, "created", now, data=created)
        self.emit(task, "classified", now, data={"type": a.type, "urgency": a.urgency, "confidence": 1.0})
        arm = {"pilot_arm": a.pilot_arm} if a.pilot_arm else {}
        self.emit(task, "routed", now, queue=a.queue, rule_ids=(a.rule_id,), data=arm)
        self.enqueue(task)
        self.watch(task, now)

    def enqueue(self, task: _Task) -> None:
        self.open.setdefault(task.queue, set()).add(task.id)
        heapq.heappush(self.waiting_order.setdefault(task.queue, []), (self.order(task), task.id))

    @staticmethod
    def order(task: _Task) -> tuple[int, float, float, int]:
        """WaitingTask.priority, read off the task (instants as timestamps: they compare far faster)."""
        return (URGENCY_RANK[task.urgency], task.due_at.timestamp(), task.arrival.at.timestamp(), task.id)

    def first_waiting(self, queue: str, n: int) -> list[int]:
        """The ids of the first `n` waiting tasks of a queue in push order (they stay waiting)."""
        heap, ids = self.waiting_order.get(queue, []), self.open.get(queue, set())
        taken: list[tuple[tuple[int, float, float, int], int]] = []
        seen: set[int] = set()
        while heap and len(taken) < n:
            key, task_id = heapq.heappop(heap)
            if task_id in ids and task_id not in seen and key == self.order(self.tasks[task_id]):
                taken.append((key, task_id))
                seen.add(task_id)
        for entry in taken:
            heapq.heappush(heap, entry)
        return [task_id for _, task_id in taken]

    def shift(self, person_id: str, now: datetime) -> None:
        person = self.people[person_id]
        person.on = self.on_shift(person.spec, now)
        if not person.on:
            # As the dispatcher does: tasks held but not claimed go back to their queue.
            for task_id in person.held:
                task = self.tasks[task_id]
                task.status, task.assignee = "open", None
                self.release(person, task)
                self.enqueue(task)
                self.emit(
                    task,
                    "returned",
                    now,
                    queue=task.queue,
                    rule_ids=("assign.return_unavailable",),
                    data={"from_assignee": person_id},
                )
            person.held.clear()
        nxt = self.next_change(person.spec, now)
        if nxt is not None:
            self.schedule(nxt, "shift", person_id)

    def release(self, person: _Person, task: _Task) -> None:
        person.queue_load[task.queue] = person.queue_load.get(task.queue, 0) - task.arrival.effort

    def finish(self, task_id: int, now: datetime) -> None:
        task = self.tasks[task_id]
        person = self.people[task.assignee or ""]
        person.working -= 1
        self.release(person, task)
        correct = task.arrival.correct_queue
        if correct is not None and correct != task.queue:
            old = task.queue
            task.queue, task.status, task.assignee = correct, "open", None
            self.enqueue(task)
            self.emit(
                task,
                "rerouted",
                now,
                person.spec.id,
                queue=correct,
                rule_ids=(task.arrival.rule_id,),
                reason="simulated: routed to the wrong queue",
                data={"from_queue": old, "reason_code": "wrong_type"},
            )
        else:
            task.status, task.resolved_at = "resolved", now
            self.emit(task, "resolved", now, person.spec.id, queue=task.queue, assignee=person.spec.id)
        if person.load == 0:
            person.idle_since = now
        self.watch(task, now)

    def escalate(self, task_id: int, now: datetime) -> None:
        task = self.tasks[task_id]
        assert self.hook is not None
        for due in self.hook.due(task.clock_facts(), now, self.fired):
            self.fired[(task.id, due.rule_id)] = Fired(due.firing, now)
            action = due.action
            data: dict[str, Any] = {
                "action": action.model_dump(mode="json"),
                "timer": due.timer,
                "deadline": due.deadline.isoformat(),
                "firing": due.firing,
                "late_seconds": round((now - due.deadline).total_seconds(), 3),
            }
            # Acted out as the dispatcher does: a reassign moves the task (back to waiting if only
            # pushed), a raised urgency reorders it; notifications and pages only leave the record.
            if isinstance(action, Reassign) and action.queue != task.queue and task.status in ("open", "assigned"):
                data["from_queue"] = task.queue
                if task.status == "assigned":
                    self.unassign(task)
                self.open.get(task.queue, set()).discard(task.id)
                task.queue = action.queue
                self.enqueue(task)
            elif isinstance(action, RaiseUrgency):
                raised = raised_urgency(task.urgency, action)
                if raised != task.urgency:
                    data["from_urgency"] = task.urgency
                    task.urgency = raised
                    if task.id in self.open.get(task.queue, ()):
                        self.enqueue(task)  # waits in a new place in the push order
            self.emit(
                task,
                "escalated",
                now,
                queue=task.queue,
                assignee=task.assignee,
                rule_ids=(due.rule_id,),
                reason=due.reason,
                data=data,
            )
        self.watch(task, now)

    def unassign(self, task: _Task) -> None:
        person = self.people[task.assignee or ""]
        person.held.remove(task.id)
        self.release(person, task)
        task.status, task.assignee = "open", None

    def watch(self, task: _Task, now: datetime) -> None:
        if self.hook is None or task.status == "resolved":
            return
        at = self.hook.next_at(task.clock_facts(), now, self.fired)
        if at is not None and at > now:
            self.schedule(at, "escalate", task.id)
        elif at is not None and self.hook.due(task.clock_facts(), now, self.fired):
            self.schedule(now, "escalate", task.id)

    # -- pushing and claiming -------------------------------------------------------------------------

    def push(self, now: datetime) -> None:
        free = [p for p in self.people.values() if p.on and p.load < p.spec.capacity]
        if not free or not any(self.open.values()):
            return
        slots: dict[str, int] = {}
        # Only people with room can be pushed anything (plan's own test): a view of each, built once.
        people = [p.view() for p in free]
        for p, view in zip(free, people, strict=True):
            for q in p.spec.queues:
                slots[q] = slots.get(q, 0) + max(0, view.room(q))
        waiting = []
        for q, n in sorted(slots.items()):
            if n > 0 and self.open.get(q):
                waiting += [self.tasks[i].waiting() for i in self.first_waiting(q, min(PUSH_SCAN, 2 * n + 10))]
        for wt, chosen in plan(waiting, people, self.req, now):
            task, person = self.tasks[wt.id], self.people[chosen.id]
            task.status, task.assignee = "assigned", person.spec.id
            self.open[task.queue].discard(task.id)
            person.held.append(task.id)
            person.queue_load[task.queue] = person.queue_load.get(task.queue, 0) + task.arrival.effort
            person.idle_since = now
            self.emit(
                task,
                "assigned",
                now,
                queue=task.queue,
                assignee=person.spec.id,
                rule_ids=("assign.least_loaded",),
                reason="pushed to the eligible person with the lowest load",
            )

    def start_work(self, now: datetime) -> None:
        for person in self.people.values():
            while person.on and person.held and person.working < self.parallel:
                best = min(person.held, key=lambda i: self.tasks[i].waiting().priority)
                person.held.remove(best)
                person.working += 1
                task = self.tasks[best]
                task.status = "claimed"
                if task.first_claimed_at is None:
                    task.first_claimed_at = now
                self.emit(task, "claimed", now, person.spec.id, queue=task.queue, assignee=person.spec.id)
                wrong = task.arrival.correct_queue not in (None, task.queue)
                took = self.reroute_after if wrong else self.handling_time(task)
                self.schedule(now + took, "finish", best)
                self.watch(task, now)

    def run(self, until: datetime) -> list[Event]:
        for i, a in enumerate(self.arrivals):
            self.schedule(a.at, "arrive", i)
        start = self.arrivals[0].at if self.arrivals else until
        for person_id, person in self.people.items():
            person.on = self.on_shift(person.spec, start)
            nxt = self.next_change(person.spec, start)
            if nxt is not None:
                self.schedule(nxt, "shift", person_id)
        while self.heap and self.heap[0][0] <= until:
            now = self.heap[0][0]
            while self.heap and self.heap[0][0] == now:
                _, _, kind, payload = heapq.heappop(self.heap)
                if kind == "arrive":
                    self.arrive(payload, now)
                elif kind == "shift":
                    self.shift(payload, now)
                elif kind == "finish":
                    self.finish(payload, now)
                else:
                    self.escalate(payload, now)
            self.push(now)
            self.start_work(now)
        return self.events


def simulate(
    arrivals: Iterable[Arrival],
    roster: Sequence[Rostered],
    handling: Mapping[str, HandlingTime],
    *,
    zone: ZoneInfo,
    seed: int = 0,
    until: datetime | None = None,
    requirements: Requirements | None = None,
    escalations: EscalationHook | None = None,
    work_in_parallel: int = 1,
    reroute_after: timedelta = timedelta(minutes=2),
    pack_version: str | None = None,
) -> list[Event]:
    """Run the arrivals through the roster; the event log, in time order, as the real store would hold it.

    `handling` maps a type (or "default") to its handling time. The run stops at
    `until` (default: 14 days after the last arrival); tasks still unclaimed then
    are what `metrics` reports as still waiting. The same inputs and seed give
    the same log.
    """
    items = list(arrivals)
    if work_in_parallel < 1:
        raise ValueError("work_in_parallel must be at least 1")
    end = until if until is not None else (max(a.at for a in items) + timedelta(days=14) if items else None)
    if end is None:
        return []
    run = _Run(
        items,
        roster,
        handling,
        zone=zone,
        seed=seed,
        requirements=requirements or Requirements({}, {}),
        escalations=escalations,
        work_in_parallel=work_in_parallel,
        reroute_after=reroute_after,
        pack_version=pack_version,
    )
    return run.run(require_aware(end, "until"))


def report(events: Sequence[Event], *, targets: MetricTargets | None = None) -> Metrics:
    """The four metrics of a simulated log, as of its last event."""
    if not events:
        return scoreboard([], now=datetime.fromtimestamp(0, UTC), targets=targets)
    return scoreboard(fold_log(events).values(), now=max(e.at for e in events), targets=targets)


# -- comparing two runs ----------------------------------------------------------------------------------


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "none"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _met(a: bool | None, b: bool | None) -> str:
    if a is None and b is None:
        return ""
    words = {True: "met", False: "missed", None: "no data"}
    if a == b:
        return f"; target {words[a]} in both"
    return f"; target {words[a]} in A, {words[b]} in B"


def _age_line(label: str, a: AgeStat | None, b: AgeStat | None) -> str:
    ma, mb = (a.median if a else None), (b.median if b else None)
    target = (a.target if a else None) or (b.target if b else None)
    tail = (
        f" (target under {_duration(target)}{_met(a.met if a else None, b.met if b else None)[1:]})" if target else ""
    )
    if ma == mb:
        return f"queue age ({label}): median {_duration(ma)} in both{tail}"
    change = ""
    if ma is not None and mb is not None:
        change = f", {_duration(abs(mb - ma))} {'longer' if mb > ma else 'shorter'} in B"
    return f"queue age ({label}): median {_duration(ma)} in A, {_duration(mb)} in B{change}{tail}"


def _rate_line(label: str, a: Rate, b: Rate) -> str:
    va, vb = a.value, b.value
    fa = "no tasks" if va is None else f"{100 * va:.1f}%"
    fb = "no tasks" if vb is None else f"{100 * vb:.1f}%"
    target = a.target if a.target is not None else b.target
    side = "under" if a.below else "over"
    tail = f" (target {side} {100 * target:.0f}%{_met(a.met, b.met)})" if target is not None else ""
    if fa == fb:
        return f"{label}: {fa} in both{tail}"
    change = ""
    if va is not None and vb is not None:
        change = f", {abs(vb - va) * 100:.1f} points {'higher' if vb > va else 'lower'} in B"
    return f"{label}: {fa} in A, {fb} in B{change}{tail}"


def compare(a: Metrics, b: Metrics) -> list[str]:
    """The four metrics of two runs (A and B) side by side, one plain sentence each."""
    lines = [f"tasks: {a.tasks} in A, {b.tasks} in B" if a.tasks != b.tasks else f"tasks: {a.tasks} in both"]
    keys = list(dict.fromkeys([*a.queue_age, *b.queue_age]))
    lines += [_age_line(k, a.queue_age.get(k), b.queue_age.get(k)) for k in keys]
    wa, wb = a.still_waiting.tasks, b.still_waiting.tasks
    lines.append(f"still waiting: {wa} in A, {wb} in B" if wa != wb else f"still waiting: {wa} in both")
    lines.append(_rate_line("reroute rate", a.reroute_rate, b.reroute_rate))
    lines.append(_rate_line("first-contact resolution", a.first_contact_resolution, b.first_contact_resolution))
    lines.append(_rate_line("escalation rate", a.escalation_rate, b.escalation_rate))
    return lines
