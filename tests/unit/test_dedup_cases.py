"""Our own duplicate and non-duplicate cases (tests/unit/cases/dedup_cases.jsonl), written by hand.

Each case is a few InboundItems in arrival order with their types and the expected
`duplicate_of` for each. The cases use another practice's names, formats and phrasing
than ../shared/samples, so passing them says the methods generalise.
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

CASES_FILE = Path(__file__).parent / "cases" / "dedup_cases.jsonl"


def load_cases() -> list[dict[str, Any]]:
    with CASES_FILE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def to_item(d: dict[str, Any]) -> tuple[InboundItem, str]:
    item = InboundItem(
        channel=d["channel"],
        external_id=d["external_id"],
        received_at=datetime.fromisoformat(d["received_at"]),
        body=d["body"],
        patient=Patient(**d.get("patient", {})),
        subject=d.get("subject"),
        metadata=d.get("metadata") or {},
    )
    return item, d["type"]


CASES = load_cases()


def test_there_are_enough_cases_of_both_kinds() -> None:
    dup = sum(any(e is not None for e in c["expect"]) for c in CASES)
    assert len(CASES) >= 60
    assert dup >= 25 and len(CASES) - dup >= 25


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    got = dedup_replay([to_item(d) for d in case["items"]])
    assert got == case["expect"], case["note"]


def pairs(case_id: str, ids: list[str], dups: list[str | None]) -> set[tuple[str, str, str]]:
    groups: dict[str, list[str]] = {}
    for x, d in zip(ids, dups, strict=True):
        groups.setdefault(d or x, []).append(x)
    return {(case_id, *p) for g in groups.values() for p in combinations(sorted(g), 2)}


def test_pair_precision_and_recall_over_all_cases() -> None:
    gold: set[tuple[str, str, str]] = set()
    got: set[tuple[str, str, str]] = set()
    for case in CASES:
        ids = [d["external_id"] for d in case["items"]]
        gold |= pairs(case["id"], ids, case["expect"])
        got |= pairs(case["id"], ids, dedup_replay([to_item(d) for d in case["items"]]))
    tp = len(gold & got)
    assert tp / len(got) >= 0.95
    assert tp / len(gold) >= 0.90
