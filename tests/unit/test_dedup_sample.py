"""The labelled sample week (../shared/samples): duplicate pairs scored as ../shared/eval/score.py does.

Types come from the labels, so this measures dedup alone, not the classifier.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from careroute.dedup import dedup_replay
from careroute.model import InboundItem, Patient

SAMPLES = Path(__file__).parents[3] / "shared" / "samples"
QUEUE, LABELS = SAMPLES / "sample_queue.jsonl", SAMPLES / "sample_labels.jsonl"

pytestmark = pytest.mark.skipif(
    not (QUEUE.exists() and LABELS.exists()), reason=f"the labelled sample is not at {SAMPLES}"
)


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def clusters(rows: list[dict[str, Any]]) -> dict[str, str]:
    """external_id -> root, following duplicate_of chains (as score.py does)."""
    parent = {r["external_id"]: r.get("duplicate_of") for r in rows}

    def root(x: str, seen: tuple[str, ...] = ()) -> str:
        p = parent.get(x)
        if not p or p == x or p in seen:
            return x
        return root(p, (*seen, x))

    return {x: root(x) for x in parent}


def dup_pairs(rows: list[dict[str, Any]]) -> set[frozenset[str]]:
    groups: dict[str, list[str]] = {}
    for x, r in clusters(rows).items():
        groups.setdefault(r, []).append(x)
    return {frozenset(p) for g in groups.values() for p in combinations(sorted(g), 2)}


@pytest.fixture(scope="module")
def decided() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    queue, labels = load(QUEUE), load(LABELS)
    items = [
        (
            InboundItem(
                channel=d["channel"],
                external_id=d["external_id"],
                received_at=datetime.fromisoformat(d["received_at"]),
                body=d["body"],
                patient=Patient(**d.get("patient", {})),
                subject=d.get("subject"),
                metadata=d.get("metadata") or {},
            ),
            label["type"],
        )
        for d, label in zip(queue, labels, strict=True)
    ]
    got = dedup_replay(items)
    decisions = [{"external_id": d["external_id"], "duplicate_of": g} for d, g in zip(queue, got, strict=True)]
    return decisions, labels


def test_duplicate_pairs_meet_the_targets(decided: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    decisions, labels = decided
    gold, got = dup_pairs(labels), dup_pairs(decisions)
    tp = len(gold & got)
    precision = tp / len(got) if got else 1.0
    recall = tp / len(gold) if gold else 1.0
    assert precision >= 0.95, f"precision {precision:.3f}"
    assert recall >= 0.90, f"recall {recall:.3f}"


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        ("vm-021", "portal-014"),  # two patients named Daniel Ortiz
        ("vm-011", "portal-004"),  # same patient, another medicine
        ("fax-014", "vm-017"),  # school note vs school medication form
        ("portal-010", "portal-009"),  # same words, two patients
        ("lab-008", "lab-007"),
        ("lab-026", "lab-025"),
        ("lab-013", "lab-003"),
        ("fax-005", "portal-012"),
        ("pa-011", "portal-012"),
        ("portal-041", "vm-002"),  # the same refill 98 hours later
    ],
)
def test_deliberate_non_duplicates_stay_apart(
    decided: tuple[list[dict[str, Any]], list[dict[str, Any]]], later: str, earlier: str
) -> None:
    decisions, _ = decided
    roots = clusters(decisions)
    assert roots[later] != roots[earlier]
