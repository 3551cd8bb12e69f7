"""What duplicate detection costs at intake when the store already holds 1,000,000 tasks.

    python benchmarks/dedup.py [--history 1000000] [--items 3000]

Both figures come from the same store in the same run: intake of the same kind of items with duplicate
detection on, and with it off (the reference). Target: with / without <= 1.3.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bulk import fill
from _common import machine, synthetic_items

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.intake.contract import parse_item
from careroute.rules import load_pack
from careroute.store.repository import Store


def rate(store: Store, find: bool, items: list, chunk: int) -> float:  # type: ignore[type-arg]
    """Items/s of the whole intake (classification, identity extraction when on, the store), `chunk` per commit."""
    pack = load_pack(STARTER_PACK)
    d = Dispatcher(store, pack, clock=SimulatedClock(items[0].received_at), find_duplicates=find)
    d.intake_batch(items[:1], at_received=True)  # warm up: rules compiled, calendar years built
    t = time.perf_counter()
    for i in range(1, len(items), chunk):
        d.intake_batch(items[i : i + chunk], at_received=True)
    return (len(items) - 1) / (time.perf_counter() - t)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--history", type=int, default=1_000_000)
    p.add_argument("--items", type=int, default=3_000)
    p.add_argument("--chunk", type=int, default=1, help="items per transaction (1 = as HTTP intake does)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="careroute-bench-") as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'dedup.db'}")
        store.migrate()
        end = datetime(2026, 10, 4, tzinfo=UTC)
        fill(store, args.history, end)
        # The sample week repeated week after week (its own duplicate rate), placed after the history.
        base = list(synthetic_items(args.items * 2, prefix="dd"))
        first = datetime.fromisoformat(base[0]["received_at"])
        shifted = []
        for data in base:
            data["received_at"] = (end + (datetime.fromisoformat(data["received_at"]) - first)).isoformat()
            shifted.append(parse_item(data))
        without = rate(store, False, shifted[: args.items], args.chunk)
        with_dedup = rate(store, True, shifted[args.items :], args.chunk)
    print(f"history in the store                {args.history:>12,} tasks")
    print(f"intake without duplicate detection  {without:>12,.0f} items/s   (reference)")
    print(f"intake with duplicate detection     {with_dedup:>12,.0f} items/s")
    print(f"cost ratio (time with / without)    {without / with_dedup:>12.2f}   target <= 1.3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
