"""The optional learned model: trains, saves as JSON, reloads to the same numbers, blends politely."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from careroute.classify import ClassifierRules, classify, default_rules
from careroute.classify.learned import LearnedModel, learn_from_jsonl, train
from careroute.model import InboundItem

EXAMPLES = [
    ("please refill my lisinopril at cvs", "medication_refill"),
    ("need a new prescription sent to walgreens", "medication_refill"),
    ("out of my metformin send more", "medication_refill"),
    ("i have a question about my bill", "billing_inquiry"),
    ("why was i charged twice for the visit", "billing_inquiry"),
    ("my statement shows a balance i already paid", "billing_inquiry"),
    ("can i move my appointment to next week", "appointment_callback"),
    ("i need to reschedule thursday", "appointment_callback"),
    ("please cancel my visit tomorrow", "appointment_callback"),
]


def test_it_reloads_from_json_to_the_same_probabilities(tmp_path: Path) -> None:
    model = train(EXAMPLES)
    path = tmp_path / "model.json"
    model.save(path)
    assert json.loads(path.read_text())["format"] == "careroute.learned/1"
    again = LearnedModel.load(path)
    for text in ("refill my meds at cvs", "question about a charge", "zzz"):
        a, b = model.probabilities(text), again.probabilities(text)
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-4 for k in a)
    assert again.predict("please send my refill to the pharmacy")[0] == "medication_refill"
    assert again.fingerprint() == LearnedModel.load(path).fingerprint()


def test_it_matches_scikit_learn(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, tags = zip(*EXAMPLES, strict=True)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts)
    reference = LogisticRegression(C=4.0, max_iter=2000).fit(matrix, tags)
    ours = train(EXAMPLES)
    probe = "can i reschedule my bill payment appointment"
    expected = reference.predict_proba(vectorizer.transform([probe]))[0]
    got = ours.probabilities(probe)
    assert np.allclose([got[c] for c in reference.classes_], expected, atol=1e-6)


def test_it_refuses_files_that_are_not_models(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(ValueError):
        LearnedModel.load(path)


def test_it_learns_from_labelled_jsonl_with_or_without_a_labels_file(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    labels = tmp_path / "labels.jsonl"
    inline = tmp_path / "labelled.jsonl"
    rows = [
        {"channel": "portal", "external_id": f"x-{i}", "received_at": "2027-02-15T10:00:00-06:00", "body": text}
        for i, (text, _) in enumerate(EXAMPLES)
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels.write_text(
        "".join(
            json.dumps({"external_id": r["external_id"], "type": t}) + "\n"
            for r, (_, t) in zip(rows, EXAMPLES, strict=True)
        )
    )
    inline.write_text("".join(json.dumps({**r, "type": t}) + "\n" for r, (_, t) in zip(rows, EXAMPLES, strict=True)))
    a = learn_from_jsonl(items, labels, tmp_path / "a.json")
    b = learn_from_jsonl(inline, None, tmp_path / "b.json")
    assert a.fingerprint() == b.fingerprint()
    assert (tmp_path / "a.json").is_file()


def test_rules_blend_the_model_where_keywords_are_weak_and_never_over_danger(tmp_path: Path) -> None:
    model = train(EXAMPLES + [("zorblat frobnicate quux", "billing_inquiry")] * 3)
    model.save(tmp_path / "m.json")
    rules = ClassifierRules.from_mapping({"model": "m.json", "model_weight": 0.8}, base_dir=tmp_path)
    assert rules.model is not None
    assert rules.fingerprint() != default_rules().fingerprint()

    def portal(body: str) -> InboundItem:
        return InboundItem("portal", "p-1", datetime.fromisoformat("2027-02-15T10:00:00-06:00"), body)

    weak = classify(portal("zorblat frobnicate quux"), rules)
    assert weak.type == "billing_inquiry"
    assert any(r.startswith("model:") for r in weak.reasons)
    danger = classify(portal("zorblat frobnicate quux and I have crushing chest pain"), rules)
    assert (danger.type, danger.urgency) == ("clinical_urgent", "emergent")
    strong = classify(portal("please refill my lisinopril at CVS, 90 day supply"), rules)
    assert strong.type == "medication_refill"
