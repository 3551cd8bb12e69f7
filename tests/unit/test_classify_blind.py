"""Every blind round (tests/unit/cases/blind_round_*.jsonl) together, held to the private set's targets.

Each round was written for a new imagined practice and scored once before the classifier was
changed for it; those before-fix figures, and the honest estimate of how the classifier
generalises (the last round's), are in tests/unit/cases/BLIND_ROUNDS.md. This test was written
after the last fix: it is regression protection, not a measure of generalisation.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from careroute.classify import classify, default_rules
from careroute.classify.evaluate import Scorecard, evaluate, item_from_mapping
from careroute.classify.learned import shipped_model
from careroute.model import TAGS, Classification, InboundItem

CASES = Path(__file__).parent / "cases"
ROUNDS = sorted(CASES.glob("blind_round_*.jsonl"))
RULES = default_rules()


def _rows() -> list[dict[str, object]]:
    return [json.loads(line) for path in ROUNDS for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def scorecard() -> Scorecard:
    rows = _rows()
    results = [(str(row["external_id"]), classify(item_from_mapping(row), RULES)) for row in rows]
    labels = [{"external_id": r["external_id"], "type": r["type"], "urgency": r["urgency"]} for r in rows]
    return evaluate(results, labels, RULES)


def test_there_are_at_least_three_rounds_of_fresh_items() -> None:
    assert len(ROUNDS) >= 3
    rows = _rows()
    assert len({r["external_id"] for r in rows}) == len(rows)
    assert {r["type"] for r in rows} == set(TAGS)


def test_no_urgent_item_of_any_round_is_missed(scorecard: Scorecard) -> None:
    assert scorecard.urgent_recall == 1.0, scorecard.urgent_missed


def test_the_rounds_together_meet_the_targets(scorecard: Scorecard) -> None:
    summary = scorecard.as_dict()
    assert scorecard.type_accuracy >= 0.92, summary
    assert scorecard.urgency_accuracy >= 0.92, summary
    assert scorecard.over_triage_rate <= 0.10, summary
    assert scorecard.review_rate <= 0.08, summary


def said(body: str, channel: str = "portal") -> Classification:
    item = InboundItem(channel, "b-1", datetime.fromisoformat("2027-06-22T10:00:00-05:00"), body)
    return classify(item, RULES)


@pytest.mark.parametrize(
    "body",
    [
        "My arm went numb for ten minutes and then it went away.",
        "He had a seizure and is back to normal.",
        "Yesterday my arm went numb for ten minutes but it went away completely.",
        "I passed out in the shower this morning, I'm fine now.",
    ],
)
def test_a_sign_that_passed_but_is_not_safe_is_never_dropped(body: str) -> None:
    result = said(body)
    assert result.type == "clinical_urgent", result.reasons
    assert result.urgency in ("urgent", "emergent"), result.reasons


def test_a_passed_emergent_sign_is_over_triaged_to_urgent() -> None:
    result = said("My arm went numb for ten minutes and then it went away.")
    assert result.urgency == "urgent", result.reasons
    assert any("went away" in r for r in result.reasons), result.reasons


def test_a_sign_that_is_over_and_not_dangerous_is_not_counted() -> None:
    assert said("My fever broke last night, can I go back to work tomorrow?").urgency == "routine"


def test_a_past_year_next_to_a_sign_is_history() -> None:
    result = said("Stroke 2021, heart attack 2019. I need a letter for my landlord about a first floor unit.")
    assert (result.type, result.urgency) == ("records_request", "routine"), result.reasons


def test_doubt_lowers_a_lone_sign_but_not_two_signs_together() -> None:
    assert said("I'm a little short of breath today.").urgency == "urgent"
    assert said("My calf is swollen and hot and I'm a little short of breath.").urgency == "emergent"


def test_a_degree_hedge_inside_a_mention_is_doubt_a_description_hedge_is_not() -> None:
    assert said("Since the new pill my lips look a little puffy.").urgency == "urgent"
    assert said("She is breathing really fast and her lips look kind of blue.").urgency == "emergent"


def test_an_object_that_fell_out_is_not_a_faint() -> None:
    assert said("My son's ear tube fell out, do we need to come in?").type == "clinical_question"
    assert said("Daddy fell out in the yard and is real confused.").urgency == "emergent"


def test_the_shipped_model_is_loaded_and_only_decides_when_sure() -> None:
    model = shipped_model()
    assert RULES.model is model
    assert set(model.classes) <= set(TAGS)
    # No keyword and a model with no idea: the item goes to review, not to a clinician by default.
    unsure = said("asdf qwerty zxcv")
    assert unsure.type == "other", unsure.reasons
    assert any(r.startswith("model:") for r in unsure.reasons)


# Round 5 (method changes; sentences written for these tests, not taken from the round).


def test_a_gap_in_a_danger_phrase_never_swallows_a_negation() -> None:
    result = said("I'm pregnant, no bleeding, just wondering about prenatal vitamins.")
    assert result.type != "clinical_urgent", result.reasons
    assert result.urgency == "routine", result.reasons


def test_a_sign_said_as_an_absence_is_not_undone_by_an_earlier_negation() -> None:
    result = said("She won't eat and hasn't had a wet diaper since yesterday.")
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent"), result.reasons


def test_an_absence_that_starts_a_denied_sign_is_the_denial() -> None:
    result = said("He's not breathing fast and has no rash, can he go to daycare?")
    assert not any(r.startswith("danger.breathing") and "not counted" not in r for r in result.reasons)
    assert said("He's not breathing right and his lips are blue.").urgency == "emergent"


def test_intermittent_is_not_doubt() -> None:
    assert said("Chest pressure on and off since this morning.").urgency == "emergent"


def test_a_relative_of_a_relative_is_not_the_patient() -> None:
    result = said("My brother's wife had a stroke last week, so I want my cholesterol checked.")
    assert result.urgency == "routine", result.reasons


def test_used_to_and_an_age_clause_date_a_sign() -> None:
    assert said("I used to get chest pain with exercise years ago. Need my statin refilled.").urgency == "routine"
    result = said("She had a seizure when she was 2, the daycare form asks about it.")
    assert (result.type, result.urgency) == ("records_request", "routine"), result.reasons


def test_a_sign_that_comes_with_opening_the_mail_is_figurative() -> None:
    result = said("My blood pressure goes sky high every time I read these statements. What is the $40 charge?")
    assert (result.type, result.urgency) == ("billing_inquiry", "routine"), result.reasons


@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        ("there are tiny purple spots on his chest that don't fade when I press a glass on them", "emergent"),
        ("he can't swallow his own saliva and his voice is muffled", "emergent"),
        ("I have a UTI and now chills and my side by the kidney hurts", "urgent"),
        ("I haven't been able to pee at all since last night", "urgent"),
        ("She fell on the ice and can't put any weight on her ankle", "urgent"),
        ("our 5 day old looks yellow, even the whites of her eyes", "urgent"),
        ("shingles rash on my forehead and now my eye is sore", "urgent"),
        ("I'm on warfarin and my gums keep bleeding", "urgent"),
        ("the nebulizer is not helping and you can see her stomach sucking in with each breath", "emergent"),
        ("Nurse at the lodge: 58 yo with retrosternal pressure for 20 minutes, sweating", "emergent"),
        ("My back has hurt for weeks and since this morning I can't control my bladder", "emergent"),
        ("He crashed his four wheeler, his stomach hurts and he looks pale", "emergent"),
        ("after snowshoeing my toes are white and hard and they will not warm up", "urgent"),
        ("her ear is sticking out and there's a red lump behind her ear", "urgent"),
        ("a metal shaving got in my eye at work, it's painful and blurry", "urgent"),
    ],
)
def test_new_danger_families_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("How much ibuprofen can I give a 30 lb toddler?", "clinical_question"),
        ("Itchy rash after hiking, I think it's poison oak or poison something. What cream?", "clinical_question"),
        ("The pharmacy says my prior authorization for Humira expired, can you renew it?", "prior_auth_pending"),
        ("Your invoice is overdue. Download the attached zip file to view it.", "other"),
    ],
)
def test_round_6_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


# Round 13 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        # exertional breathlessness is its own, urgent sign; at rest it is still trouble breathing
        ("He gets short of breath walking up the steps to the porch and has to stop twice.", "urgent"),
        ("My mom is short of breath sitting in her chair and can't finish a sentence.", "emergent"),
        # a pressure reading said a clause away from the word, with symptoms
        (
            "I am having pressure again, I checked with the cuff after lunch and it says 212 over 118, "
            "and I have pins and needles in my face",
            "emergent",
        ),
        # indirect words for suicide, two of them together
        ("I've been saving them up in my drawer. I'm not going to be around much after Sunday.", "emergent"),
    ],
)
def test_round_13_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "His concussion was Nov 30 and he has had no symptoms for three weeks. What are the steps for return to play?",
        "What are the steps for return to practice after a concussion? She has been fine for a month.",
        "She was admitted at the children's hospital since Friday for the pneumonia; I need FMLA papers for my job.",
        "My son tested positive for flu, fever 101.2 that comes down with ibuprofen, peeing fine. "
        "What should we watch for?",
    ],
)
def test_round_13_a_sign_dated_treated_or_reassured_is_not_today(body: str) -> None:
    # Only ConText is asserted: the learned urgency net may still raise such a message for a nurse.
    result = said(body)
    assert not any(r.startswith("danger.") for r in result.rule_ids), result.reasons


def test_fever_with_a_urinary_symptom_is_still_a_risk() -> None:
    result = said("I have a fever of 101.3 and it burns when I pee, plus my lower back aches.")
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent"), result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "any news on the adderall 10? cvs says they still have nothing received. out since monday",
            "medication_refill",
        ),
        ("Can you send enough of the Vyvanse to get him through until his visit?", "medication_refill"),
        (
            "Home for winter break, can I get in for my flu shot and a sports physical? Any weekday works.",
            "appointment_callback",
        ),
    ],
)
def test_round_13_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


# Round 12 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        ("a rattlesnake bit my son on the ankle by the irrigation ditch, it's swelling", "emergent"),
        ("la picó una víbora de cascabel en la mano cuando cortaba uva", "emergent"),
        ("Mom's second toe has turned black at the tip and the foot is cold", "urgent"),
        (
            "When he carries feed up the hill he gets a tight chest, and it eases off after he sits a few minutes.",
            "urgent",
        ),
        (
            "Tight chest when I walk the dogs, it goes away when I stop, but today I was sweating "
            "and it lasted longer.",
            "emergent",
        ),
        ("Kind of a burning in my chest up into my jaw, probably heartburn, but I'm sweating buckets.", "emergent"),
        ("home health visit: pt sitting up, SpO2 86% on room air, crackles both sides", "emergent"),
    ],
)
def test_round_12_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "His insulin pen sat in the truck, it was like 109 outside today. Is it still good?",
        "ya son dos semanas con la tos y el moco verde, ¿necesito antibiótico?",
        "Pharmacist here: the sig says 12 tablets at once, which would be an overdose if it is a typo. Please call.",
        "Her meter says LO and the lab said high, so we are confused. Which one do we trust?",
    ],
)
def test_round_12_weather_verbs_and_typos_are_not_signs(body: str) -> None:
    result = said(body)
    assert not any(r in result.rule_ids for r in ("danger.high_fever", "danger.infant_fever", "danger.overdose")), (
        result.reasons
    )
    assert result.urgency != "emergent", result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "buenas tardes, quería preguntar si hay que hervir los biberones después de la fumigación",
            "clinical_question",
        ),
        ("me llegó carta que me van a cortar el medi-cal, ¿cuánto me cobrarían la consulta?", "billing_inquiry"),
        ("He needs a letter from his doctor for the commercial license renewal, with his last A1c.", "records_request"),
        ("I asked yesterday if I can drink wine with the metronidazole, nobody answered.", "clinical_question"),
        (
            "Does she breathe in 5 times with the spacer or hold one breath? The box had no directions.",
            "clinical_question",
        ),
        ("Thank you all for taking care of my father these last years. No need to reply.", "other"),
        (
            "he works nights, he can come only after four or on saturday for the follow up blood draw",
            "appointment_callback",
        ),
        (
            "COMPOUNDED TOPICALS - we bill the carrier directly, ship overnight. "
            "To stop receiving faxes call 888-555-0100.",
            "other",
        ),
    ],
)
def test_round_12_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


# Round 14 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        # goodbyes and arrangements, no suicide word
        ("I gave my passwords and my savings to my sister and everything is in order. I am at peace now.", "emergent"),
        # a crushed digit, pale and cold with the feeling gone
        ("Smashed my thumb in the car door an hour ago, it's pale and cold now and I can't feel the tip.", "emergent"),
        # new angina told without the word "rest"
        ("Walking up the hill to the bus my chest got heavy, I had to stop and it went away in a minute.", "urgent"),
        # passive thoughts of death with no plan or intent: seen today, not paged
        (
            "Lately I think my family would be better off without me. I don't have a plan and I'm not going to "
            "do anything, I just need to talk to someone.",
            "urgent",
        ),
        # a plan is never lowered
        ("I think they'd be better off without me. I have a plan to end it this weekend.", "emergent"),
        # a Spanish fever that keeps coming back
        ("Mi hija sigue con fiebre de 39 y tos, ¿le pueden dar cita hoy?", "urgent"),
    ],
)
def test_round_14_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "he's on suboxone and took his last film this morning, the pharmacy says there are no refills left",
        "my mycophenolate, I only have the dose for tonight and the pharmacy needs a new prescription",
    ],
)
def test_round_14_out_of_a_critical_medicine_in_other_words(body: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Could I get 15 minutes of your time? Our AI scribe is $79 per provider per month. Not interested? "
            "Just reply no thanks.",
            "other",
        ),
        ("Our church would like to host a health fair in March and set up a table for blood pressure checks.", "other"),
        (
            "He got a letter from his plan that the copay goes up next year, should he change plans at open "
            "enrollment?",
            "billing_inquiry",
        ),
    ],
)
def test_round_14_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body, channel="email")
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


# Round 16 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        ("my daughter has sickle cell and tonight she feels very hot, the thermometer says 101.8", "emergent"),
        ("he has asthma, using the albuterol every 3 hours since yesterday and says his chest feels tight", "urgent"),
        ("the aide says when she is lying flat she cannot breathe, so she sleeps in the recliner now", "urgent"),
        (
            "school called, a boy in her class has measles and our baby brother is 9 months, not vaccinated yet",
            "urgent",
        ),
        (
            "Climbing to the 3rd floor I get a pressure in the chest and must stop, it goes after a minute or two.",
            "urgent",
        ),
    ],
)
def test_round_16_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "I have sickle cell, do I need the yellow fever vaccine before my trip to Accra?",
        "Please renew his naloxone spray, it is for opioid overdose rescue as required with the buprenorphine.",
        "After Sunday (the ER said it was anaphylaxis, he is fine now) we need two EpiPen twin packs sent to CVS.",
    ],
)
def test_round_16_names_and_past_diagnoses_are_not_signs(body: str) -> None:
    result = said(body)
    assert not any(r.startswith("danger.") for r in result.rule_ids), result.reasons


def test_a_spanish_pressure_with_a_slight_headache_and_no_chest_pain_is_urgent() -> None:
    result = said("la presión le salió 192 sobre 108, tiene un poco de dolor de cabeza, no tiene dolor de pecho")
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent"), result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Her sugar is 180 in the morning this week. Is it serious, or can it wait until her appointment?",
            "clinical_question",
        ),
        (
            "mi check it again an it read one thirty two over eighty, is dat ok or mi fi tek di tablet different?",
            "clinical_question",
        ),
        (
            "This is an automated message from your pharmacy. A prescription is ready for pickup. If you are not "
            "Maria, please hang up.",
            "other",
        ),
        (
            "I want make appointment for physical for new job, they need PPD and a form. Which day have time?",
            "appointment_callback",
        ),
    ],
)
def test_round_16_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


# Round 15 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        (
            "he says his chest feels like somebody is standing on it and he is sweating and sick to his stomach",
            "emergent",
        ),
        ("le picaron unas avispas, se le está hinchando la boca y dice que le cuesta tragar", "emergent"),
        (
            "She's been giving her things away to friends and wrote 'take care of my mom' online. Her dad's rifle is "
            "in the closet.",
            "emergent",
        ),
        (
            "Splitting wood my chest gets tight and it runs up into my jaw after a while, then it goes away when I sit "
            "down for a bit.",
            "urgent",
        ),
    ],
)
def test_round_15_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "The dog bite on my hand 4 weeks ago is healing well, no redness. Can I go back to the gym?",
        "I was in the county hospital 3 days for the pneumonia last month; can I get my flu shot now?",
    ],
)
def test_round_15_healed_and_treated_signs_are_not_today(body: str) -> None:
    result = said(body)
    assert not any(r.startswith("danger.") for r in result.rule_ids), result.reasons


def test_a_wound_not_healing_is_not_read_as_healed() -> None:
    result = said("The dog bite is not healing, there are red streaks going up my arm.")
    assert result.type == "clinical_urgent", result.reasons


def test_a_refill_for_a_clot_from_months_ago_is_an_urgent_refill() -> None:
    result = said("Ran out of my Xarelto yesterday, it's for the clot in my leg from February. Leg is fine.")
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons


def test_a_public_health_advisory_is_not_a_patient() -> None:
    result = said(
        "HEALTH ADVISORY: clinicians should consider measles in patients with fever and rash; respiratory "
        "distress may follow. Report suspected cases to the county. No reply is needed.",
        channel="email",
    )
    assert (result.type, result.urgency) == ("other", "routine"), result.reasons


# Round 17 (method changes; sentences written for these tests, not taken from the round).
@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        ("allô c'est pour ma mère, elle a mal dans la poitrine pis ça descend dans le bras gauche", "emergent"),
        ("mon mari parle tout mélangé depuis le déjeuner, les mots sortent pas", "emergent"),
        (
            "We've had the generator going in the basement since the storm. Now we all have bad headaches and "
            "the baby threw up.",
            "emergent",
        ),
        ("cut my hand on the band saw, blood soaking through the rag faster than I can wrap it", "emergent"),
        ("she ate a cookie with nuts and her lips are getting big and she keeps coughing", "emergent"),
    ],
)
def test_round_17_danger_in_general_words(body: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "I opened the statement and about had a heart attack right there. Why wasn't my physical covered?",
        "How long can my insulin pens stay out of the fridge if the power goes out in the storm?",
        "Found a tick after walking the dog, it was 45 degrees today and the snow is melting. Do I need doxy?",
        "Je suis libre le mardi après 14 h pour le rendez-vous de ma fille.",
        "He wants a new naloxone kit, he used his last one on a friend who overdosed at a party.",
    ],
)
def test_round_17_figures_weather_and_other_people_are_not_signs(body: str) -> None:
    result = said(body)
    assert result.urgency == "routine", result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Bonjour, je voudrais prendre un rendez-vous pour mon fils, pour ses vaccins.", "appointment_callback"),
        ("j'aurais besoin d'un renouvellement de mes pilules à la pharmacie", "medication_refill"),
        ("Disregard my message about the inhaler, I found the spare one. All set.", "other"),
        (
            "got about two foot of snow in the dooryard, not gonna make it to my nine o'clock, we'll try next week",
            "appointment_callback",
        ),
    ],
)
def test_round_17_request_words_in_general_form(body: str, expected: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


#: The stress set: 150 patient messages written blind to test the hardest urgency calls (critical medicines
#: out in many words, danger inside routine requests, danger words that do not count). Its mix is not a
#: week's, so it is held to its own floor. Two urgent items stay routine by decision, each named here
#: with why (BLIND_ROUNDS.md): a heart-failure pill and a beta blocker out, which the lexicon does not
#: list as critical. A rescue inhaler out is urgent beside a need now (`critical_when`: a cough or wheeze,
#: used several times a day, or none left anywhere), so the set's two inhalers are no longer excused.
STRESS = CASES / "stress_round_32.jsonl"
STRESS_ROUTINE_BY_DECISION = {"b32-portal-025", "b32-vm-019"}


def test_the_hidden_urgency_stress_set() -> None:
    rows = [json.loads(line) for line in STRESS.read_text(encoding="utf-8").splitlines() if line]
    results = [(str(row["external_id"]), classify(item_from_mapping(row), RULES)) for row in rows]
    labels = [{"external_id": r["external_id"], "type": r["type"], "urgency": r["urgency"]} for r in rows]
    card = evaluate(results, labels, RULES)
    assert set(card.urgent_missed) <= STRESS_ROUTINE_BY_DECISION, card.urgent_missed
    assert card.type_accuracy >= 0.92 and card.urgency_accuracy >= 0.90, card.as_dict()
    assert card.over_triage_rate <= 0.05, card.as_dict()


# Rounds 44-46 (method changes; sentences written for these tests, not taken from the rounds).


@pytest.mark.parametrize(
    "body",
    [
        "cancel my physical friday. i've got my brother's rifle out and i've made up my mind. not anybody's fault.",
        "I looked up how many of the sleeping pills it would take. I just wanted someone to know.",
        "Tell mom I'm sorry for everything. I sent the clinic a message so someone knows.",
    ],
)
def test_a_weapon_a_method_looked_up_or_a_last_message_is_a_suicide_emergency(body: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons


def test_one_mention_of_a_gun_matched_three_ways_is_one_sign_not_two() -> None:
    # the indirect signs need two separate mentions; overlapping phrases over one mention are one
    result = said("I have got my dad's pistol here, can you send me the form for the permit?")
    assert not any(r.startswith("danger.suicidal_indirect") and "not counted" not in r for r in result.reasons)


def test_a_spanish_duration_in_days_is_not_an_infants_age() -> None:
    result = said("mi hija de seis años ya tiene tres días con calentura de 103.5", "voicemail")
    assert result.urgency == "urgent", result.reasons
    assert not any(r.startswith("danger.infant_fever") for r in result.reasons), result.reasons
    newborn = said("mi niño tiene 3 semanas de nacido y tiene calentura de 100.9", "voicemail")
    assert newborn.urgency == "emergent", newborn.reasons


def test_home_oxygen_running_out_is_urgent_and_with_breathlessness_emergent() -> None:
    assert said("The power is out and his oxygen concentrator stopped working, he is on the last tank.").urgency in (
        "urgent",
        "emergent",
    )
    result = said("Her concentrator is not working since the storm and she is breathing harder, last tank.")
    assert result.urgency == "emergent", result.reasons


def test_an_elder_in_a_cold_house_who_stopped_shivering_is_hypothermic() -> None:
    result = said("Furnace went out two days ago. Grandpa is cold to the touch and confused, he stopped shivering.")
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons


def test_skin_red_and_warm_around_a_wound_or_an_access_site_is_a_spreading_infection() -> None:
    nurse = said(
        "HOME HEALTH - MD NOTIFICATION. 2 cm abrasion R forearm, surrounding erythema 6 x 5 cm, warm, tender. "
        "Orders requested today.",
        "fax",
    )
    assert (nurse.type, nurse.urgency) == ("clinical_urgent", "urgent"), nurse.reasons
    access = said("his dialysis fistula site is erythematous with purulent drainage this morning", "voicemail")
    assert access.urgency == "urgent", access.reasons
    foot = said("the sore on his heel is black around the edge now and smells bad", "voicemail")
    assert foot.urgency == "urgent", foot.reasons


def test_a_pad_an_hour_is_heavy_bleeding() -> None:
    result = said("I am 8 weeks pregnant and I am changing a pad every hour since noon.")
    assert result.urgency == "emergent", result.reasons


def test_the_reason_a_medicine_was_started_is_history() -> None:
    result = said(
        "Calling for my husband, the hospital started him on it for a blood clot in March. He has 1 Xarelto left."
    )
    assert result.type == "medication_refill", result.reasons
    worse = said("They started it for a blood clot and now his leg is swollen again and he is short of breath.")
    assert worse.urgency == "emergent", worse.reasons


def test_a_long_medicine_name_heard_as_two_words_is_joined_but_spanish_is_left_alone() -> None:
    out = said("this is for my sub oxen, i took the last one yesterday and i'm getting sick", "voicemail")
    assert (out.type, out.urgency) == ("medication_refill", "urgent"), out.reasons
    spanish = said("le hablo de parte de mi papa, necesita la metformina, le quedan 10", "voicemail")
    assert spanish.urgency == "routine", spanish.reasons


@pytest.mark.parametrize(
    ("body", "channel", "expected"),
    [
        (
            ("Our practice was pre-approved for relief funds. Verify your NPI and banking information today."),
            "email",
            "other",
        ),
        (
            ("Free carpet cleaning for clinics this month, insurance billing accepted. Reply STOP to opt out."),
            "email",
            "other",
        ),
        (
            ("we just moved here and are looking for a family doctor for me and my wife"),
            "voicemail",
            "appointment_callback",
        ),
        ("my new job needs a physical, anything open this week?", "voicemail", "appointment_callback"),
        ("the daycare form for her epipen, can you fax it to the daycare by friday", "voicemail", "records_request"),
        (
            ("Please cancel my appointment Monday, urgent care treated the ear infection and I feel fine now."),
            "portal",
            "appointment_callback",
        ),
        ("They charged me a no-show fee but I called to cancel, please waive the fee.", "email", "billing_inquiry"),
        (
            ("He is down to 2 of his metoprolol and low on the aspirin, send both to Safeway please."),
            "portal",
            "medication_refill",
        ),
    ],
)
def test_rounds_44_to_46_request_words_in_general_form(body: str, channel: str, expected: str) -> None:
    result = said(body, channel)
    assert (result.type, result.urgency) == (expected, "routine"), result.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            ("CHEST X-RAY 2 VIEWS. Referring: Dr Lee. Findings: clear lungs. IMPRESSION: no acute disease."),
            "lab_result_routine",
        ),
        ("MAMMOGRAM SCREENING. IMPRESSION: BI-RADS 1, negative.", "lab_result_routine"),
        (
            ("ACME STEEL OCCUPATIONAL HEALTH - REFERRAL TO PERSONAL PHYSICIAN. Not cleared until BP under 160/100."),
            "referral_packet",
        ),
        (
            ("MERCY HOSPITAL EMERGENCY DEPARTMENT\nPCP NOTIFICATION / FOLLOW-UP REFERRAL. Ankle sprain, splinted."),
            "referral_packet",
        ),
        (
            ("OAK REHAB - DISCHARGE NOTIFICATION TO PRIMARY CARE PHYSICIAN. Discharge 6/2 to home with son."),
            "referral_packet",
        ),
        # a practice's name is no medicine to refill
        ("GREENWAY FAMILY MEDICINE - message: she asks to reschedule her Tuesday appointment.", "appointment_callback"),
    ],
)
def test_documents_read_by_their_titles(body: str, expected: str) -> None:
    assert said(body, "fax").type == expected, said(body, "fax").reasons
