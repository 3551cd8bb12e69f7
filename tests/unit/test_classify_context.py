"""Danger signs read in context: negation, history, hypotheticals, other people, figures of speech,
doubt, misspellings, speech-to-text noise and Spanish."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careroute.classify import classify, default_rules
from careroute.model import Classification, InboundItem

RULES = default_rules()


def said(body: str, channel: str = "portal", subject: str | None = None) -> Classification:
    item = InboundItem(
        channel=channel,
        external_id="t-1",
        received_at=datetime.fromisoformat("2027-02-15T10:00:00-06:00"),
        body=body,
        subject=subject,
    )
    return classify(item, RULES)


@pytest.mark.parametrize(
    "body",
    [
        "I have chest pain that started an hour ago.",
        "My chest hurts and feels tight.",
        "Feels like an elephant is sitting on my chest.",
        "I have pressure in the middle of my chest going into my jaw.",
        "chest pian since this morning",
        "chess pain when i walk",
        "I cant breath good",
        "short of breathe since last night",
        "my husband's face is drooping and his speech is slurred",
        "I just want to die, everyone would be better off without me",
        "my son took a whole bottle of tylenol",
        "my throat is closing up after the new antibiotic",
        "my mom passed out in the kitchen",
        "I have the worst headache of my life",
        "my 3 week old has a fever of one hundred point five",
        "bleeding through towels and it won't stop",
    ],
)
def test_it_reads_emergent_danger_signs(body: str) -> None:
    result = said(body)
    assert result.type == "clinical_urgent", result.reasons
    assert result.urgency == "emergent", result.reasons
    assert result.possible_danger


@pytest.mark.parametrize(
    "body",
    [
        "Tengo dolor de pecho muy fuerte desde anoche.",
        "no puedo respirar bien",
        "me falta el aire cuando camino",
        "quiero morir, ya no aguanto",
        "mi esposo tiene la cara caída y no puede hablar",
    ],
)
def test_it_reads_spanish_danger_signs(body: str) -> None:
    result = said(body, channel="voicemail")
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ("No fever, no chest pain. Please refill my lisinopril at CVS.", "negated"),
        ("Denies chest pain or shortness of breath, just needs a refill of metoprolol.", "negated"),
        ("I don't have any trouble breathing, just need my inhaler refilled.", "negated"),
        ("No tengo dolor de pecho, solo necesito mi receta de losartan.", "negated"),
        ("I had chest pain last year, gone now. Can I stop the omeprazole?", "historical"),
        ("History of stroke in 2019; please refill my clopidogrel.", "historical"),
        ("What are the warning signs of a stroke I should watch for?", "hypothetical"),
        ("My father died of a heart attack at 60; should I get a cholesterol check?", "other_person"),
        ("Could you mail me the shortness of breath pamphlet from my visit?", "other_person"),
        ("This bill almost gave me a heart attack, why is it $900?", "other_person"),
    ],
)
def test_it_does_not_count_signs_that_are_absent_past_or_not_the_patients(body: str, category: str) -> None:
    result = said(body)
    assert result.type != "clinical_urgent", result.reasons
    assert result.urgency == "routine", result.reasons
    assert not result.possible_danger
    flags = {
        "negated": lambda e: e.negated,
        "historical": lambda e: e.historical,
        "hypothetical": lambda e: e.other_person,
        "other_person": lambda e: e.other_person,
    }
    assert any(flags[category](e) for e in result.evidence if e.rule_id.startswith("danger.")), result.reasons


def test_it_keeps_a_negation_from_reaching_past_a_new_clause() -> None:
    result = said("No fever but my chest hurts really bad.")
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent")
    result = said("i dont have a fever and my chest is tight")
    assert result.type == "clinical_urgent"


@pytest.mark.parametrize(
    "body",
    [
        "A couple of chest twinges on the stairs yesterday, probably heartburn.",
        "Not sure if this is anything but I have some tightness in my chest.",
        "Maybe it's nothing, but I've had pressure in my chest on and off.",
        "I almost passed out at the store.",
    ],
)
def test_it_over_triages_a_danger_sign_mentioned_with_doubt(body: str) -> None:
    result = said(body)
    assert result.type == "clinical_urgent", result.reasons
    assert result.urgency == "urgent", result.reasons
    assert result.possible_danger


def test_danger_decides_the_type_of_a_routine_request() -> None:
    result = said("Please refill my atorvastatin. Also I get pressure in my chest that goes into my jaw on the stairs.")
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent")


def test_doubt_never_lowers_suicide_or_overdose() -> None:
    assert said("I think maybe I want to die").urgency == "emergent"
    assert said("he took a bunch of tylenol, like maybe twenty").urgency == "emergent"


def test_indirect_suicidal_language_counts_when_signs_come_together() -> None:
    body = (
        "Please cancel my follow-up, I won't be needing it. I gave my dog to my neighbor and got my "
        "affairs in order so nobody has to deal with my mess. It's not anyone's fault."
    )
    assert said(body).urgency == "emergent"
    # One such sentence alone is an ordinary message.
    assert said("I gave my dog to my sister while I travel. Can I move my appointment?").type == "appointment_callback"


def test_a_sign_is_escalated_by_what_comes_with_it() -> None:
    assert said("I slipped and hit my head on the door").urgency == "urgent"
    assert said("I slipped and hit my head on the door, I'm on Eliquis").urgency == "emergent"


def test_measured_values_said_aloud_are_read() -> None:
    assert said("my sugar is four eighty this morning", channel="voicemail").urgency == "urgent"
    assert said("sugar was twenty eight and he is sweating", channel="voicemail").urgency == "emergent"
    assert said("my blood pressure is 204/122 at home").urgency == "urgent"
    assert said("temp of a hundred and four since last night", channel="voicemail").urgency == "urgent"
    assert said("my blood pressure was 138/86 is that ok").urgency == "routine"
    assert said("I take 500 mg of metformin with my sugar readings").urgency == "routine"


def test_evidence_points_at_the_original_words() -> None:
    body = "Hi, I have a crushing PRESSURE in my chest."
    result = said(body)
    evidence = next(e for e in result.evidence if e.rule_id == "danger.chest_pain")
    assert body[evidence.start : evidence.end] == evidence.phrase
    assert "PRESSURE" in evidence.phrase


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_classifies_without_error(body: str) -> None:
    result = said(body)
    assert 0.0 <= result.confidence <= 1.0
    text = body
    for e in result.evidence:
        assert 0 <= e.start <= e.end <= len(text)


def test_french_numbers_are_read_as_values() -> None:
    read = RULES.compiled.normaliser.read
    assert read("trente-huit virgule quatre").joined() == "38.4"
    assert read("trente huit point quatre").joined() == "38.4"
    assert read("soixante-dix-sept").joined() == "77"
    assert read("quatre-vingt-douze").joined() == "92"
    assert read("dix-huit").joined() == "18"
    assert read("vingt et un").joined() == "21"
    # articles and September stay words
    assert read("un mal de tete").joined() == "un mal de tete"
    assert read("le 7 sept").joined() == "le 7 sept"


def test_a_fever_in_a_patient_born_weeks_ago_is_an_infant_fever() -> None:
    # the age is not said, but the birth date is (French, no year: a newborn's)
    french = said(
        "bonsoir, il est né le vingt sept décembre. le bébé a chaud, c'est trente huit point quatre",
        channel="voicemail",
    )
    assert french.urgency == "emergent" and "danger.infant_fever" in french.rule_ids
    english = said("she was born on january 3rd and her temp is 100.6 this morning")
    assert english.urgency == "emergent" and "danger.infant_fever" in english.rule_ids
    # the same fever in someone born decades ago is not
    adult = said("born january 3rd 1990, my temp is 100.6 this morning")
    assert "danger.infant_fever" not in adult.rule_ids


def test_the_patients_date_of_birth_field_gives_the_age() -> None:
    from careroute.model import Patient

    def with_dob(dob: str) -> Classification:
        item = InboundItem(
            channel="portal",
            external_id="t-2",
            received_at=datetime.fromisoformat("2027-02-15T10:00:00-06:00"),
            body="he feels warm and fussy, temp 100.5 under the arm",
            patient=Patient(dob=dob),
        )
        return classify(item, RULES)

    assert "danger.infant_fever" in with_dob("2027-01-20").rule_ids
    assert "danger.infant_fever" not in with_dob("2020-01-20").rule_ids


@pytest.mark.parametrize(
    "body",
    [
        # a plain "not" negates its own clause's verb, not the sign after the comma
        "my son is not eating, temp 103.5 since last night",
        "not sleeping, chest pain since an hour",
        # a measured value is a statement of fact: a list negation in another clause does not reach it
        "no appetite, temp 103.5 since last night",
    ],
)
def test_a_negation_does_not_reach_a_sign_in_another_clause_it_does_not_list(body: str) -> None:
    assert said(body).urgency in ("urgent", "emergent")


def test_list_negations_still_reach_across_commas() -> None:
    assert "danger.chest_pain" not in said("denies fever, chills, chest pain. needs a refill of lisinopril").rule_ids
    assert said("no temp of 103 anymore, can I get a school note").urgency == "routine"


def test_a_sign_dated_to_an_earlier_day_is_history_but_not_one_going_on_since() -> None:
    # said() receives items on 2027-02-15
    assert "danger.seizure" not in said("Resident had a prolonged seizure 02/11. Please send the lamotrigine.").rule_ids
    assert said("repeat potassium after 02/12 critical value, no other concerns").urgency == "routine"
    assert said("chest pain since 02/10, worse today").urgency == "emergent"
    assert said("pain 10/10 in my chest").urgency == "emergent"  # a score, not a date
    assert said("he had a seizure on 2/12 and another one today").urgency == "emergent"


def test_a_risk_that_is_past_still_makes_a_fever_urgent() -> None:
    result = said("the ER saw me for a kidney stone last Friday. now the pain is back and I had a fever of 101.8")
    assert "danger.fever_with_risk" in result.rule_ids


def test_new_angina_told_in_two_sentences() -> None:
    result = said(
        "Shoveling the drive I got a tight squeezing feeling across my chest and had to lean on the shovel. "
        "Went away once I sat down inside. Probably the cold air."
    )
    assert result.urgency == "urgent" and "danger.chest_exertional_eased" in result.rule_ids
    with_sweat = said(
        "Carrying wood I got a heavy pressure in my chest, I was sweating buckets. It went away when I sat down."
    )
    assert with_sweat.urgency == "emergent"


def test_coughing_up_blood_with_breathlessness_is_not_lowered_by_doubt() -> None:
    result = said("sore calf since the flight and short of breath, coughed up a bit of blood, probably the dry air")
    assert result.urgency == "emergent"


def test_wet_boots_are_not_bleeding() -> None:
    assert "danger.severe_bleeding" not in said("my boots were soaked through on the ski tour").rule_ids
    assert "danger.severe_bleeding" in said("the blood soaked through two towels").rule_ids


def test_passive_thoughts_of_death_in_other_words() -> None:
    result = said("lately I think everybody would be better off if I just wasn't around. I wouldn't do anything.")
    assert result.urgency == "urgent" and "danger.suicidal_passive" in result.rule_ids


def test_the_last_of_a_critical_medicine_is_out() -> None:
    result = said("he used the last of his humalog pen at dinner, the pharmacy needs a new prescription from you")
    assert (result.type, result.urgency) == ("medication_refill", "urgent")
    fax = said("Resident out of medication: lamotrigine 150 mg. Staff reports 0 tablets remaining.", channel="fax")
    assert fax.urgency == "urgent"


def test_a_stiff_neck_with_fever_is_meningitis_until_shown_otherwise() -> None:
    result = said("bad headache two days, fever like 102.8 and my neck is super stiff, can't put my chin down")
    assert result.urgency == "emergent" and "danger.meningitis_signs" in result.rule_ids
    # a stiff neck from sleeping wrong, no fever, is not
    assert "danger.meningitis_signs" not in said("slept wrong and my neck is stiff, can I take ibuprofen?").rule_ids


def test_back_pain_with_a_numb_groin_or_new_trouble_peeing_is_cauda_equina() -> None:
    result = said(
        "My back went out lifting salt. Since last night I have trouble starting to pee and my inner thighs "
        "and groin feel numb. Is next week OK for an appointment?"
    )
    assert result.urgency == "emergent"
    assert "danger.cauda_equina_back" not in said("trouble starting to pee at night, is that my prostate?").rule_ids


def test_has_no_insulin_is_out_of_it() -> None:
    result = said("He has no insulin from Sunday night, sugar this morning 356. Please send a new prescription today.")
    assert (result.type, result.urgency) == ("medication_refill", "urgent")


def test_a_drug_labels_warning_and_a_teams_rule_are_nobodys_signs() -> None:
    refill = said("Please renew my sertraline. The bottle came with the box warning about suicidal thoughts, lol.")
    assert refill.urgency == "routine"
    form = said("Coach says all players who had a concussion this year need the return to play form signed.")
    assert form.urgency == "routine"


def test_a_lecture_for_clinicians_reports_no_patient() -> None:
    result = said(
        "Spring CME Series: 'Stroke, chest pain and sepsis: the first hour in primary care'. 2.0 AMA PRA Category 1 "
        "credits. Register by April 1.",
        channel="email",
    )
    assert (result.type, result.urgency) == ("other", "routine")


@pytest.mark.parametrize(
    ("body", "channel", "tag"),
    [
        (
            "Transition to adult care. Request: please establish adult primary care; current prescriptions will need "
            "renewal within about 6 weeks.",
            "fax",
            "referral_packet",
        ),
        (
            "I put a message on the portal yesterday but kroger told me this morning they still haven't got "
            "anything. it's the lisinopril twenty milligram.",
            "voicemail",
            "medication_refill",
        ),
        (
            "ED discharge says hold apixaban until PCP follow-up. She is at baseline. "
            "OK to restart apixaban, and when?",
            "phone",
            "clinical_question",
        ),
        (
            "necesita la metformina, a la botica la esperanza. ya le quedan poquitas. gracias",
            "voicemail",
            "medication_refill",
        ),
        (
            "press nine to speak with a comfort specialist or press two to be placed on our do not call list",
            "voicemail",
            "other",
        ),
        (
            "Thank you for your order! Stroke warning signs poster (qty 4). Subtotal $96.40. Estimated delivery 07/26.",
            "email",
            "other",
        ),
        ("Just a note to say thank you to Dr. F for calling to check on me. I don't need anything.", "portal", "other"),
        (
            "PRE-OPERATIVE HISTORY & PHYSICAL REQUEST. Please provide H&P within 30 days of surgery. "
            "Thank you for caring for our mutual patient.",
            "fax",
            "referral_packet",
        ),
    ],
)
def test_requests_read_by_what_they_ask(body: str, channel: str, tag: str) -> None:
    assert said(body, channel=channel).type == tag


def test_a_telephone_numbers_digits_are_no_reading() -> None:
    result = said("Please send my records to Dr. O at Midway Heart Associates, fax 708-555-0140.", channel="email")
    assert (result.type, result.urgency) == ("records_request", "routine")
    assert said("heart rate 140 all morning and I feel it pounding").urgency == "urgent"


def test_a_low_sugar_with_a_changed_mind_is_severe() -> None:
    assert said("she is very sleepy now, the sugar machine says fifty one", channel="voicemail").urgency == "emergent"
    assert said("sugar 52 this morning, I ate and feel fine").urgency == "urgent"


def test_a_plan_to_take_everything_tonight_is_an_emergency() -> None:
    result = said(
        "I have the rest of the trazodone and a bottle of tequila on the table and it would be easier for "
        "everybody if I just took all of it tonight."
    )
    assert result.urgency == "emergent"


def test_confusion_in_plain_words_and_a_gun_in_the_lap() -> None:
    heat = said("he come home burning up, skin hot and dry, and he talking out his head, don't know what day it is")
    assert heat.urgency == "emergent" and "danger.confusion" in heat.rule_ids
    gun = said("I'm sitting in my truck on the levee with my daddy's pistol in my lap. I just wanted somebody to know.")
    assert gun.urgency == "emergent" and "danger.suicidal" in gun.rule_ids


def test_breathless_lying_down_is_heart_failure_not_trouble_breathing() -> None:
    result = said("I have to sleep propped on 3 pillows now or I get smothered when I lay down. Not hurting anywhere.")
    assert result.urgency == "urgent" and "danger.heart_failure" in result.rule_ids


def test_bleeding_a_sentence_after_saying_she_is_pregnant() -> None:
    result = said("Tengo 9 semanas de embarazo. Desde anoche tengo sangrado como de regla, rojo, y colicos fuertes.")
    assert result.type == "clinical_urgent" and result.urgency in ("urgent", "emergent")


@pytest.mark.parametrize(
    ("body", "tag"),
    [
        ("Our church homecoming picnic is Saturday. Should I skip my water pill that morning?", "clinical_question"),
        ("Our church would love to invite your nurses to have a table at our health Sunday.", "other"),
        (
            "Started metformin last week, works night shift. Asks when to take the two doses with his schedule.",
            "clinical_question",
        ),
        (
            "Me dieron un glucometro nuevo en la farmacia. Cuantas veces al dia me tengo que checar?",
            "clinical_question",
        ),
    ],
)
def test_where_a_writer_will_be_is_not_what_she_asks(body: str, tag: str) -> None:
    assert said(body).type == tag


def test_vietnamese_danger_signs_negations_and_requests() -> None:
    chest = said("ba tôi bị đau ngực nhiều lắm từ chiều tới giờ, đổ mồ hôi nhiều, thở không được", channel="voicemail")
    assert (chest.type, chest.urgency) == ("clinical_urgent", "emergent")
    denied = said("ba tôi không bị đau ngực, xin đổi lịch hẹn sang thứ Sáu")
    assert (denied.type, denied.urgency) == ("appointment_callback", "routine")


def test_a_faxed_result_past_its_limit_is_critical_whatever_else_the_fax_says() -> None:
    result = said(
        "URGENT CARE LAB RESULT - FAXED TO PCP\nSeen today for weakness and leg cramps. Basic metabolic panel:\n"
        "  Potassium 2.5 mmol/L (3.5-5.1)\n  Sodium 136   Creatinine 0.9   Glucose 104\nPlease follow up today.",
        channel="fax",
    )
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent")


@pytest.mark.parametrize(
    ("body", "channel", "tag"),
    [
        (
            "When I opened this bill I almost got heart attack! I have Medicare, I should not pay.",
            "email",
            "billing_inquiry",
        ),
        (
            "Your order has shipped! 'Suicide Prevention' pamphlet x100, 'Overdose: Know the Signs' poster x10. "
            "Estimated delivery 09/17.",
            "email",
            "other",
        ),
        ("Thank you to the outreach van crew, I'm in a tiny home now. No need to write back.", "portal", "other"),
        (
            "hey it's about the couch on craigslist, is it still available? i can come by at six thirty",
            "voicemail",
            "other",
        ),
    ],
)
def test_figures_of_speech_orders_and_notes_report_no_patient(body: str, channel: str, tag: str) -> None:
    result = said(body, channel=channel)
    assert (result.type, result.urgency) == (tag, "routine")


def test_a_mother_who_stopped_talking_to_me_is_no_stroke() -> None:
    result = said("since my mom stopped talking to me I keep thinking everyone would be better off if I wasn't around")
    assert "danger.stroke" not in result.rule_ids and "danger.suicidal_passive" in result.rule_ids


def test_chest_tightness_biking_that_eases_after_stopping_is_new_angina() -> None:
    result = said(
        "Can you send omeprazole? I get a tight pressure in the middle of my chest when I bike up the hill to work, "
        "it goes away a few minutes after I stop pedaling. Probably heartburn."
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent")


def test_portuguese_chest_pain() -> None:
    result = said(
        "Boa noite doutora. Estou com uma dor muito forte no peito faz uma hora, aperta e vai pro braço esquerdo. "
        "Estou suando frio e com falta de ar."
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent")


@pytest.mark.parametrize(
    "body",
    [
        "the cvs can't get my tacrolimus till friday, i got two capsules left, that's tonight's dose and that's it",
        "i left my bag on the bus tonight with all my insulin pens in it. one dose of lantus left and zero humalog.",
    ],
)
def test_out_of_a_critical_medicine_by_tomorrow(body: str) -> None:
    result = said(body, channel="voicemail")
    assert (result.type, result.urgency) == ("medication_refill", "urgent")


@pytest.mark.parametrize(
    ("body", "tag"),
    [
        (
            "The school needs the Food Allergy and Anaphylaxis Emergency Care Plan signed by her doctor.",
            "records_request",
        ),
        (
            "Dad is home from St. Brigid after the stroke and doing rehab. Could Dr. L complete the FMLA form?",
            "records_request",
        ),
        (
            "I feel great. Should I keep the baby aspirin unless you already had a heart attack? I never had one.",
            "clinical_question",
        ),
        ("Min-seo needs a new albuterol inhaler for the school nurse, CVS Route 1. Thank you", "medication_refill"),
        ("I'm due for my allergy shot Wednesday 4:30. Could I move it to Thursday or Friday?", "appointment_callback"),
        ("NOTICE: our practice has a new fax number effective May 1. Please update your directory.", "other"),
    ],
)
def test_forms_plans_and_notices_are_read_by_what_they_are(body: str, tag: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (tag, "routine")


def test_withdrawal_in_a_refill_says_the_patient_is_already_without_it() -> None:
    refill = said(
        "He's in early withdrawal, his strips got taken in the sweep. Could the replacement go to Walgreens today?"
    )
    assert (refill.type, refill.urgency) == ("medication_refill", "urgent")
    # told without a refill asked, it is not turned into one
    assert said("I am in withdrawal from alcohol and shaking, what do I do?").type != "medication_refill"


@pytest.mark.parametrize(
    ("body", "tag"),
    [
        (
            "Can you check if it was billed right? I switched from the 70/30 to the 80/20 plan on January 1.",
            "billing_inquiry",
        ),
        (
            "I need my annual physical scheduled. The chest pain I went to the ER for ended up being reflux, "
            "it's totally gone.",
            "appointment_callback",
        ),
        (
            "The school needs the 'Anaphylaxis Emergency Action Plan' form signed for his peanut allergy.",
            "records_request",
        ),
        (
            "I tested positive for flu Saturday, fever gone since Monday. When can I go back, am I still contagious?",
            "clinical_question",
        ),
    ],
)
def test_plans_past_visits_and_return_questions_are_routine(body: str, tag: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (tag, "routine")


def test_his_last_pen_of_mealtime_insulin_is_out() -> None:
    result = said(
        "he used his last novolog pen this morning and the pharmacy says no refills left", channel="voicemail"
    )
    assert (result.type, result.urgency) == ("medication_refill", "urgent")


def test_streaks_of_blood_in_a_cough_are_urgent_not_emergent() -> None:
    assert said("coughing up little streaks of blood the last 2 days with this cough").urgency == "urgent"


def test_a_named_medicine_out_is_read_even_when_withdrawal_is_said_first() -> None:
    # a question about withdrawal that names the treatment medicine run out is still an urgent refill
    result = said(
        "I'm in early withdrawal and out of my suboxone since Monday. Is it safe to take ibuprofen for the aches?"
    )
    assert (result.type, result.urgency) == ("medication_refill", "urgent")


def test_a_normal_temperature_said_of_a_young_infant_is_no_fever() -> None:
    result = said("My baby is 3 weeks old and her temp today was 98.6 rectal. When should I call you?")
    assert not any(r.startswith("danger.infant_fever") for r in result.reasons), result.reasons
    febrile = said("My baby is 3 weeks old and her temp today was 100.6 rectal.")
    assert febrile.urgency == "emergent", febrile.reasons
    feels_hot = said("My baby is 3 weeks old and she feels hot.")
    assert feels_hot.urgency == "emergent", feels_hot.reasons


def test_a_heart_rate_word_that_names_human_resources_or_a_runner_is_no_slow_pulse() -> None:
    for body in (
        "My employer's HR wants the FMLA form back by April 30.",
        "My resting heart rate is 44 on my watch; I run marathons. Is that OK?",
    ):
        assert not any(r.startswith("danger.slow_pulse") for r in said(body).reasons), body


# What the blind rounds taught, one case per lesson in new words (BLIND_ROUNDS.md names the round of each).
@pytest.mark.parametrize(
    ("body", "tag", "urgency"),
    [
        # --- round 25
        (
            "I'm about to have a stroke trying to use this online scheduler lol. Can someone book Dad Thursdays at 9?",
            "appointment_callback",
            "routine",
        ),
        (
            "Dad has been out of his Eliquis since Monday night. He already had one stroke and I'm scared. "
            "Please send it.",
            "medication_refill",
            "urgent",
        ),
        (
            "my defibrillator went off this morning, twice, maybe ten minutes apart. i feel okay now i guess",
            "clinical_urgent",
            "emergent",
        ),
        (
            "lo acaban de traer del trabajo, empezó a decir cosas sin sentido, la piel seca, no me reconoce bien",
            "clinical_urgent",
            "emergent",
        ),
        (
            "Burning with urination x 3 days; since last night fever 101.6 with chills and pain in the right side "
            "of her back.",
            "clinical_urgent",
            "urgent",
        ),
        (
            "When I walk along the lake path I get a tight band across my chest and feel a bit winded. "
            "If I stop and sit on a bench it goes away in a couple minutes.",
            "clinical_urgent",
            "urgent",
        ),
        # --- round 31
        # a nosebleed that stops under pressure and comes back is today's; one that will not stop is not
        (
            "Her nose has bled off and on since breakfast; pinching stops it, then it starts back up. She takes "
            "warfarin. Not dizzy at all.",
            "clinical_urgent",
            "urgent",
        ),
        ("Nosebleed for 40 minutes, pinching the whole time and it is still bleeding.", "clinical_urgent", "emergent"),
        ("nose keeps bleeding on and off and now he looks pale and lightheaded", "clinical_urgent", "emergent"),
        # "cannot ... without" says the sign is there
        ("He can't walk to the mailbox without gasping.", "clinical_urgent", "emergent"),
        # Spanish: the worst headache of a life, a sudden terrible one
        ("Dice que es el peor dolor que ha tenido en su vida, en la cabeza.", "clinical_urgent", "emergent"),
        ("De golpe le vino un dolor de cabeza horrible mientras levantaba pesas.", "clinical_urgent", "emergent"),
        # words sung or quoted from a title are no sign
        (
            "Like the song goes, my heart is breaking in two. Can we move my Friday visit?",
            "appointment_callback",
            "routine",
        ),
        # the medicine for a reading is not the reading
        ("Need my sugar pills refilled, glipizide 10, twice a day, at Kroger.", "medication_refill", "routine"),
        # a question about what to do before calling 911 someday is a question
        (
            "My father had a stroke. If I ever had signs of one, should I take aspirin before calling 911?",
            "clinical_question",
            "routine",
        ),
        # one dose left of a critical medicine is out tomorrow
        (
            "She has one pill left of her Keppra, that's tonight's dose. Please send to CVS.",
            "medication_refill",
            "urgent",
        ),
        ("I've got one pen left of my Lantus, lasts me to next Tuesday.", "medication_refill", "routine"),
        # --- round 27
        # thoughts of death told by the family, with a gun at hand
        (
            "My son keeps saying we'd be better off without him. He's been sitting in his truck with his rifle.",
            "clinical_urgent",
            "emergent",
        ),
        ("She says sometimes we'd be better off without her. No plan, she says.", "clinical_urgent", "urgent"),
        # a missed dialysis with fluid on the lungs
        (
            "Missed dialysis Friday, now he can't lay flat and sleeps sitting up in his chair.",
            "clinical_urgent",
            "emergent",
        ),
        # a hedge on a colour is no doubt about the sign
        (
            "her breathing is awful, she can't finish a sentence and her lips are sort of grayish",
            "clinical_urgent",
            "emergent",
        ),
        # an event the writer dates from, and a year, are history
        (
            "Since my stroke in 2019 I've used a cane. Can I get a handicap placard form filled out?",
            "records_request",
            "routine",
        ),
        ("I had a stent in 2020 after my heart attack. Is ibuprofen OK with Plavix?", "clinical_question", "routine"),
        # a talk on how to recognise a sign reports no patient's
        ("Could a nurse give a talk at our church on how to recognize a stroke?", "other", "routine"),
        # a Spanish infant's age said with a filler, a fever read from the thermometer
        (
            "mi niña tiene como cinco semanas y le puse el termómetro y salió cien punto seis",
            "clinical_urgent",
            "emergent",
        ),
        # took the last capsules of a transplant medicine
        (
            "I took my last two capsules of tacrolimus this morning, the pharmacy can't fill it.",
            "medication_refill",
            "urgent",
        ),
        # --- round 26
        # a critical medicine finished, taken to the last, empty, or out after this morning's dose
        ("she finished the lantus saturday night and the pharmacy needs the doctor", "medication_refill", "urgent"),
        ("Took my last Keppra this morning. The pharmacy says no refills left.", "medication_refill", "urgent"),
        ("His insulin pen is empty and the spare is empty too. Please send today.", "medication_refill", "urgent"),
        # out of a place is not out of a medicine
        (
            "When they let me out of the hospital they started me on Eliquis. Can I still take my fish oil?",
            "clinical_question",
            "routine",
        ),
        # bleeding through rags while pressure is held
        (
            "Cut my hand on a saw, held pressure for half an hour and it's soaked through two rags, still dripping.",
            "clinical_urgent",
            "emergent",
        ),
        # a swollen calf with chest pain on breathing in
        (
            "My calf has been swollen for days and now I get a sharp pain in my chest when I breathe in.",
            "clinical_urgent",
            "emergent",
        ),
        (
            "there's a little blood in his spit every morning and he's been sweating at night",
            "clinical_urgent",
            "urgent",
        ),
        # a week of pills taken at once
        (
            "Grandpa's pill box for the week is empty, he took all of it this morning and he's very dizzy.",
            "clinical_urgent",
            "emergent",
        ),
        # nobody, people in general, a risk, a day gone by
        (
            "Can I take Tylenol with NyQuil or is that how people overdose? Nobody is having trouble breathing.",
            "clinical_question",
            "routine",
        ),
        (
            "His cardiologist says he's at higher risk for a stroke. What signs should I watch for?",
            "clinical_question",
            "routine",
        ),
        (
            "Mom was in the Mercy ER last Thursday for chest pain, it was reflux. Can we book her follow-up?",
            "appointment_callback",
            "routine",
        ),
        # exertional chest tightness that made him stop, then passed: new angina, seen today
        (
            "Walking up from the parking lot I got a tight band across my chest and had to stop and lean on the "
            "car, then it went away.",
            "clinical_urgent",
            "urgent",
        ),
        # --- round 28
        # tonight's dose and then nothing; the last strip, said long after the medicine's name
        (
            "My tacrolimus comes by mail and the box never came because of the snow. I have tonight's dose and "
            "after that I have nothing. Could you send a few days to the local pharmacy?",
            "medication_refill",
            "urgent",
        ),
        (
            "this is jake, i'm on the suboxone, the strips. my old doctor retired and the clinic said to call you, "
            "i had my intake last month and the pharmacy gave me an emergency supply on friday because of the "
            "insurance thing, and i took the last strip this morning. please call me back",
            "medication_refill",
            "urgent",
        ),
        # out of the garden is not out of the warfarin
        (
            "I eat a lot of kale out of the garden in spring. Do I need to cut back with the warfarin?",
            "clinical_question",
            "routine",
        ),
        # a weight on the chest; a kick to the head with vomiting
        (
            "He said it felt like a cow was standing on his chest and he went grey and sweaty.",
            "clinical_urgent",
            "emergent",
        ),
        (
            "The horse kicked him in the side of the head, he was out cold maybe a minute and now he's vomiting.",
            "clinical_urgent",
            "emergent",
        ),
        # a rifle loaded on the table and the family better off with the insurance
        (
            "I loaded the deer rifle and it's on the kitchen table. The kids would be better off with the insurance "
            "money than with me.",
            "clinical_urgent",
            "emergent",
        ),
        # a toddler in a pill box, with a birth date said first
        (
            "my grandson, birthday may third twenty twenty four, he got into grandma's pill box. what do we do?",
            "clinical_urgent",
            "emergent",
        ),
        # chest tightness forking hay that lets up when he stops: seen today
        (
            "Forking hay in the cold I get a tightness across the chest and have to stop a minute, then it lets up.",
            "clinical_urgent",
            "urgent",
        ),
        # the signs to watch for
        (
            "Since his TIA years ago I keep meaning to ask: what exactly are the signs of a stroke I should watch for?",
            "clinical_question",
            "routine",
        ),
        # --- round 29
        # Spanish: fast breathing, purple lips, cannot lie down
        (
            "mi mamá está respirando bien rápido, no se puede acostar y tiene los labios como moraditos",
            "clinical_urgent",
            "emergent",
        ),
        # Spanish: the last time she stopped it she had a seizure; out of lamotrigina now
        (
            "Se le acabó la lamotrigina anoche y no tomó la dosis de hoy. La última vez que la dejó le dio una "
            "convulsión. ¿Pueden mandarla hoy a la farmacia?",
            "medication_refill",
            "urgent",
        ),
        # passive thoughts of death with the pills laid out
        (
            "Please send more of my sleeping pills. Since my wife died I don't see much point. Some nights I sit "
            "with all my pills and think how easy it would be to take the lot.",
            "clinical_urgent",
            "emergent",
        ),
        # a slow pulse, and with faintness an emergency; an athlete's resting rate is no sign
        ("Dad's pulse is 38 on the blood pressure machine, he feels okay.", "clinical_urgent", "urgent"),
        ("his pulse is 40 and he is pale and sweaty", "clinical_urgent", "emergent"),
        # a past year either side of the sign
        (
            "My husband had a small stroke back in 2021 and is fine. Can you renew his placard form?",
            "records_request",
            "routine",
        ),
        (
            "Back in 2024 I had chest pain and got a stent. Can I take Advil with Brilinta?",
            "clinical_question",
            "routine",
        ),
        # --- round 30
        # thoughts of taking all of a bottle and being done, inside a refill
        (
            "Need my sertraline refilled. Lately I sit with a bottle of my roommate's pills thinking about taking "
            "all of them and just being done with everything.",
            "clinical_urgent",
            "emergent",
        ),
        # a toddler found with a pill box open, count unknown
        (
            "I found my grandson with my pill box open, my pressure pills, I don't know how many he ate. He looks "
            "ok now.",
            "clinical_urgent",
            "emergent",
        ),
        # two pens left that last a week are not out
        (
            "Down to my last 2 Lantus pens, should carry me to next Thursday. Please send a new script.",
            "medication_refill",
            "routine",
        ),
        # what a pharmacist said to watch for, and nothing like it
        (
            "He started Concerta. The pharmacist said to watch for chest pain or fainting. He hasn't had anything "
            "like that. Can he take it with orange juice?",
            "clinical_question",
            "routine",
        ),
        # --- hidden urgency stress
        # a critical medicine out whatever else the message asks about (price, insurance)
        (
            "My new insurance doesn't start until May and the pharmacy wants $1,100 for my tacrolimus. I have one "
            "capsule left, tonight's dose. Can you send a bridge supply?",
            "medication_refill",
            "urgent",
        ),
        # taken from the patient: stolen, lost with the luggage, left far away, found empty
        (
            "My backpack was stolen with my CellCept in it and I missed tonight's dose. Please send a new Rx.",
            "medication_refill",
            "urgent",
        ),
        (
            "The airline lost the bag with his Xarelto. He hasn't had tonight's. Please send a prescription.",
            "medication_refill",
            "urgent",
        ),
        (
            "I left my whole bottle of Tegretol at my sister's two hours away. Can you call one in?",
            "medication_refill",
            "urgent",
        ),
        (
            "Opened my Biktarvy bottle tonight and found it empty. Can you send a few days to Walgreens?",
            "medication_refill",
            "urgent",
        ),
        ("her carbidopa levodopa, we have tonight's and then none for tomorrow", "medication_refill", "urgent"),
        (
            "I'm down to one hydrocortisone tablet, my afternoon dose. Addison's. Please refill today.",
            "medication_refill",
            "urgent",
        ),
        (
            "ya no le quedan pastillas del coumadin y anoche no se la tomó. la farmacia es walmart",
            "medication_refill",
            "urgent",
        ),
        # a cream of the same name is not the critical medicine
        (
            "se me acabó la crema para el eczema, la hidrocortisona. la farmacia es walmart",
            "medication_refill",
            "routine",
        ),
        # danger in a routine message
        (
            "Does my plan cover a vasectomy consult? Also I've had an ache in my left arm up into my jaw all morning.",
            "clinical_urgent",
            "emergent",
        ),
        (
            "Please refill my amlodipine. Also after flashes and floaters last night a dark curtain came down over my "
            "right eye.",
            "clinical_urgent",
            "emergent",
        ),
        (
            "i need my physical form signed. also i cut my arm deeper than usual last night and it's still bleeding.",
            "clinical_urgent",
            "emergent",
        ),
        (
            "i need to cancel friday. honestly i just want to go to sleep and not wake up.",
            "clinical_urgent",
            "emergent",
        ),
        ("vomité algo oscuro como café molido dos veces y me siento débil", "clinical_urgent", "emergent"),
        # danger words that are not the patient's, or not now
        (
            "Calling for the animal clinic: my dog Biscuit had another seizure last night, up his phenobarbital?",
            "other",
            "routine",
        ),
        (
            "I was charged twice for the visit last month, the one where my lips swelled up. All better now.",
            "billing_inquiry",
            "routine",
        ),
        (
            "Her camp form asks if she ever fainted during exercise. She fainted once two summers ago; cardiology was "
            "normal. Please fill it out.",
            "records_request",
            "routine",
        ),
        (
            "The asthma action plan asks what to do if he can't catch his breath or his rescue inhaler isn't helping. "
            "Can you fill that part in?",
            "records_request",
            "routine",
        ),
        (
            "Dear Practice Owner, your patients suffering from chest pain deserve better! Wholesale pricing, order 50 "
            "bottles. Unsubscribe",
            "other",
            "routine",
        ),
        (
            "cuando era bebé tuvo convulsiones con la fiebre. la escuela pide una carta para el campamento",
            "records_request",
            "routine",
        ),
        # --- rounds 33 and 34
        # a critical medicine's name a letter off, as speech-to-text writes it
        (
            "i just used the last of my lantis this morning and the pharmacy needs a new authorization",
            "medication_refill",
            "urgent",
        ),
        # out of buprenorphine because its prior authorisation lapsed: a refill, urgent
        (
            "The pharmacy says the prior auth on my Suboxone strips ran out so they can't fill them. I took my last "
            "one yesterday.",
            "medication_refill",
            "urgent",
        ),
        # Vietnamese: a pregnancy named, then a very bad headache with spots and swelling
        (
            "Vợ tôi đang mang thai 33 tuần. Tối nay cô ấy nhức đầu dữ dội, nhìn thấy đốm sáng.",
            "clinical_urgent",
            "emergent",
        ),
        # --- rounds 33 and 34, after their scoring
        # the event itself named right after "after the" / "since the" is history; what follows it is not
        (
            "Home from the hospital Tuesday after the asthma attack. Breathing fine now. They said to be seen by "
            "my doctor within a week, can I get something Thursday?",
            "appointment_callback",
            "routine",
        ),
        ("since the chest pain started this morning I feel sweaty", "clinical_urgent", "emergent"),
        # the reason for an ER visit weeks ago, and a scan "from the stroke", are history
        (
            "I was in the ER three weeks ago for chest pain and they said it was a pulled muscle. Nothing since. "
            "Can I get a follow-up visit next week?",
            "appointment_callback",
            "routine",
        ),
        # "if I ever ... again" stays a hypothetical: a nitro bottle out of date is a plain refill
        (
            "My cardiologist said if I ever have the chest pain again to take a nitro. Never needed it, but the "
            "bottle expired. Please send a new nitroglycerin to Walgreens.",
            "medication_refill",
            "routine",
        ),
        # Spanish "tía" is an aunt, never a TIA; a TIA still is one
        (
            "Mi tía nos regaló espinacas. ¿Mi papá puede comerlas con la warfarina o le afectan?",
            "clinical_question",
            "routine",
        ),
        (
            "I think my husband had a TIA an hour ago, his arm went weak for ten minutes",
            "clinical_urgent",
            "emergent",
        ),
        # bleeding through the towels held on it
        (
            "he sliced his hand on a saw, it's bleeding bad, we've got a towel on it pressing down and it's soaking "
            "right through",
            "clinical_urgent",
            "emergent",
        ),
        # a racing, flip-flopping heart inside a request to move a visit
        (
            "Need to move Thursday's appointment. Also my heart keeps doing flip flops and races when I stand up.",
            "clinical_urgent",
            "urgent",
        ),
        # insulin named as missing after "but no": out
        (
            "He has his Lantus but no Novolog at all since yesterday, the pharmacy has nothing from you.",
            "medication_refill",
            "urgent",
        ),
        ("se le cayó y se rompió, no le queda otra pluma de insulina", "medication_refill", "urgent"),
        # --- rounds 37 and 38, after their scoring
        # a transplant medicine "only for tonight, tomorrow nothing"
        (
            "his tacrolimus, he has only for tonight, tomorrow nothing. the pharmacy is waiting for you",
            "medication_refill",
            "urgent",
        ),
        # a baby working to breathe: the skin between the ribs pulling in
        (
            "my baby is 2 months, he breathe very fast and the skin by the ribs going in and in",
            "clinical_urgent",
            "emergent",
        ),
        # bright red blood in pregnancy, more than spotting
        (
            "I'm 28 weeks and there was bright red blood when I wiped, more than spotting.",
            "clinical_urgent",
            "emergent",
        ),
        # a blistering rash by the eye with a red, swollen eyelid (shingles near the eye)
        (
            "A blistering rash on my forehead into my eyebrow since yesterday, and now my eyelid is swollen and red.",
            "clinical_urgent",
            "urgent",
        ),
        # a relative's history told after her name, and a coworker's faint, are not the writer's
        (
            "My older brother has diabetes and he had a stroke at 50. Should I be screened for anything?",
            "clinical_question",
            "routine",
        ),
        (
            "A guy at work passed out from the heat last week. What signs should I watch for in myself?",
            "clinical_question",
            "routine",
        ),
        # --- rounds 35 and 36, after their scoring
        # a transplant medicine with only tonight's dose left; the same said in Spanish as the last pill given
        (
            "I only have tonight's dose of my tacrolimus and the pharmacy says there are no refills.",
            "medication_refill",
            "urgent",
        ),
        (
            "anoche le di la última pastilla de su levetiracetam y la farmacia dice que no hay receta",
            "medication_refill",
            "urgent",
        ),
        # a long name broken into syllables by speech-to-text still names the medicine
        ("i got tonight's dose of my tack row limus and that's it, i'm out tomorrow", "medication_refill", "urgent"),
        # a seizure medicine named with what it is for, and the last seizure, are no seizure now
        (
            "he ran out of his seizure pills, the keppra, took the last one last night. last time he missed "
            "he had a seizure at work. please send it today",
            "medication_refill",
            "urgent",
        ),
        # stroke signs in everyday words, one side at a time
        (
            "since an hour ago her face on the left side is kind of falling down and her words come out wrong",
            "clinical_urgent",
            "emergent",
        ),
        (
            "Also my right hand kept dropping my fork at lunch and it still feels clumsy. Should I mention it "
            "at my March visit?",
            "clinical_urgent",
            "emergent",
        ),
        # suicidal words in Spanish, with pills being counted
        (
            "ya no puedo más, pienso que mis hijos van a estar mejor sin mí. tengo las pastillas aquí y las "
            "estoy contando",
            "clinical_urgent",
            "emergent",
        ),
        # carbon monoxide as a question is no poisoning; the gas with a household sick is
        (
            "Our neighbor had carbon monoxide from his furnace. We are all fine. Where should we put the CO detectors?",
            "clinical_question",
            "routine",
        ),
        ("the carbon monoxide alarm went off and now we all have headaches", "clinical_urgent", "emergent"),
        # "no new" negates a sign that begins with "new"; "mom passed" (away) says nothing of a faint
        (
            "No new confusion and no falls. Is melatonin okay with those medicines?",
            "clinical_question",
            "routine",
        ),
        # a coworker's faint, and the warning signs asked about, in Spanish
        (
            "un compañero se desmayó por el calor la semana pasada. ¿cuáles son las señales de alarma del golpe "
            "de calor?",
            "clinical_question",
            "routine",
        ),
    ],
)
def test_blind_round_lessons(body: str, tag: str, urgency: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (tag, urgency), result.reasons


@pytest.mark.parametrize(
    ("body", "channel", "tag"),
    [
        # --- round 31
        (
            "My mom needs a new patient visit; she'll pay cash until her Medicare starts. What is the first opening?",
            "email",
            "appointment_callback",
        ),
        (
            "hey it's dale, any chance you got something tomorrow with doctor reyes? my knee again",
            "voicemail",
            "appointment_callback",
        ),
        (
            "Annual health assessment. Please complete sections 2-4 (allergies, diet, activity) and sign. Due to the "
            "county office by 7/1.",
            "fax",
            "records_request",
        ),
        (
            "Kidney transplant program: please resume co-management of blood pressure and diabetes; colonoscopy due.",
            "fax",
            "referral_packet",
        ),
        ("Lakeside Animal Hospital. Canine patient: Rocky. Rabies vaccine given 3/2. Owner: J. Ortiz.", "fax", "other"),
        (
            "Urgent care result notification to PCP: rapid strep negative; throat culture sent. Seen 5/12.",
            "fax",
            "lab_result_routine",
        ),
        (
            "I sent a question through the portal yesterday about taking doxycycline with milk, no answer yet.",
            "voicemail",
            "clinical_question",
        ),
        # --- round 27
        ("How much is a sports physical if we pay cash? I'll book once I know.", "email", "billing_inquiry"),
        ("bueno, es la llantera? necesito cuatro llantas para mi troca", "voicemail", "other"),
        ("Do we need any shots before we go to Peru in July? Nobody is sick.", "portal", "clinical_question"),
        (
            "My work sent my FMLA papers over yesterday. Can the doctor fill them out? "
            "Let me know if I need to come in.",
            "portal",
            "records_request",
        ),
        (
            "Care Transitions - Discharge Referral. Patient discharged 3/1 after CHF exacerbation. Please confirm the "
            "appointment.",
            "fax",
            "referral_packet",
        ),
        (
            "MONTHLY LABORATORY SUMMARY (copy to PCP). Hgb 10.9 (L), K 5.0. No action requested; for your records.",
            "fax",
            "lab_result_routine",
        ),
        # --- round 26
        ("hey mama it's me, running late from work, tell the kids to start dinner", "voicemail", "other"),
        (
            "Doc said take my lisinopril in the morning. I sleep days. Does it matter what time I take it?",
            "portal",
            "clinical_question",
        ),
        (
            "my grandson set it up for me. I need my thyroid pill and the atorvastatin at CVS.",
            "voicemail",
            "medication_refill",
        ),
        # --- round 28
        (
            "WHOLESALE PRICING on rapid tests, as low as $3.90/test with case pricing. "
            "Fax back today to lock in price.",
            "fax",
            "other",
        ),
        (
            "The knee shot in October helped. Can I get on the schedule for another one? Mornings are best.",
            "portal",
            "appointment_callback",
        ),
        (
            "My balance was sent to collections but I paid by check in December and it cleared my bank.",
            "email",
            "billing_inquiry",
        ),
        (
            "Secure message via Direct - Area Agency on Aging. Ms. Ortiz lives alone, two falls; please contact her "
            "to schedule a new-patient visit.",
            "email",
            "referral_packet",
        ),
        (
            "Free webinar: recognizing stroke and chest pain in rural communities. Register at example.org. You "
            "received this because you attended a past event.",
            "email",
            "other",
        ),
        # --- round 29
        ("my medicaid switched plans, do y'all take Simply or do I need a new doctor?", "voicemail", "billing_inquiry"),
        (
            "Can I get Bruno's heartworm chews ready Thursday? Oh no, this is my doctor's app not the vet's, sorry!",
            "portal",
            "other",
        ),
        (
            "My colonoscopy is on the 28th. How many days before should I stop the Eliquis and when do I start it "
            "back?",
            "voicemail",
            "clinical_question",
        ),
        (
            "las plumas de ozempic estuvieron sin nevera todo el fin de semana, ¿todavía sirven o hay que botarlas?",
            "voicemail",
            "clinical_question",
        ),
        # --- round 30
        (
            "DEAR PRACTICE MANAGER: enroll your practice and every family gets a FREE monitor billed directly to their "
            "plan. Limited supply. Opt out: fax STOP to 1-877-555-0100",
            "fax",
            "other",
        ),
        (
            "ACTION REQUIRED: eFax account suspension notice. Sign in within 12 hours and confirm your billing details "
            "or suffer permanent loss of stored documents.",
            "email",
            "other",
        ),
        (
            "Since the doctor raised my metformin I have loose stools. Is it okay if I go back to one pill until I see "
            "the doctor?",
            "voicemail",
            "clinical_question",
        ),
        (
            "DEPARTMENT OF WORKFORCE SERVICES - MEDICAL STATEMENT - verification of inability to work. Please have the "
            "treating provider complete the diagnosis and work restrictions.",
            "fax",
            "records_request",
        ),
        (
            "I got a letter that my account will go to collections for $92. I never got a bill. Can I set up a payment "
            "plan?",
            "email",
            "billing_inquiry",
        ),
        (
            "le di la dosis de amoxicilina y la vomitó a los diez minutos, ¿le vuelvo a dar la dosis o espero?",
            "voicemail",
            "clinical_question",
        ),
        # --- rounds 33 and 34, after their scoring
        # Vietnamese: how to take a changed medicine is a question; a new prescription is a refill
        ("Tôi nên uống thuốc này trước khi ăn hay sau khi ăn? Có sao không?", "portal", "clinical_question"),
        ("Mẹ tôi sắp hết thuốc, xin bác sĩ gửi toa mới qua nhà thuốc.", "portal", "medication_refill"),
        # moving a dose to another time of day
        (
            "can we give her the evening dose at breakfast instead, she keeps forgetting",
            "voicemail",
            "clinical_question",
        ),
        # a skin test placed here, and when it can be read
        ("I got the PPD placed Wednesday. Is Saturday too late to read it?", "portal", "clinical_question"),
        ("Please fax my PPD results to the nursing school.", "portal", "records_request"),
        # a role, not a bill
        (
            "this is the charge nurse at the dialysis unit, he needs renewals on his sevelamer",
            "voicemail",
            "medication_refill",
        ),
        # messages meant for nobody here
        ("testing the portal from my new tablet, please ignore", "portal", "other"),
        ("hey mom it's me, running late picking you up, love you", "voicemail", "other"),
        ("this is the dental office calling to confirm mia's cleaning on monday at ten", "voicemail", "other"),
        # --- rounds 37 and 38, after their scoring: calls meant for a salon, a rental, a township; a staffing pitch
        (
            "hello, this is for the gel nails and a pedicure, two people saturday at ten, call me back",
            "voicemail",
            "other",
        ),
        ("calling about the fish house rental for the weekend, is it still open", "voicemail", "other"),
        ("Holiday coverage gaps? Locum physicians available now, credentialing in 10 days.", "fax", "other"),
        # --- rounds 35 and 36, after their scoring
        ("What cold medicine is safe for me with my blood pressure pills?", "portal", "clinical_question"),
        (
            "Is it too late for the pneumonia shot this winter, and can she get it the same day as the RSV one?",
            "voicemail",
            "clinical_question",
        ),
        ("How long can pumped breast milk stay in the fridge?", "portal", "clinical_question"),
        ("I need a back to work note for Monday, please.", "portal", "records_request"),
        (
            "Thank you all for the call Monday night. We will make the follow-up appointment later. No need to reply.",
            "portal",
            "other",
        ),
        ("necesito una copia de mis vacunas para el viaje", "voicemail", "records_request"),
        (
            "ayer le pusieron sus vacunas y la piernita donde la inyectaron está roja, ¿es normal?",
            "voicemail",
            "clinical_question",
        ),
        # sent home wanting a visit
        (
            "The urgent care wants me seen by my PCP within a week. Can I get something Tuesday?",
            "portal",
            "appointment_callback",
        ),
    ],
)
def test_blind_round_requests(body: str, channel: str, tag: str) -> None:
    result = said(body, channel)
    assert result.type == tag, result.reasons


@pytest.mark.parametrize(
    ("body", "channel", "tag"),
    [
        # --- rounds 33 and 34: a hypothetical told in one sentence, however long
        (
            "Hypothetically, if she ate some peanut butter at a party and only broke out in a few hives, do we "
            "give Benadryl or the EpiPen first? Her allergist just diagnosed it.",
            "portal",
            "clinical_question",
        ),
        # holding a blood thinner, the procedure named first
        (
            "her colonoscopy is friday and she takes eliquis, we don't know if she has to stop it or not",
            "voicemail",
            "clinical_question",
        ),
    ],
)
def test_blind_round_readings_by_the_rules(body: str, channel: str, tag: str) -> None:
    """What the lexicon reads, the urgency net left out: the net may still raise such a message (a
    safety net over-triages by design), which test_classify_urgency_net covers."""
    item = InboundItem(channel, "t-1", datetime.fromisoformat("2027-02-15T10:00:00-06:00"), body)
    result = classify(item, RULES.with_urgency_net(None))
    assert (result.type, result.urgency) == (tag, "routine"), result.reasons


def test_a_transcript_that_breaks_a_medicine_into_syllables_names_it() -> None:
    read = RULES.compiled.normaliser.read
    words = read("my pro graf, the tack row limus one milligram").words
    assert "prograf" in words and "tacrolimus" in words
    # ordinary words are never joined into one ("over to use" is no overdose, "assistance programs" no Prograf)
    assert read("was over to use the phone").words[1:4] == ("over", "to", "use")
    assert "programs" in read("patient assistance programs").words


# --- rounds 39-41, each written for this test in words of its own


@pytest.mark.parametrize(
    ("body", "urgency", "rule"),
    [
        # black stools told the other way round, with dizziness
        ("my bowel movements have been black like tar since Sunday and I got dizzy standing up", "emergent",
         "danger.gi_bleed_lower"),
        # a week's pill organizer taken at once
        ("Grandpa took everything in his pill organizer at once this morning, the whole week of pills", "emergent",
         "danger.overdose"),
        # a fall with the leg short and turned out: a broken hip
        ("She slipped in the kitchen, her left leg looks shorter and the foot is turned out and she can't get up",
         "emergent", "danger.hip_fracture"),
        # a double dose of a blood thinner is seen today
        ("Dad took his Eliquis twice this morning by mistake, he seems fine so far", "urgent", "danger.double_dose"),
        # a household's headaches that ease outside the house: carbon monoxide, never named
        ("Our whole family has had headaches for days and they get better as soon as we leave the house",
         "emergent", "danger.carbon_monoxide"),
        # a meter past its range with the breathing of DKA
        ("His pump site came out, the meter just says HIGH, he's throwing up and breathing deep and fast",
         "emergent", "danger.glucose_meter_high"),
        # pre-eclampsia in everyday words
        ("I'm 32 weeks and my head is pounding and I keep seeing sparkly lights", "emergent", "danger.preeclampsia"),
        # a family "better off with the life insurance", a gun in the truck
        ("The kids would be better off with the life insurance. I've got the shotgun out in the pickup.", "emergent",
         "danger.suicidal_passive"),
        # a high potassium with tingling and a skipping heart
        ("Dialysis said my potassium was high and now my arms feel tingly and my heart keeps skipping", "emergent",
         "danger.high_potassium"),
        # a confusion told with "a bit" is still a confusion; with a sugar of 48 it is an emergency
        ("He is a bit confused and sweaty and his sugar is 48", "emergent", "danger.confusion"),
        # a home-health nurse's words for a wound infection
        ("Skilled nursing visit: sacral pressure injury with purulent drainage, erythema extending 3 cm past the "
         "margin, T 100.9. Please advise today.", "urgent", "danger.infection_spreading"),
    ],
)  # fmt: skip
def test_blind_round_39_to_41_danger_signs(body: str, urgency: str, rule: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons
    assert rule in result.rule_ids


def test_a_simile_is_no_animal_and_an_animal_is_nobody_s_sign() -> None:
    simile = said("It felt like a horse was sitting on my chest and I broke out in a cold sweat")
    assert simile.type == "clinical_urgent" and "danger.chest_pain" in simile.rule_ids
    heifer = classify(
        InboundItem("voicemail", "t-1", datetime.fromisoformat("2028-01-10T06:00:00-07:00"),
                    "our heifer is bleeding pretty bad after calving, can somebody come out"),
        RULES.with_urgency_net(None),
    )  # fmt: skip
    assert heifer.urgency == "routine", heifer.reasons
    # "calf" is also the leg's: never an animal's
    assert said("my calf is swollen and hot and hurts to walk").type == "clinical_urgent"


def test_a_premixed_insulin_s_ratio_is_no_blood_pressure() -> None:
    result = said("His insulin NovoLog Mix 70/30 ran out last night, please send a new prescription today")
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    assert "danger.low_blood_pressure" not in result.rule_ids
    assert "danger.low_blood_pressure" in said("my blood pressure was 70/30 and I feel faint").rule_ids


@pytest.mark.parametrize(
    ("body", "tag"),
    [
        # a runny nose "won't quit"; no blood
        ("My nose won't quit running with all this pollen, is Zyrtec ok with my amlodipine?", "clinical_question"),
        # a leaflet's list, answered no
        ("The pamphlet lists warning signs like chest pain, trouble breathing and fainting. I have none of those, I "
         "just want to know when to take the dose.", "clinical_question"),
        ("The handout says to call 911 for chest pain or trouble breathing. I feel fine, when can I restart my "
         "aspirin?", "clinical_question"),
        # a figure of speech about a bill
        ("I nearly fainted when I opened the bill for $900, can someone explain the charges?", "billing_inquiry"),
        ("I am a bit confused about my bill from March, can someone call me?", "billing_inquiry"),
        # stopping a medicine for a procedure
        ("Do I need to hold my metformin before my CT with contrast on Friday?", "clinical_question"),
        ("The oral surgeon wants me off my Plavix before the extraction next week, is that ok?", "clinical_question"),
        # a bill received, whatever else the message names
        ("I got a statement for $250 from your office but the referral from my tribal clinic should cover it",
         "billing_inquiry"),
        # a request made, the reply only spared
        ("I need to cancel my appointment on the 12th, no need to call back unless there is a problem",
         "appointment_callback"),
        # a letter to excuse from jury duty
        ("My husband got a jury summons for June and needs a doctor's letter to excuse him", "records_request"),
        # a supply to bridge to a first visit
        ("Can you send my lisinopril to CVS until I see the doctor? My first visit isn't set yet.",
         "medication_refill"),
        # Spanish: results and a medicine list for a doctor abroad
        ("¿Me pueden mandar mis últimos análisis por este correo? Mi doctor en Santo Domingo los quiere ver.",
         "records_request"),
    ],
)  # fmt: skip
def test_blind_round_39_to_41_readings(body: str, tag: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (tag, "routine"), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "hello this is an important message about your medicare benefits. press one to speak with a licensed agent, "
        "press nine to be placed on our do not call list",
        "hey jay you up? we at the spot... wait who is this",
    ],
)
def test_robocalls_and_wrong_numbers_are_nobody_s_request(body: str) -> None:
    assert said(body, "voicemail").type == "other"


# --- rounds 42 and 43, each written for this test in words of its own


@pytest.mark.parametrize(
    ("body", "urgency", "rule"),
    [
        ("Grandma's face is one side down and she talk funny, her left arm is weak since lunch", "emergent",
         "danger.stroke"),
        ("My nose has been bleeding for almost one hour even with pressure, I take Xarelto and I feel dizzy",
         "emergent", "danger.nosebleed"),
        ("Lo trajeron del campo, está atontado, tiene la piel caliente y seca y ya no suda", "emergent",
         "danger.heat_illness"),
        ("Got sent home from the fields at noon, vomiting, confused and very hot", "emergent", "danger.heat_illness"),
        ("Mi esposa tuvo al bebé hace una semana y ya llenó dos toallas de sangre en una hora, está pálida",
         "emergent", "danger.severe_bleeding"),
        ("Mi papá tose desde hace semanas y hoy escupió un poquito de sangre", "urgent", "danger.hemoptysis"),
        ("He vomited twice and it looked like coffee grounds", "emergent", "danger.gi_bleed_upper"),
    ],
)  # fmt: skip
def test_blind_round_42_and_43_danger_signs(body: str, urgency: str, rule: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", urgency), result.reasons
    assert rule in result.rule_ids


@pytest.mark.parametrize(
    ("body", "tag"),
    [
        ("After the procedure I have brown discharge like coffee grounds and a little cramping, is that normal?",
         "clinical_question"),
        ("School sent home a flyer about measles - fever, rash, red eyes. Is my son up to date on his MMR?",
         "clinical_question"),
        ("Reviewing his seizure rescue plan for the group home: if one ever lasts 5 minutes, staff give the nasal "
         "spray and call 911. Is it ok to keep the spare spray in the van overnight?", "clinical_question"),
        ("With my hearing aids I cannot follow people talking in a crowd, I need a letter for jury duty",
         "records_request"),
        ("He had a stroke in 2019 and his right hand is weak since then, nothing new. The disability form needs "
         "the doctor's part filled in.", "records_request"),
        ("Are her insulin pens still good to use after the power was out all night? Her sugars are fine.",
         "clinical_question"),
        ("Mom missed her weekly Ozempic shot because of the storm, can she take it today and go back to Wednesdays?",
         "clinical_question"),
        ("WIC needs the form with her hemoglobin and lead result filled out", "records_request"),
        ("La escuela me pide el récord de las vacunas y el papel del examen físico para el kínder", "records_request"),
        ("¿Cuál es el precio de una consulta pagando en efectivo? No tengo seguro hasta abril.", "billing_inquiry"),
        ("Dr. Lee wanted to see him again after the blood test, I can bring him Thursday afternoon",
         "appointment_callback"),
    ],
)  # fmt: skip
def test_blind_round_42_and_43_readings(body: str, tag: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == (tag, "routine"), result.reasons


def test_a_diagnosis_after_care_and_a_neighbour_s_emergency_are_history() -> None:
    rules = RULES.with_urgency_net(None)
    for body in (
        "The doctors said it was a mini-stroke; he is home now and doing well. Thank you all.",
        "My coworker was rushed to the hospital Monday with a heart attack. I feel fine, can I get my cholesterol "
        "checked?",
    ):
        item = InboundItem("portal", "t-1", datetime.fromisoformat("2028-02-15T10:00:00-05:00"), body)
        result = classify(item, rules)
        assert result.urgency == "routine" and result.type != "clinical_urgent", result.reasons


def test_a_fear_of_seizures_is_no_seizure_and_the_refill_is_urgent() -> None:
    result = said("Se me acabó la lamotrigina anoche. Me da miedo que me vuelvan las convulsiones. CVS de Fowler.")
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    keppra = said("the medicine for the seizure, the keppra, is finish, he take the last one last night", "voicemail")
    assert (keppra.type, keppra.urgency) == ("medication_refill", "urgent"), keppra.reasons


def test_a_home_infusion_that_cannot_deliver_without_an_order_is_an_urgent_refill() -> None:
    body = ("HOME INFUSION - PRESCRIPTION RENEWAL REQUEST. Drug: ertapenem 1 g IV q24h via PICC. Current order "
            "expires after tomorrow's dose. Requested: renew x 14 days. We cannot dispense or deliver weekend doses "
            "without a renewed prescription. Fax back by 3 PM today.")  # fmt: skip
    result = said(body, "fax")
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    assert "refill.critical_out.iv_antibiotic" in result.rule_ids


def test_the_last_pen_that_lasts_a_week_is_not_out() -> None:
    item = InboundItem("voicemail", "t-1", datetime.fromisoformat("2028-07-10T10:00:00-07:00"),
                       "i am on the last pen of my basaglar, it will finish in about one week, no hurry, please "
                       "send a new prescription")  # fmt: skip
    result = classify(item, RULES.with_refill_net(None))
    assert (result.type, result.urgency) == ("medication_refill", "routine"), result.reasons


def test_a_period_counted_from_today_is_no_deadline_today() -> None:
    item = InboundItem(
        "ehr", "pa-1", datetime.fromisoformat("2027-02-15T10:00:00-05:00"),
        "Prior authorization - rimegepant: ADDITIONAL INFORMATION REQUIRED. Send documentation of two triptan "
        "trials. Respond within 14 calendar days of 02/15/2027.",
        metadata={"payer": "Acme Health", "status": "more_info_requested"},
    )  # fmt: skip
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("prior_auth_pending", "routine"), result.reasons


def test_less_movement_after_the_kick_count_remedies_is_emergent() -> None:
    tried = said(
        "I'm 35 weeks and he's barely moved since this morning. "
        "I ate something sweet and lay on my left side, still nothing."
    )
    assert (tried.type, tried.urgency) == ("clinical_urgent", "emergent"), tried.reasons
    asked = said("I'm 35 weeks and he's moving less than usual today. Is that normal at this point?")
    assert (asked.type, asked.urgency) == ("clinical_urgent", "urgent"), asked.reasons


def test_a_month_named_may_dates_a_sign() -> None:
    past = said("I had a blood clot in my leg in May and I'm on Xarelto. Can I have a dental cleaning next week?")
    assert past.urgency == "routine", past.reasons
    # "may" alone is a word of doubt, and doubt never drops a sign
    now = said("I think I may have a blood clot, my left calf is swollen and hot.")
    assert now.urgency in ("urgent", "emergent"), now.reasons


def test_what_the_hospital_said_it_was_and_thanks_for_a_call_already_made_are_history() -> None:
    told = said(
        "Dad is in the ICU; they say it was a small stroke. My own question: can I take Aleve with my lisinopril?"
    )
    assert told.type != "clinical_urgent", told.reasons
    thanks = said(
        "We are home. Thank you to the nurse who answered so fast and called 911 for my mother. No reply needed."
    )
    assert thanks.type != "clinical_urgent", thanks.reasons


def test_a_vietnamese_word_for_fainting_needs_its_verb_and_a_name_is_not_one() -> None:
    assert said("calling for my aunt chen xiu ying, she needs her metformin refilled", "voicemail").urgency == "routine"
    fainted = said("me toi bi xiu trong nha tam sang nay", "voicemail")
    assert fainted.type == "clinical_urgent", fainted.reasons


@pytest.mark.parametrize(
    "body",
    [
        "Delivered my son 8 days ago. Since noon a pounding headache that Tylenol won't touch and I keep seeing "
        "sparkles. Is this normal?",
        "Tuve a mi bebé hace dos semanas y tengo un dolor de cabeza horrible y veo lucecitas.",
    ],
)
def test_pre_eclampsia_signs_in_the_weeks_after_the_birth_are_emergent(body: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons
    assert "danger.preeclampsia" in result.rule_ids


def test_a_headache_with_no_pregnancy_or_birth_is_not_read_as_pre_eclampsia() -> None:
    result = said("The package was delivered to the wrong house and I have a pounding headache from the stress.")
    assert "danger.preeclampsia" not in result.rule_ids


def test_material_about_a_sign_and_a_question_about_a_condition_are_not_the_sign() -> None:
    paper = said("Do you have the stroke handout in Somali? Mom is fine, we just want to learn the signs.")
    assert paper.type != "clinical_urgent", paper.reasons
    which = said("What is the difference between a mini-stroke and a stroke? My uncle had one. I feel fine.")
    assert which.type != "clinical_urgent", which.reasons
    # a stroke happening now is still one
    now = said("Her face is drooping and she can't lift her arm, is this a stroke?")
    assert now.urgency == "emergent", now.reasons


def test_none_of_my_children_carries_its_negation_through_the_list() -> None:
    result = said("None of my kids are wheezing or coughing or short of breath. Can they swim outside in the smoke?")
    assert result.type != "clinical_urgent", result.reasons


def test_giving_things_away_and_letters_written_are_a_suicide_emergency() -> None:
    result = said(
        "I gave my laptop to my cousin and wrote letters to my dad and my sister. It doesn't matter much anymore."
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons


def test_heat_exhaustion_after_work_in_the_heat_is_urgent() -> None:
    hot = said(
        "No AC in the packing shed all week. Since last night muscle cramps and I'm dizzy and sick to my stomach."
    )
    assert (hot.type, hot.urgency) == ("clinical_urgent", "urgent"), hot.reasons
    cool = said("I get leg cramps at night and feel a bit dizzy when I stand up fast. Should I take magnesium?")
    assert "danger.heat_exhaustion" not in cool.rule_ids


def test_pills_put_aside_and_counted_and_letters_to_the_children_are_a_suicide_emergency() -> None:
    hoard = said(
        "Since Frank died I've been setting aside my pain pills and his old ones, I think there are plenty now."
    )
    assert (hoard.type, hoard.urgency) == ("clinical_urgent", "emergent"), hoard.reasons
    letters = said(
        "I gave my truck to my nephew and I've written letters to the kids. Tell Dr. Moss thanks for trying."
    )
    assert (letters.type, letters.urgency) == ("clinical_urgent", "emergent"), letters.reasons
    trip = said("Going to Florida for a month, can I get a 90 day supply of my pills? Walgreens on Main.")
    assert trip.urgency == "routine", trip.reasons


def test_a_paper_about_a_sign_is_not_the_sign() -> None:
    paper = said("The nurse gave my dad a paper about heart attack warning signs. Is there one in Khmer? He is fine.")
    assert paper.type != "clinical_urgent", paper.reasons


def test_black_stools_with_near_fainting_or_pallor_are_an_emergency() -> None:
    result = said(
        "Dad has black stool since yesterday and this morning he almost faint in the kitchen. He is on Xarelto."
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons
    alone = said("My stools have been black since I started the iron pills, is that normal?")
    assert alone.urgency != "emergent", alone.reasons


@pytest.mark.parametrize(
    "body",
    [
        "Grandma tested positive for covid today, fever and aches. Can the doctor send in Paxlovid? CVS on Elm.",
        "My husband's flu test came back positive at the pharmacy. Can you call in Tamiflu for him today?",
        "mom is covid positive since yesterday, we are still waiting on the antiviral, nobody called back",
    ],
)
def test_a_positive_covid_or_flu_test_with_an_antiviral_asked_for_is_seen_today(body: str) -> None:
    result = said(body)
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent"), result.reasons


@pytest.mark.parametrize(
    "body",
    [
        "I tested positive for covid and urgent care prescribed Paxlovid. Should I stop my simvastatin?",
        "My son has flu and they started Tamiflu yesterday. How long should he stay home from school?",
        "Is the flu shot still worth getting this late? I have not had the flu this year.",
    ],
)
def test_an_antiviral_already_started_or_no_positive_test_is_not_the_window(body: str) -> None:
    result = said(body)
    assert "danger.antiviral_window" not in result.rule_ids, result.reasons


def test_a_bottle_found_empty_that_was_full_is_an_overdose_but_an_empty_bottle_alone_is_a_refill() -> None:
    found = said("Her Advil bottle is empty and it was brand new on Sunday. She says she's fine. Should we come in?")
    assert (found.type, found.urgency) == ("clinical_urgent", "emergent"), found.reasons
    out = said("His Keppra bottle is empty, he took the last one this morning. Please send it to CVS today.")
    assert out.type == "medication_refill", out.reasons


def test_lips_swelling_after_a_food_with_a_cough_is_an_emergency_even_at_a_relatives_house() -> None:
    result = said(
        "She had a brownie at her aunt's that had walnuts and her lips are getting really big, she's coughing."
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "emergent"), result.reasons


def test_redness_moving_up_a_limb_is_a_spreading_infection() -> None:
    result = said(
        "The cut on his hand looked fine but now the red is moving up his arm past the wrist. Can he be seen?"
    )
    assert (result.type, result.urgency) == ("clinical_urgent", "urgent"), result.reasons


def test_a_sudden_terrible_headache_unlike_any_before_is_an_emergency() -> None:
    said_so = said("My wife got a sudden horrible headache at dinner, she says it's the worst of her life.")
    assert (said_so.type, said_so.urgency) == ("clinical_urgent", "emergent"), said_so.reasons
    pressure = said("His pressure is 204 over 118 tonight and he has a terrible headache. What should we do?")
    assert pressure.urgency == "emergent", pressure.reasons


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Can I give him Motrin before his shots Friday, and how much for 26 lb?", "clinical_question"),
        (
            "We'd like to bring the three kids in for their flu shots next week, I will bring the shot records along.",
            "appointment_callback",
        ),
        (
            "We were charged $45 for a phone visit. Could you check whether it was billed as telehealth and resubmit?",
            "billing_inquiry",
        ),
    ],
)
def test_round_53_request_words_in_general_form(body: str, expected: str) -> None:
    assert said(body).type == expected


def test_round_55_danger_in_spanish_and_a_relative_the_call_is_about() -> None:
    spanish = said("mi papá tiene un dolor bien fuerte aquí en el pecho y está sudando", "voicemail")
    assert (spanish.type, spanish.urgency) == ("clinical_urgent", "emergent"), spanish.reasons
    now = said("Caller for her grandfather. Grandfather has had chest pain since about 6 am, sweaty.", "phone")
    assert now.urgency == "emergent", now.reasons
    history = said("My grandfather had a heart attack at 60. What cholesterol number should I aim for?")
    assert history.type != "clinical_urgent", history.reasons


def test_a_nosebleed_that_pinching_stops_is_urgent_and_one_that_will_not_stop_is_an_emergency() -> None:
    pinched = said(
        "On warfarin. Nosebleed this morning, soaked a few tissues, it stops with pinching then starts again."
    )
    assert (pinched.type, pinched.urgency) == ("clinical_urgent", "urgent"), pinched.reasons
    going = said("On warfarin and my nose is bleeding heavily for 40 minutes, it will not stop.")
    assert going.urgency == "emergent", going.reasons


def test_a_visiting_nurses_vitals_are_read_each_by_its_own_label() -> None:
    body = (
        "Home health RN visit today: wt 182.4 lb (yesterday 181.6), BP 122/70, HR 74, SpO2 96% RA, lungs clear. "
        "Please confirm the furosemide dose so I can update the med list."
    )
    result = said(body, "email")
    assert (result.type, result.urgency) == ("clinical_question", "routine"), result.reasons


@pytest.mark.parametrize(
    ("body", "channel", "expected"),
    [
        (
            "ANIMAL CLINIC - rabies certificate for 'Lobo' (canine, neutered male), owner Mr. T. Soto. Dr. K. Ruiz DVM",
            "fax",
            "other",
        ),
        (
            "me cambiaron a la pluma de insulina y no entiendo bien cómo se usa, la guardo en el refri o afuera?",
            "voicemail",
            "clinical_question",
        ),
        ("¿Qué dicen mis análisis? El colesterol salió alto, ¿eso es malo?", "portal", "clinical_question"),
        (
            "Please book my annual physical with fasting labs, my husband makes me go every year.",
            "portal",
            "appointment_callback",
        ),
    ],
)
def test_round_55_request_words_in_general_form(body: str, channel: str, expected: str) -> None:
    assert said(body, channel).type == expected


def test_round_57_context_school_illness_flyers_and_a_sign_that_has_not_come_back() -> None:
    school = said("Can the twins get flu shots Saturday? Everyone in their class is getting sick. They are fine now.")
    assert "danger.carbon_monoxide" not in school.rule_ids and school.urgency == "routine", school.reasons
    home = said("Everyone in the house has a headache and is dizzy since we ran the space heater all night.")
    assert home.urgency == "emergent", home.reasons
    flyer = said("Our block association is doing a health fair. The flyer says BE FAST: face drooping, arm weakness.")
    assert flyer.type != "clinical_urgent", flyer.reasons
    after = said(
        "The ER checked my heart Monday, all normal, and the chest pain has not come back. When is my follow-up?"
    )
    assert after.type == "appointment_callback", after.reasons
    past = said("He was in the ER Saturday after an overdose and is home and alert now. Please send a new Narcan kit.")
    assert "danger.overdose" not in past.rule_ids, past.reasons


def test_a_flu_positive_child_asking_whether_a_sibling_needs_tamiflu_is_a_question() -> None:
    result = said("Flu positive on Monday, fever gone since Friday. Does his brother need the Tamiflu too?")
    assert "danger.antiviral_window" not in result.rule_ids, result.reasons


@pytest.mark.parametrize(
    ("body", "channel", "expected"),
    [
        (
            "me llegó una carta del seguro que dice que mi cobertura se termina, tengo cita en mayo y no quiero que me "
            "cobren",
            "voicemail",
            "billing_inquiry",
        ),
        ("es para confirmar mi cita del martes y preguntar si voy en ayunas", "voicemail", "appointment_callback"),
        ("mami soy yo, ya tengo las cosas para la fiesta, llámame cuando salgas del trabajo", "voicemail", "other"),
        (
            "Can I switch my follow-up to a video visit? I work at a nail salon and can't leave.",
            "portal",
            "appointment_callback",
        ),
    ],
)
def test_round_57_request_words_in_general_form(body: str, channel: str, expected: str) -> None:
    assert said(body, channel).type == expected


def test_round_56_home_oxygen_without_power_and_the_reason_for_a_form() -> None:
    oxygen = said(
        "power out since 3am with the ice, her oxygen machine won't run, the tank is good for maybe two hours"
    )
    assert (oxygen.type, oxygen.urgency) == ("clinical_urgent", "urgent"), oxygen.reasons
    form = said("I need my FMLA paperwork filled out for my asthma flare-ups, the form comes by fax this week.")
    assert form.type != "clinical_urgent", form.reasons
    note = said("Work needs a note saying I can go back Monday after missing Tuesday to Friday for my asthma flare.")
    assert note.type != "clinical_urgent", note.reasons
    flare = said("My asthma is flaring, I've used the albuterol every 2 hours since last night.")
    assert flare.type == "clinical_urgent", flare.reasons


@pytest.mark.parametrize(
    ("body", "channel", "expected"),
    [
        (
            "LUNG SCREENING CENTER - LOW-DOSE CT CHEST\nReferring: Dr. A\nFindings: 3 mm nodule, stable. Lung-RADS 2.",
            "fax",
            "lab_result_routine",
        ),
        (
            "Hospice RN asks whether Dr. Lee agrees to stop the statin and continue the donepezil. Comfortable.",
            "phone",
            "clinical_question",
        ),
        (
            "Caller was looking for the hours of the CVS on Main; not a patient of the practice. No further action.",
            "phone",
            "other",
        ),
        (
            "le mandé mensaje sobre la prednisona, si me la tomo toda en la mañana o dividida",
            "voicemail",
            "clinical_question",
        ),
    ],
)
def test_round_56_request_words_in_general_form(body: str, channel: str, expected: str) -> None:
    assert said(body, channel).type == expected
