"""The classifier on our own varied cases (tests/unit/cases/classify_cases.jsonl).

The cases were written from practice experience, not from the shared sample, and a second batch
was held out and measured before any change was made for it. The thresholds are the issue's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careroute.classify import classify, default_rules
from careroute.classify.evaluate import Scorecard, evaluate, item_from_mapping

CASES = Path(__file__).parent / "cases" / "classify_cases.jsonl"


def _scorecard() -> Scorecard:
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    rules = default_rules()
    results = [(row["external_id"], classify(item_from_mapping(row), rules)) for row in rows]
    labels = [{"external_id": r["external_id"], "type": r["type"], "urgency": r["urgency"]} for r in rows]
    return evaluate(results, labels, rules)


@pytest.fixture(scope="module")
def scorecard() -> Scorecard:
    return _scorecard()


def test_it_has_enough_varied_cases() -> None:
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 150
    assert len({r["external_id"] for r in rows}) == len(rows)
    assert {r["type"] for r in rows} >= {
        "clinical_urgent",
        "clinical_question",
        "medication_refill",
        "lab_result_urgent",
        "lab_result_routine",
        "referral_packet",
        "prior_auth_pending",
        "billing_inquiry",
        "appointment_callback",
        "records_request",
        "other",
    }
    assert {r["channel"] for r in rows} >= {"portal", "voicemail", "email", "fax", "lab", "ehr"}


def test_it_never_misses_an_urgent_case(scorecard: Scorecard) -> None:
    assert scorecard.urgent_recall == 1.0, scorecard.urgent_missed


def test_it_meets_the_accuracy_targets(scorecard: Scorecard) -> None:
    summary = scorecard.as_dict()
    assert scorecard.type_accuracy >= 0.92, summary
    assert scorecard.urgency_accuracy >= 0.92, summary
    assert scorecard.over_triage_rate <= 0.10, summary
    assert scorecard.review_rate <= 0.08, summary
