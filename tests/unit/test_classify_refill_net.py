"""The refill net: raises a routine refill of a critical medicine that is running out in words no
phrase knows, never a refill of anything else, never anything but a refill, never lowers, says so in
its reasons, and a pack can switch it off."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from careroute.classify import ClassifierRules, RulesError, classify, default_rules
from careroute.classify.refill_net import shipped_refill_net
from careroute.classify.urgency_net import UrgencyNet, shipped_net, train_net
from careroute.model import Classification, InboundItem

RULES = default_rules()
WHEN = datetime.fromisoformat("2027-08-03T10:00:00-05:00")
# Written for this test, in none of the labelled sets: a critical medicine running out, in words
# the out-of-medicine phrases do not know.
RUNNING_OUT = (
    "There is just the evening capsule of Prograf in the bottle, please send more today",
    "the lantus pen has maybe four units in it, need the new box today",
    "my son's seizure medicine lamotrigine, we are at the bottom of the bottle, please send today",
)


def said(body: str, channel: str = "portal", rules: ClassifierRules = RULES, **metadata: object) -> Classification:
    return classify(InboundItem(channel, "r-1", WHEN, body, metadata=dict(metadata)), rules)


def test_the_shipped_net_is_on_by_default_and_reloads_from_json() -> None:
    net = shipped_refill_net()
    assert RULES.refill_net is net
    assert net.kind == "refill_net" and net.model_id.startswith("refill_net:")
    assert 0.0 < net.threshold < 1.0
    again = UrgencyNet.from_dict(json.loads(net.dumps()))
    assert again.kind == "refill_net"
    words = ("only", "tonight", "dose", "of", "tacrolimus")
    assert abs(again.probability(words) - net.probability(words)) < 1e-9
    # The urgency net's file carries no kind and keeps its fingerprint.
    assert "kind" not in json.loads(shipped_net().dumps())
    assert shipped_net().model_id.startswith("urgency_net:")


@pytest.mark.parametrize("body", RUNNING_OUT)
def test_it_raises_a_critical_refill_running_out_in_new_words(body: str) -> None:
    without = said(body, rules=RULES.with_refill_net(None))
    assert (without.type, without.urgency) == ("medication_refill", "routine")  # the phrases alone miss it
    result = said(body)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    assert "refill_net" in result.rule_ids
    reason = next(r for r in result.reasons if r.startswith("refill_net:"))
    assert shipped_refill_net().model_id in reason and "p(out today)=" in reason
    assert any(e.rule_id == "refill_net" for e in result.evidence)


def test_it_leaves_a_critical_refill_with_enough_left_routine() -> None:
    for body in (
        "I have a month of tacrolimus left, please renew for 90 days",
        "Refill my insulin glargine please, I have plenty but want a 90 day supply",
    ):
        result = said(body)
        assert (result.type, result.urgency) == ("medication_refill", "routine"), result.reasons


def test_it_reads_only_refills_that_name_a_critical_medicine() -> None:
    everything = RULES.with_refill_net(shipped_refill_net(), threshold=0.01)  # would raise whatever it read
    other_medicine = said("Please refill my lisinopril, only tonight's dose left", rules=everything)
    assert (other_medicine.type, other_medicine.urgency) == ("medication_refill", "routine")
    question = said("Should I take my tacrolimus with food or on an empty stomach?", rules=everything)
    assert question.type == "clinical_question" and "refill_net" not in question.rule_ids
    cream = said("Please refill the hydrocortisone cream for her eczema", rules=everything)
    assert "refill_net" not in cream.rule_ids  # a cream of a critical medicine's name is no critical medicine
    lab = said("Tacrolimus trough 6.1 ng/mL. Flag: none.", "lab", everything)
    assert lab.urgency == "routine" and "refill_net" not in lab.rule_ids
    refill = said("Please refill my tacrolimus at CVS", rules=everything)
    assert refill.urgency == "urgent" and "refill_net" in refill.rule_ids  # the override does reach a refill


def test_it_never_lowers_or_replaces_the_phrases() -> None:
    body = "I ran out of my tacrolimus yesterday, please send it to Walgreens"
    for rules in (RULES, RULES.with_refill_net(None), RULES.with_refill_net(shipped_refill_net(), threshold=0.99)):
        result = said(body, rules=rules)
        assert (result.type, result.urgency) == ("medication_refill", "urgent")
        assert "refill.critical_out.transplant" in result.rule_ids and "refill_net" not in result.rule_ids


def test_a_pack_can_switch_it_off_or_move_its_threshold() -> None:
    off = ClassifierRules.from_mapping({"refill_net": False})
    assert off.refill_net is None and off.refill_net_cutoff == 1.0
    assert said(RUNNING_OUT[0], rules=off).urgency == "routine"
    strict = ClassifierRules.from_mapping({"refill_net_threshold": 0.99})
    assert strict.refill_net_cutoff == 0.99
    assert said(RUNNING_OUT[0], rules=strict).urgency == "routine"
    assert ClassifierRules.from_mapping({}).refill_net is shipped_refill_net()
    assert off.fingerprint() != RULES.fingerprint() != strict.fingerprint()


@pytest.mark.parametrize("value", [0, 1, 1.5, "high"])
def test_a_bad_threshold_names_the_field(value: object) -> None:
    with pytest.raises(RulesError, match=r"classifier\.refill_net_threshold"):
        ClassifierRules.from_mapping({"refill_net_threshold": value})


def test_a_net_file_of_an_unknown_kind_is_refused() -> None:
    data = json.loads(train_net([(("out", "of", "tacrolimus"), True), (("plenty", "left"), False)]).dumps())
    data["kind"] = "weather_net"
    with pytest.raises(ValueError, match="unknown kind"):
        UrgencyNet.from_dict(data)
