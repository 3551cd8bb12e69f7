"""The one port the dispatcher writes and reads through.

Every method takes an open connection so that the dispatcher decides the
transaction: an item, its task and its events are written together or not at all.
"""

from __future__ import annotations

import base64
import functools
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    Row,
    Text,
    bindparam,
    case,
    cast,
    event,
    extract,
    func,
    insert,
    literal,
    select,
    text,
    union,
    update,
)

from careroute import audit
from careroute.metrics import Cell, TaskFacts
from careroute.model import Event, InboundItem, Patient, QueueSummary, Staff, Task
from careroute.store.engine import make_engine
from careroute.store.feed import CHANNEL as FEED_CHANNEL
from careroute.store.feed import EventFeed
from careroute.store.migrate import upgrade
from careroute.store.tables import (
    UTCDateTime,
    access_log,
    events,
    items,
    notifications,
    patient_keys,
    rule_packs,
    staff,
    task_facts,
    tasks,
)

TASK_COLUMNS = [c for c in tasks.c]
UNRESOLVED = ("open", "assigned", "claimed")


# Statements on the intake path are built once: building a statement costs more than running it on SQLite.
_FIND_ITEM = select(items).where(
    items.c.channel == bindparam("channel"), items.c.external_id == bindparam("external_id")
)
_INSERT_TASK = insert(tasks).returning(tasks.c.id)
_INSERT_ITEM = insert(items).returning(items.c.id)
_INSERT_EVENT = insert(events)
HELD = text("tasks.status IN ('assigned', 'claimed')")
_SET_TIMER = update(tasks).where(tasks.c.id == bindparam("tid")).values(next_escalation_at=bindparam("at"))
_LAST_HASH = select(events.c.hash).order_by(events.c.id.desc()).limit(1)
# Advisory locks of class 7346203, one per number, taken in the array's order.
KEY_LOCKS = 512
_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(7346203, n)) FROM unnest(CAST(:numbers AS integer[])) AS k(n)"
)
# The same read with the transaction's NOTIFY for the live views of every instance (delivered at commit).
_LAST_HASH_AND_NOTIFY = select(_LAST_HASH.scalar_subquery(), func.pg_notify(FEED_CHANNEL, ""))
_INSERT_KEY = insert(patient_keys)
_INSERT_FACTS = insert(task_facts)
_INSERT_NOTIFICATION = insert(notifications)
# Staff commands and the scheduler read a task, its clock events and its first item's metadata each time.
_GET_TASK = select(tasks).where(tasks.c.id == bindparam("task_id"))
_GET_TASK_FOR_UPDATE = _GET_TASK.with_for_update()
_EVENTS_OF_KINDS = (
    select(events)
    .where(events.c.task_id == bindparam("task_id"), events.c.kind.in_(bindparam("kinds", expanding=True)))
    .order_by(events.c.id)
)
_ROOT_METADATA = (
    select(items.c.item_metadata).where(items.c.task_id == bindparam("task_id")).order_by(items.c.id).limit(1)
)
_MARK_BUSY = update(staff).where(staff.c.id == bindparam("b_id")).values(idle_since=bindparam("b_at"))


@functools.lru_cache(maxsize=128)
def _update_by_key(table: Any, key: str, columns: tuple[str, ...]) -> Any:
    """UPDATE table SET columns WHERE key = :b_key, built once per set of columns: on SQLite,
    building and caching a statement costs more than running it (escalation and merges update many rows)."""
    return update(table).where(table.c[key] == bindparam("b_key")).values({c: bindparam(f"b_{c}") for c in columns})


def _by_key(key: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    return {"b_key": key, **{f"b_{c}": v for c, v in values.items()}}


KEY_SLOTS = 6
#: The newest items per identity key that duplicate detection compares with. A patient's own keys (record
#: number, name with birth date) rarely hold more than a few items in 72 hours; a shared telephone (a care
#: home's desk, a pharmacy's callback line) can hold hundreds, and without a cap per key it would both slow
#: every intake that mentions it and push the patient's own earlier items out of the overall limit.
PER_KEY = 30


def _newest_per_key(slot: int) -> Any:
    newest = (
        select(patient_keys.c.item_id)
        .where(patient_keys.c.key == bindparam(f"k{slot}"), patient_keys.c.received_at >= bindparam("since"))
        .order_by(patient_keys.c.received_at.desc())  # served by the (key, received_at) index, no sort
        .limit(PER_KEY)
        .subquery()
    )
    return select(newest.c.item_id)  # wrapped: SQLite allows no LIMIT on a bare member of a UNION


_ITEMS_WITH_KEYS = (
    select(items, tasks.c.status.label("task_status"))
    .join(tasks, tasks.c.id == items.c.task_id)
    .where(items.c.id.in_(union(*(_newest_per_key(i) for i in range(KEY_SLOTS)))))
    # A safety bound over all keys together (KEY_SLOTS x PER_KEY at most is 180 already).
    .order_by(items.c.id.desc())
    .limit(200)
)


_ASSIGNMENT_LOCKED = "careroute_assignment_locked"


def _fresh_transaction(conn: Connection) -> None:
    conn.info.pop(_ASSIGNMENT_LOCKED, None)
    EventFeed.take_mark(conn)


class CursorError(ValueError):
    """A pagination cursor that this server did not hand out."""


@dataclass(frozen=True)
class TaskFilter:
    queue: str | None = None
    status: str | None = None
    type: str | None = None
    urgency: str | None = None
    assignee: str | None = None
    #: Only these queues (a principal's visible queues); None: every queue.
    queues: frozenset[str] | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"t:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        number = int(value)
        if prefix != "t" or not 0 <= number < 2**31:
            raise ValueError
        return number
    except (ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not one this server handed out") from None


def row_to_task(row: Row[Any] | Mapping[str, Any]) -> Task:
    m = row._mapping if isinstance(row, Row) else row
    values = {c.name: m[c.name] for c in TASK_COLUMNS}
    values["skills"] = tuple(values["skills"] or ())
    return Task(**values)


def facts_to_row(f: TaskFacts) -> dict[str, Any]:
    row = f.to_row()
    gap = row.pop("follow_up_after")
    row["follow_up_after_seconds"] = gap.total_seconds() if gap is not None else None
    # Whole microseconds, so that the scoreboard's SQL reads the exact age the pure fold computes.
    taken = f.taken_up_at
    row["queue_age_us"] = (taken - f.created_at) // _MICROSECOND if taken is not None else None
    return row


_MICROSECOND = timedelta(microseconds=1)


_FACT_COLUMNS = tuple(c.name for c in task_facts.c)


def facts_from_row(row: Row[Any] | tuple[Any, ...]) -> TaskFacts:
    # By position, not by name: this runs once per task in a report, up to a million times.
    m = dict(zip(_FACT_COLUMNS, row, strict=True))
    del m["queue_age_us"]  # derived from the claim and resolution times
    gap = m.pop("follow_up_after_seconds")
    m["follow_up_after"] = timedelta(seconds=gap) if gap is not None else None
    return TaskFacts(**m)


def row_to_item(row: Row[Any]) -> InboundItem:
    """A stored item as it was received (its original UTC offset restored)."""
    m = row._mapping
    offset = timezone(timedelta(minutes=m["received_offset_min"]))
    p = m["patient"] or {}
    return InboundItem(
        channel=m["channel"],
        external_id=m["external_id"],
        received_at=m["received_at"].astimezone(offset),
        body=m["body"],
        patient=Patient(mrn=p.get("mrn"), name=p.get("name"), dob=p.get("dob"), phone=p.get("phone")),
        subject=m["subject"],
        metadata=m["item_metadata"] or {},
    )


def row_to_event(row: Row[Any]) -> Event:
    m = row._mapping
    return Event(
        id=m["id"],
        task_id=m["task_id"],
        kind=m["kind"],
        at=m["at"],
        actor=m["actor"],
        queue=m["queue"],
        assignee=m["assignee"],
        rule_ids=tuple(m["rule_ids"] or ()),
        reason=m["reason"],
        data=m["data"] or {},
        pack_version=m["pack_version"],
    )


class Store:
    """Engine, transactions and queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite lets one writer in at a time; threads of this process that wait on its busy handler
        # sleep in growing steps (up to 100 ms), so they queue on a lock here instead and go in turn.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._staff_cache: dict[str, tuple[datetime, Staff]] = {}
        #: Wakes the live views when a write appends events (on PostgreSQL, those of every instance too).
        self.feed = EventFeed(engine)
        # What a transaction noted on its connection (lock held, events appended) ends with it; the notes
        # live on the pooled connection, so every transaction, however begun, starts without them.
        event.listen(engine, "begin", _fresh_transaction)

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue rather than fail)."""
        appended = False
        with self._write_lock or nullcontext(), self.engine.begin() as conn:
            try:
                yield conn
            finally:
                appended = self.feed.take_mark(conn)
        if appended:  # committed: the events can be read now
            self.feed.wake()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(careroute_readonly=True)
            with conn.begin():
                yield conn

    # -- items and tasks -------------------------------------------------

    def find_item(self, conn: Connection, channel: str, external_id: str) -> Row[Any] | None:
        return conn.execute(_FIND_ITEM, {"channel": channel, "external_id": external_id}).first()

    def items_by_id(self, conn: Connection, ids: Sequence[int]) -> list[Row[Any]]:
        if not ids:
            return []
        return list(conn.execute(select(items).where(items.c.id.in_(ids))))

    def insert_task(self, conn: Connection, values: Mapping[str, Any]) -> int:
        return int(conn.execute(_INSERT_TASK, dict(values)).scalar_one())

    def insert_item(self, conn: Connection, values: Mapping[str, Any]) -> int:
        return int(conn.execute(_INSERT_ITEM, dict(values)).scalar_one())

    def append_events(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append events to the log, each chained to the one before (the caller holds the write lock)."""
        if not rows:
            return
        self.lock_assignment(conn)  # the chain needs one writer at a time (re-entrant within a transaction)
        first = self.feed.mark(conn)
        last = conn.execute(_LAST_HASH_AND_NOTIFY if first and self.dialect == "postgresql" else _LAST_HASH).scalar()
        chained = [dict(r) for r in rows]
        audit.chain(last or audit.GENESIS, chained)
        conn.execute(_INSERT_EVENT, chained)

    def events_in_order(self, conn: Connection, batch: int = 10_000) -> Iterator[dict[str, Any]]:
        """The whole log in id order, as plain rows (for `careroute audit verify`)."""
        after = 0
        while True:
            rows = list(conn.execute(select(events).where(events.c.id > after).order_by(events.c.id).limit(batch)))
            if not rows:
                return
            for r in rows:
                yield dict(r._mapping)
            after = rows[-1].id

    def add_patient_keys(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            conn.execute(_INSERT_KEY, list(rows))

    def items_with_keys(self, conn: Connection, keys: Iterable[str], since: datetime) -> list[Row[Any]]:
        """Items whose patient shares any of these identity keys, received since `since`, with their task's status."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        rows: dict[int, Row[Any]] = {}
        for start in range(0, len(keys), KEY_SLOTS):
            # A fixed number of parameters (padded with a repeat) keeps one compiled statement for every call.
            chunk = keys[start : start + KEY_SLOTS]
            chunk += [chunk[0]] * (KEY_SLOTS - len(chunk))
            params: dict[str, Any] = {f"k{i}": k for i, k in enumerate(chunk)}
            params["since"] = since
            for row in conn.execute(_ITEMS_WITH_KEYS, params):
                rows[row.id] = row
        return [rows[i] for i in sorted(rows)]

    def get_task(self, conn: Connection, task_id: int, *, for_update: bool = False) -> Task | None:
        query = _GET_TASK_FOR_UPDATE if for_update and self.dialect == "postgresql" else _GET_TASK
        row = conn.execute(query, {"task_id": task_id}).first()
        return row_to_task(row) if row else None

    def tasks_by_id(self, conn: Connection, ids: Sequence[int]) -> dict[int, Task]:
        if not ids:
            return {}
        return {r.id: row_to_task(r) for r in conn.execute(select(tasks).where(tasks.c.id.in_(ids)))}

    def update_task(self, conn: Connection, task_id: int, values: Mapping[str, Any]) -> None:
        conn.execute(_update_by_key(tasks, "id", tuple(values)), _by_key(task_id, values))

    def update_tasks(self, conn: Connection, changes: Mapping[int, Mapping[str, Any]]) -> None:
        """Several tasks' changes (one per task): one statement per set of columns changed."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for task_id, values in changes.items():
            groups.setdefault(tuple(values), []).append(_by_key(task_id, values))
        for columns, rows in groups.items():
            conn.execute(_update_by_key(tasks, "id", columns), rows)

    def move_item(self, conn: Connection, item_id: int, task_id: int) -> None:
        """Make a merged item the original of another task (unmerge)."""
        conn.execute(
            update(items)
            .where(items.c.id == item_id)
            .values(task_id=task_id, duplicate_of=None, root_received_at=items.c.received_at)
        )

    def task_items(self, conn: Connection, task_id: int) -> list[Row[Any]]:
        return list(conn.execute(select(items).where(items.c.task_id == task_id).order_by(items.c.id)))

    def task_events(self, conn: Connection, task_id: int) -> list[Event]:
        rows = conn.execute(select(events).where(events.c.task_id == task_id).order_by(events.c.id))
        return [row_to_event(r) for r in rows]

    def list_tasks(
        self, conn: Connection, flt: TaskFilter, *, after_id: int | None, limit: int
    ) -> tuple[list[Task], int | None]:
        """A page of tasks in id order and the id to continue after (None on the last page)."""
        query = select(tasks).order_by(tasks.c.id).limit(limit + 1)
        for name in ("queue", "status", "type", "urgency", "assignee"):
            value = getattr(flt, name)
            if value is not None:
                query = query.where(tasks.c[name] == value)
        if flt.queues is not None:
            query = query.where(tasks.c.queue.in_(sorted(flt.queues)))
        if after_id is not None:
            query = query.where(tasks.c.id > after_id)
        rows = list(conn.execute(query))
        page = [row_to_task(r) for r in rows[:limit]]
        more = len(rows) > limit
        return page, (page[-1].id if more and page else None)

    def queue_summaries(self, conn: Connection, queues: Sequence[Any]) -> list[QueueSummary]:
        """Depth, waiting count, oldest wait and urgency mix per queue, in one grouped query."""
        waiting = tasks.c.status.in_(("open", "assigned"))
        query = (
            select(
                tasks.c.queue,
                func.count().label("depth"),
                func.sum(case((waiting, 1), else_=0)).label("waiting"),
                func.min(case((waiting, tasks.c.created_at), else_=None), type_=UTCDateTime()).label("oldest"),
                func.sum(case((tasks.c.urgency == "emergent", 1), else_=0)).label("emergent"),
                func.sum(case((tasks.c.urgency == "urgent", 1), else_=0)).label("urgent"),
            )
            .where(tasks.c.status.in_(UNRESOLVED))
            .group_by(tasks.c.queue)
        )
        stats = {r.queue: r for r in conn.execute(query)}
        out = []
        for q in queues:
            r = stats.get(q.id)
            oldest = r.oldest if r is not None else None
            depth = int(r.depth) if r else 0
            emergent = int(r.emergent or 0) if r else 0
            urgent = int(r.urgent or 0) if r else 0
            out.append(
                QueueSummary(
                    id=q.id,
                    name=q.name,
                    clinical=q.clinical,
                    depth=depth,
                    waiting=int(r.waiting or 0) if r else 0,
                    oldest_waiting_since=oldest,
                    by_urgency={"emergent": emergent, "urgent": urgent, "routine": depth - emergent - urgent},
                )
            )
        return out

    # -- rule packs and staff ----------------------------------------------

    def record_pack(self, conn: Connection, version: str, name: str, source: str, text: str, at: datetime) -> bool:
        """Remember a pack version the first time it is used; True when it was new."""
        if conn.execute(select(rule_packs.c.version).where(rule_packs.c.version == version)).first():
            return False
        conn.execute(insert(rule_packs).values(version=version, name=name, source=source, text=text, loaded_at=at))
        return True

    def sync_staff(self, conn: Connection, people: Sequence[Staff], at: datetime) -> None:
        """Make the staff table hold the pack's people; presence set live is kept."""
        self._staff_cache.clear()
        existing = {r.id: r for r in conn.execute(select(staff))}
        for p in people:
            values = {
                "name": p.name,
                "credential": p.credential,
                "queues": list(p.queues),
                "skills": list(p.skills),
                "capacity": p.capacity,
                "queue_capacity": dict(p.queue_capacity),
                "active": True,
                "updated_at": at,
            }
            if p.id in existing:
                conn.execute(update(staff).where(staff.c.id == p.id).values(**values))
            else:
                conn.execute(insert(staff).values(id=p.id, presence="available", **values))
        gone = set(existing) - {p.id for p in people}
        if gone:
            conn.execute(update(staff).where(staff.c.id.in_(gone)).values(active=False, updated_at=at))

    def list_staff(self, conn: Connection, *, active_only: bool = True) -> list[Staff]:
        return [s for s, _ in self.staff_with_idle(conn, active_only=active_only)]

    def staff_with_idle(
        self, conn: Connection, *, active_only: bool = True, staff_id: str | None = None
    ) -> list[tuple[Staff, datetime | None]]:
        """Staff with when each last got a task. Queues, skills and capacity (JSON) are decoded once per
        change of the row (updated_at), not on every push: only presence and idle time are read each time."""
        query = select(staff.c.id, staff.c.presence, staff.c.idle_since, staff.c.updated_at).order_by(staff.c.id)
        if active_only:
            query = query.where(staff.c.active.is_(True))
        if staff_id is not None:
            query = query.where(staff.c.id == staff_id)
        rows = list(conn.execute(query))
        stale = [r.id for r in rows if self._staff_cache.get(r.id, (None,))[0] != r.updated_at]
        if stale:
            for r in conn.execute(select(staff).where(staff.c.id.in_(stale))):
                person = Staff(
                    id=r.id,
                    name=r.name,
                    credential=r.credential,
                    queues=tuple(r.queues),
                    skills=tuple(r.skills),
                    capacity=r.capacity,
                    queue_capacity=dict(r.queue_capacity or {}),
                    presence=r.presence,
                )
                self._staff_cache[r.id] = (r.updated_at, person)
        out = []
        for r in rows:
            cached = self._staff_cache[r.id][1]
            if cached.presence != r.presence:
                cached = replace(cached, presence=r.presence)
            out.append((cached, r.idle_since))
        return out

    def set_presence(self, conn: Connection, staff_id: str, presence: str, at: datetime) -> bool:
        result = conn.execute(
            update(staff)
            .where(staff.c.id == staff_id, staff.c.active.is_(True))
            .values(presence=presence, updated_at=at)
        )
        return result.rowcount == 1

    def mark_busy_since(self, conn: Connection, staff_id: str, at: datetime) -> None:
        conn.execute(_MARK_BUSY, {"b_id": staff_id, "b_at": at})

    def staff_load(self, conn: Connection, staff_id: str | None = None) -> dict[str, dict[str, int]]:
        """Effort units held (assigned or claimed) by each person (or one), per queue."""
        # The status condition is written out literally so that both databases match it to the
        # partial index ix_tasks_held (a bound parameter could not prove the index applies).
        # Summed in the database, off that index: one row per person and queue, not one per held task
        # (every push reads this, and a busy practice holds thousands of tasks).
        query = (
            select(tasks.c.assignee, tasks.c.queue, func.sum(tasks.c.effort))
            .where(HELD)
            .group_by(tasks.c.assignee, tasks.c.queue)
            .order_by(tasks.c.assignee, tasks.c.queue)
        )
        if staff_id is not None:
            query = query.where(tasks.c.assignee == staff_id)
        out: dict[str, dict[str, int]] = {}
        for who, queue, effort in conn.execute(query):
            if who is None:
                continue
            out.setdefault(who, {})[queue] = int(effort or 0)
        return out

    def waiting_in_queue(self, conn: Connection, queue: str, limit: int) -> list[Task]:
        """The first `limit` unassigned tasks of a queue in push order, read off the push-order index."""
        query = (
            select(tasks)
            .where(tasks.c.queue == queue, tasks.c.status == "open")
            .order_by(tasks.c.urgency_rank, tasks.c.due_at, tasks.c.created_at, tasks.c.id)
            .limit(limit)
        )
        return [row_to_task(r) for r in conn.execute(query)]

    def held_unclaimed(self, conn: Connection, staff_ids: Sequence[str]) -> list[Task]:
        if not staff_ids:
            return []
        query = select(tasks).where(tasks.c.assignee.in_(staff_ids), tasks.c.status == "assigned").order_by(tasks.c.id)
        return [row_to_task(r) for r in conn.execute(query)]

    def set_task_if(self, conn: Connection, task_id: int, expect_status: str, values: Mapping[str, Any]) -> bool:
        """Conditional update: True only when the task was still in `expect_status` (exactly one row changed)."""
        result = conn.execute(
            update(tasks).where(tasks.c.id == task_id, tasks.c.status == expect_status).values(**values)
        )
        return result.rowcount == 1

    # -- timers and notifications --------------------------------------------

    def tasks_due_for_escalation(self, conn: Connection, now: datetime, limit: int) -> list[Task]:
        """Tasks whose escalation timer has come, earliest first, read off the timer index."""
        query = (
            select(tasks)
            .where(tasks.c.next_escalation_at <= now)
            .order_by(tasks.c.next_escalation_at, tasks.c.id)
            .limit(limit)
        )
        return [row_to_task(r) for r in conn.execute(query)]

    def set_timers(self, conn: Connection, timers: Sequence[tuple[int, datetime | None]]) -> None:
        """Persist several tasks' next escalation times in one statement."""
        if timers:
            conn.execute(_SET_TIMER, [{"tid": task_id, "at": at} for task_id, at in timers])

    def events_of_kinds(self, conn: Connection, task_id: int, kinds: Sequence[str]) -> list[Event]:
        return [row_to_event(r) for r in conn.execute(_EVENTS_OF_KINDS, {"task_id": task_id, "kinds": list(kinds)})]

    def events_of_tasks(
        self, conn: Connection, task_ids: Sequence[int], kinds: Sequence[str]
    ) -> dict[int, list[Event]]:
        out: dict[int, list[Event]] = {}
        if task_ids:
            query = (
                select(events)
                .where(events.c.task_id.in_(task_ids), events.c.kind.in_(kinds))
                .order_by(events.c.task_id, events.c.id)
            )
            for r in conn.execute(query):
                out.setdefault(r.task_id, []).append(row_to_event(r))
        return out

    def root_metadata_of(self, conn: Connection, task_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The metadata of each task's first item (where item deadlines live)."""
        out: dict[int, dict[str, Any]] = {}
        if task_ids:
            first = (
                select(func.min(items.c.id)).where(items.c.task_id.in_(task_ids)).group_by(items.c.task_id)
            ).scalar_subquery()
            query = select(items.c.task_id, items.c.item_metadata).where(items.c.id.in_(first))
            for r in conn.execute(query):
                out[r.task_id] = dict(r.item_metadata or {})
        return out

    def root_item_metadata(self, conn: Connection, task_id: int) -> dict[str, Any]:
        row = conn.execute(_ROOT_METADATA, {"task_id": task_id}).first()
        return dict(row.item_metadata or {}) if row else {}

    def add_notifications(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            conn.execute(_INSERT_NOTIFICATION, list(rows))

    def notifications_due(self, conn: Connection, now: datetime, limit: int) -> list[Row[Any]]:
        query = (
            select(notifications)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at, notifications.c.id)
            .limit(limit)
        )
        return list(conn.execute(query))

    def lease_notification(self, conn: Connection, row: Row[Any], until: datetime) -> bool:
        """Claim one delivery attempt: only the instance whose conditional update changed the row sends it."""
        result = conn.execute(
            update(notifications)
            .where(
                notifications.c.id == row.id,
                notifications.c.status == "pending",
                notifications.c.attempts == row.attempts,
            )
            .values(attempts=row.attempts + 1, next_attempt_at=until)
        )
        return result.rowcount == 1

    def finish_notification(self, conn: Connection, notification_id: int, values: Mapping[str, Any]) -> None:
        conn.execute(update(notifications).where(notifications.c.id == notification_id).values(**values))

    def list_notifications(self, conn: Connection, task_id: int | None = None) -> list[Row[Any]]:
        query = select(notifications).order_by(notifications.c.id)
        if task_id is not None:
            query = query.where(notifications.c.task_id == task_id)
        return list(conn.execute(query))

    # -- the metrics summary -----------------------------------------------

    def facts_of(self, conn: Connection, task_ids: Sequence[int]) -> dict[int, TaskFacts]:
        if not task_ids:
            return {}
        rows = conn.execute(select(task_facts).where(task_facts.c.task_id.in_(task_ids)))
        return {r.task_id: facts_from_row(r) for r in rows}

    def save_facts(self, conn: Connection, new: Sequence[TaskFacts], changed: Sequence[TaskFacts]) -> None:
        if new:
            conn.execute(_INSERT_FACTS, [facts_to_row(f) for f in new])
        if changed:
            rows = [facts_to_row(f) for f in changed]
            for row in rows:
                row.pop("task_id")
            # One statement for every changed row: every row of facts_to_row has the same columns.
            conn.execute(
                _update_by_key(task_facts, "task_id", tuple(rows[0])),
                [_by_key(f.task_id, row) for f, row in zip(changed, rows, strict=True)],
            )

    def facts_created_between(self, conn: Connection, start: datetime, end: datetime) -> list[TaskFacts]:
        """The summary rows of tasks created in [start, end), read off the created_at index."""
        query = select(task_facts).where(task_facts.c.created_at >= start, task_facts.c.created_at < end)
        return [facts_from_row(r) for r in conn.execute(query)]

    def scoreboard_cells(
        self,
        conn: Connection,
        spans: Sequence[tuple[date | None, datetime]],
        end: datetime,
        fields: Sequence[str],
        reopen_window: timedelta,
    ) -> list[Cell]:
        """The scoreboard's cells (metrics.Cell) of the tasks created from the first span's start up to `end`.

        One GROUP BY over the summary rows, by period and `fields`: the database
        counts; only the queue ages (whole microseconds) and the creation times of
        the tasks still waiting come back per task, packed into one value per cell,
        because nearest-rank percentiles of a row need every age of its cells.
        """
        c = task_facts.c
        start = spans[0][1]
        # A task's period: the last span that begins at or before its creation, found by halving.
        def period_of(lo: int, hi: int) -> Any:
            if hi - lo == 1:
                return literal(lo, Integer)
            mid = (lo + hi) // 2
            before = c.created_at < literal(spans[mid][1], UTCDateTime)
            return case((before, period_of(lo, mid)), else_=period_of(mid, hi))

        # A follow-up this soon after a resolution is a reopen; the gap is stored as float seconds.
        reopened_later = c.follow_up_after_seconds.is_not(None) & (
            c.follow_up_after_seconds <= reopen_window.total_seconds()
        )
        one = literal(1, Integer)
        inner = select(
            period_of(0, len(spans)).label("period"),
            *(c[name] for name in fields),
            c.queue_age_us,
            c.created_at,
            case((c.reroutes != 0, one), else_=0).label("rerouted"),
            case((c.careroute_reroutes != 0, one), else_=0).label("careroute_rerouted"),
            case((c.first_resolved_at.is_not(None), one), else_=0).label("resolved"),
            case(
                (
                    c.first_resolved_at.is_not(None) & (c.reopens == 0) & ~reopened_later,
                    one,
                ),
                else_=0,
            ).label("fcr"),
            case((c.escalations != 0, one), else_=0).label("escalated"),
        ).where(c.created_at >= start, c.created_at < end).subquery()
        i = inner.c
        keys = [i.period, *(i[name] for name in fields)]
        if self.dialect == "postgresql":
            # Arrays the driver decodes itself: no per-element result processing in Python.
            ages: Any = func.array_agg(i.queue_age_us, type_=ARRAY(BigInteger)).filter(i.queue_age_us.is_not(None))
            since: Any = func.array_agg(i.created_at, type_=ARRAY(DateTime(timezone=True))).filter(
                i.queue_age_us.is_(None)
            )
        else:
            ages = func.group_concat(i.queue_age_us, type_=Text).filter(i.queue_age_us.is_not(None))
            since = func.group_concat(i.created_at, type_=Text).filter(i.queue_age_us.is_(None))
        query = select(
            *keys,
            func.count(),
            ages,
            since,
            func.sum(i.rerouted),
            func.sum(i.careroute_rerouted),
            func.sum(i.resolved),
            func.sum(i.fcr),
            func.sum(i.escalated),
        ).group_by(*keys)
        width = len(keys)
        out = []
        for row in conn.execute(query):
            age_us, since_at = row[width + 1], row[width + 2]
            if isinstance(age_us, str):  # SQLite packs a list as text: "1200000000,845000000"
                age_us = age_us.split(",")
            if isinstance(since_at, str):  # and times as it stores them: naive UTC, ISO format
                since_at = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in since_at.split(",")]
            out.append(
                Cell(
                    period=spans[row[0]][0],
                    values=tuple(row[1:width]),
                    tasks=row[width],
                    queue_ages=[int(us) / 1_000_000 for us in age_us] if age_us else [],
                    waiting_since=list(since_at or ()),
                    rerouted=row[width + 3],
                    careroute_rerouted=row[width + 4],
                    resolved=row[width + 5],
                    first_contact_resolved=row[width + 6],
                    escalated=row[width + 7],
                )
            )
        return out

    def arrivals_by_quarter_hour(self, conn: Connection, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """Tasks created in [start, end) per UTC quarter hour (its first instant), from the summary rows.

        A quarter hour lies within one local hour in every zone (offsets and
        their changes fall on quarter hours), so these counts place each task on
        the practice's clock as exactly as its own creation time would.
        """
        c = task_facts.c
        if self.dialect == "postgresql":
            quarter: Any = func.to_timestamp(func.floor(extract("epoch", c.created_at) / 900) * 900)
            keys: list[Any] = [quarter]
        else:  # stored as naive UTC text, "2026-10-09 17:59:00.000000": its hour, and the minute // 15
            keys = [func.substr(c.created_at, 1, 13), cast(func.substr(c.created_at, 15, 2), Integer) // 15]
        query = select(*keys, func.count()).where(c.created_at >= start, c.created_at < end).group_by(*keys)
        out = []
        for row in conn.execute(query):
            if self.dialect == "postgresql":
                out.append((row[0].astimezone(UTC), int(row[1])))
            else:
                hour = datetime.fromisoformat(f"{row[0]}:00").replace(tzinfo=UTC)
                out.append((hour + timedelta(minutes=15 * int(row[1])), int(row[2])))
        return out

    # -- access audit ----------------------------------------------------------

    def record_access(
        self,
        actor: str,
        action: str,
        at: datetime,
        *,
        task_id: int | None = None,
        what: str | None = None,
        source: str | None = None,
    ) -> None:
        with self.write() as conn:
            conn.execute(
                insert(access_log).values(
                    at=at, actor=actor[:64], action=action, task_id=task_id, what=what, source=(source or "")[:64]
                )
            )

    def who_viewed(
        self, conn: Connection, *, task_id: int | None = None, mrn: str | None = None, action: str = "read_task"
    ) -> list[Row[Any]]:
        """Every read of a task's content (or every break-the-glass read), optionally of one task or one
        patient (by MRN), oldest first."""
        query = select(access_log).where(access_log.c.action == action).order_by(access_log.c.at)
        if task_id is not None:
            query = query.where(access_log.c.task_id == task_id)
        if mrn is not None:
            of_patient = select(items.c.task_id).where(items.c.patient["mrn"].as_string() == mrn)
            query = query.where(access_log.c.task_id.in_(of_patient))
        return list(conn.execute(query))

    def lock_assignment(self, conn: Connection) -> bool:
        """Serialise changes to who holds what across app instances.

        SQLite's BEGIN IMMEDIATE already makes writers take turns. On PostgreSQL
        a transaction-scoped advisory lock does the same for assignment, so two
        instances can never push one task twice or a person past capacity.
        True when this call took the lock, so that what was read before may have changed.
        """
        if self.dialect != "postgresql" or conn.info.get(_ASSIGNMENT_LOCKED):
            return False
        # Per schema: advisory locks are database-wide, and deployments in other schemas are not ours.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7346201, hashtext(current_schema()))")
        conn.info[_ASSIGNMENT_LOCKED] = True
        return True

    def lock_keys(self, conn: Connection, keys: Sequence[str]) -> None:
        """Make transactions that name one of the same keys take turns (PostgreSQL; SQLite's writers already do).

        Taken in one order (sorted numbers, in array order), so two transactions never wait on each other;
        and always before `lock_assignment`. Keys share KEY_LOCKS numbers, so that a batch of a thousand
        items cannot fill PostgreSQL's lock table; two items whose keys share a number only take turns.
        """
        if self.dialect != "postgresql" or not keys:
            return
        numbers = sorted({zlib.crc32(k.encode()) % KEY_LOCKS for k in keys})
        conn.execute(_LOCK_KEYS, {"numbers": numbers})
