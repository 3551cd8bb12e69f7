"""What the pages read: small queries on the store and the scoreboard's one data seam.

The dispatcher and repository have no read made for a page (a person's tasks
in work order, breaches per queue, a task's first-item subject), so those
queries live here, on the store's engine and `careroute.store.tables`, each
bounded by an index and a LIMIT. `scoreboard_data` is the one place the
scoreboard gets its numbers: the database counts them from the per-task
summary rows (`careroute.scoreboard`). The misfire report reads those rows
through a window kept in memory (`FactsWindow`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select

from careroute import demand, scoreboard
from careroute.dispatcher import Dispatcher
from careroute.metrics import MetricTargets, Report, TaskFacts
from careroute.misfires import RuleMisfires, misfire_report
from careroute.model import Event, Task
from careroute.sla import Due
from careroute.store.repository import Store, facts_from_row, row_to_event, row_to_item, row_to_task
from careroute.store.tables import events, items, rule_packs, task_facts, tasks

#: How far back the scoreboard and the misfire report look.
HISTORY_WEEKS = 12
#: Rows a person's list shows: capacity keeps it far below this; the bound protects the page.
MY_WORK_LIMIT = 100
RECENTLY_RESOLVED = 5
#: How far back "resolved by you lately" looks.
RECENTLY_RESOLVED_WITHIN = timedelta(days=7)
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
    # The last resolutions are found in the log, on the (kind, at) index over the last few days: asking the
    # tasks table sorted everything this person ever resolved (tens of thousands of rows after a year or two).
    recent = (
        select(events.c.task_id)
        .where(
            events.c.kind == "resolved",
            events.c.at >= dispatcher.clock() - RECENTLY_RESOLVED_WITHIN,
            events.c.actor == staff_id,
        )
        .order_by(events.c.at.desc(), events.c.id.desc())
        .limit(RECENTLY_RESOLVED * 4)  # some were reopened or moved since: read a few spare
    )
    with dispatcher.store.read() as conn:
        mine = [row_to_task(r) for r in conn.execute(held)]
        ids = list(dict.fromkeys(int(r[0]) for r in conn.execute(recent)))
        found = dispatcher.store.tasks_by_id(conn, ids).values()
    done = [t for t in found if t.status == "resolved" and t.assignee == staff_id]
    done.sort(key=lambda t: (t.resolved_at or t.updated_at, t.id), reverse=True)
    return mine, done[:RECENTLY_RESOLVED]


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
    out: dict[str, int] = {}
    with dispatcher.store.read() as conn:
        # One status at a time: with `status IN (...)` SQLite walked the whole push-order index (every task
        # ever) to group by queue; an equality on status reads only the waiting tasks' entries.
        for status in ("open", "assigned"):
            query = (
                select(tasks.c.queue, func.count())
                .where(tasks.c.status == status, tasks.c.due_at < now)
                .group_by(tasks.c.queue)
            )
            for q, n in conn.execute(query):
                out[q] = out.get(q, 0) + int(n)
    return out


def waiting_tasks(dispatcher: Dispatcher, queue: str | None = None) -> list[Task]:
    """Unclaimed tasks in push order, a few per queue, read off the push-order index."""
    queues = [queue] if queue else list(dispatcher.pack.queue_ids)
    found: list[Task] = []
    order = (tasks.c.urgency_rank, tasks.c.due_at, tasks.c.created_at, tasks.c.id)
    with dispatcher.store.read() as conn:
        for q in queues:
            # One indexed read per status (the index leads with queue, status), then the first few of both:
            # each row carries two pickers, so a long backlog must not make the board megabytes long.
            head: list[Task] = []
            for status in ("open", "assigned"):
                query = select(tasks).where(tasks.c.queue == q, tasks.c.status == status).order_by(*order)
                head.extend(row_to_task(r) for r in conn.execute(query.limit(BOARD_TASKS_PER_QUEUE)))
            head.sort(key=lambda t: (t.urgency_rank, t.due_at, t.created_at, t.id))
            found.extend(head[:BOARD_TASKS_PER_QUEUE])
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


def reroutes_since(dispatcher: Dispatcher, since: datetime) -> list[Event]:
    """The `rerouted` events since `since`, read off the (kind, at) index: a few per hundred tasks."""
    query = select(events).where(events.c.kind == "rerouted", events.c.at >= since).order_by(events.c.id)
    with dispatcher.store.read() as conn:
        return [row_to_event(r) for r in conn.execute(query)]


def misfires(dispatcher: Dispatcher, now: datetime, weeks: int = HISTORY_WEEKS) -> list[RuleMisfires]:
    """Which routing rules staff correct, over the tasks created in the last `weeks` weeks.

    The tasks come from their summary rows (`recent_facts`), the reroutes from
    the index of event kinds: folding the whole log of those weeks took seconds
    at 100,000 tasks. A reroute is never earlier than its task's creation, so
    reroutes since the same moment cover every task looked at.
    """
    since = now - timedelta(weeks=weeks)
    facts = recent_facts(dispatcher, since)
    tag_queues = {tag: spec.queue for tag, spec in dispatcher.pack.spec.tags.items()}
    reroutes = reroutes_since(dispatcher, since)
    return misfire_report(reroutes, facts, zone=dispatcher.zone, now=now, tag_queues=tag_queues)


# -- the recent tasks' summary rows, kept up to date in memory ------------------------------------------

#: Event ids looked at again on every refresh. On PostgreSQL ids are handed out before commit, so a
#: transaction can commit an event below the highest id already read; re-reading the tail catches it.
FACTS_OVERLAP = 1_000
#: Summary rows re-read per query (an IN list): well under every database's parameter limit.
FACTS_CHUNK = 500


class FactsWindow:
    """The summary rows of the tasks created since some moment, in memory, brought up to date per read.

    The misfire report needs every task of the last twelve weeks: some
    10,000 rows at 100,000 tasks, whose decoding alone is over the pages'
    200 ms. So the first read loads them (on the created_at
    index) and each later read only looks at the events appended since (a
    primary-key range) and re-reads the summary rows of their tasks (primary
    keys). A summary row is written only in the transaction that appends one of
    its task's events, so the window is exact, whoever wrote (this process, a
    command-line run or another instance).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[int, TaskFacts] = {}
        self._start: datetime | None = None  # every task created since this is held
        self._high = 0  # the highest event id seen when last read

    def between(self, store: Store, start: datetime, end: datetime) -> list[TaskFacts]:
        """Summary rows of the tasks created in [start, end), in task order."""
        with self._lock, store.read() as conn:
            top = int(conn.execute(select(func.max(events.c.id))).scalar() or 0)
            if self._start is None or start < self._start or top < self._high:
                # First use, an earlier start than is held, or a log that went back (a restored database).
                query = select(task_facts).where(task_facts.c.created_at >= start)
                self._facts = {f.task_id: f for f in map(facts_from_row, conn.execute(query))}
                self._start = start
            else:
                changed = select(events.c.task_id).where(events.c.id > self._high - FACTS_OVERLAP).distinct()
                ids = [int(r[0]) for r in conn.execute(changed)]
                for at in range(0, len(ids), FACTS_CHUNK):
                    query = select(task_facts).where(
                        task_facts.c.task_id.in_(ids[at : at + FACTS_CHUNK]), task_facts.c.created_at >= self._start
                    )
                    self._facts.update((f.task_id, f) for f in map(facts_from_row, conn.execute(query)))
                if start > self._start:  # the window moved on: drop what fell out of it
                    self._facts = {k: f for k, f in self._facts.items() if f.created_at >= start}
                    self._start = start
            self._high = top
            found = [f for f in self._facts.values() if start <= f.created_at < end]
        found.sort(key=lambda f: f.task_id)
        return found


_windows: weakref.WeakKeyDictionary[Dispatcher, FactsWindow] = weakref.WeakKeyDictionary()
_windows_lock = threading.Lock()


def recent_facts(dispatcher: Dispatcher, since: datetime) -> list[TaskFacts]:
    """Summary rows of the tasks created from `since` up to the dispatcher's present, from its window."""
    with _windows_lock:
        window = _windows.setdefault(dispatcher, FactsWindow())
    # Up to and including this instant: a task created now is in.
    return window.between(dispatcher.store, since, dispatcher.clock() + timedelta(seconds=1))


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


def scoreboard_data(dispatcher: Dispatcher, now: datetime, weeks: int = HISTORY_WEEKS) -> ScoreboardData:
    """The scoreboard's figures for the last `weeks` weeks: the one seam between the pages and the metrics.

    Counted by the database (`careroute.scoreboard`, equal to the pure fold of
    the same summary rows), so a million tasks cost a GROUP BY, not a read of
    every row of the range into Python.
    """
    since = now - timedelta(weeks=weeks)
    # Up to and including `now`: a task created this instant is in, and an arrival too.
    end = now + timedelta(seconds=1)
    targets = pack_targets(dispatcher)
    weekly, arms = scoreboard.weekly_and_arms(dispatcher, since, end, now=now, targets=targets)
    grid, count = scoreboard.arrival_rates(dispatcher, since, end)
    return ScoreboardData(now, since, dispatcher.zone.key, targets, weekly, arms, grid, count)
