"""CPU per item of intake's two halves and of an escalation pass, for the profiles in benchmarks/README.md.

    python benchmarks/profile_intake.py [--items 10000] [--open 20000] [--cprofile DIR]

1. Intake: the sample week repeated (`--items`) is prepared first (classification and the duplicate-detection
   view: the part replay runs in worker processes), then stored in 250-item transactions as replay does
   (`Dispatcher.intake_prepared`); CPU milliseconds per item of each half.
2. Escalation: `--open` open tasks, 1% of their timers due, two rules firing on each (benchmarks/helpdesk.py's
   pack); CPU milliseconds per escalated task of one pass (the third of three rounds, so warm).

CPU time, not wall time: on a shared machine it moves far less when other work takes the cores. The
reference printed beside them is the CPU time of one plain `json.dumps` of each item, in the same run.
With `--cprofile DIR`, each part is run under cProfile and its stats written there (`pstats` to read them).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import machine, synthetic_items
from helpdesk import FAR, NOW, bench_pack

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.intake.contract import parse_item
from careroute.rules import load_pack, load_pack_text
from careroute.store.repository import Store
from careroute.store.tables import tasks


def timed(fn: Any, profile: Path | None) -> float:
    """CPU seconds of fn(), optionally under cProfile."""
    prof = cProfile.Profile() if profile else None
    start = time.process_time()
    if prof:
        prof.enable()
    fn()
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    return time.process_time() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--open", type=int, default=20_000)
    p.add_argument("--cprofile", type=Path, help="write cProfile stats of each part into this folder")
    args = p.parse_args()
    out = args.cprofile
    if out:
        out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    raw = list(synthetic_items(args.items, prefix="prof"))
    reference = timed(lambda: [json.dumps(r) for r in raw], None) * 1000 / args.items
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp_name:
        tmp = Path(tmp_name)
        store = Store.from_url(f"sqlite:///{tmp / 'intake.db'}")
        store.migrate()
        d = Dispatcher(store, load_pack(STARTER_PACK))
        d.load_pack()
        items = [parse_item(r) for r in raw]
        prepared: list[Any] = []
        prepare = timed(lambda: prepared.extend(d.prepare(items)), out / "prepare.prof" if out else None)

        def store_all() -> None:
            for i in range(0, len(prepared), 250):
                d.intake_prepared(prepared[i : i + 250], at_received=True)

        stored = timed(store_all, out / "store.prof" if out else None)
        store.engine.dispose()

        store = Store.from_url(f"sqlite:///{tmp / 'escalate.db'}")
        store.migrate()
        fill(store, args.open, NOW - timedelta(days=400), days=30, status="open", next_escalation_at=FAR)
        clock = SimulatedClock(NOW)
        d = Dispatcher(store, load_pack_text(bench_pack()), clock=clock)
        d.load_pack()
        for who in [s.id for s in d.pack.spec.staff]:
            d.set_presence(who, "busy")  # as in helpdesk.py: the pass raises urgencies, and would push to them
        rng = random.Random(1)
        n_due = max(1, args.open // 100)
        per_task = 0.0
        for round_ in range(3):
            due = rng.sample(range(1, args.open + 1), n_due)
            with store.write() as conn:
                soon = NOW - timedelta(seconds=1)
                conn.execute(update(tasks).where(tasks.c.id.in_(due)).values(next_escalation_at=soon))
            profile = out / "escalate.prof" if out and round_ == 2 else None
            per_task = timed(d.escalate, profile) * 1000 / n_due
            clock.now += timedelta(days=2)
        store.engine.dispose()
    print(f"  json.dumps of an item (reference)        {reference:8.3f} ms CPU per item")
    print(f"  intake, prepare (classify, identity)     {prepare * 1000 / args.items:8.3f} ms CPU per item")
    print(f"  intake, store (250 items a transaction)  {stored * 1000 / args.items:8.3f} ms CPU per item")
    print(f"  escalation pass, {n_due} due of {args.open:,}      {per_task:8.3f} ms CPU per escalated task")
    return 0


if __name__ == "__main__":
    sys.exit(main())
