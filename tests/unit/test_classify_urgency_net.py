"""The urgency safety net: raises routine patient messages it has never seen, never lowers, never
reads labs or prior-auth updates, says so in its reasons, and a pack can switch it off."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from careroute.classify import ClassifierRules, RulesError, classify, default_rules
from careroute.classify.urgency_net import UrgencyNet, shipped_net, train_net
from careroute.model import Classification, InboundItem

RULES = default_rules()
WHEN = datetime.fromisoformat("2027-08-03T10:00:00-05:00")
# Written for this test, in none of the labelled sets: symptom reports no danger rule names.
UNSEEN = (
    "my husband says his stomach is hurting really bad since last night and it keeps getting worse",
    "the lump on my neck is getting bigger and now it hurts to swallow, getting worse every day",
)


def said(body: str, channel: str = "portal", rules: ClassifierRules = RULES, **metadata: object) -> Classification:
    return classify(InboundItem(channel, "n-1", WHEN, body, metadata=dict(metadata)), rules)


def test_the_shipped_net_is_on_by_default_and_reloads_from_json() -> None:
    net = shipped_net()
    assert RULES.urgency_net is net
    assert 0.0 < net.threshold < 1.0
    again = UrgencyNet.from_dict(json.loads(net.dumps()))
    words = ("chest", "hurting", "since", "last", "night")
    assert abs(again.probability(words) - net.probability(words)) < 1e-9


@pytest.mark.parametrize("body", UNSEEN)
def test_it_raises_a_routine_symptom_report_it_has_never_seen(body: str) -> None:
    without = said(body, rules=RULES.with_urgency_net(None))
    assert without.urgency == "routine"  # the rules alone miss it: this is what the net is for
    result = said(body)
    assert result.urgency == "urgent"
    assert result.possible_danger
    assert "urgency_net" in result.rule_ids
    reason = next(r for r in result.reasons if r.startswith("urgency_net:"))
    assert shipped_net().model_id in reason and "p(urgent)=" in reason
    # A symptom report the rules read as a question (or as nothing) and the net finds urgent today
    # is clinical_urgent: type and urgency tell one story.
    assert without.type in ("clinical_question", "other")
    assert result.type == "clinical_urgent"
    assert any(r.startswith("retyped:") for r in result.reasons)


def test_a_raised_request_keeps_its_type_unless_it_is_a_clinical_question() -> None:
    everything = RULES.with_urgency_net(shipped_net(), threshold=0.01)  # raises whatever it reads
    refill = said("I ran out of my insulin yesterday and feel awful, please refill", rules=everything)
    assert refill.type == "medication_refill"
    plain = said("Can I move my appointment to next Tuesday afternoon?", rules=everything)
    assert (plain.type, plain.urgency) == ("appointment_callback", "routine")  # requests only from p >= 0.6
    appointment = said("I need an appointment today, my leg is swollen and hot and getting worse", rules=everything)
    assert (appointment.type, appointment.urgency) == ("appointment_callback", "urgent"), appointment.reasons
    unsure = said("Is it ok to take ibuprofen with my lisinopril?", rules=everything)
    assert unsure.type == "clinical_question"  # a question is raised only from p >= 0.5
    assert unsure.urgency == "routine", unsure.reasons
    question = said("Is it ok that my stomach is hurting really bad and getting worse?", rules=everything)
    assert (question.type, question.urgency) == ("clinical_urgent", "urgent"), question.reasons


def test_it_never_lowers_or_changes_a_danger_verdict() -> None:
    body = "crushing chest pain going down my left arm and I am sweating"
    low_bar = RULES.with_urgency_net(shipped_net(), threshold=0.01)
    for rules in (RULES, low_bar, RULES.with_urgency_net(None)):
        result = said(body, rules=rules)
        assert (result.type, result.urgency) == ("clinical_urgent", "emergent")
        assert "urgency_net" not in result.rule_ids


def test_it_leaves_plain_requests_routine() -> None:
    for body in ("Can I move my appointment to next Tuesday afternoon?", "Please refill my lisinopril at CVS"):
        assert said(body).urgency == "routine"


def test_it_never_reads_labs_prior_auth_or_documents() -> None:
    everything = RULES.with_urgency_net(shipped_net(), threshold=0.01)  # would raise anything it read
    lab = said("Lipid panel. LDL 128 mg/dL. Flag: none.", "lab", everything)
    assert lab.urgency == "routine" and "urgency_net" not in lab.rule_ids
    pa = said("Prior auth approved for adalimumab.", "ehr", everything, payer="Acme", status="approved")
    assert pa.urgency == "routine" and "urgency_net" not in pa.rule_ids
    fax = said("Referral for knee pain getting worse, please schedule.", "fax", everything)
    assert "urgency_net" not in fax.rule_ids
    patient = said("I need an appointment today, my leg is swollen and hot and getting worse", "portal", everything)
    assert patient.urgency == "urgent"  # the same override does reach a patient's own message


def test_a_pack_can_switch_it_off_or_move_its_threshold() -> None:
    off = ClassifierRules.from_mapping({"urgency_net": False})
    assert off.urgency_net is None
    assert said(UNSEEN[0], rules=off).urgency == "routine"
    strict = ClassifierRules.from_mapping({"urgency_net_threshold": 0.999})
    assert strict.urgency_net_cutoff == 0.999
    assert said(UNSEEN[0], rules=strict).urgency == "routine"
    assert ClassifierRules.from_mapping({}).urgency_net is shipped_net()
    assert off.fingerprint() != RULES.fingerprint() != strict.fingerprint()


@pytest.mark.parametrize("value", [0, 1, 1.5, "high"])
def test_a_bad_threshold_names_the_field(value: object) -> None:
    with pytest.raises(RulesError, match=r"classifier\.urgency_net_threshold"):
        ClassifierRules.from_mapping({"urgency_net_threshold": value})


def test_it_matches_scikit_learn(tmp_path: Path) -> None:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from careroute.classify.urgency_net import char_grams, word_grams

    docs = [
        (("chest", "hurts", "bad"), True),
        (("cannot", "breathe"), True),
        (("refill", "my", "lisinopril"), False),
        (("move", "my", "appointment"), False),
    ]
    net = train_net(docs, c=4.0)
    path = tmp_path / "net.json"
    path.write_text(net.dumps())
    again = UrgencyNet.load(path)
    word = TfidfVectorizer(analyzer=lambda w: list(word_grams(w).elements()), sublinear_tf=True)
    char = TfidfVectorizer(analyzer=lambda w: list(char_grams(w).elements()), sublinear_tf=True)
    words = [d for d, _ in docs]
    reference = LogisticRegression(C=4.0, max_iter=5000, class_weight="balanced").fit(
        hstack([word.fit_transform(words), char.fit_transform(words)]).tocsr(), [h for _, h in docs]
    )
    probe = ("my", "chest", "hurting", "appointment")
    expected = reference.predict_proba(hstack([word.transform([probe]), char.transform([probe])]).tocsr())[0][1]
    assert abs(again.probability(probe) - expected) < 1e-4
