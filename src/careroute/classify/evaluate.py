"""Scorecards: the figures of ../shared/eval/score.py for type and urgency, plus what they hide.

Pure functions over plain rows; the CLI reads the files and prints the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careroute.model import HIGH_URGENCIES, Classification, InboundItem, Patient

from .classifier import needs_review
from .rules import ClassifierRules


@dataclass(frozen=True, slots=True)
class Miss:
    """One item where the classifier and the label disagree."""

    external_id: str
    expected_type: str
    got_type: str
    expected_urgency: str
    got_urgency: str
    confidence: float
    reasons: tuple[str, ...] = ()

    @property
    def unsafe(self) -> bool:
        """An urgent or emergent item read as routine: the miss that matters most."""
        return self.expected_urgency in HIGH_URGENCIES and self.got_urgency not in HIGH_URGENCIES


@dataclass(frozen=True, slots=True)
class Scorecard:
    items: int
    missing: int
    type_accuracy: float
    urgency_accuracy: float
    urgent_recall: float
    over_triage_rate: float
    review_rate: float
    urgent_missed: tuple[str, ...]
    #: (expected type, got type) -> count, for mistyped items only.
    confusion: Mapping[tuple[str, str], int] = field(default_factory=dict)
    misses: tuple[Miss, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "missing_decisions": self.missing,
            "type_accuracy": self.type_accuracy,
            "urgency_accuracy": self.urgency_accuracy,
            "urgent_recall": self.urgent_recall,
            "urgent_missed": list(self.urgent_missed),
            "over_triage_rate": self.over_triage_rate,
            "review_rate": self.review_rate,
            "top_confusions": [f"{a} -> {b}: {c}" for (a, b), c in Counter(self.confusion).most_common(8)],
        }


def score(decisions: Iterable[Mapping[str, Any]], labels: Sequence[Mapping[str, Any]]) -> Scorecard:
    """Score decision rows (``external_id``, ``type``, ``urgency``, optional ``queue``,
    ``confidence``, ``reasons``) against label rows, exactly as score.py counts them."""
    by_id = {d.get("external_id"): d for d in decisions}
    n = len(labels)
    type_ok = urgency_ok = high = caught = over = review = missing = 0
    confusion: Counter[tuple[str, str]] = Counter()
    urgent_missed: list[str] = []
    misses: list[Miss] = []
    for label in labels:
        row = by_id.get(label["external_id"])
        if row is None:
            missing += 1
            row = {}
        got_type, got_urgency = row.get("type"), row.get("urgency")
        type_ok += got_type == label["type"]
        urgency_ok += got_urgency == label["urgency"]
        review += row.get("queue") == "review"
        if got_type != label["type"]:
            confusion[(label["type"], str(got_type))] += 1
        if label["urgency"] in HIGH_URGENCIES:
            high += 1
            if got_urgency in HIGH_URGENCIES:
                caught += 1
            else:
                urgent_missed.append(label["external_id"])
        elif got_urgency in HIGH_URGENCIES:
            over += 1
        if got_type != label["type"] or got_urgency != label["urgency"]:
            misses.append(
                Miss(
                    label["external_id"],
                    label["type"],
                    str(got_type),
                    label["urgency"],
                    str(got_urgency),
                    float(row.get("confidence") or 0.0),
                    tuple(row.get("reasons") or ()),
                )
            )
    low = n - high
    return Scorecard(
        items=n,
        missing=missing,
        type_accuracy=round(type_ok / n, 4) if n else 0.0,
        urgency_accuracy=round(urgency_ok / n, 4) if n else 0.0,
        urgent_recall=round(caught / high, 4) if high else 1.0,
        over_triage_rate=round(over / low, 4) if low else 0.0,
        review_rate=round(review / n, 4) if n else 0.0,
        urgent_missed=tuple(urgent_missed),
        confusion=dict(confusion),
        misses=tuple(misses),
    )


def decision_row(external_id: str, result: Classification, rules: ClassifierRules) -> dict[str, Any]:
    """A decision-shaped row for one classification; ``queue`` is only `review` or not, as the
    classifier can tell (routing proper is routing's job)."""
    return {
        "external_id": external_id,
        "type": result.type,
        "urgency": result.urgency,
        "queue": "review" if needs_review(result, rules) else "routed",
        "confidence": result.confidence,
        "reasons": result.reasons,
    }


def evaluate(
    results: Iterable[tuple[str, Classification]], labels: Sequence[Mapping[str, Any]], rules: ClassifierRules
) -> Scorecard:
    """Score (external_id, Classification) pairs against labels."""
    return score((decision_row(eid, c, rules) for eid, c in results), labels)


def confusion_matrix(scorecard: Scorecard, tags: Sequence[str]) -> list[list[int]]:
    """Rows: expected tag, columns: got tag (mistyped items only; the diagonal is left at 0)."""
    index = {tag: i for i, tag in enumerate(tags)}
    matrix = [[0] * len(tags) for _ in tags]
    for (expected, got), count in scorecard.confusion.items():
        if expected in index and got in index:
            matrix[index[expected]][index[got]] += count
    return matrix


def item_from_mapping(data: Mapping[str, Any]) -> InboundItem:
    """An InboundItem from one JSON Lines object of the contract (labels fields are ignored).

    For evaluation and tests; the intake adapters own validation of live traffic.
    """
    patient = data.get("patient") or {}
    return InboundItem(
        channel=str(data["channel"]),
        external_id=str(data["external_id"]),
        received_at=datetime.fromisoformat(str(data["received_at"])),
        body=str(data.get("body") or ""),
        patient=Patient(**{k: patient.get(k) for k in ("mrn", "name", "dob", "phone")}),
        subject=data.get("subject"),
        metadata=dict(data.get("metadata") or {}),
    )
