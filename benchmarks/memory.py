"""Peak memory of `careroute serve` with 1,000,000 tasks stored, beside the minimal app of the same stack.

    python benchmarks/memory.py [--tasks 1000000] [--open 3000] [--rounds 3]

A SQLite store (WAL) is filled with `--tasks` tasks over two years (their items, patients' identity keys
and summary rows, benchmarks/_bulk.py), the last `--open` of them still open. `careroute serve` (a real
uvicorn subprocess, CAREROUTE_DEMO=1, the starter pack) then serves the main pages and API `--rounds`
times each: My work, the queues board, a task, the rules, the scoreboard, the task list, the queues, and
some items taken in. Its peak resident memory is read from /proc/PID/status (VmHWM) beside the same
figure for the minimal app of the same stack (benchmarks/raw_insert_app.py: FastAPI + uvicorn +
SQLAlchemy) after it took requests. Target: under 300 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import free_port, machine, start_server, synthetic_items

from careroute.store.repository import Store
from careroute.store.tables import tasks

END = datetime(2026, 10, 5, 12, tzinfo=UTC)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmHWM"], values["VmRSS"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=1_000_000)
    p.add_argument("--open", type=int, default=3_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        proc = start_server(["benchmarks/raw_insert_app.py", f"sqlite:///{tmp / 'raw.db'}", str(port)], port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for item in synthetic_items(300, prefix="mem-raw"):
                    client.post("/raw", json=item).raise_for_status()
                client.get("/docs").raise_for_status()
            ref_hwm, ref_rss = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait()

        url = f"sqlite:///{tmp / 'careroute.db'}"
        store = Store.from_url(url)
        store.migrate()
        fill(store, args.tasks, END, days=730, status="resolved")
        with store.write() as conn:
            last = args.tasks - args.open
            conn.execute(
                update(tasks).where(tasks.c.id > last).values(status="open", first_claimed_at=None, resolved_at=None)
            )
            task_id = conn.execute(select(tasks.c.id).where(tasks.c.id > last).limit(1)).scalar_one()
        store.engine.dispose()
        size_mb = sum(f.stat().st_size for f in tmp.glob("careroute.db*")) / 1e6
        port = free_port()
        env = {"CAREROUTE_DATABASE_URL": url, "CAREROUTE_DEMO": "1"}
        proc = start_server(["-m", "careroute.cli", "serve", "--port", str(port), "--log-level", "warning"], port, env)
        try:
            start_hwm, _ = peak_rss_mb(proc.pid)
            pages = [
                "/my/luis", "/board", f"/tasks/{task_id}", "/rules", "/scoreboard",
                "/v1/tasks", "/v1/queues", f"/v1/tasks/{task_id}", "/healthz",
            ]  # fmt: skip
            items = synthetic_items(args.rounds * 100, prefix="mem")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                for _ in range(args.rounds):
                    for page in pages:
                        r = client.get(page)
                        if r.status_code != 200:
                            raise RuntimeError(f"{page}: {r.status_code}")
                    for _, item in zip(range(100), items, strict=False):
                        client.post("/v1/items", json=item).raise_for_status()
            hwm, rss = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait()
    print(f"store: {args.tasks:,} tasks ({args.open:,} open), {size_mb:,.0f} MB on disk")
    print(f"  {'':40}{'peak (VmHWM)':>14}{'now (VmRSS)':>14}")
    print(f"  {'minimal same-stack app (reference)':40}{ref_hwm:>11.0f} MB{ref_rss:>11.0f} MB")
    print(f"  {'careroute serve, after start-up':40}{start_hwm:>11.0f} MB")
    print(f"  {'careroute serve, after pages and intake':40}{hwm:>11.0f} MB{rss:>11.0f} MB")
    print(f"  ratio of peaks {hwm / ref_hwm:.1f}; target < 300 MB: {'met' if hwm < 300 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
