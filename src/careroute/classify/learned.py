"""A learned fallback: TF-IDF (words and word pairs) + logistic regression.

Trained with scikit-learn, stored as plain JSON (vocabulary, idf, coefficients), and applied with
numpy alone, so loading a model reads one file and runs no pickled code. The shipped model
(``model/learned.json``) is trained by ``scripts/train_classifier.py`` from the labelled cases in
``tests/unit/cases/`` and nothing else; a rule pack's ``classifier.model`` may name another file.
The keyword rules stay first: the model is consulted only where they are weak, and danger signs
are never overridden by it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from careroute.model import TAGS

FORMAT = "careroute.learned/1"
#: The shipped model, package data beside the lexicon.
SHIPPED = "model/learned.json"
#: Regularisation of the shipped model: chosen by leave-one-set-out over the labelled sets
#: (see tests/unit/cases/BLIND_ROUNDS.md); weaker regularisation generalised better there.
SHIPPED_C = 16.0
# scikit-learn's default token pattern: words of two or more characters.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _features(text: str, ngram_max: int) -> Counter[str]:
    words = _TOKEN.findall(text.lower())
    grams: Counter[str] = Counter()
    for n in range(1, ngram_max + 1):
        for i in range(len(words) - n + 1):
            grams[" ".join(words[i : i + n])] += 1
    return grams


@dataclass(frozen=True, eq=False)
class LearnedModel:
    """A fitted text classifier over the taxonomy's tags."""

    classes: tuple[str, ...]
    vocabulary: Mapping[str, int]
    idf: np.ndarray  # shape (features,)
    coef: np.ndarray  # shape (classes, features)
    intercept: np.ndarray  # shape (classes,)
    ngram_max: int = 2

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability of each tag for (normalised) message text."""
        counts = _features(text, self.ngram_max)
        index = [self.vocabulary[g] for g in counts if g in self.vocabulary]
        if not index:
            scores = self.intercept.copy()
        else:
            tf = np.array([1.0 + math.log(counts[g]) for g in counts if g in self.vocabulary])
            weights = tf * self.idf[index]
            weights /= np.linalg.norm(weights) or 1.0
            scores = self.coef[:, index] @ weights + self.intercept
        if len(self.classes) == 2:  # scikit-learn's binary case: one column, logistic
            p = 1.0 / (1.0 + math.exp(-float(scores[0])))
            return {self.classes[0]: 1.0 - p, self.classes[1]: p}
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return {tag: float(p) for tag, p in zip(self.classes, probs, strict=True)}

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely tag and its probability."""
        probs = self.probabilities(text)
        tag = max(probs, key=lambda t: probs[t])
        return tag, probs[tag]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "classes": list(self.classes),
            "ngram_max": self.ngram_max,
            "vocabulary": dict(self.vocabulary),
            "idf": self.idf.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": self.intercept.round(6).tolist(),
        }

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), sort_keys=True), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedModel:
        if data.get("format") != FORMAT:
            raise ValueError("not a careroute learned model file")
        classes = tuple(str(c) for c in data["classes"])
        if not set(classes) <= set(TAGS):
            raise ValueError("learned model names tags outside the taxonomy")
        coef = np.asarray(data["coef"], dtype=float)
        idf = np.asarray(data["idf"], dtype=float)
        vocabulary = {str(k): int(v) for k, v in data["vocabulary"].items()}
        if coef.shape[1] != idf.shape[0] or len(vocabulary) != idf.shape[0]:
            raise ValueError("learned model file is inconsistent")
        return cls(classes, vocabulary, idf, coef, np.asarray(data["intercept"], dtype=float), int(data["ngram_max"]))

    @classmethod
    def load(cls, path: Path | str) -> LearnedModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def fingerprint(self) -> str:
        return _fingerprint(self)


@functools.lru_cache(maxsize=8)
def _fingerprint(model: LearnedModel) -> str:
    """Hashing a model serialises all of it: once per model object is enough (models are frozen)."""
    return hashlib.sha256(json.dumps(model.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()


@functools.cache
def shipped_model() -> LearnedModel:
    """The model shipped as package data (``scripts/train_classifier.py`` writes it)."""
    text = resources.files("careroute.classify").joinpath(SHIPPED).read_text(encoding="utf-8")
    return LearnedModel.from_dict(json.loads(text))


def train(examples: Iterable[tuple[str, str]], *, ngram_max: int = 2, c: float = 4.0) -> LearnedModel:
    """Fit on (text, tag) pairs. Texts should be normalised as classify reads them
    (``learn_from_jsonl`` does that); at least two tags are needed."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    pairs = [(text, tag) for text, tag in examples]
    tags = {tag for _, tag in pairs}
    if len(tags) < 2:
        raise ValueError("training needs examples of at least two tags")
    if not tags <= set(TAGS):
        raise ValueError("training examples use tags outside the taxonomy")
    vectorizer = TfidfVectorizer(ngram_range=(1, ngram_max), sublinear_tf=True, lowercase=True)
    matrix = vectorizer.fit_transform([text for text, _ in pairs])
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(matrix, [tag for _, tag in pairs])
    return LearnedModel(
        classes=tuple(str(x) for x in model.classes_),
        vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
        idf=np.asarray(vectorizer.idf_, dtype=float),
        coef=np.asarray(model.coef_, dtype=float),
        intercept=np.asarray(model.intercept_, dtype=float),
        ngram_max=ngram_max,
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"{path.name} line {number}: not valid JSON") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path.name} line {number}: not a JSON object")
            rows.append(row)
    return rows


def learn_from_jsonl(items_path: Path | str, labels_path: Path | str | None, out_path: Path | str) -> LearnedModel:
    """Train from labelled JSON Lines and save the model to ``out_path``.

    Either each item line carries its ``type``, or ``labels_path`` holds label lines
    (``external_id``, ``type``) matched to items by ``external_id``. Texts are normalised as
    classify reads them. Errors name the file and line, never a message body.
    """
    items = _read_jsonl(Path(items_path))
    labels: dict[str, str] = {}
    if labels_path is not None:
        labels = {str(r.get("external_id")): str(r.get("type")) for r in _read_jsonl(Path(labels_path))}
    model = train(examples_from_rows(items, labels))
    model.save(out_path)
    return model


def examples_from_rows(
    rows: Iterable[Mapping[str, Any]], labels: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """(normalised text, tag) pairs from item rows that carry a ``type`` or are named in ``labels``.

    Texts are read exactly as classify gives them to the model: normalised (the model sees
    "cannot breathe" for "can't breath"), without the danger mentions ConText ruled out ("no
    fever"). Errors name the row, never a message body.
    """
    from .classifier import learned_reading
    from .rules import lexicon_rules

    rules = lexicon_rules()
    labels = labels or {}
    examples: list[tuple[str, str]] = []
    for number, item in enumerate(rows, 1):
        tag = item.get("type") or labels.get(str(item.get("external_id")))
        if not tag:
            raise ValueError(f"item {number} ({item.get('external_id')}) has no label")
        subject, body = item.get("subject"), str(item.get("body") or "")
        text = f"{subject}\n{body}" if subject else body
        examples.append((" ".join(learned_reading(text, rules, _year(item.get("received_at")))), str(tag)))
    return examples


def _year(received_at: object) -> date | None:
    """The day an item was received on (a past year or day next to a sign dates it), if it says."""
    try:
        return datetime.fromisoformat(str(received_at)).date()
    except ValueError:
        return None
