"""careroute beside django-helpdesk doing the same work, on SQLite in WAL mode, measured in the same run.

    python benchmarks/helpdesk.py [--sizes 10000 100000] [--form-sample 1000] [--assign-sample 500]
                                  [--idle-open 1000000] [--helpdesk-sync FULL NORMAL]

django-helpdesk (pinned below) is installed by this script into its own venv, var/helpdesk-venv (git-ignored),
from PyPI on first use. For each size (open tickets / open tasks) both systems run three phases:

  create    django-helpdesk: `TicketForm.save` (its staff "new ticket" path), one ticket per call, in 11
            queues; careroute: `careroute replay`'s code path (classify, dedup, route, events).
  assign    django-helpdesk: `update_ticket(owner=...)` (its ticket view's path); careroute:
            `Dispatcher.assign` (a lead gives a task to a person: capacity and credential checks, event).
  escalate  1% of the open work overdue, one sweep: django-helpdesk's `escalate_tickets` command (priority
            up, mail rendered, follow-up and change rows); careroute: `Dispatcher.escalate` passes as the
            server's scheduler runs them (notify the queue's supervisor and raise the urgency: two rules).

At each size the first (size - form sample) tickets/tasks are written in bulk (django-helpdesk:
`bulk_create` of tickets and their opening follow-ups; careroute: benchmarks/_bulk.py), and the creation
path is timed on the last `--form-sample` ones, on a store of the full size (so the rates include any cost
of a large table). Then, with --idle-open, one careroute pass that finds nothing due over that many open
tasks, beside the bare indexed "find overdue" query in the same run.

Both sides commit with synchronous=FULL (an accepted item survives a power cut); django-helpdesk commits
once per save, so its creation rate follows the disk's fsync time. `--helpdesk-sync NORMAL` runs it a
second time without the per-commit fsync, to show the ratio without the disk. Each phase's CPU time per
item (the process and its finished children) is printed too: on a shared machine it moves far less than
wall time when other work takes the cores.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import ROOT, machine, synthetic_items
from _packs import STAFF, all_hands, dump

from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.replay import replay
from careroute.rules import load_pack_text
from careroute.store.repository import Store
from careroute.store.tables import tasks

HELPDESK = "django-helpdesk==2.6.1"
VENV = ROOT / "var" / "helpdesk-venv"
WORKER = Path(__file__).resolve().parent / "_helpdesk_worker.py"
#: Late enough after every replayed or bulk-written item that a day-old rule is due on any task.
NOW = datetime(2028, 6, 6, 15, tzinfo=UTC)
FAR = NOW + timedelta(days=3650)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (replay's workers): unlike wall time, it does not
    grow when other work on a shared machine takes the cores."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def helpdesk_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {HELPDESK} into {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", HELPDESK], check=True)
    return python


def run_helpdesk(n: int, sample: int, assign: int, sync: str, items: Path, tmp: Path) -> dict[str, Any]:
    db = tmp / f"helpdesk-{n}-{sync}.db"
    out = subprocess.run(
        [
            str(helpdesk_python()),
            "-I",  # isolated: benchmarks/ is not put on its path (helpdesk.py would shadow the package)
            str(WORKER),
            str(db),
            str(items),
            "--tickets",
            str(n),
            "--form-sample",
            str(sample),
            "--assign-sample",
            str(assign),
            "--synchronous",
            sync,
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"django-helpdesk run failed:\n{out.stderr[-3000:]}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_pack() -> str:
    """Staff who may work every queue, and one escalation policy like the helpdesk's: anything unclaimed
    for a day is raised one urgency step and its queue's supervisor is told."""
    data = all_hands(STAFF)
    data["escalation"]["rules"] = [
        {
            "id": "esc.bench.supervisor",
            "when": {"status": "unclaimed"},
            "after": "24 hours",
            "action": {"do": "notify", "role": "queue_supervisor"},
        },
        {
            "id": "esc.bench.raise",
            "when": {"status": "unclaimed"},
            "after": "24 hours",
            "action": {"do": "raise_urgency"},
        },
    ]
    return dump(data)


def run_careroute(n: int, sample: int, assign: int, items: Path, tmp: Path) -> dict[str, Any]:
    store = Store.from_url(f"sqlite:///{tmp / f'careroute-{n}.db'}")
    store.migrate()
    clock = SimulatedClock(NOW)
    d = Dispatcher(store, load_pack_text(bench_pack()), clock=clock)
    d.load_pack()
    staff = [f"s{i:02d}" for i in range(STAFF)]
    # Nobody takes pushed work while items arrive: the assign phase then has open tasks to give out.
    for who in staff:
        d.set_presence(who, "busy")
    out: dict[str, Any] = {"bulk": n - sample}
    if n > sample:
        t = time.perf_counter()
        fill(store, n - sample, NOW - timedelta(days=400), days=30, status="open", next_escalation_at=FAR)
        out["bulk_seconds"] = time.perf_counter() - t
    cpu = cpu_seconds()
    summary = replay(d, items, io.StringIO(), io.StringIO())
    out["create_per_s"] = summary.items / summary.seconds
    out["create_cpu_ms"] = (cpu_seconds() - cpu) * 1000 / summary.items
    out["merged"] = summary.duplicates

    rng = random.Random(11)
    with store.read() as conn:
        ids = [r.id for r in conn.execute(select(tasks.c.id).where(tasks.c.status == "open"))]
    out["open"] = len(ids)
    cpu = cpu_seconds()
    t = time.perf_counter()
    for k, tid in enumerate(rng.sample(ids, min(assign, len(ids)))):
        d.assign(tid, staff[k % STAFF], actor="lead")
    out["assign_per_s"] = min(assign, len(ids)) / (time.perf_counter() - t)
    out["assign_cpu_ms"] = (cpu_seconds() - cpu) * 1000 / min(assign, len(ids))

    # 1% of the open work overdue: their timers come due now; everything else's lies ahead.
    with store.write() as conn:
        conn.execute(update(tasks).where(tasks.c.status != "resolved").values(next_escalation_at=FAR))
        due = rng.sample(ids, max(1, len(ids) // 100))
        conn.execute(update(tasks).where(tasks.c.id.in_(due)).values(next_escalation_at=NOW - timedelta(seconds=1)))
    escalated: set[int] = set()
    cpu = cpu_seconds()
    t = time.perf_counter()
    while True:  # as the scheduler does: passes of up to 500 timers until none is due
        fired = d.escalate()
        escalated.update(f.task_id for f in fired)
        with store.read() as conn:
            left = conn.execute(select(tasks.c.id).where(tasks.c.next_escalation_at <= NOW).limit(1)).first()
        if left is None:
            break
    seconds = time.perf_counter() - t
    out.update(escalated=len(escalated), escalate_ms=seconds * 1000, escalate_ms_per_task=seconds * 1000 / len(due))
    out["escalate_cpu_ms"] = (cpu_seconds() - cpu) * 1000 / len(due)
    store.engine.dispose()
    return out


def idle_pass(n_open: int, tmp: Path) -> tuple[float, float]:
    """One careroute pass with nothing due over n_open open tasks, and the bare indexed query (best of 5 each)."""
    store = Store.from_url(f"sqlite:///{tmp / 'idle.db'}")
    store.migrate()
    fill(store, n_open, NOW - timedelta(hours=6), days=1, status="open", next_escalation_at=FAR, with_items=False)
    d = Dispatcher(store, load_pack_text(bench_pack()), clock=SimulatedClock(NOW))
    d.load_pack()
    ours, reference = [], []
    for _ in range(5):
        t = time.perf_counter()
        with store.read() as conn:
            found = conn.execute(select(tasks.c.id).where(tasks.c.next_escalation_at <= NOW).limit(500)).first()
        reference.append((time.perf_counter() - t) * 1000)
        assert found is None
        t = time.perf_counter()
        fired = d.escalate()
        ours.append((time.perf_counter() - t) * 1000)
        assert not fired
    store.engine.dispose()
    return min(ours), min(reference)


def write_items(n: int, path: Path) -> None:
    with path.open("w") as f:
        for item in synthetic_items(n, prefix=f"hd{os.getpid()}"):
            f.write(json.dumps(item) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--form-sample", type=int, default=1_000, help="items through each creation path per size")
    p.add_argument("--assign-sample", type=int, default=500)
    p.add_argument("--idle-open", type=int, default=1_000_000, help="0: skip the nothing-due pass")
    p.add_argument("--helpdesk-sync", nargs="+", default=["FULL", "NORMAL"], choices=["FULL", "NORMAL"])
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"reference: {HELPDESK}, Django, SQLite WAL; careroute on the same SQLite build, same process tree")
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for n in args.sizes:
            sample = min(n, args.form_sample)
            items = tmp / f"items-{n}.jsonl"
            write_items(sample, items)
            ours = run_careroute(n, sample, args.assign_sample, items, tmp)
            theirs = {s: run_helpdesk(n, sample, args.assign_sample, s, items, tmp) for s in args.helpdesk_sync}
            print(f"\n{n:,} open (creation timed on the last {sample:,}; the rest written in bulk)")
            print(f"  {'phase':34}{'careroute':>14}" + "".join(f"{'helpdesk ' + s:>18}{'ratio':>8}" for s in theirs))
            rows = [
                ("create, items/s (higher is better)", "create_per_s", True),
                ("assign, tasks/s", "assign_per_s", True),
                ("escalate, ms per escalated task", "escalate_ms_per_task", False),
                ("CPU ms per item created", "create_cpu_ms", False),
                ("CPU ms per task assigned", "assign_cpu_ms", False),
                ("CPU ms per task escalated", "escalate_cpu_ms", False),
            ]
            for label, key, higher in rows:
                line = f"  {label:34}{ours[key]:>14,.2f}"
                for r in theirs.values():
                    ratio = ours[key] / r[key] if higher else r[key] / ours[key]
                    line += f"{r[key]:>18,.2f}{ratio:>7.1f}×"
                print(line)
            counts = ", ".join(f"helpdesk {s} {r['escalated']} of {r['open']:,}" for s, r in theirs.items())
            print(f"  escalated: careroute {ours['escalated']} of {ours['open']:,} open tasks; {counts}")
            idle = ", ".join(f"{s} {r['idle_pass_ms']:.1f} ms" for s, r in theirs.items())
            print(f"  helpdesk sweep with nothing left to escalate: {idle}")
        if args.idle_open:
            ours_idle, reference = idle_pass(args.idle_open, tmp)
            print(f"\nescalation pass finding nothing due, {args.idle_open:,} open tasks (best of 5):")
            print(f"  bare indexed 'find overdue' query   {reference:8.2f} ms   (reference)")
            print(f"  careroute pass                      {ours_idle:8.2f} ms   target < 5 ms")
    print("\ntargets: create ≥ 20× helpdesk; escalate ≤ 0.1 ms per escalated task and ≥ 40× helpdesk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
