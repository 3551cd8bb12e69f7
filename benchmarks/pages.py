"""Page speed: server time of each staff page with 100,000 tasks in the store, beside /healthz in the same run.

    python benchmarks/pages.py [--tasks 100000] [--requests 30] [--db sqlite|postgresql|both] [--gc-freeze]

The store holds two years of synthetic history (benchmarks/_bulk.py `fill`), made to look worked: each
task has its events (created, classified, routed, assigned, claimed, resolved; one in 13 rerouted by a
person with a reason code), resolved tasks keep who resolved them, and the last `--waiting` tasks are
still waiting (open in their queue, or assigned to someone), so the board and My work have content. On
top, the demo items go in through the dispatcher (real classification and events), and one of them is
claimed and rerouted, for the task page.

The app is careroute's own (`create_app`: the JSON API and the pages) served by uvicorn on loopback.
Server time is taken inside the server, by an ASGI wrapper around the app, from the request's arrival to
its last body byte. The reference is `/healthz` of the same app (one `SELECT 1` through the same stack),
measured in the same run. Target: every page under 200 ms server time (p99 of `--requests` requests,
after a few warm-up requests). Python's full garbage collections stop the
server for a while whenever they come; how many fell in the run and the longest
are printed, since they, not the queries, make the slowest requests.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import free_port, fresh_pg_schema, machine, postgres_answers

from careroute.api import create_app
from careroute.api.security import Security
from careroute.config import STARTER_PACK
from careroute.demo import demo_items
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack
from careroute.store.repository import Store
from careroute.store.tables import events, task_facts, tasks

NOW = datetime(2026, 10, 6, 15, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York: the practice is open
TARGET_MS = 200.0
WARMUP = 3
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class ServerTimer:
    """ASGI wrapper: the time from a request's arrival to its last body byte, per path, inside the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.times.setdefault(scope["path"], []).append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)


def staff_by_queue(dispatcher: Dispatcher) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for person in dispatcher.pack.spec.staff:
        for q in person.queues:
            out.setdefault(q, []).append(person.id)
    return out


def work_history(store: Store, dispatcher: Dispatcher, n: int, waiting: int) -> None:
    """Make the bulk history look worked: assignees, the events of each task, the last `waiting` tasks waiting."""
    people = staff_by_queue(dispatcher)
    # Pushes stop at capacity: each person holds a few less than theirs (room for the demo items), the rest wait.
    room = {person.id: max(0, person.capacity - 3) for person in dispatcher.pack.spec.staff}
    rng = random.Random(7)
    first_waiting = n - waiting + 1
    started = time.perf_counter()
    with store.read() as conn:
        rows = list(
            conn.execute(select(tasks.c.id, tasks.c.queue, tasks.c.type, tasks.c.created_at).order_by(tasks.c.id))
        )
    assignee: dict[int, str | None] = {}
    status: dict[int, str] = {}
    for tid, queue, _type, _at in rows:
        who = rng.choice(people.get(queue, ["pam"]))
        if tid < first_waiting:
            assignee[tid], status[tid] = who, "resolved"
        elif room.get(who, 0) > 0:
            room[who] -= 1
            assignee[tid], status[tid] = who, "assigned"  # pushed, not yet claimed
        else:
            assignee[tid], status[tid] = None, "open"  # waiting in its queue
    batch: list[dict[str, Any]] = []
    zero = "0" * 64

    def event(tid: int, kind: str, at: datetime, actor: str, **kw: Any) -> None:
        row = {"task_id": tid, "kind": kind, "at": at, "actor": actor, "queue": None, "assignee": None,
               "rule_ids": [], "reason": None, "data": {}, "pack_version": "bulk", "prev_hash": zero,
               "hash": zero}  # fmt: skip
        row.update(kw)
        batch.append(row)

    def flush() -> None:
        if batch:
            with store.write() as conn:
                conn.execute(insert(events), batch)
            batch.clear()

    # Events are appended task by task in creation order, as intake writes them (the log is in time order).
    for tid, queue, type_, at in rows:
        holder = assignee[tid]
        actor = holder or "careroute"
        event(tid, "created", at, "careroute", queue=queue, data={"item_id": tid, "channel": "portal"})
        event(tid, "classified", at, "careroute", data={"type": type_, "urgency": "routine", "confidence": 0.9})
        event(tid, "routed", at, "careroute", queue=queue, rule_ids=[f"tag.{type_}"])
        if holder is not None:
            event(tid, "assigned", at, "careroute", queue=queue, assignee=holder, rule_ids=["assign.least_loaded"])
        if status[tid] == "resolved":
            event(tid, "claimed", at + timedelta(minutes=20), actor, queue=queue, assignee=holder)
            if tid % 13 == 1:  # task_facts counts reroutes on the same tasks (i % 13 == 0, i = tid - 1)
                event(tid, "rerouted", at + timedelta(minutes=30), actor, queue="records", reason="a records request",
                      data={"from_queue": queue, "from_assignee": holder, "from_status": "claimed",
                            "reason_code": "wrong_type"})  # fmt: skip
            event(tid, "resolved", at + timedelta(hours=1), actor, queue=queue, assignee=holder)
        if len(batch) >= 20_000:
            flush()
    flush()
    with store.write() as conn:
        for who in {a for a in assignee.values() if a}:
            ids = [t for t, a in assignee.items() if a == who]
            for i in range(0, len(ids), 5_000):
                chunk = ids[i : i + 5_000]
                conn.execute(update(tasks).where(tasks.c.id.in_(chunk)).values(assignee=who))
        conn.execute(
            update(tasks)
            .where(tasks.c.id >= first_waiting)
            .values(status="open", first_claimed_at=None, resolved_at=None, next_escalation_at=None)
        )
        conn.execute(
            update(tasks)
            .where(tasks.c.id >= first_waiting, tasks.c.assignee.is_not(None))
            .values(status="assigned", assigned_at=tasks.c.created_at)
        )
        conn.execute(
            update(task_facts)
            .where(task_facts.c.task_id >= first_waiting)
            .values(first_claim_at=None, first_resolved_at=None, last_resolved_at=None, queue_age_us=None)
        )
        conn.exec_driver_sql("ANALYZE")
    print(f"  history worked: events, assignees, {waiting:,} waiting ({time.perf_counter() - started:.1f} s)")


def prepare(url: str, n: int, waiting: int) -> tuple[Dispatcher, int]:
    """A store with `n` bulk tasks worked as above and the demo items on top; the task the task page shows."""
    store = Store.from_url(url)
    store.migrate()
    clock = SimulatedClock(NOW)
    dispatcher = Dispatcher(store, load_pack(STARTER_PACK), clock=clock)
    dispatcher.load_pack()
    # The history ends as this morning's demo work begins; its last tasks arrived over the last day or two.
    fill(store, n, NOW - timedelta(hours=3), days=730, status="resolved")
    work_history(store, dispatcher, n, waiting)
    results = dispatcher.intake_batch(demo_items(NOW), at_received=True)
    # A demo task, claimed and moved with a coded reason: its page has a full timeline.
    with store.read() as conn:
        found = [store.get_task(conn, r.task_id) for r in results]
    task = next((t for t in reversed(found) if t is not None and t.assignee), None)
    if task is None or task.assignee is None:
        raise RuntimeError("no demo item was pushed to anyone: the history left nobody room")
    who = task.assignee
    clock.now += timedelta(minutes=5)
    dispatcher.claim(task.id, who)
    clock.now += timedelta(minutes=5)
    to = "records" if task.queue != "records" else "scheduling"
    dispatcher.reroute(task.id, to, "asks for a copy of the last visit", who, "wrong_type")
    clock.now += timedelta(minutes=5)
    return dispatcher, task.id


class Server:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class FullCollections:
    """Python's full (generation 2) garbage collections while measuring: each stops every thread, server included."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def measure(
    dispatcher: Dispatcher, task_id: int, requests: int, staff: str, collections: FullCollections
) -> list[tuple[str, list[float]]]:
    timer = ServerTimer(create_app(dispatcher, security=Security(demo=True)))
    pages = ["/healthz", f"/my/{staff}", "/board", f"/tasks/{task_id}", "/rules", "/scoreboard"]
    with Server(timer) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for url in pages:
            for _ in range(WARMUP):
                r = client.get(url)
                assert r.status_code == 200, (url, r.status_code)
        timer.times.clear()
        # Interleaved, so that a slow moment of the machine is shared by every page, reference included.
        with collections:
            for _ in range(requests):
                for url in pages:
                    client.get(url)
    return [(url, timer.times[url]) for url in pages]


def report(label: str, results: list[tuple[str, list[float]]], collections: FullCollections) -> bool:
    ref = statistics.median(results[0][1])
    print(f"{label}: server time over {len(results[0][1])} requests each")
    print(f"  {'page':<22} {'p50 ms':>8} {'p99 ms':>8} {'p50 / ref':>10}")
    ok = True
    for url, times in results:
        p50, p99 = statistics.median(times), pct(times, 0.99)
        name = url if not url.startswith("/tasks/") else "/tasks/{id}"
        if url == "/healthz":
            print(f"  {name:<22} {p50:8.1f} {p99:8.1f} {'':>10}   (reference: SELECT 1 through the same app)")
            continue
        met = p99 < TARGET_MS
        ok &= met
        verdict = "ok" if met else "MISSED"
        print(f"  {name:<22} {p50:8.1f} {p99:8.1f} {p50 / ref:10.1f}   target p99 < {TARGET_MS:.0f} ms: {verdict}")
    pauses = collections.pauses
    longest = f", longest {max(pauses):.0f} ms (it lands on whichever request is running)" if pauses else ""
    print(f"  full garbage collections while measuring: {len(pauses)}{longest}")
    return ok


def run(kind: str, dispatcher: Dispatcher, task_id: int, args: argparse.Namespace) -> bool:
    gc.collect()
    if args.gc_freeze:
        gc.freeze()
    collections = FullCollections()
    try:
        return report(kind, measure(dispatcher, task_id, args.requests, args.staff, collections), collections)
    finally:
        gc.unfreeze()




def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--waiting", type=int, default=600, help="the last tasks of the history still waiting")
    p.add_argument("--requests", type=int, default=30)
    p.add_argument("--staff", default="luis", help="whose My work is measured")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    p.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the store is ready, as a server can after start-up: what is loaded by then "
        "(imports, the pack, the classifier) is no longer walked by every full collection",
    )
    args = p.parse_args()
    print(f"machine: {machine()}")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    ok = True
    for kind in kinds:
        print(f"{kind}: {args.tasks:,} tasks")
        if kind == "postgresql":
            if not postgres_answers():
                print("  skipped: no PostgreSQL answers on 127.0.0.1:5432")
                continue
            url, cleanup = fresh_pg_schema("careroute_bench")
            try:
                dispatcher, task_id = prepare(url, args.tasks, args.waiting)
                ok &= run(kind, dispatcher, task_id, args)
                dispatcher.store.engine.dispose()
            finally:
                cleanup()
            continue
        with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp:
            dispatcher, task_id = prepare(f"sqlite:///{tmp}/pages.db", args.tasks, args.waiting)
            ok &= run(kind, dispatcher, task_id, args)
            dispatcher.store.engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
