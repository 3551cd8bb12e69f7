"""Intake throughput beside the raw insert rate of the same database, measured in the same run.

    python benchmarks/intake.py [--items N] [--http-items N] [--skip-postgres]

For SQLite (a file, WAL, synchronous=FULL) and PostgreSQL (loopback) it prints:
  raw inserts, one commit per row         rows/s
  raw inserts, batched                     rows/s
  careroute replay (classify, dedup, route, events; 250 items a transaction)   items/s  ratio to batched raw
  raw-insert endpoint, same web stack      req/s
  careroute POST /v1/items (one durable commit each)   items/s  ratio to raw endpoint
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, fresh_pg_schema, machine, postgres_answers, start_server, synthetic_items

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher
from careroute.rules import load_pack
from careroute.store.engine import make_engine
from careroute.store.repository import Store

raw_md = MetaData()
raw = Table(
    "bench_raw",
    raw_md,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(200)),
    Column("payload", JSON),
)


def raw_rates(url: str, items: list[dict[str, Any]], single: int) -> tuple[float, float]:
    engine = make_engine(url)
    raw_md.drop_all(engine)
    raw_md.create_all(engine)
    t = time.perf_counter()
    for row in items[:single]:
        with engine.begin() as conn:
            conn.execute(insert(raw).values(external_id=row["external_id"], payload=row))
    one = single / (time.perf_counter() - t)
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(raw), [{"external_id": r["external_id"], "payload": r} for r in items])
    batched = len(items) / (time.perf_counter() - t)
    raw_md.drop_all(engine)
    engine.dispose()
    return one, batched


def replay_rate(url: str, items: list[dict[str, Any]]) -> float:
    """`careroute replay` as a user runs it (worker processes prepare, this one stores), on a JSONL file."""
    import io

    from careroute.replay import replay

    store = Store.from_url(url)
    store.migrate()
    dispatcher = Dispatcher(store, load_pack(STARTER_PACK))
    dispatcher.load_pack()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for item in items:
            f.write(json.dumps(item) + "\n")
    summary = replay(dispatcher, Path(f.name), io.StringIO(), io.StringIO())
    Path(f.name).unlink()
    store.engine.dispose()
    return summary.items / summary.seconds


async def _post_all(url: str, path: str, items: list[dict[str, Any]], concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        queue = list(reversed(items))
        failures = 0

        async def worker() -> None:
            nonlocal failures
            while queue:
                r = await client.post(path, json=queue.pop())
                failures += r.status_code >= 300

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return len(items) / elapsed


def http_rates(url: str, items: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    port = free_port()
    proc = start_server(["benchmarks/raw_insert_app.py", url, str(port)], port)
    try:
        asyncio.run(_post_all(f"http://127.0.0.1:{port}", "/raw", items[:200], concurrency))  # warm up
        reference = asyncio.run(_post_all(f"http://127.0.0.1:{port}", "/raw", items[200:], concurrency))
    finally:
        proc.terminate()
        proc.wait()
    Store.from_url(url).migrate()
    port = free_port()
    env = {"CAREROUTE_DATABASE_URL": url, "CAREROUTE_DEMO": "1"}
    proc = start_server(["-m", "careroute.cli", "serve", "--port", str(port), "--log-level", "warning"], port, env)
    try:
        asyncio.run(_post_all(f"http://127.0.0.1:{port}", "/v1/items", items[:200], concurrency))
        ours = asyncio.run(_post_all(f"http://127.0.0.1:{port}", "/v1/items", items[200:], concurrency))
    finally:
        proc.terminate()
        proc.wait()
    return reference, ours




class Databases:
    """Fresh databases of one kind: SQLite files in a temporary folder, or PostgreSQL schemas."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.tmp = Path(tempfile.mkdtemp(prefix="careroute-bench-"))
        self.drops: list[Any] = []

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / name}.db"
        url, drop = fresh_pg_schema()
        self.drops.append(drop)
        return url

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc: object) -> None:
        for drop in self.drops:
            drop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000, help="items for replay and batched raw inserts")
    parser.add_argument("--single", type=int, default=2_000, help="rows for one-commit-per-row raw inserts")
    parser.add_argument("--http-items", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    targets = ["sqlite"] + ([] if args.skip_postgres or not postgres_answers() else ["postgresql"])
    for kind in targets:
        with Databases(kind) as dbs:
            items = list(synthetic_items(args.items, prefix=f"r{os.getpid()}"))
            one, batched = raw_rates(dbs.url("raw"), items, args.single)
            replay = replay_rate(dbs.url("replay"), items)
            http_items = list(synthetic_items(args.http_items + 200, prefix=f"h{os.getpid()}"))
            ref_http, ours_http = http_rates(dbs.url("http"), http_items, args.concurrency)
        print(f"\n{kind}")
        print(f"  raw inserts, one commit per row      {one:>9,.0f} rows/s")
        print(f"  raw inserts, batched                 {batched:>9,.0f} rows/s")
        print(
            f"  careroute replay                     {replay:>9,.0f} items/s   "
            f"ratio to batched raw {replay / batched:.3f}, to one-commit raw {replay / one:.3f}"
        )
        print(f"  raw-insert endpoint (same stack)     {ref_http:>9,.0f} req/s")
        print(
            f"  careroute POST /v1/items             {ours_http:>9,.0f} items/s   "
            f"ratio to raw endpoint {ours_http / ref_http:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
