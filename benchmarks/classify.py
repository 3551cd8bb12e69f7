"""Classifier speed on the shared sample: median time per item and items/s, beside a reference.

    python benchmarks/classify.py [--rounds N]

The shipped rules blend a learned model where keywords are weak, read routine patient messages
with the urgency safety net and routine refills of critical medicines with the refill net; the same
items are also timed with the nets off, and with all three off, so their cost is visible (together
they must not more than double the median).

The reference, measured in the same run on the same texts, is one precompiled `re` search for one
keyword over each text: the cheapest "classifier" there is. The ratio says how many such scans
one full classification costs, which stays comparable across machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from careroute.classify import classify, default_rules  # noqa: E402
from careroute.classify.evaluate import item_from_mapping  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "sample_queue.jsonl"
CASES = ROOT / "tests" / "unit" / "cases" / "classify_cases.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    source = SAMPLE if SAMPLE.is_file() else CASES
    items = [item_from_mapping(json.loads(line)) for line in source.read_text(encoding="utf-8").splitlines() if line]
    texts = [item.text for item in items]

    started = time.perf_counter()
    rules = default_rules()
    load_ms = (time.perf_counter() - started) * 1000
    for item in items:  # warm the per-word caches, as a running service would be
        classify(item, rules)

    per_item: list[float] = []
    reference: list[float] = []
    keyword = re.compile(r"\brefill\b", re.IGNORECASE)
    total_started = time.perf_counter()
    for _ in range(args.rounds):
        for item in items:
            t0 = time.perf_counter()
            classify(item, rules)
            per_item.append(time.perf_counter() - t0)
    total = time.perf_counter() - total_started
    no_net = dataclasses.replace(rules, urgency_net=None, refill_net=None)
    keywords_only = dataclasses.replace(rules, model=None, urgency_net=None, refill_net=None)
    without_net: list[float] = []
    without_model: list[float] = []
    for _ in range(args.rounds):
        for item in items:
            t0 = time.perf_counter()
            classify(item, no_net)
            without_net.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            classify(item, keywords_only)
            without_model.append(time.perf_counter() - t0)
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            keyword.search(text)
            reference.append(time.perf_counter() - t0)

    median = statistics.median(per_item)
    ref_median = statistics.median(reference)
    rate = len(per_item) / total
    print(f"items: {len(items)} from {source.name}, rounds: {args.rounds}")
    print(f"rules load + compile (once per process): {load_ms:.0f} ms")
    p95 = sorted(per_item)[int(len(per_item) * 0.95)]
    print(f"classify  median {median * 1e6:8.1f} us/item   p95 {p95 * 1e6:8.1f} us   {rate:8.0f} items/s")
    netless = statistics.median(without_net)
    plain = statistics.median(without_model)
    print(f"no nets   median {netless * 1e6:8.1f} us/item   (both nets off: they cost {median / netless:.2f}x)")
    print(f"no models median {plain * 1e6:8.1f} us/item   (fallback and nets off: they cost {median / plain:.2f}x)")
    print(f"reference median {ref_median * 1e6:8.1f} us/item   (one precompiled re.search for one keyword)")
    print(f"ratio classify / reference: {median / ref_median:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
