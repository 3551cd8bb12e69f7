"""Sustained load: single-item intake at 80% of the measured maximum, with staff working beside it.

    python benchmarks/load.py [--minutes 5] [--probe-seconds 60] [--clients 8] [--staff 4] [--staff-rate 3]

1. The maximum sustained intake rate of one `careroute serve` process on a SQLite file: `--clients`
   concurrent clients post single items back to back (`POST /v1/items`, one durable commit each) for
   `--probe-seconds` after a warm-up; items acknowledged per second.
2. 80% of that rate, held open-loop (items are sent on a fixed schedule whether or not earlier ones have
   been answered, and each latency is measured from the moment its item was due, so a stall is not hidden)
   for `--minutes`, while `--staff` people work the queues through the API, `--staff-rate` times a second
   in all: look at one of their queues' open tasks, then claim the oldest task pushed to them or, when none
   is, pull the next one (`POST /v1/staff/{id}/next`), then resolve it (4 in 5) or reroute it with a reason
   (1 in 5); every fifth time they look at the queues board (`GET /v1/queues`). `GET /healthz` is sampled
   as the reference: what the same server answers when the work itself costs nothing.

Prints the errors (anything but a 2xx; a 409 counts too), p50/p99 latency per kind of request, and the
server's resident memory sampled every `--rss-every` seconds (first, last, max). Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, base_items, free_port, machine

from careroute.store.repository import Store
from careroute.store.tables import events, notifications

Latencies = dict[str, list[float]]


class Run:
    """What one phase recorded: latencies (seconds) and failures by kind of request."""

    def __init__(self) -> None:
        self.answered: list[float] = []  # when each intake was answered (perf_counter)
        self.latency: Latencies = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.items = 0

    def record(self, kind: str, started: float, response: httpx.Response | None, error: str | None = None) -> bool:
        self.latency[kind].append(time.perf_counter() - started)
        if response is not None and 200 <= response.status_code < 300:
            return True
        self.errors[f"{kind} {error or (response.status_code if response is not None else '?')}"] += 1
        return False


#: Syllables for made-up family names: each item's patient gets a name and birth date of their own, so the
#: duplicate window holds a practice's mix of patients, not 160 people writing again every few seconds.
_SYLLABLES = ("ka", "lo", "mi", "ren", "sa", "to", "vi", "dan", "el", "ro", "nu", "pe", "ta", "ji", "mar", "os")


def _family_name(i: int) -> str:
    parts = []
    for _ in range(4):
        parts.append(_SYLLABLES[i % len(_SYLLABLES)])
        i //= len(_SYLLABLES)
    return "".join(parts).capitalize()


def items_forever(run_id: str) -> Iterator[dict[str, Any]]:
    """The sample week over and over, each item new: its own external id, a patient of its own (record
    number, family name, birth date, telephone), received now. The message text is the sample's."""
    base = base_items()
    i = 0
    while True:
        src = base[i % len(base)]
        patient = dict(src.get("patient") or {})
        given = str(patient.get("name") or "Pat").split(" ")[0]
        patient.update(
            mrn=f"LD{run_id}{i:07d}",
            name=f"{given} {_family_name(i)}",
            dob=(date(1930, 1, 1) + timedelta(days=(i * 37) % 27_000)).isoformat(),
        )
        if patient.get("phone"):
            patient["phone"] = f"(555) {200 + i // 10_000 % 800:03d}-{i % 10_000:04d}"
        yield {
            **src,
            "external_id": f"load-{run_id}-{i}",
            "received_at": datetime.now(UTC).isoformat(),
            "patient": patient,
        }
        i += 1


class Server:
    """`careroute serve` on a SQLite file, in demo mode (an open API), its output kept in a file."""

    def __init__(self, db: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        env = {**os.environ, "CAREROUTE_DATABASE_URL": f"sqlite:///{db}", "CAREROUTE_DEMO": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "careroute.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited; see {log}") from None
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def cpu_seconds(self) -> float:
        """User and system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def post_item(
    client: httpx.AsyncClient, run: Run, item: dict[str, Any], started: float, slots: asyncio.Semaphore | None = None
) -> None:
    try:
        if slots is None:
            r = await client.post("/v1/items", json=item)
        else:
            async with slots:
                r = await client.post("/v1/items", json=item)
    except httpx.HTTPError as exc:
        run.record("intake", started, None, type(exc).__name__)
        return
    if run.record("intake", started, r):
        run.items += 1
        run.answered.append(time.perf_counter())


async def max_rate(url: str, items: Iterator[dict[str, Any]], clients: int, warmup: float, seconds: float) -> float:
    """Items acknowledged per second with `clients` posting back to back (closed loop), after a warm-up."""
    run = Run()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        stop_at = time.perf_counter() + warmup + seconds
        counting_from = time.perf_counter() + warmup
        counted = 0

        async def worker() -> None:
            nonlocal counted
            while (now := time.perf_counter()) < stop_at:
                before = run.items
                await post_item(client, run, next(items), now)
                if now >= counting_from and run.items > before:
                    counted += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    if run.errors:
        raise RuntimeError(f"errors while measuring the maximum rate: {dict(run.errors)}")
    return counted / seconds


class Staff:
    """People working the queues as the service means them to: first what was pushed to them, then the next
    task they pull (`POST /v1/staff/{id}/next` claims it in the same transaction, so no two people race for
    one task and nobody is refused for being at capacity)."""

    def __init__(self, client: httpx.AsyncClient, run: Run, people: list[dict[str, Any]], queues: list[str]) -> None:
        self.client = client
        self.run = run
        self.people = people
        self.queues = queues
        self.rng = random.Random(7)

    async def call(self, kind: str, method: str, path: str, **kw: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            r = await self.client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.run.record(kind, started, None, type(exc).__name__)
            return None
        return r if self.run.record(kind, started, r) else None

    async def work(self, index: int, every: float, stop_at: float) -> None:
        person = self.people[index]
        me = person["id"]
        mine = [q for q in person["queues"] if q in self.queues] or self.queues
        others = [q for q in self.queues if q not in mine] or self.queues
        turn = 0
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            turn += 1
            if turn % 5 == 0:
                await self.call("queues board", "GET", "/v1/queues")
            # A look at one of their queues, as the board page shows it.
            look = {"queue": mine[turn % len(mine)], "status": "open"}
            await self.call("list tasks", "GET", "/v1/tasks", params=look)
            pushed = await self.call("my tasks", "GET", "/v1/tasks", params={"assignee": me, "status": "assigned"})
            waiting = pushed.json()["tasks"] if pushed else []
            task: int | None = None
            if waiting:
                if await self.call("claim", "POST", f"/v1/tasks/{waiting[0]['id']}/claim", json={"actor": me}):
                    task = waiting[0]["id"]
            else:
                pulled = await self.call("pull next", "POST", f"/v1/staff/{me}/next")
                if pulled and pulled.json().get("task"):
                    task = pulled.json()["task"]["id"]
            if task is not None:
                if self.rng.random() < 0.8:
                    done = {"actor": me, "reason": "done"}
                    await self.call("resolve", "POST", f"/v1/tasks/{task}/resolve", json=done)
                else:
                    body = {
                        "actor": me,
                        "to_queue": self.rng.choice(others),
                        "reason_code": "wrong_type",
                        "reason": "belongs with another team",
                    }
                    await self.call("reroute", "POST", f"/v1/tasks/{task}/reroute", json=body)
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - began)))


async def sustained(
    server: Server,
    items: Iterator[dict[str, Any]],
    rate: float,
    minutes: float,
    staff: int,
    staff_rate: float,
    rss_every: float,
    in_flight: int,
) -> tuple[Run, list[tuple[float, float]], float, float, float]:
    run = Run()
    rss: list[tuple[float, float]] = []
    # Items due while `in_flight` are still unanswered wait their turn here (their latency still counts
    # from when they were due): httpx's pool slows down with thousands of queued requests, and the
    # load generator must not become what is measured.
    slots = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=in_flight + staff + 2, max_keepalive_connections=in_flight + staff + 2)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        people = (await client.get("/v1/staff")).json()
        people = people.get("staff", people) if isinstance(people, dict) else people
        # The people on shift now work; someone off shift gets nothing pushed and may pull nothing.
        people.sort(key=lambda p: p["presence"] != "available")
        queues = [q["id"] for q in (await client.get("/v1/queues")).json()["queues"]]
        workers = Staff(client, run, people[:staff], queues)
        start = time.perf_counter()
        cpu_at_start = server.cpu_seconds()
        stop_at = start + minutes * 60
        pending: set[asyncio.Task[None]] = set()

        async def intake() -> None:
            n = 0
            while (due := start + n / rate) < stop_at:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(post_item(client, run, next(items), due, slots))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1

        async def reference() -> None:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    run.record("healthz (reference)", started, await client.get("/healthz"))
                except httpx.HTTPError as exc:
                    run.record("healthz (reference)", started, None, type(exc).__name__)
                await asyncio.sleep(0.5)

        async def memory() -> None:
            while time.perf_counter() < stop_at:
                rss.append((time.perf_counter() - start, server.rss_mib()))
                await asyncio.sleep(rss_every)

        every = len(people[:staff]) / staff_rate
        await asyncio.gather(
            intake(),
            reference(),
            memory(),
            *(workers.work(i, every, stop_at) for i in range(len(people[:staff]))),
        )
        if pending:
            await asyncio.gather(*pending)
        elapsed = time.perf_counter() - start
        rss.append((elapsed, server.rss_mib()))
        cpu = server.cpu_seconds() - cpu_at_start
    return run, rss, elapsed, cpu, start


def timer_work(db: Path, start: float) -> dict[str, list[int]]:
    """What the server's timers did in each minute of the sustained phase: escalations fired and alerts
    queued (the starter pack announces every emergent item at once and again after 5 unclaimed minutes,
    so a load that is 8% emergencies keeps the timers busy)."""
    store = Store.from_url(f"sqlite:///{db}")
    began = datetime.now(UTC) - timedelta(seconds=time.perf_counter() - start)
    queries = {
        "escalated": select(events.c.at).where(events.c.kind == "escalated"),
        "alerts queued": select(notifications.c.created_at),
    }
    out: dict[str, list[int]] = {}
    try:
        with store.read() as conn:
            for name, query in queries.items():
                minutes = Counter(max(0, int((t - began).total_seconds() // 60)) for (t,) in conn.execute(query))
                out[name] = [minutes[m] for m in range(max(minutes, default=-1) + 1)]
    finally:
        store.engine.dispose()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]  # nearest rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--probe-seconds", type=float, default=60.0)
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients while finding the maximum")
    parser.add_argument("--share", type=float, default=0.8, help="share of the maximum to sustain")
    parser.add_argument("--rate", type=float, default=None, help="sustain this rate instead of measuring one")
    parser.add_argument("--staff", type=int, default=4)
    parser.add_argument("--staff-rate", type=float, default=3.0, help="staff work turns a second, all together")
    parser.add_argument("--rss-every", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=32, help="intake requests unanswered at once, at most")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows as it happens

    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="careroute-load-"))
    run_id = f"{random.randrange(16**6):06x}"
    items = items_forever(run_id)
    try:
        db = tmp / "load.db"
        store = Store.from_url(f"sqlite:///{db}")
        store.migrate()
        store.engine.dispose()
        server = Server(db, tmp / "server.log")
        try:
            if args.rate is None:
                top = asyncio.run(max_rate(server.url, items, args.clients, args.warmup_seconds, args.probe_seconds))
                print(
                    f"maximum sustained intake: {top:,.0f} items/s ({args.clients} clients, {args.probe_seconds:.0f} s)"
                )
                rate = top * args.share
            else:
                rate = args.rate
            print(f"sustaining {rate:,.0f} items/s for {args.minutes:g} min with {args.staff} staff at "
                  f"{args.staff_rate:g} work turns/s")  # fmt: skip
            run, rss, elapsed, cpu, start = asyncio.run(
                sustained(
                    server, items, rate, args.minutes, args.staff, args.staff_rate, args.rss_every, args.in_flight
                )
            )
        finally:
            server.stop()
        log = (tmp / "server.log").read_text(errors="replace").splitlines()
        timers = timer_work(db, start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    achieved = run.items / elapsed
    print(f"\nheld {achieved:,.1f} items/s for {elapsed:.0f} s: {run.items:,} items taken in")
    print(f"client process CPU: {time.process_time():.0f} s (the load generator's own share)")
    print(f"server process CPU: {cpu:.0f} s in {elapsed:.0f} s ({cpu / elapsed:.0%} of one core)")
    per_minute = Counter(int((t - start) // 60) for t in run.answered)
    print("intake answered per minute: " + ", ".join(f"{per_minute[m] / 60:.1f}/s" for m in sorted(per_minute)))
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print(f"\n  {'request':<22}{'count':>9}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind in sorted(run.latency, key=lambda k: (k.startswith("healthz"), k)):
        values = run.latency[kind]
        errors = sum(n for k, n in run.errors.items() if k.startswith(kind + " "))
        print(
            f"  {kind:<22}{len(values):>9,}{errors:>8}{pct(values, 0.5) * 1000:>10.1f}"
            f"{pct(values, 0.99) * 1000:>10.1f}{max(values) * 1000:>10.1f}"
        )
    sizes = [m for _, m in rss]
    print(
        f"\nserver RSS (every {args.rss_every:g} s, {len(sizes)} samples): first {sizes[0]:.0f} MiB, "
        f"last {sizes[-1]:.0f} MiB, max {max(sizes):.0f} MiB, median {statistics.median(sizes):.0f} MiB"
    )
    by_minute: dict[int, list[float]] = defaultdict(list)
    for at, mib in rss:
        by_minute[int(at // 60)].append(mib)
    print(
        "server RSS by minute (median): "
        + ", ".join(f"{statistics.median(v):.0f}" for _, v in sorted(by_minute.items()))
    )
    for name, per_minute_count in timers.items():
        print(f"{name} per minute of the sustained phase: {', '.join(map(str, per_minute_count)) or 'none'}")
    errors = sum(run.errors.values())
    print(f"errors: {errors}" + (f" {dict(run.errors)}" if errors else ""))
    noted = [line for line in log if "error" in line.lower() or "failed" in line.lower()]
    if noted:
        print(f"server log: {len(noted)} error lines, e.g. {noted[0][:160]!r}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
