"""Score decisions against labels exactly as ../shared/eval/score.py does (pure).

Adds what a reviewer needs next: the confusion matrix and the list of misses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

HIGH = frozenset({"emergent", "urgent"})
CLINICAL_QUEUES = frozenset({"clinical_triage", "on_call"})

Row = Mapping[str, Any]


def clusters(rows: Iterable[Row]) -> dict[str, str]:
    """external_id -> root external_id, following duplicate_of chains (cycles stop at the repeat)."""
    parent = {r["external_id"]: r.get("duplicate_of") for r in rows}

    def root(x: str) -> str:
        seen: set[str] = set()
        while True:
            p = parent.get(x)
            if not p or p == x or p in seen:
                return x
            seen.add(x)
            x = p

    return {x: root(x) for x in parent}


def dup_pairs(rows: Iterable[Row]) -> set[frozenset[str]]:
    groups: dict[str, list[str]] = {}
    for x, r in clusters(rows).items():
        groups.setdefault(r, []).append(x)
    return {frozenset(p) for g in groups.values() for p in combinations(sorted(g), 2)}


def score(decisions: Sequence[Row], labels: Sequence[Row]) -> dict[str, Any]:
    by_id = {d.get("external_id"): d for d in decisions}
    missing = [lab["external_id"] for lab in labels if lab["external_id"] not in by_id]
    n = len(labels)
    type_ok = urg_ok = high = high_caught = clinical_high = clinical_safe = review = over = 0
    confusion: Counter[tuple[str, Any]] = Counter()
    misses = []
    for lab in labels:
        d = by_id.get(lab["external_id"], {})
        t, u, q = d.get("type"), d.get("urgency"), d.get("queue")
        type_ok += t == lab["type"]
        urg_ok += u == lab["urgency"]
        review += q == "review"
        if t != lab["type"]:
            confusion[(lab["type"], t)] += 1
        if lab["urgency"] in HIGH:
            high += 1
            caught = u in HIGH
            high_caught += caught
            if not caught:
                misses.append(lab["external_id"])
            if lab["type"] != "prior_auth_pending":
                clinical_high += 1
                clinical_safe += q in CLINICAL_QUEUES
        elif u in HIGH:
            over += 1
    gold, got = dup_pairs(labels), dup_pairs(decisions)
    tp = len(gold & got)
    prec = tp / len(got) if got else (1.0 if not gold else 0.0)
    rec = tp / len(gold) if gold else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    low = n - high
    return {
        "items": n,
        "missing_decisions": len(missing),
        "type_accuracy": round(type_ok / n, 4) if n else 0.0,
        "urgency_accuracy": round(urg_ok / n, 4) if n else 0.0,
        "urgent_recall": round(high_caught / high, 4) if high else 1.0,
        "urgent_missed": misses,
        "urgent_clinical_in_clinical_queue": round(clinical_safe / clinical_high, 4) if clinical_high else 1.0,
        "over_triage_rate": round(over / low, 4) if low else 0.0,
        "review_rate": round(review / n, 4) if n else 0.0,
        "dup_precision": round(prec, 4),
        "dup_recall": round(rec, 4),
        "dup_f1": round(f1, 4),
        "top_confusions": [f"{a} -> {b}: {c}" for (a, b), c in confusion.most_common(8)],
    }


def confusion_matrix(decisions: Sequence[Row], labels: Sequence[Row], field: str = "type") -> dict[str, Counter[str]]:
    """label value -> Counter of decided values."""
    by_id = {d.get("external_id"): d for d in decisions}
    out: dict[str, Counter[str]] = {}
    for lab in labels:
        got = by_id.get(lab["external_id"], {}).get(field)
        out.setdefault(lab[field], Counter())[str(got)] += 1
    return out


def misses(decisions: Sequence[Row], labels: Sequence[Row]) -> list[dict[str, Any]]:
    """Every item whose type, urgency, queue or duplicate_of differs from its label."""
    by_id = {d.get("external_id"): d for d in decisions}
    out = []
    for lab in labels:
        d = by_id.get(lab["external_id"], {})
        wrong = {
            f: {"label": lab.get(f), "decided": d.get(f)}
            for f in ("type", "urgency", "queue", "duplicate_of")
            if f in lab and d.get(f) != lab.get(f)
        }
        if wrong:
            out.append({"external_id": lab["external_id"], "wrong": wrong})
    return out


def render_matrix(matrix: Mapping[str, Counter[str]]) -> list[str]:
    cols = sorted({c for row in matrix.values() for c in row})
    width = max([len(c) for c in cols] + [len(r) for r in matrix] + [8])
    short = [c[:10] for c in cols]
    lines = ["label \\ decided".ljust(width) + " " + " ".join(s.rjust(10) for s in short)]
    for label in sorted(matrix):
        lines.append(label.ljust(width) + " " + " ".join(str(matrix[label].get(c, 0) or ".").rjust(10) for c in cols))
    return lines
