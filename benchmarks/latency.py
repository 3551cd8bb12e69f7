"""Urgent item → assigned, under a steady background load of routine items, over HTTP on loopback.

    python benchmarks/latency.py [--seconds 30] [--background 20] [--probe-every 0.2]

`careroute serve` (a real uvicorn server in a subprocess, SQLite in WAL mode, CAREROUTE_DEMO=1) takes a
steady stream of routine items (`--background` per second, sent on a fixed schedule whatever the replies
do) while an urgent or emergent item from the sample week is posted every `--probe-every` seconds. An
urgent item's latency is the time from sending it to the 201 reply, which comes after the commit that
stored, classified, routed and assigned it (push assignment runs in the same transaction); afterwards the
store is read to check that every probe was assigned to someone. The reference is the same measurement,
under the same background load, against the minimal endpoint of the same stack
(benchmarks/raw_insert_app.py: FastAPI + uvicorn + SQLAlchemy, one raw insert per request).
Target: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SAMPLE, free_port, machine, start_server
from _packs import all_hands, dump

from careroute.store.repository import Store
from careroute.store.tables import events


def sample_by_urgency(urgent: bool) -> list[dict[str, Any]]:
    """The sample week's items labelled urgent or emergent (or routine)."""
    labels = SAMPLE.with_name("sample_labels.jsonl")
    chosen = {
        row["external_id"]
        for row in map(json.loads, labels.read_text().splitlines())
        if (row["urgency"] != "routine") == urgent
    }
    return [row for row in map(json.loads, SAMPLE.read_text().splitlines()) if row["external_id"] in chosen]


def variant(src: dict[str, Any], external_id: str, weeks: int, mrn: str | None = None) -> dict[str, Any]:
    """A copy of a sample item moved by whole weeks (outside the 72-hour duplicate window of the others)."""
    out = dict(src)
    out["external_id"] = external_id
    out["received_at"] = (datetime.fromisoformat(src["received_at"]) + timedelta(weeks=weeks)).isoformat()
    patient = dict(src.get("patient") or {})
    if mrn is not None:
        patient = {"mrn": mrn}
    elif patient.get("mrn"):
        patient["mrn"] = f"{patient['mrn']}-{weeks}"
    out["patient"] = patient
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(
    base: str, path: str, seconds: float, rate: float, probe_every: float, tag: str
) -> tuple[list[float], list[int], float]:
    """Background items on a fixed schedule and urgent probes; returns probe latencies (ms), their task ids
    (careroute only) and the background rate achieved."""
    routine_src = sample_by_urgency(False)
    probes_src = sample_by_urgency(True)
    latencies: list[float] = []
    task_ids: list[int] = []
    done = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def post_background(item: dict[str, Any]) -> None:
            nonlocal done
            r = await client.post(path, json=item)
            if r.status_code >= 300:
                raise RuntimeError(f"background item refused: {r.status_code}")
            done += 1

        async def probe(i: int) -> None:
            # A new patient in a week of its own: a probe is new work, never merged into an earlier one.
            src = variant(probes_src[i % len(probes_src)], f"probe-{tag}-{i}", -1 - i, mrn=f"PROBE-{tag}-{i}")
            t = time.perf_counter()
            r = await client.post(path, json=src)
            latencies.append((time.perf_counter() - t) * 1000)
            if r.status_code >= 300:
                raise RuntimeError(f"probe refused: {r.status_code}")
            body = r.json()
            if "task_id" in body:
                if body["decision"]["duplicate_of"]:
                    raise RuntimeError("a probe was merged as a duplicate: it would not measure new work")
                task_ids.append(int(body["task_id"]))

        pending: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        n_bg = int(seconds * rate)
        n_probe = int(seconds / probe_every)
        schedule = sorted(
            [(i / rate, "bg", i) for i in range(n_bg)] + [((i + 0.5) * probe_every, "probe", i) for i in range(n_probe)]
        )
        for at, kind, i in schedule:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == "bg":
                n = len(routine_src)
                coro = post_background(variant(routine_src[i % n], f"bg-{tag}-{i}", 1 + i // n))
            else:
                coro = probe(i)
            pending.append(asyncio.create_task(coro))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - start
    return latencies, task_ids, done / elapsed


def assigned(url: str, task_ids: list[int]) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        query = select(events.c.task_id).where(events.c.kind == "assigned", events.c.task_id.in_(task_ids))
        found = {r.task_id for r in conn.execute(query)}
    engine.dispose()
    return len(found)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--background", type=float, default=20, help="routine items per second")
    p.add_argument("--probe-every", type=float, default=0.2, help="seconds between urgent items")
    args = p.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Reference: the minimal endpoint of the same stack, under the same load.
        port = free_port()
        proc = start_server(["benchmarks/raw_insert_app.py", f"sqlite:///{tmp / 'raw.db'}", str(port)], port)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(run_load(base, "/raw", 2, args.background, args.probe_every, "rw"))  # warm up
            ref, _, ref_rate = asyncio.run(run_load(base, "/raw", args.seconds, args.background, args.probe_every, "r"))
        finally:
            proc.terminate()
            proc.wait()

        url = f"sqlite:///{tmp / 'careroute.db'}"
        Store.from_url(url).migrate()
        pack = tmp / "pack.yaml"
        pack.write_text(dump(all_hands()))
        port = free_port()
        env = {"CAREROUTE_DATABASE_URL": url, "CAREROUTE_RULES": str(pack), "CAREROUTE_DEMO": "1"}
        proc = start_server(["-m", "careroute.cli", "serve", "--port", str(port), "--log-level", "warning"], port, env)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(run_load(base, "/v1/items", 2, args.background, args.probe_every, "w"))  # warm up
            ours, task_ids, our_rate = asyncio.run(
                run_load(base, "/v1/items", args.seconds, args.background, args.probe_every, "c")
            )
        finally:
            proc.terminate()
            proc.wait()
        n_assigned = assigned(url, task_ids)
    print(f"background: routine items at {args.background:.0f}/s for {args.seconds:.0f} s; urgent every "
          f"{args.probe_every * 1000:.0f} ms ({len(ours)} urgent items)")  # fmt: skip
    print(f"  {'':36}{'p50':>9}{'p99':>9}{'max':>9}   background achieved")
    for label, values, rate in (
        ("raw-insert endpoint (reference)", ref, ref_rate),
        ("careroute urgent item → assigned", ours, our_rate),
    ):
        print(
            f"  {label:36}{statistics.median(values):7.1f}ms{pct(values, 0.99):7.1f}ms{max(values):7.1f}ms"
            f"   {rate:6.1f}/s"
        )
    p50_ratio = statistics.median(ours) / statistics.median(ref)
    print(
        f"  ratio p50 {p50_ratio:.1f}, p99 {pct(ours, 0.99) / pct(ref, 0.99):.1f}; "
        f"{n_assigned} of {len(task_ids)} urgent items assigned"
    )
    print(f"target p99 < 50 ms: {'met' if pct(ours, 0.99) < 50 else 'NOT met'}")
    return 0 if n_assigned == len(task_ids) else 1


if __name__ == "__main__":
    os.environ.setdefault("CAREROUTE_DEMO", "1")
    sys.exit(main())
