"""A rule-pack preview of a 10,000-item week: the draft and the live pack side by side, beside a reference.

    python benchmarks/rules_preview.py [--items 10000]

Builds a SQLite store in a temporary folder holding a week of real-looking work (the shared sample
week repeated to --items items, each taken in through the dispatcher on its own received time),
starts a draft that adds one keyword phrase ("call me back" for call-backs, so that the draft's
classifier differs from the live one and some items change type),
and times what the "Preview" button runs: reading the week from the event log and the items, both
packs' classification and routing, both simulated weeks on the pack's roster, and the comparison.

The reference, measured in the same run on the same items, is a plain replay classification: the
live pack's classifier over every item once, the cheapest thing any preview must at least do. The
preview reuses the live pack's classifications that the event log recorded (they were made by the
very same version); the run "nothing reused" classifies both sides from scratch.

Target: a 10,000-item week previews in under 10 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import base_items, machine  # noqa: E402

from careroute.access import Principal  # noqa: E402
from careroute.config import STARTER_PACK  # noqa: E402
from careroute.dispatcher import Dispatcher, SimulatedClock, pack_classifier  # noqa: E402
from careroute.intake.contract import parse_item  # noqa: E402
from careroute.model import InboundItem  # noqa: E402
from careroute.rule_admin import RuleAdmin  # noqa: E402
from careroute.rules import load_pack  # noqa: E402
from careroute.rules.preview import HistoryItem, preview  # noqa: E402
from careroute.store.repository import Store  # noqa: E402

ADMIN = Principal("bench", "user", "admin", "bench", clinical=True)


def week(n: int) -> list[InboundItem]:
    """n distinct items in one week: the sample week repeated, each copy a new item of a new patient."""
    base = base_items()
    out = []
    for i in range(n):
        src = dict(base[i % len(base)])
        src["external_id"] = f"bench-{i}"
        patient = dict(src.get("patient") or {})
        if patient.get("mrn"):
            patient["mrn"] = f"{patient['mrn']}-{i // len(base)}"
        src["patient"] = patient
        out.append(parse_item(src))
    return sorted(out, key=lambda item: item.received_at)


class Stages:
    """Time spent in each stage the preview reports through its progress callback."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.stage = ""
        self.at = time.perf_counter()

    def progress(self, stage: str, _share: float) -> None:
        if stage != self.stage:
            now = time.perf_counter()
            if self.stage:
                self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.at
            self.stage, self.at = stage, now


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    print(machine())
    items = week(args.items)
    pack = load_pack(STARTER_PACK)
    with tempfile.TemporaryDirectory() as folder:
        store = Store.from_url(f"sqlite:///{folder}/bench.db")
        store.migrate()
        clock = SimulatedClock(items[0].received_at)
        # Duplicate detection off while loading: the week is repeated copies, and this measures the preview.
        dispatcher = Dispatcher(store, pack, clock=clock, find_duplicates=False)
        dispatcher.load_pack()
        started = time.perf_counter()
        for i in range(0, len(items), 250):
            dispatcher.intake_batch(items[i : i + 250], at_received=True)
        print(f"loaded {len(items):,} items of {items[0].received_at:%a %d %b} to {items[-1].received_at:%a %d %b} "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        clock.now = items[-1].received_at + timedelta(minutes=1)

        admin = RuleAdmin(dispatcher)
        draft_id = admin.start_draft(ADMIN)
        edit = admin.edit(draft_id, "keywords", {"tag": "appointment_callback", "phrases": "call me back"}, ADMIN)
        assert edit.ok, edit.problems
        draft = admin.draft_pack(admin.draft(draft_id))

        # Reference: one plain classification of every item with the live pack.
        classify = pack_classifier(pack)
        started = time.perf_counter()
        for item in items:
            classify(item)
        reference = time.perf_counter() - started

        stages = Stages()
        started = time.perf_counter()
        history = admin.history(clock.now - timedelta(days=7), clock.now)
        read = time.perf_counter() - started
        stages.at = time.perf_counter()
        result = preview(history, dispatcher.pack, draft, stages.progress)
        total = time.perf_counter() - started
        stages.progress("", 0.0)

        cold_history = [HistoryItem(h.task_id, h.item, staff_queue=h.staff_queue) for h in history]
        started = time.perf_counter()
        cold = preview(cold_history, dispatcher.pack, draft)
        cold_total = time.perf_counter() - started
        assert cold["changed"] == result["changed"]
        store.engine.dispose()

    print(f"reference: plain replay classification of the {len(items):,} items: {reference:.2f} s")
    changed = result["changed"]
    print(f"preview of the week ({result['items']:,} items, {changed['any']:,} decisions change, "
          f"{changed['type']:,} change type): {total:.2f} s = {total / reference:.2f} x the reference")  # fmt: skip
    print(f"  reading the week from the store: {read:.2f} s")
    for stage, seconds in stages.seconds.items():
        print(f"  {stage}: {seconds:.2f} s")
    print(f"  classifications reused from the event log: {result['reused']['live']:,}")
    print(f"nothing reused (both packs classify every item): {cold_total:.2f} s = {cold_total / reference:.2f} x")
    print(f"target < 10 s: {'met' if total < 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
