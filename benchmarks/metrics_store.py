"""The scoreboard from the store: 1,000,000 tasks over two years, the weekly report of the last 8 weeks.

    python benchmarks/metrics_store.py [--tasks 1000000] [--skip-postgres]

On SQLite and on PostgreSQL (loopback), beside a reference measured on the same database in the same run:
the bare indexed count of the tasks the report covers. Target: under 1 s. Each figure is the median of
three runs. Also the same report by the pure fold (every summary row read into Python and aggregated by
`metrics.aggregate`), which must give the same report exactly, the scoreboard page's figures (12 weeks by
urgency and pilot arm, and the demand grid), and the report over every task in the store (all 104 weeks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import fresh_pg_schema, machine, postgres_answers

from careroute import scoreboard
from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack
from careroute.store.repository import Store
from careroute.store.tables import task_facts
from careroute.web import data

NOW = datetime(2026, 10, 9, 18, tzinfo=UTC)


def timed(run: Callable[[], Any], times: int = 3) -> tuple[float, Any]:
    """The median time of `times` runs, and what the last one returned."""
    spent, result = [], None
    for _ in range(times):
        t = time.perf_counter()
        result = run()
        spent.append(time.perf_counter() - t)
    return statistics.median(spent), result


def measure(url: str, n: int) -> tuple[float, float, float, float, float, int]:
    store = Store.from_url(url)
    store.migrate()
    fill(store, n, NOW - timedelta(minutes=1), days=730, with_items=False)
    d = Dispatcher(store, load_pack(STARTER_PACK), clock=SimulatedClock(NOW))
    scoreboard.report(d, weeks=1)  # warm
    start = NOW - timedelta(weeks=8)

    def count() -> int:
        with store.read() as conn:
            return int(conn.execute(select(func.count()).where(task_facts.c.created_at >= start)).scalar_one())

    reference, covered = timed(count)
    weekly, rep = timed(lambda: scoreboard.report(d, weeks=8))
    assert rep.rows
    folded, slow = timed(lambda: scoreboard.report_from_facts(d, weeks=8), times=1)
    assert slow == rep, "the report counted in SQL differs from the pure fold"
    page, _ = timed(lambda: data.scoreboard_data(d, NOW))
    everything, _ = timed(lambda: scoreboard.report(d, weeks=105, period="week"), times=1)
    store.engine.dispose()
    return weekly, reference, folded, page, everything, covered


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=1_000_000)
    p.add_argument("--skip-postgres", action="store_true")
    args = p.parse_args()
    print(f"machine: {machine()}")
    kinds = ["sqlite"] + ([] if args.skip_postgres or not postgres_answers() else ["postgresql"])
    for kind in kinds:
        drop = None
        with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp:
            if kind == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'metrics.db'}"
            else:
                url, drop = fresh_pg_schema()
            try:
                weekly, reference, folded, page, everything, covered = measure(url, args.tasks)
            finally:
                if drop:
                    drop()
        print(f"\n{kind}, {args.tasks:,} tasks over two years ({covered:,} in the last 8 weeks)")
        print(f"  indexed count of those tasks                  {reference * 1000:9.1f} ms   (reference)")
        print(
            f"  weekly scoreboard, last 8 weeks, every dimension {weekly * 1000:9.1f} ms"
            f"   ({weekly / reference:.0f} x reference; target < 1000 ms)"
        )
        print(f"  the same by the pure fold (checked equal)     {folded * 1000:9.1f} ms   ({folded / weekly:.1f} x)")
        print(f"  scoreboard page's figures (12 weeks, demand)  {page * 1000:9.1f} ms")
        print(f"  scoreboard over every task (104 weeks)        {everything * 1000:9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
