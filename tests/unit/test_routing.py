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


def pilot_pack(fraction: float):  # type: ignore[no-untyped-def]
    from careroute.rules import load_pack_text

    text = STARTER_PACK.read_text()
    text = text.replace(
        "# pilot: {fraction: 0.2, manual_queue: manual_dispatch}", f"pilot: {{fraction: {fraction}}}"
    ).replace(
        "  - id: review\n",
        "  - id: manual_dispatch\n    name: Manual dispatch\n    description: The pilot's manual arm.\n"
        "  - id: review\n",
    )
    return load_pack_text(text).spec


def test_a_pilot_sends_a_stable_share_of_items_through_automatic_routing() -> None:
    spec = pilot_pack(0.2)
    arms = [
        choose_queue(make_item(f"portal-{i}"), c("medication_refill"), spec, open_now=True).pilot_arm
        for i in range(2000)
    ]
    share = arms.count("auto") / len(arms)
    assert 0.17 < share < 0.23
    again = [
        choose_queue(make_item(f"portal-{i}"), c("medication_refill"), spec, open_now=True).pilot_arm
        for i in range(2000)
    ]
    assert arms == again  # the same item lands in the same arm on every replay
    manual = next(
        choose_queue(make_item(f"portal-{i}"), c("medication_refill"), spec, open_now=True)
        for i in range(2000)
        if arms[i] == "manual"
    )
    assert (manual.queue, manual.rule_id) == ("manual_dispatch", "pilot.manual")


def test_danger_never_waits_for_the_manual_arm_of_a_pilot() -> None:
    spec = pilot_pack(0.0)  # everything manual
    danger = choose_queue(make_item(), c("clinical_urgent", "emergent", danger=True), spec, open_now=True)
    assert (danger.queue, danger.pilot_arm) == ("clinical_triage", "auto")
    routine = choose_queue(make_item(), c("billing_inquiry"), spec, open_now=True)
    assert (routine.queue, routine.pilot_arm) == ("manual_dispatch", "manual")
