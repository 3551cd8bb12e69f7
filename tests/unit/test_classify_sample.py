"""Quick scorecard on the shared sample (../shared/samples), counted as ../shared/eval/score.py does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careroute.classify import classify, default_rules
from careroute.classify.evaluate import evaluate, item_from_mapping

SAMPLES = Path(__file__).parents[3] / "shared" / "samples"

pytestmark = pytest.mark.skipif(
    not (SAMPLES / "sample_queue.jsonl").is_file(), reason=f"shared sample folder not found at {SAMPLES}"
)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_it_meets_the_targets_on_the_sample_week() -> None:
    rules = default_rules()
    items = [item_from_mapping(row) for row in _lines(SAMPLES / "sample_queue.jsonl")]
    labels = _lines(SAMPLES / "sample_labels.jsonl")
    card = evaluate([(item.external_id, classify(item, rules)) for item in items], labels, rules)
    summary = card.as_dict()
    assert card.items == 160
    assert card.urgent_recall == 1.0, summary
    assert card.type_accuracy >= 0.92, summary
    assert card.urgency_accuracy >= 0.92, summary
    assert card.over_triage_rate <= 0.10, summary
    assert card.review_rate <= 0.08, summary
