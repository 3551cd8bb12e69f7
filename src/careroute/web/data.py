"""What the pages read: small queries on the store and the scoreboard's one data seam.

The dispatcher and repository have no read made for a page (a person's tasks
in work order, breaches per queue, a task's first-item subject), so those
queries live here, on the store's engine and `careroute.store.tables`, each
bounded by an index and a LIMIT. `scoreboard_data` is the one place the
scoreboard gets its numbers: it folds the event log today and can read a
summary table tomorrow without a page changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select

from careroute import demand
from careroute.dispatcher import Dispatcher
from careroute.metrics import MetricTargets, Report, TaskFacts, aggregate, fold_log
from careroute.misfires import RuleMisfires, misfire_report
from careroute.model import Event, Task
from careroute.sla import Due
from careroute.store.repository import row_to_event, row_to_item, row_to_task
from careroute.store.tables import events, items, rule_packs, tasks

#: How far back the scoreboard and the misfire report look.
HISTORY_WEEKS = 12
#: Rows a person's list shows: capacity keeps it far below this; the bound protects the page.
MY_WORK_LIMIT = 100
RECENTLY_RESOLVED = 5
#: Waiting tasks the board lists per queue for reassignment.
BOARD_TASKS_PER_QUEUE = 15
PREVIEW_CHARS = 60


# -- my work ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRow:
    """A task as a row of someone's list: its subject preview (PHI, shown only there) and its next clock."""

    task: Task
    preview: str
    next_due: Due | None
    paused_by: str | None


def _previews(conn: Connection, task_ids: Sequence[int]) -> dict[int, str]:
    """The subject of each task's first item, cut short: enough to recognise the task, no more."""
    if not task_ids:
        return {}
    rows = conn.execute(
        select(items.c.task_id, items.c.subject).where(items.c.task_id.in_(task_ids)).order_by(items.c.id)
    )
    out: dict[int, str] = {}
    for task_id, subject in rows:
        if task_id not in out:
            text = " ".join((subject or "").split())
            out[task_id] = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    return out


def work_rows(dispatcher: Dispatcher, found: Sequence[Task], now: datetime) -> list[WorkRow]:
    with dispatcher.store.read() as conn:
        previews = _previews(conn, [t.id for t in found])
    out = []
    for t in found:
        times = dispatcher.due_times(t)
        out.append(WorkRow(t, previews.get(t.id, ""), times.next_due(now), times.paused_by))
    return out


def my_tasks(dispatcher: Dispatcher, staff_id: str) -> tuple[list[Task], list[Task]]:
    """Tasks this person holds (assigned or claimed) in work order, and the few they resolved last."""
    held = (
        select(tasks)
        .where(tasks.c.assignee == staff_id, tasks.c.status.in_(("assigned", "claimed")))
        .order_by(tasks.c.urgency_rank, tasks.c.due_at, tasks.c.id)
        .limit(MY_WORK_LIMIT)
    )
    done = (
        select(tasks)
        .where(tasks.c.assignee == staff_id, tasks.c.status == "resolved")
        .order_by(tasks.c.resolved_at.desc(), tasks.c.id.desc())
        .limit(RECENTLY_RESOLVED)
    )
    with dispatcher.store.read() as conn:
        return [row_to_task(r) for r in conn.execute(held)], [row_to_task(r) for r in conn.execute(done)]


def get_task(dispatcher: Dispatcher, task_id: int) -> Task | None:
    with dispatcher.store.read() as conn:
        return dispatcher.store.get_task(conn, task_id)


def latest_event_id(dispatcher: Dispatcher) -> int:
    """The id a live view starts after, so that nothing written after the page was read is missed."""
    with dispatcher.store.read() as conn:
        return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


# -- queues board -------------------------------------------------------------------------------------


def claim_breaches(dispatcher: Dispatcher, now: datetime) -> dict[str, int]:
    """Per queue: tasks still waiting to be claimed whose claim target has passed."""
    query = (
        select(tasks.c.queue, func.count())
        .where(tasks.c.status.in_(("open", "assigned")), tasks.c.due_at < now)
        .group_by(tasks.c.queue)
    )
    with dispatcher.store.read() as conn:
        return {q: int(n) for q, n in conn.execute(query)}


def waiting_tasks(dispatcher: Dispatcher, queue: str | None = None) -> list[Task]:
    """Unclaimed tasks in push order, a few per queue, read off the push-order index."""
    queues = [queue] if queue else list(dispatcher.pack.queue_ids)
    found: list[Task] = []
    with dispatcher.store.read() as conn:
        for q in queues:
            for status in ("open", "assigned"):
                query = (
                    select(tasks)
                    .where(tasks.c.queue == q, tasks.c.status == status)
                    .order_by(tasks.c.urgency_rank, tasks.c.due_at, tasks.c.created_at, tasks.c.id)
                    .limit(BOARD_TASKS_PER_QUEUE)
                )
                found.extend(row_to_task(r) for r in conn.execute(query))
    found.sort(key=lambda t: (t.urgency_rank, t.due_at, t.id))
    return found


# -- task page ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A highlighted stretch of an item's text and the evidence read there."""

    start: int
    end: int
    rule_ids: tuple[str, ...]
    negated: bool  # every phrase here was read as negated: it did not count
    notes: tuple[str, ...]  # historical, uncertain, about someone else


@dataclass(frozen=True)
class Segment:
    text: str
    mark: Mark | None


def evidence_marks(evidence: Sequence[dict[str, Any]], length: int) -> list[Mark]:
    """Overlapping evidence spans merged into disjoint marks ("a copy" and "copy of my" become one)."""
    spans = sorted(
        (
            (int(e["start"]), int(e["end"]), e)
            for e in evidence
            if isinstance(e.get("start"), int)
            and isinstance(e.get("end"), int)
            and 0 <= e["start"] < e["end"] <= length
        ),
        key=lambda s: (s[0], s[1]),
    )
    marks: list[Mark] = []
    group: list[dict[str, Any]] = []
    lo = hi = -1
    for start, end, e in [*spans, (length + 1, length + 1, {})]:
        if group and start >= hi:
            notes = [n for n in ("historical", "uncertain", "other_person") if any(g.get(n) for g in group)]
            marks.append(
                Mark(
                    lo,
                    hi,
                    tuple(dict.fromkeys(str(g.get("rule_id", "")) for g in group)),
                    all(g.get("negated") for g in group),
                    tuple(n.replace("_", " ") for n in notes),
                )
            )
            group = []
        if not e:
            break
        if not group:
            lo, hi = start, end
        hi = max(hi, end)
        group.append(e)
    return marks


def segments(text: str, marks: Sequence[Mark]) -> list[Segment]:
    out: list[Segment] = []
    at = 0
    for m in marks:
        if m.start > at:
            out.append(Segment(text[at : m.start], None))
        out.append(Segment(text[m.start : m.end], m))
        at = m.end
    if at < len(text):
        out.append(Segment(text[at:], None))
    return out


@dataclass(frozen=True)
class ItemView:
    """One item as received: PHI, rendered on the task page only."""

    id: int
    channel: str
    external_id: str
    received_at: datetime
    patient: dict[str, str]
    subject: str | None
    body: str
    metadata: dict[str, Any]
    type: str
    urgency: str
    confidence: float
    reasons: list[str]
    original: bool
    duplicate_of: str | None
    #: subject + "\n" + body (as the classifier read it), cut into plain and highlighted runs.
    text: list[Segment]


def item_views(task: Task, rows: Sequence[Row[Any]], timeline: Sequence[Event]) -> list[ItemView]:
    """The task's items, the original first, its text highlighted with the `classified` event's evidence.

    Only the original item's classification is recorded with offsets; a merged
    duplicate shows its reasons without highlights.
    """
    classified = next((e for e in timeline if e.kind == "classified"), None)
    evidence = list(classified.data.get("evidence", [])) if classified is not None else []
    out = []
    for r in rows:
        m = r._mapping
        item = row_to_item(r)
        original = (item.channel, item.external_id) == (task.channel, task.external_id)
        text = item.text
        marks = evidence_marks(evidence, len(text)) if original else []
        out.append(
            ItemView(
                id=m["id"],
                channel=item.channel,
                external_id=item.external_id,
                received_at=item.received_at,
                patient=dict(m["patient"] or {}),
                subject=item.subject,
                body=item.body,
                metadata=dict(item.metadata),
                type=m["type"],
                urgency=m["urgency"],
                confidence=float(m["confidence"]),
                reasons=list(m["reasons"] or []),
                original=original,
                duplicate_of=m["duplicate_of"],
                text=segments(text, marks),
            )
        )
    out.sort(key=lambda v: (not v.original, v.id))
    return out


# -- rules --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackVersion:
    version: str
    name: str
    source: str
    loaded_at: datetime


def pack_versions(dispatcher: Dispatcher) -> list[PackVersion]:
    query = select(rule_packs.c.version, rule_packs.c.name, rule_packs.c.source, rule_packs.c.loaded_at).order_by(
        rule_packs.c.loaded_at.desc()
    )
    with dispatcher.store.read() as conn:
        return [PackVersion(*r) for r in conn.execute(query)]


def events_since(dispatcher: Dispatcher, since: datetime) -> list[Event]:
    """Every event of the tasks created since `since`, in log order.

    The first `created` event at or after `since` is found on the (kind, at)
    index; events are appended in time order, so everything after its id is
    read by primary key. Tails of older tasks come along and `fold_log` drops them.
    """
    first = select(func.min(events.c.id)).where(events.c.kind == "created", events.c.at >= since).scalar_subquery()
    query = select(events).where(events.c.id >= first).order_by(events.c.id)
    with dispatcher.store.read() as conn:
        return [row_to_event(r) for r in conn.execute(query)]


def misfires(dispatcher: Dispatcher, now: datetime, weeks: int = HISTORY_WEEKS) -> list[RuleMisfires]:
    log = events_since(dispatcher, now - timedelta(weeks=weeks))
    facts = fold_log(log)
    tag_queues = {tag: spec.queue for tag, spec in dispatcher.pack.spec.tags.items()}
    reroutes = [e for e in log if e.kind == "rerouted"]
    return misfire_report(reroutes, facts.values(), zone=dispatcher.zone, now=now, tag_queues=tag_queues)


# -- scoreboard -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreboardData:
    """Everything the scoreboard page and its CSV show."""

    now: datetime
    since: datetime
    timezone: str
    targets: MetricTargets
    #: Weekly rows, overall ("all") and per urgency, oldest week first.
    weekly: Report
    #: One row per pilot arm (and "all") over the whole range.
    arms: Report
    #: Mean arrivals per hour, Monday first x hour 0-23, over the range.
    demand: demand.Grid
    tasks: int

    @property
    def weeks(self) -> list[date]:
        return sorted({r.period for r in self.weekly.rows if r.period is not None})


def pack_targets(dispatcher: Dispatcher) -> MetricTargets:
    # The pack's `metrics:` section is new; a pack loaded from an older schema has none.
    targets = getattr(dispatcher.pack.spec, "metrics", None)
    return targets if isinstance(targets, MetricTargets) else MetricTargets()


def _facts(dispatcher: Dispatcher, since: datetime) -> list[TaskFacts]:
    """Tasks created since `since`, from the per-task summary rows kept with each event (not the whole log)."""
    with dispatcher.store.read() as conn:
        return dispatcher.store.facts_created_between(conn, since, dispatcher.clock() + timedelta(seconds=1))


def scoreboard_data(dispatcher: Dispatcher, now: datetime, weeks: int = HISTORY_WEEKS) -> ScoreboardData:
    """The scoreboard's figures for the last `weeks` weeks: the one seam between the pages and the metrics."""
    since = now - timedelta(weeks=weeks)
    facts = _facts(dispatcher, since)
    targets = pack_targets(dispatcher)
    zone = dispatcher.zone
    weekly = aggregate(facts, zone=zone, now=now, period="week", by=("all", "urgency"), targets=targets)
    arms = aggregate(facts, zone=zone, now=now, period=None, by=("all", "pilot_arm"), targets=targets)
    # Up to and including `now`: a task created this instant is an arrival too.
    pattern = demand.arrivals(facts, zone=zone, by="urgency", start=since, end=now + timedelta(seconds=1))
    grid = tuple(tuple(sum(pattern.rate(v, d, h) for v in pattern.counts) for h in range(24)) for d in range(7))
    return ScoreboardData(now, since, zone.key, targets, weekly, arms, grid, len(facts))
