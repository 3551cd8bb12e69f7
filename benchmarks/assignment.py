"""Assignment latency with a large backlog: 100,000 waiting tasks and 200 staff.

    python benchmarks/assignment.py [--waiting 100000] [--staff 200] [--pulls 1000]

Each measurement is one assignment through the dispatcher (a person pulls the best task they may take,
under their capacity, from the indexed push order). The reference is the same measurement on a backlog of
3,000 waiting tasks in the same run: O(log n) means the ratio stays near 1. Target: p99 < 10 ms on SQLite.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import TYPES, fill
from _common import machine

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack_text
from careroute.store.repository import Store

END = datetime(2026, 10, 5, 12, tzinfo=UTC)
#: The small backlog measured beside the big one: three times the pulls, so it never runs dry.
REFERENCE_BACKLOG = 3_000


def pack_with_staff(n: int) -> str:
    data = yaml.safe_load(STARTER_PACK.read_text())
    rng = random.Random(7)
    queues = sorted({q for _, q, _ in TYPES})
    data["staff"] = [
        {
            "id": f"s{i:03d}",
            "name": f"Staff {i}",
            "credential": "RN",
            "queues": rng.sample(queues, 3),
            "capacity": 10,
        }
        for i in range(n)
    ]
    data["rosters"] = {"on_call": [f"s{i:03d}" for i in range(3)]}
    for role in data["escalation"]["roles"].values():
        role.pop("by_queue", None)
    return yaml.safe_dump(data, sort_keys=False)


def latencies(waiting: int, staff: int, pulls: int, tmp: Path) -> list[float]:
    store = Store.from_url(f"sqlite:///{tmp / f'assign-{waiting}.db'}")
    store.migrate()
    fill(store, waiting, END, days=30, status="open", progress=waiting > 10_000)
    d = Dispatcher(store, load_pack_text(pack_with_staff(staff)), clock=SimulatedClock(END))
    d.load_pack()
    people = [f"s{i:03d}" for i in range(staff)]
    for who in people:
        d.set_presence(who, "busy")  # pull only: nobody is pushed work behind the measurement's back
    out = []
    for k in range(pulls):
        who = people[k % staff]
        t = time.perf_counter()
        task = d.next_task(who)
        out.append((time.perf_counter() - t) * 1000)
        assert task is not None
        if k % 3 == 0:  # work gets done, capacity frees up
            d.resolve(task.id, actor=who)
    store.engine.dispose()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--waiting", type=int, default=100_000)
    p.add_argument("--staff", type=int, default=200)
    p.add_argument("--pulls", type=int, default=1_000)
    args = p.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp:
        small = latencies(REFERENCE_BACKLOG * args.pulls // 1_000, args.staff, args.pulls, Path(tmp))
        big = latencies(args.waiting, args.staff, args.pulls, Path(tmp))
    reference = REFERENCE_BACKLOG * args.pulls // 1_000
    for label, values in ((f"{reference:,} waiting (reference)", small), (f"{args.waiting:,} waiting", big)):
        print(
            f"{label:28} p50 {statistics.median(values):6.2f} ms   p99 {pct(values, 0.99):6.2f} ms   "
            f"max {max(values):6.2f} ms"
        )
    print(f"ratio p50 big / reference: {statistics.median(big) / statistics.median(small):.2f}   (O(log n): near 1)")
    print(f"target: p99 < 10 ms with {args.waiting:,} waiting: {'met' if pct(big, 0.99) < 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
