#!/usr/bin/env python3
"""Train the shipped learned fallback, urgency safety net and refill net from labelled files in this repository.

    python scripts/train_classifier.py [--check]

Reads tests/unit/cases/classify_cases.jsonl and tests/unit/cases/blind_round_*.jsonl, keeps the
items the classifier would read as free text (lab results and prior-authorisation updates are
read from their structured fields and never reach the model), normalises them as classify does,
and writes src/careroute/classify/model/learned.json.

The urgency safety net (src/careroute/classify/model/urgency_net.json) is trained on the
patient-written items (portal, voicemail, email, phone) of the same files plus the shared sample
(../shared/samples, when present), labelled high (emergent/urgent) or routine; urgent refills are
left out (their urgency is the critical-medicine rule's, not danger in words). Its threshold is
set as scripts/validate_urgency_net.py validated it: every item gets a probability from a net
that never saw its set (leave-one-set-out), and the threshold is the lowest at which the net
would raise at most SHIPPED_BUDGET of the routine items the rules leave routine.

The refill net (src/careroute/classify/model/refill_net.json) is trained on every labelled refill
that names a critical medicine, in the same sets and the stress set of refills
(stress_round_32.jsonl), urgent against routine. Its threshold is set the same way: the lowest at
which nets that never saw a set would raise at most refill_net.SHIPPED_BUDGET of all routine items.

Training is deterministic: the same files give the same files. ``--check`` exits 1 if a shipped
file differs from a fresh training.
Prints counts only: message bodies are PHI-shaped and never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from careroute.classify.classifier import classify, learned_reading, refill_reading  # noqa: E402
from careroute.classify.evaluate import item_from_mapping  # noqa: E402
from careroute.classify.labs import is_lab  # noqa: E402
from careroute.classify.learned import SHIPPED, SHIPPED_C, LearnedModel, examples_from_rows, train  # noqa: E402
from careroute.classify.prior_auth import is_prior_auth  # noqa: E402
from careroute.classify.refill_net import KIND as REFILL_KIND  # noqa: E402
from careroute.classify.refill_net import SHIPPED as REFILL_SHIPPED  # noqa: E402
from careroute.classify.refill_net import SHIPPED_BUDGET as REFILL_BUDGET  # noqa: E402
from careroute.classify.refill_net import SHIPPED_C as REFILL_C  # noqa: E402
from careroute.classify.refill_net import teaches_refill_net  # noqa: E402
from careroute.classify.rules import ClassifierRules, lexicon_rules  # noqa: E402
from careroute.classify.urgency_net import (  # noqa: E402
    PATIENT_CHANNELS,
    SHIPPED_BUDGET,
    SHIPPED_CHARS,
    UrgencyNet,
    choose_threshold,
    teaches_net,
    train_net,
)
from careroute.classify.urgency_net import SHIPPED as NET_SHIPPED  # noqa: E402
from careroute.classify.urgency_net import SHIPPED_C as NET_C  # noqa: E402

CASES = ROOT / "tests" / "unit" / "cases"
SAMPLES = ROOT.parent / "shared" / "samples"
OUT = ROOT / "src" / "careroute" / "classify" / SHIPPED
NET_OUT = ROOT / "src" / "careroute" / "classify" / NET_SHIPPED
REFILL_OUT = ROOT / "src" / "careroute" / "classify" / REFILL_SHIPPED
HIGH = {"emergent", "urgent"}


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


def labelled_sets() -> dict[str, list[dict[str, Any]]]:
    """Every labelled set, by name: the shared sample (labels in a separate file), the cases, the rounds."""
    sets: dict[str, list[dict[str, Any]]] = {}
    queue, labels = SAMPLES / "sample_queue.jsonl", SAMPLES / "sample_labels.jsonl"
    if queue.is_file() and labels.is_file():
        by_id = {r["external_id"]: r for r in _jsonl(labels)}
        sets["sample"] = [
            {**r, "type": by_id[r["external_id"]]["type"], "urgency": by_id[r["external_id"]]["urgency"]}
            for r in _jsonl(queue)
        ]
    for path in training_files():
        sets[path.stem] = _jsonl(path)
    return sets


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_urgency_net(learned: LearnedModel) -> tuple[UrgencyNet, int]:
    """The net on every patient-written labelled item, at the leave-one-set-out threshold."""
    sets = labelled_sets()
    lexicon = lexicon_rules()
    rules = lexicon.with_model(learned)

    def words(row: dict[str, Any]) -> tuple[str, ...]:
        item = item_from_mapping(row)
        return learned_reading(item.text, lexicon, item.received_at.date())

    def fit(rows: list[dict[str, Any]]) -> UrgencyNet:
        examples = [
            (words(r), r["urgency"] in HIGH) for r in rows if teaches_net(r["channel"], r["type"], r["urgency"])
        ]
        return train_net(examples, c=NET_C, use_chars=SHIPPED_CHARS)

    raisable: list[float] = []
    routine = 0
    for name, rows in sets.items():
        net = fit([r for other, more in sets.items() if other != name for r in more])
        for row in rows:
            if row["urgency"] in HIGH:
                continue
            routine += 1
            if row["channel"] in PATIENT_CHANNELS and classify(item_from_mapping(row), rules).urgency == "routine":
                raisable.append(net.probability(words(row)))
    threshold = choose_threshold(raisable, routine, SHIPPED_BUDGET)
    everything = [r for rows in sets.values() for r in rows]
    taught = sum(teaches_net(r["channel"], r["type"], r["urgency"]) for r in everything)
    return fit(everything).with_threshold(threshold), taught


def train_refill_net(rules: ClassifierRules) -> tuple[UrgencyNet, int]:
    """The refill net on every labelled refill naming a critical medicine (the stress set of refills
    too), at the leave-one-set-out threshold; ``rules`` are the shipped rules without a refill net,
    which decide the refills it could raise."""
    sets = labelled_sets()
    stress = CASES / "stress_round_32.jsonl"
    if stress.is_file():
        sets[stress.stem] = _jsonl(stress)
    lexicon = lexicon_rules()
    readings: dict[str, tuple[tuple[str, ...], bool]] = {}
    for rows in sets.values():
        for row in rows:
            item = item_from_mapping(row)
            readings[row["external_id"]] = refill_reading(item.text, lexicon, item.received_at.date())

    def fit(rows: list[dict[str, Any]]) -> UrgencyNet:
        examples = [
            (readings[r["external_id"]][0], r["urgency"] in HIGH)
            for r in rows
            if teaches_refill_net(r["type"], readings[r["external_id"]][1])
        ]
        return train_net(examples, c=REFILL_C, use_chars=False, kind=REFILL_KIND)

    raisable: list[float] = []
    routine = 0
    for name, rows in sets.items():
        net = fit([r for other, more in sets.items() if other != name for r in more])
        for row in rows:
            if row["urgency"] in HIGH:
                continue
            routine += 1
            words, names_critical = readings[row["external_id"]]
            if not names_critical:
                continue
            result = classify(item_from_mapping(row), rules)
            if result.type == "medication_refill" and result.urgency == "routine":
                raisable.append(net.probability(words))
    threshold = choose_threshold(raisable, routine, REFILL_BUDGET)
    everything = [r for rows in sets.values() for r in rows]
    taught = sum(teaches_refill_net(r["type"], readings[r["external_id"]][1]) for r in everything)
    return fit(everything).with_threshold(threshold), taught


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped model is out of date")
    args = parser.parse_args()
    paths = training_files()
    rows = free_text_rows(paths)
    model = train(examples_from_rows(rows), c=SHIPPED_C)
    text = json.dumps(model.to_dict(), sort_keys=True)
    # Round-trip the fallback through its JSON so the net's threshold is set beside exactly the
    # model classify() will load.
    net, net_items = train_urgency_net(LearnedModel.from_dict(json.loads(text)))
    net_text = net.dumps()
    refill_net, refill_items = train_refill_net(
        lexicon_rules().with_model(LearnedModel.from_dict(json.loads(text))).with_urgency_net(net)
    )
    refill_text = refill_net.dumps()
    if args.check:
        stale = [
            out
            for out, fresh in ((OUT, text), (NET_OUT, net_text), (REFILL_OUT, refill_text))
            if (out.read_text(encoding="utf-8") if out.is_file() else "") != fresh
        ]
        for out in stale:
            print(f"{out.relative_to(ROOT)} is out of date: run scripts/train_classifier.py", file=sys.stderr)
        if stale:
            return 1
        print("shipped model, urgency net and refill net are up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    NET_OUT.write_text(net_text, encoding="utf-8")
    REFILL_OUT.write_text(refill_text, encoding="utf-8")
    counts = Counter(str(r["type"]) for r in rows)
    print(f"trained on {len(rows)} items from {len(paths)} files: {dict(sorted(counts.items()))}")
    print(f"{len(model.vocabulary)} features, {len(model.classes)} tags -> {OUT.relative_to(ROOT)}")
    print(
        f"urgency net: {net_items} patient-written items, {len(net.word_vocabulary) + len(net.char_vocabulary)} "
        f"features, threshold {net.threshold:.4f} -> {NET_OUT.relative_to(ROOT)}"
    )
    print(
        f"refill net: {refill_items} refills naming a critical medicine, {len(refill_net.word_vocabulary)} "
        f"features, threshold {refill_net.threshold:.4f} -> {REFILL_OUT.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
