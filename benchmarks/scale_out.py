"""Intake throughput with 1, 2 and 4 `careroute serve` processes on one PostgreSQL, side by side.

    python benchmarks/scale_out.py [--items N] [--concurrency C] [--rounds R] [--processes 1,2,4]

For each count of processes: a fresh schema, that many `careroute serve` processes on loopback ports
(one leads the timers, as in production), a warm-up, then N single-item `POST /v1/items` (one durable
commit each) from C concurrent clients spread evenly over the processes. Also one process with
`--workers 2`. Printed: items/s and the ratio to one process measured in the same run. The clients run
on the same machine and take their share of its cores, as does PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, fresh_pg_schema, machine, postgres_answers, start_server, synthetic_items

from careroute.store.repository import Store


async def post_spread(urls: list[str], items: list[dict[str, Any]], concurrency: int) -> float:
    """items/s for POSTing every item once, `concurrency` clients at a time, round-robin over `urls`."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        jobs = list(zip(itertools.cycle(urls), items, strict=False))
        jobs.reverse()
        failures = 0

        async def worker() -> None:
            nonlocal failures
            while jobs:
                url, item = jobs.pop()
                r = await client.post(f"{url}/v1/items", json=item)
                failures += r.status_code >= 300

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return len(items) / elapsed


def run(
    processes: int, workers: int, items: list[dict[str, Any]], warmup: list[dict[str, Any]], concurrency: int
) -> float:
    url, drop = fresh_pg_schema("bench_scale")
    Store.from_url(url).migrate()
    env = {
        "CAREROUTE_DATABASE_URL": url,
        "CAREROUTE_DEMO": "1",
        # The per-address intake limit guards a real deployment from a runaway sender; here every client is us.
        "CAREROUTE_INTAKE_RATE": "1000000",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for _ in range(processes):
            port = free_port()
            command = ["-m", "careroute.cli", "serve", "--port", str(port), "--workers", str(workers)]
            procs.append(start_server([*command, "--log-level", "warning"], port, env))
            urls.append(f"http://127.0.0.1:{port}")
        asyncio.run(post_spread(urls, warmup, concurrency))
        return asyncio.run(post_spread(urls, items, concurrency))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2_000, help="items posted per measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=1, help="measure each configuration this many times (median)")
    parser.add_argument("--processes", default="1,2,4", help="comma-separated counts of serve processes")
    args = parser.parse_args()
    if not postgres_answers():
        print("scale-out: no PostgreSQL answers on 127.0.0.1:5432; skipped (it measures PostgreSQL only)")
        return 0

    counts = [int(n) for n in args.processes.split(",")]
    configs = [(n, 1) for n in counts] + [(1, 2)]
    print(f"machine: {machine()}, load average at start {os.getloadavg()[0]:.1f}")
    print(
        f"PostgreSQL, {args.items:,} single-item POST /v1/items per run, {args.concurrency} concurrent clients "
        f"spread over the processes, {args.rounds} round(s)"
    )
    rates: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    serial = itertools.count()
    for _ in range(args.rounds):
        for processes, workers in configs:  # interleaved, so a noisy minute does not land on one configuration
            n = next(serial)
            items = list(synthetic_items(args.items, prefix=f"s{os.getpid()}-{n}"))
            warmup = list(synthetic_items(100 * processes * workers, prefix=f"w{os.getpid()}-{n}"))
            rates[(processes, workers)].append(run(processes, workers, items, warmup, args.concurrency))
    base = statistics.median(rates[(counts[0], 1)])
    print(f"\n  {'serve processes':<26}{'items/s':>9}   ratio to {counts[0]}")
    for processes, workers in configs:
        rate = statistics.median(rates[(processes, workers)])
        label = f"{processes}" if workers == 1 else f"{processes}, with --workers {workers}"
        print(f"  {label:<26}{rate:>9,.0f}   {rate / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
