"""What duplicate detection costs per item at intake: `candidate_for` (identity + request facts).

    python benchmarks/identity.py [--calls 5000] [--rounds 7]

Times (CPU time) `candidate_for` over the sample week (types from its labels), repeated to about `--calls` calls,
beside a reference measured in the same run over the same texts (`str.lower()` plus one `re.findall(r"\\w+")`):
the machine is shared and noisy, so the ratio is the figure to compare between runs. Each round times every
step over the repeated sample, in turns; the median of the rounds' per-item means (and of the per-round
ratios) is reported. Texts are never printed (PHI).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SAMPLE, machine

from careroute.dedup import candidate_for, find_duplicate, request_facts
from careroute.identity import extract_identity
from careroute.intake.contract import parse_item
from careroute.model import InboundItem

_WORD = re.compile(r"\w+")


def load() -> list[tuple[InboundItem, str]]:
    labels_path = SAMPLE.parent / "sample_labels.jsonl"
    labels = {r["external_id"]: r["type"] for r in map(json.loads, labels_path.read_text().splitlines()) if r}
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    return [(parse_item(d), labels.get(d["external_id"], "other")) for d in rows]


def timed_us(items: list[tuple[InboundItem, str]], fn: Callable[[InboundItem, str], object]) -> float:
    """Mean CPU time per item of one pass, in microseconds.

    CPU time of this process, not wall time: on a shared machine the wall clock also counts the
    time spent waiting for a core, which is the neighbours' cost, not this code's.
    """
    t = time.process_time()
    for item, type_ in items:
        fn(item, type_)
    return (time.process_time() - t) / len(items) * 1e6


def reference(item: InboundItem, _type: str) -> object:
    return _WORD.findall(item.text.lower())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=5000, help="candidate_for calls in all (the sample repeated)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds; the median round is reported")
    args = p.parse_args()
    items = load()
    repeat = max(1, args.calls // (len(items) * args.rounds))
    work = items * repeat
    print(f"machine: {machine()}")
    print(f"{len(items)} sample items x {repeat} x {args.rounds} rounds = {len(work) * args.rounds:,} calls each")

    # Warm up: lexicons loaded, regexes compiled, caches filled as they would be after a few minutes of intake.
    for item, type_ in items:
        candidate_for(item, type_)
    # The figures are taken in turns, round after round, so that a neighbour's load hits them alike;
    # the ratio is taken within each round and its median reported.
    steps: dict[str, Callable[[InboundItem, str], object]] = {
        "reference": reference,
        "candidate_for": lambda i, t: candidate_for(i, t),
        "extract_identity": lambda i, _t: extract_identity(i),
        "request_facts": request_facts,
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, fn in steps.items():
            times[name].append(timed_us(work, fn))
    ref, cand, ident, facts = (statistics.median(times[name]) for name in steps)
    ratio = statistics.median(c / r for c, r in zip(times["candidate_for"], times["reference"], strict=True))
    # Matching: every item against the 8 items before it in the sample, as a handful of candidates.
    cands = [candidate_for(i, t) for i, t in items]
    pairs = [(c, cands[max(0, k - 8) : k]) for k, c in enumerate(cands)]
    t = time.process_time()
    n = 0
    for _ in range(max(1, repeat)):
        for new, earlier in pairs:
            find_duplicate(new, [e for e in earlier if e.type == new.type] or earlier)
            n += 1
    find = (time.process_time() - t) / n * 1e6

    print(f"reference (lower + findall \\w+)   {ref:>9.1f} us/item")
    print(f"candidate_for                      {cand:>9.1f} us/item   ratio to reference {ratio:>6.1f}")
    print(f"  extract_identity                 {ident:>9.1f} us/item")
    print(f"  request_facts                    {facts:>9.1f} us/item")
    print(f"find_duplicate (<= 8 candidates)   {find:>9.1f} us/item")
    return 0


if __name__ == "__main__":
    sys.exit(main())
