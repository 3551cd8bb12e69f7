#!/usr/bin/env python3
"""Train the shipped learned fallback from the labelled cases in this repository, and nothing else.

    python scripts/train_classifier.py [--check]

Reads tests/unit/cases/classify_cases.jsonl and tests/unit/cases/blind_round_*.jsonl, keeps the
items the classifier would read as free text (lab results and prior-authorisation updates are
read from their structured fields and never reach the model), normalises them as classify does,
and writes src/careroute/classify/model/learned.json. Training is deterministic: the same files
give the same model. ``--check`` exits 1 if the shipped file differs from a fresh training.
Prints counts only: message bodies are PHI-shaped and never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from careroute.classify.evaluate import item_from_mapping  # noqa: E402
from careroute.classify.labs import is_lab  # noqa: E402
from careroute.classify.learned import SHIPPED, SHIPPED_C, examples_from_rows, train  # noqa: E402
from careroute.classify.prior_auth import is_prior_auth  # noqa: E402

CASES = ROOT / "tests" / "unit" / "cases"
OUT = ROOT / "src" / "careroute" / "classify" / SHIPPED


def training_files() -> list[Path]:
    return [CASES / "classify_cases.jsonl", *sorted(CASES.glob("blind_round_*.jsonl"))]


def free_text_rows(paths: list[Path]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            item = item_from_mapping(row)
            if is_lab(item) or is_prior_auth(item):
                continue
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped model is out of date")
    args = parser.parse_args()
    paths = training_files()
    rows = free_text_rows(paths)
    model = train(examples_from_rows(rows), c=SHIPPED_C)
    text = json.dumps(model.to_dict(), sort_keys=True)
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.is_file() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run scripts/train_classifier.py", file=sys.stderr)
            return 1
        print("shipped model is up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    counts = Counter(str(r["type"]) for r in rows)
    print(f"trained on {len(rows)} items from {len(paths)} files: {dict(sorted(counts.items()))}")
    print(f"{len(model.vocabulary)} features, {len(model.classes)} tags -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
