#!/usr/bin/env python3
"""Leave-one-set-out validation of the urgency safety net (src/careroute/classify/urgency_net.py).

    python scripts/validate_urgency_net.py [--designs all|shipped]

Labelled sets: the shared sample, classify_cases and every blind round. For each held-out set S:

1. the learned fallback and the net are trained on the other sets only;
2. the net's threshold is set on the other sets only: inner leave-one-set-out gives every training
   item a probability from a net that never saw its set; the threshold is the lowest one at which
   the net adds at most BUDGET over-triage (routine items raised, over all routine training items);
3. the whole classifier (rules + fallback, then + net) is scored on S with score.py's definitions.

Table A uses the current lexicon. That lexicon was fixed for every set after it was scored, so its
held-out recall is 1.0 with or without a net: it cannot show what the net is for. Table B therefore
also scores the rounds with the lexicon as it stood before round 1 (git commit PRE_ROUNDS, read
with ``git archive``, nothing in the work tree changes): the misses there are real danger phrased in
words the rules had never seen, which is what a new practice brings. Counts only are printed:
message bodies are never printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from careroute.classify.classifier import _NET_QUESTION_FROM as QUESTION_FROM  # noqa: E402
from careroute.classify.classifier import _NET_REFILL_FROM as REFILL_FROM  # noqa: E402
from careroute.classify.classifier import _NET_REQUEST_FROM as REQUEST_FROM  # noqa: E402
from careroute.classify.classifier import _NET_RETYPES as RETYPES  # noqa: E402
from careroute.classify.classifier import classify, learned_reading  # noqa: E402
from careroute.classify.evaluate import decision_row, item_from_mapping, score  # noqa: E402
from careroute.classify.labs import is_lab  # noqa: E402
from careroute.classify.learned import SHIPPED_C, examples_from_rows, train  # noqa: E402
from careroute.classify.prior_auth import is_prior_auth  # noqa: E402
from careroute.classify.rules import lexicon_rules  # noqa: E402
from careroute.classify.urgency_net import PATIENT_CHANNELS, choose_threshold, teaches_net, train_net  # noqa: E402
from careroute.model import HIGH_URGENCIES  # noqa: E402

CASES = ROOT / "tests" / "unit" / "cases"
SAMPLES = ROOT.parent / "shared" / "samples"
#: The last commit before the blind rounds: its lexicon never saw any round.
PRE_ROUNDS = "54a33b5"
#: Net designs compared: (name, C, character n-grams), and over-triage budgets for the threshold.
DESIGNS: tuple[tuple[str, float, bool], ...] = (
    ("words+chars C=1", 1.0, True),
    ("words+chars C=10", 10.0, True),
    ("words C=10", 10.0, False),
)
BUDGETS = (0.02, 0.04, 0.06)
#: The design shipped (see BLIND_ROUNDS.md): chosen by this script's output.
SHIPPED_DESIGN = ("words C=10", 0.04)

Row = dict[str, Any]


def labelled_sets() -> dict[str, list[Row]]:
    sets: dict[str, list[Row]] = {}
    queue, labels = SAMPLES / "sample_queue.jsonl", SAMPLES / "sample_labels.jsonl"
    if queue.is_file() and labels.is_file():
        by_id = {r["external_id"]: r for r in _jsonl(labels)}
        sets["sample"] = [
            {**r, "type": by_id[r["external_id"]]["type"], "urgency": by_id[r["external_id"]]["urgency"]}
            for r in _jsonl(queue)
        ]
    sets["classify_cases"] = _jsonl(CASES / "classify_cases.jsonl")
    for path in sorted(CASES.glob("blind_round_*.jsonl")):
        sets[path.stem.replace("blind_", "")] = _jsonl(path)
    return sets


def _jsonl(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def free_text(rows: Sequence[Row]) -> list[Row]:
    """Rows the learned fallback is trained on (as scripts/train_classifier.py keeps them)."""
    return [r for r in rows if not (is_lab(item_from_mapping(r)) or is_prior_auth(item_from_mapping(r)))]


def net_rows(rows: Sequence[Row]) -> list[Row]:
    """Rows the net is trained on and applied to: patient-written channels only."""
    return [r for r in rows if r["channel"] in PATIENT_CHANNELS]


def is_high(row: Mapping[str, Any]) -> bool:
    return row["urgency"] in HIGH_URGENCIES


@dataclass
class Fold:
    held_out: str
    threshold: float
    base: list[Row]  # decision rows on the held-out set, rules + fallback
    probabilities: dict[str, float]  # net probability per held-out patient-channel item


def _words(rows: Sequence[Row]) -> dict[str, tuple[str, ...]]:
    """What the net reads of each row, as classify() gives it (see ``learned_reading``)."""
    lexicon = lexicon_rules()
    out = {}
    for r in rows:
        item = item_from_mapping(r)
        out[r["external_id"]] = learned_reading(item.text, lexicon, item.received_at.date())
    return out


def decisions(rows: Sequence[Row], model_rows: Sequence[Row]) -> list[Row]:
    """Decision rows from the current rules with a fallback trained on ``model_rows``, no net."""
    rules = lexicon_rules().with_model(train(examples_from_rows(free_text(model_rows)), c=SHIPPED_C))
    return [decision_row(r["external_id"], classify(item_from_mapping(r), rules), rules) for r in rows]


def pick_threshold(
    probabilities: Mapping[str, float], base: Mapping[str, Row], rows: Sequence[Row], budget: float
) -> float:
    """The lowest threshold at which the net raises at most ``budget`` of the routine items."""
    routine = [r for r in rows if not is_high(r)]
    raisable = (
        probabilities[r["external_id"]]
        for r in routine
        if r["external_id"] in probabilities and base[r["external_id"]]["urgency"] == "routine"
    )
    return choose_threshold(raisable, len(routine), budget)


def with_net(
    base: Sequence[Row], rows: Sequence[Row], probabilities: Mapping[str, float], threshold: float
) -> list[Row]:
    """``base`` decisions with the net applied as classify() applies it (raise routine only)."""
    by_id = {r["external_id"]: r for r in rows}
    out = []
    for d in base:
        p = probabilities.get(d["external_id"])
        if (
            p is not None
            and d["urgency"] == "routine"
            and (d["type"] != "medication_refill" or p >= max(threshold, REFILL_FROM))
            and (d["type"] != "clinical_question" or p >= max(threshold, QUESTION_FROM))
            and (d["type"] in ("medication_refill", "clinical_question", "other") or p >= max(threshold, REQUEST_FROM))
            and by_id[d["external_id"]]["channel"] in PATIENT_CHANNELS
            and p >= threshold
        ):
            d = {**d, "urgency": "urgent", "queue": "routed"}  # possible danger: never the review queue
            if d["type"] in RETYPES:  # as classify() does: a clinical item urgent today is clinical_urgent
                d["type"] = "clinical_urgent"
        out.append(d)
    return out


def pre_round_decisions(rounds: Mapping[str, Sequence[Row]]) -> dict[str, list[Row]] | None:
    """Decisions of the lexicon as it stood before round 1, via git archive into a temporary folder."""
    try:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "archive", PRE_ROUNDS, "src"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        program = (
            "import json,sys\n"
            "from careroute.classify import classify, default_rules\n"
            "from careroute.classify.evaluate import decision_row, item_from_mapping\n"
            "r=default_rules()\n"
            "for line in sys.stdin:\n"
            "    x=json.loads(line)\n"
            "    print(json.dumps(decision_row(x['external_id'],classify(item_from_mapping(x),r),r),default=list))\n"
        )
        payload = "".join(json.dumps(r) + "\n" for rows in rounds.values() for r in rows)
        done = subprocess.run(
            [sys.executable, "-c", program],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(Path(tmp) / "src"), "PATH": "/usr/bin:/bin"},
            cwd=tmp,
        )
    by_id = {d["external_id"]: d for d in map(json.loads, done.stdout.splitlines())}
    return {name: [by_id[r["external_id"]] for r in rows] for name, rows in rounds.items()}


def figures(decided: Sequence[Row], labels: Sequence[Row]) -> tuple[float, float, float, float, float, int, int]:
    card = score(decided, labels)
    high = sum(is_high(r) for r in labels)
    return (
        card.urgent_recall,
        card.over_triage_rate,
        card.type_accuracy,
        card.urgency_accuracy,
        card.review_rate,
        high - len(card.urgent_missed),
        high,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", choices=("all", "shipped"), default="all")
    args = parser.parse_args()
    started = time.perf_counter()
    sets = labelled_sets()
    names = list(sets)
    everything = [r for rows in sets.values() for r in rows]
    words = _words(everything)
    designs = [d for d in DESIGNS if args.designs == "all" or d[0] == SHIPPED_DESIGN[0]]
    budgets = BUDGETS if args.designs == "all" else (SHIPPED_DESIGN[1],)

    # Base decisions per held-out fold (fallback trained without that set) and on the training sets.
    base_held: dict[str, list[Row]] = {}
    base_train: dict[str, dict[str, Row]] = {}
    for s in names:
        training = [r for n in names if n != s for r in sets[n]]
        rows = decisions(everything, training)
        by_id = {d["external_id"]: d for d in rows}
        base_held[s] = [by_id[r["external_id"]] for r in sets[s]]
        base_train[s] = by_id
    pre = pre_round_decisions({n: sets[n] for n in names if n.startswith("round_")})

    def fit(rows: Sequence[Row], c: float, chars: bool) -> Any:
        taught = (r for r in rows if teaches_net(r["channel"], r["type"], r["urgency"]))
        return train_net(((words[r["external_id"]], is_high(r)) for r in taught), c=c, use_chars=chars)

    results: dict[tuple[str, float], dict[str, Fold]] = {}
    for design, c, chars in designs:
        outer_nets = {}
        inner_probs: dict[str, dict[str, float]] = {}
        for s in names:
            training_names = [n for n in names if n != s]
            net = fit([r for n in training_names for r in sets[n]], c, chars)
            outer_nets[s] = {r["external_id"]: net.probability(words[r["external_id"]]) for r in net_rows(sets[s])}
            oof: dict[str, float] = {}
            for t in training_names:
                inner = fit([r for n in training_names if n != t for r in sets[n]], c, chars)
                oof.update({r["external_id"]: inner.probability(words[r["external_id"]]) for r in net_rows(sets[t])})
            inner_probs[s] = oof
        for budget in budgets:
            folds = {}
            for s in names:
                training_rows = [r for n in names if n != s for r in sets[n]]
                threshold = pick_threshold(inner_probs[s], base_train[s], training_rows, budget)
                folds[s] = Fold(s, threshold, base_held[s], outer_nets[s])
            results[(design, budget)] = folds

    header = (
        f"{'held-out set':15} {'thr':>5}  {'urgent recall':>20}  {'over-triage':>13}  {'type acc':>13}  "
        f"{'urg acc':>13}  {'review':>13}"
    )
    chosen: tuple[str, float] | None = None
    best = (-1.0, 0.0)
    for (design, budget), folds in results.items():
        print(f"\n== net {design}, threshold for <= {budget:.2f} added over-triage on training sets ==")
        print("A. current lexicon (fixed for every set: recall 1.0 is expected) -- without net -> with net")
        print(header)
        for s, fold in folds.items():
            labels = sets[s]
            a = figures(fold.base, labels)
            b = figures(with_net(fold.base, labels, fold.probabilities, fold.threshold), labels)
            print(
                f"{s:15} {fold.threshold:5.2f}  {a[5]:>3}/{a[6]:<4}{a[0]:.3f}->{b[0]:.3f}  {a[1]:.3f}->{b[1]:.3f}  "
                f"{a[2]:.3f}->{b[2]:.3f}  {a[3]:.3f}->{b[3]:.3f}  {a[4]:.3f}->{b[4]:.3f}"
            )
        if pre is None:
            print("B. skipped: git archive of the pre-round lexicon is not available")
            continue
        print(f"B. lexicon before round 1 (git {PRE_ROUNDS}, never saw these rounds) -- without net -> with net")
        print(header)
        recalls, overs = [], []
        caught = total = caught0 = 0
        for s in (n for n in names if n.startswith("round_")):
            fold, labels = folds[s], sets[s]
            a = figures(pre[s], labels)
            b = figures(with_net(pre[s], labels, fold.probabilities, fold.threshold), labels)
            recalls.append(b[0])
            overs.append(b[1])
            caught0, caught, total = caught0 + a[5], caught + b[5], total + b[6]
            print(
                f"{s:15} {fold.threshold:5.2f}  {b[5]:>3}/{b[6]:<4}{a[0]:.3f}->{b[0]:.3f}  {a[1]:.3f}->{b[1]:.3f}  "
                f"{a[2]:.3f}->{b[2]:.3f}  {a[3]:.3f}->{b[3]:.3f}  {a[4]:.3f}->{b[4]:.3f}"
            )
        mean_recall, mean_over = sum(recalls) / len(recalls), sum(overs) / len(overs)
        print(
            f"rounds: urgent caught {caught0}/{total} -> {caught}/{total}; mean recall {mean_recall:.3f}, "
            f"mean over-triage {mean_over:.3f}"
        )
        if mean_over <= 0.08 and (mean_recall, -mean_over) > best:
            best, chosen = (mean_recall, -mean_over), (design, budget)
    if chosen is not None:
        print(f"\nbest held-out recall with mean over-triage <= 0.08: {chosen[0]}, budget {chosen[1]:.2f}")
    print(f"shipped: {SHIPPED_DESIGN[0]}, budget {SHIPPED_DESIGN[1]:.2f}   ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
