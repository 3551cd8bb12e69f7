"""Queue choice by the starter pack's routing table."""

from careroute.config import STARTER_PACK
from careroute.model import Classification
from careroute.routing import choose_queue
from careroute.rules import load_pack
from tests.conftest import make_item

PACK = load_pack(STARTER_PACK).spec


def c(type: str, urgency: str = "routine", confidence: float = 0.9, danger: bool = False) -> Classification:
    return Classification(type=type, urgency=urgency, confidence=confidence, possible_danger=danger)


def test_it_sends_each_tag_to_its_default_queue() -> None:
    for tag, spec in PACK.tags.items():
        choice = choose_queue(make_item(), c(tag), PACK, open_now=True)
        assert (choice.queue, choice.rule_id) == (spec.queue, f"tag.{tag}")


def test_urgent_items_of_any_administrative_type_go_to_clinical_triage() -> None:
    choice = choose_queue(make_item(), c("medication_refill", "urgent"), PACK, open_now=True)
    assert (choice.queue, choice.rule_id) == ("clinical_triage", "route.high_urgency")


def test_urgent_prior_authorisations_stay_with_the_authorisation_team() -> None:
    assert choose_queue(make_item(), c("prior_auth_pending", "urgent"), PACK, open_now=True).queue == "authorizations"


def test_a_doubtful_danger_sign_reaches_a_clinician_even_at_low_confidence() -> None:
    choice = choose_queue(make_item(), c("billing_inquiry", "routine", 0.1, danger=True), PACK, open_now=True)
    assert choice.queue == "clinical_triage"


def test_low_confidence_without_danger_goes_to_review() -> None:
    choice = choose_queue(make_item(), c("billing_inquiry", "routine", 0.2), PACK, open_now=True)
    assert (choice.queue, choice.rule_id) == ("review", "route.low_confidence")
