"""Lab results and prior-authorisation updates, read from their structured fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from careroute.classify import ClassifierRules, classify, default_rules
from careroute.model import Classification, InboundItem

RULES = default_rules()


def lab(test: str, value: str, units: str = "", flag: str | None = None, body: str = "") -> Classification:
    metadata: dict[str, Any] = {"test": test, "value": value, "units": units}
    if flag is not None:
        metadata["abnormal_flag"] = flag
    item = InboundItem(
        channel="lab",
        external_id="lab-t",
        received_at=datetime.fromisoformat("2027-02-15T10:00:00-06:00"),
        body=body or f"{test} {value} {units}",
        metadata=metadata,
    )
    return classify(item, RULES)


@pytest.mark.parametrize("flag", ["HH", "LL", "AA", "hh", "C"])
def test_a_panic_flag_is_urgent(flag: str) -> None:
    result = lab("Potassium", "5.9", "mmol/L", flag)
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent")


@pytest.mark.parametrize(
    ("test", "value", "units", "flag"),
    [
        ("Glucose", "538", "mg/dL", None),
        ("Glucose", "1.9", "mmol/L", ""),
        ("Potassium, serum", "6.7", "mmol/L", "H"),
        ("K", "2.5", "mEq/L", None),
        ("Sodium", "118", "mmol/L", "L"),
        ("Hemoglobin", "6.4", "g/dL", "L"),
        ("INR", "5.8", "", "H"),
        ("Troponin I, high sensitivity", "212", "ng/L", None),
        ("Troponin T", "0.09", "ng/mL", None),
        ("Platelet count", "18", "x10^3/uL", "L"),
        ("Calcium, total", "13.6", "mg/dL", None),
        ("WBC", "0.8", "x10^3/uL", "N"),
    ],
)
def test_a_value_past_a_critical_limit_is_urgent_with_or_without_a_flag(
    test: str, value: str, units: str, flag: str | None
) -> None:
    result = lab(test, value, units, flag)
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent"), result.reasons


@pytest.mark.parametrize(
    ("test", "value", "units", "flag"),
    [
        ("Potassium", "5.6", "mmol/L", "H"),
        ("Sodium", "132", "mmol/L", "L"),
        ("Glucose", "64", "mg/dL", "L"),
        ("Hemoglobin", "10.9", "g/dL", "L"),
        ("Hemoglobin A1c", "9.1", "%", "H"),
        ("Microalbumin/Creatinine Ratio, urine", "310", "mg/g creat", "H"),
        ("TSH", "7.2", "uIU/mL", "H"),
        ("INR", "2.8", "", "H"),
        ("Glucose", "12", "unknown-unit", None),
    ],
)
def test_high_or_low_but_not_critical_is_routine(test: str, value: str, units: str, flag: str | None) -> None:
    result = lab(test, value, units, flag)
    assert (result.type, result.urgency) == ("lab_result_routine", "routine"), result.reasons


def test_cultures_that_should_be_sterile() -> None:
    assert lab("Blood culture, aerobic", "Gram negative rods", flag=None).urgency == "urgent"
    assert lab("Blood cultures", "Positive", body="1 of 2 bottles positive, gram negative rods").urgency == "urgent"
    assert lab("Blood culture", "No growth at 5 days").urgency == "routine"


def test_a_report_that_calls_a_critical_result_is_urgent() -> None:
    body = "CT head: acute subdural hematoma. Critical result called to Dr. Ruiz at 14:05."
    assert lab("CT head w/o contrast", "", body=body).urgency == "urgent"
    assert lab("Chest X-ray", "", body="No acute cardiopulmonary process.").urgency == "routine"


def pa(status: str, body: str, received: str = "2027-02-16T08:40:00-06:00", **metadata: str) -> Classification:
    item = InboundItem(
        channel="ehr",
        external_id="pa-t",
        received_at=datetime.fromisoformat(received),
        body=body,
        subject="Prior authorization update",
        metadata={"payer": "Aetna", "status": status, **metadata},
    )
    return classify(item, RULES)


def test_prior_auth_updates_are_routine_unless_something_is_due_today() -> None:
    assert pa("submitted", "ePA submitted, determination in 5-7 business days.").urgency == "routine"
    assert pa("approved", "Approved through 2028.", deadline="2027-02-16").urgency == "routine"
    denial = pa("denied", "Denied. You may appeal within 60 days.", deadline="2027-04-17")
    assert (denial.type, denial.urgency) == ("prior_auth_pending", "routine")


@pytest.mark.parametrize(
    ("status", "body", "metadata"),
    [
        ("peer_to_peer_scheduled", "Peer to peer call scheduled.", {"deadline": "2027-02-16"}),
        ("more_info_requested", "Send notes by end of day.", {"deadline": "2027-02-16T17:00:00-06:00"}),
        ("denied", "Patient has one dose left; an exception must be filed today to avoid a gap in therapy.", {}),
        ("more_info_requested", "The infusion is scheduled for today at 1 pm; plan needs the colonoscopy report.", {}),
        ("peer_to_peer_scheduled", "Peer-to-peer scheduled 2/16 at 3:30 PM CT with the medical director.", {}),
        ("denied", "Denied - the MRI is scheduled for today at 4 pm and requires auth.", {}),
    ],
)
def test_prior_auth_due_today_is_urgent(status: str, body: str, metadata: dict[str, str]) -> None:
    result = pa(status, body, **metadata)
    assert (result.type, result.urgency) == ("prior_auth_pending", "urgent"), result.reasons


def test_today_is_the_clinics_day_not_utc() -> None:
    # 21:00 in Chicago on the 16th is already the 17th in UTC; a deadline on the 17th is tomorrow.
    late = pa("more_info_requested", "Reply requested.", received="2027-02-16T21:00:00-06:00", deadline="2027-02-17")
    assert late.urgency == "routine"
    due = pa(
        "more_info_requested",
        "Reply requested.",
        received="2027-02-16T21:00:00-06:00",
        deadline="2027-02-17T02:00:00+00:00",
    )
    assert due.urgency == "urgent"


def test_out_of_a_critical_medicine_is_an_urgent_refill() -> None:
    def portal(body: str, rules: ClassifierRules = RULES) -> Classification:
        item = InboundItem("portal", "p-t", datetime.fromisoformat("2027-02-16T08:40:00-06:00"), body)
        return classify(item, rules)

    assert (portal("I ran out of my Keppra yesterday, please send a refill").urgency) == "urgent"
    assert portal("Se me acabó la insulina, necesito receta").urgency == "urgent"
    # The phrases read "almost out" as not out yet. The refill net may still raise it for a clinician's
    # look (writers labelled "almost out" of a critical medicine urgent and routine, two each), which
    # test_classify_refill_net covers: here the phrases alone.
    almost = portal("I'm almost out of my Keppra, please refill before Friday", RULES.with_refill_net(None))
    assert almost.urgency == "routine"
    assert portal("Out of my omeprazole, please send to CVS").urgency == "routine"
    result = portal("I'm completely out of my tacrolimus as of this morning, pharmacy needs a new script")
    assert (result.type, result.urgency) == ("medication_refill", "urgent")
    assert any(r.startswith("refill.critical_out.transplant") for r in result.rule_ids)


def test_a_due_time_that_names_another_day_is_not_due_today() -> None:
    # Received Tuesday 2027-02-16.
    later = pa("denied", "Peer-to-peer requests must be received by end of business Friday 02/19/2027.")
    assert later.urgency == "routine", later.reasons
    weekday = pa("denied", "Peer-to-peer must be requested by close of business Thursday.")
    assert weekday.urgency == "routine", weekday.reasons
    today = pa("denied", "Peer-to-peer must be requested by close of business Tuesday.")
    assert today.urgency == "urgent", today.reasons
    plain = pa("denied", "Peer-to-peer must be requested by end of business.")
    assert plain.urgency == "urgent", plain.reasons


def test_out_of_a_critical_medicine_asked_as_a_question_is_still_an_urgent_refill() -> None:
    item = InboundItem(
        "voicemail",
        "vm-1",
        datetime.fromisoformat("2027-02-16T08:40:00-06:00"),
        "he is out of the tacrolimus, the kidney transplant medicine, since this morning. we are worried, "
        "he can't miss the dose tonight, what should we do?",
    )
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    assert any(r.startswith("retyped:") for r in result.reasons)


def document(body: str, channel: str = "fax", subject: str = "") -> Classification:
    item = InboundItem(channel, "doc-t", datetime.fromisoformat("2027-02-16T09:00:00-06:00"), body, subject=subject)
    return classify(item, RULES)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # No flag on a faxed report: the critical-value table reads the result lines.
        (
            "REGIONAL MEDICAL CENTER OUTREACH LAB\nPatient: DOE, JANE   DOB 03/04/1950\nCollected: 02/15/2027 09:10\n"
            "PT ........ 58.0 sec   (9.5 - 12.0)\nINR ....... 7.4        (0.9 - 1.1)",
            ("lab_result_urgent", "urgent"),
        ),
        (
            "County lab - result report\nTest: Potassium, serum    Collected: 02/15/2027\n"
            "Result: 6.8 mmol/L  (3.5-5.1)",
            ("lab_result_urgent", "urgent"),
        ),
        (
            "OUTPATIENT LABORATORY REPORT\nSodium      139 mmol/L   (135 - 145)\nPotassium   4.4 mmol/L   (3.5 - 5.1)\n"
            "Glucose     96 mg/dL     (70 - 99)\nHemoglobin A1c   6.9 %   (4.0 - 5.6)  H",
            ("lab_result_routine", "routine"),
        ),
    ],
)
def test_a_lab_report_sent_as_text_is_read_line_by_line(body: str, expected: tuple[str, str]) -> None:
    result = document(body)
    assert (result.type, result.urgency) == expected, result.reasons
    assert "lab.text_report" in result.rule_ids


def test_numbers_in_a_referral_or_a_records_request_are_not_lab_lines() -> None:
    referral = document(
        "URGENT CARE REFERRAL FOR PRIMARY CARE FOLLOW-UP\nPatient: Roe, Sam  DOB: 01/02/1980\n"
        "Seen 02/14/2027 for cough. Please see within 1-2 weeks. Visit note attached.",
        subject="Referral",
    )
    assert "lab.text_report" not in referral.rule_ids
    records = document("Please send all records 01/01/2026 to present. Respond within 10 days. Fax 1-877-555-0100.")
    assert "lab.text_report" not in records.rule_ids


@pytest.mark.parametrize(
    ("body", "urgency"),
    [
        ("Denied. A peer-to-peer is scheduled for Friday 02/19/2027. No action is required today.", "routine"),
        ("Denied. Records must be received no later than today, 5 pm, or the denial stands.", "urgent"),
    ],
)
def test_a_negation_a_few_words_before_today_is_read_in_its_sentence(body: str, urgency: str) -> None:
    result = pa("denied", body)
    assert result.urgency == urgency, result.reasons


def test_insulin_counted_in_a_few_units_is_out() -> None:
    item = InboundItem(
        "voicemail",
        "vm-2",
        datetime.fromisoformat("2027-02-16T08:40:00-06:00"),
        "calling for my daughter, she is type one, her novolog pen is at her dad's house and she only has a "
        "couple units left, can you send a new one to walgreens today",
    )
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons


def test_a_summary_with_several_results_on_a_line_is_a_lab_report() -> None:
    result = document(
        "KIDNEY CENTER - MONTHLY LABORATORY SUMMARY\nDrawn pre-dialysis 02/15/2027\n"
        "Potassium 4.9 mmol/L | Phosphorus 5.8 mg/dL | Hemoglobin 10.9 g/dL | Albumin 3.6 g/dL",
        subject="Monthly labs",
    )
    assert (result.type, result.urgency) == ("lab_result_routine", "routine"), result.reasons


def test_a_creatinine_limit_does_not_apply_to_a_patient_on_dialysis() -> None:
    on_dialysis = lab("Creatinine, serum", "8.4", "mg/dL", "H", body="NTE|Patient on maintenance hemodialysis.")
    assert on_dialysis.urgency == "routine", on_dialysis.reasons
    not_said = lab("Creatinine, serum", "8.4", "mg/dL", "H")
    assert not_said.urgency == "urgent", not_said.reasons
    potassium = lab("Potassium", "6.6", "mmol/L", "H", body="Patient on maintenance hemodialysis.")
    assert potassium.urgency == "urgent", potassium.reasons


def test_a_denial_with_a_day_of_medicine_left_is_urgent() -> None:
    result = pa(
        "denied",
        "Non-formulary for 2027. Pharmacy reports the member has 1 day of medication remaining. "
        "An expedited exception may be requested.",
        deadline="2027-03-10",
    )
    assert (result.type, result.urgency) == ("prior_auth_pending", "urgent"), result.reasons
    assert "pa.due_today.gap" in result.rule_ids


def test_an_imaging_report_with_a_referring_line_is_a_result() -> None:
    result = document(
        "DIAGNOSTIC IMAGING\nDXA BONE DENSITOMETRY REPORT\nReferring: Dr. Lee\nLumbar spine T-score -2.7\n"
        "Impression: osteoporosis.",
        subject="DXA report",
    )
    assert (result.type, result.urgency) == ("lab_result_routine", "routine"), result.reasons


def test_a_faxed_critical_value_notification_is_urgent() -> None:
    result = document(
        "REFERENCE LABORATORY - CRITICAL VALUE NOTIFICATION\nPatient: ROE, ANN  DOB 01/02/1941\n"
        "Test: Prothrombin time / INR\nResult: INR 7.9   (therapeutic range on file 2.0-3.0)\n"
        "Telephoned to clinic 09:16, read back by front desk.",
        subject="CRITICAL VALUE NOTIFICATION",
    )
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent"), result.reasons


def test_an_expired_authorization_is_not_settled() -> None:
    result = pa("expired", "Prior authorization EXPIRED. Submit renewal today to avoid interruption of therapy.")
    assert (result.type, result.urgency) == ("prior_auth_pending", "urgent"), result.reasons


def test_a_lab_policy_note_does_not_call_a_result_critical() -> None:
    result = lab(
        "Hemoglobin",
        "13.6",
        "g/dL",
        "N",
        body="NTE|CRITICAL VALUE POLICY: results meeting critical criteria are telephoned within 30 minutes.",
    )
    assert (result.type, result.urgency) == ("lab_result_routine", "routine"), result.reasons


def test_an_inr_reported_in_inr_units_is_read_against_its_limit() -> None:
    from careroute.classify import classify, default_rules
    from careroute.model import InboundItem

    item = InboundItem(
        channel="lab",
        external_id="lab-inr-units",
        received_at=datetime.fromisoformat("2027-03-09T16:00:00-05:00"),
        body="Prothrombin time / INR: 7.8 INR (normal 0.9-1.1)",
        metadata={"test": "Prothrombin time / INR", "value": "7.8", "units": "INR", "reference_range": "0.9-1.1"},
    )
    assert classify(item, default_rules()).type == "lab_result_urgent"


def test_a_pharmacy_saying_out_of_medication_means_the_drug_it_named() -> None:
    body = (
        "SPECIALTY PHARMACY - PRESCRIPTION REQUEST\nMedication: mycophenolate 500 mg tablet, 2 tabs twice daily, "
        "qty 120\nPrevious prescriber: University Transplant Clinic. Prescriber of record changed to Dr. Ruiz.\n"
        "Patient states he is OUT of medication since last night. Please send a new Rx today."
    )
    item = InboundItem("fax", "f-1", datetime.fromisoformat("2027-02-10T09:00:00-06:00"), body)
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons
    # the generic word needs a critical medicine named somewhere
    item = InboundItem(
        "fax", "f-2", datetime.fromisoformat("2027-02-10T09:00:00-06:00"), body.replace("mycophenolate", "atorvastatin")
    )
    assert classify(item, RULES).urgency == "routine"


def test_a_visit_note_sentence_that_starts_with_a_point_of_care_inr() -> None:
    body = (
        "HOME HEALTH - SKILLED NURSING VISIT NOTE\nPOINT-OF-CARE INR\nVisit 03/02/2027 08:10. INR (CoaguChek): 6.1"
        "   Goal range 2.0-3.0\nWarfarin 7.5 mg daily. Please advise dosing."
    )
    item = InboundItem("fax", "f-3", datetime.fromisoformat("2027-03-02T11:00:00-06:00"), body)
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent"), result.reasons
    in_range = InboundItem("fax", "f-4", item.received_at, body.replace("6.1", "2.6"))
    assert classify(in_range, RULES).type != "lab_result_urgent"


def test_a_rescue_inhaler_is_critical_only_beside_its_need() -> None:
    def read(body: str) -> Classification:
        item = InboundItem("portal", "p-1", datetime.fromisoformat("2027-01-12T10:00:00-05:00"), body)
        return classify(item, RULES)

    coughing = read("Her albuterol inhaler is empty and she's started coughing. Can you send a refill to CVS today?")
    assert (coughing.type, coughing.urgency) == ("medication_refill", "urgent"), coughing.reasons
    well = read("He finished his albuterol inhaler last week. He's totally fine, no wheezing. Please send a new one.")
    assert (well.type, well.urgency) == ("medication_refill", "routine"), well.reasons


def test_a_flag_in_brackets_after_a_faxed_value_is_read_as_the_labs_flag() -> None:
    body = (
        "HILLTOP REGIONAL LAB - CRITICAL RESULT (COPY)\nPatient: DOE, PAT   DOB 01/02/1950\n"
        "Potassium 6.9 [HH]   Sodium 139 [N]\nCritical result called to the on-call nurse 07:55. Copy for your records."
    )
    item = InboundItem("fax", "f-5", datetime.fromisoformat("2027-03-02T08:30:00-06:00"), body)
    result = classify(item, RULES)
    # "for your records" says where the copy goes: the lab's own words make the result critical
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent"), result.reasons
    normal = InboundItem("fax", "f-6", item.received_at, body.replace("6.9 [HH]", "4.2 [N]").replace("CRITICAL ", ""))
    assert classify(normal, RULES).type != "lab_result_urgent"


def test_a_critical_value_with_a_danger_sign_in_the_labs_note_is_emergent() -> None:
    def lab(note: str, value: str = "118") -> Classification:
        item = InboundItem(
            "lab",
            "l-1",
            datetime.fromisoformat("2027-03-02T09:00:00-06:00"),
            f"Sodium {value} mmol/L (ref 135-145)\n{note}",
            metadata={"test": "Sodium", "value": value, "units": "mmol/L", "abnormal_flag": "LL"},
        )
        return classify(item, RULES)

    assert lab("Drawer comment: pt disoriented, unable to state the year, son says new today.").urgency == "emergent"
    assert lab("Critical value phoned to the clinic 08:40, read back.").urgency == "urgent"
    # the value itself is the result, not a sign in the note: a critical glucose stays urgent
    item = InboundItem(
        "lab",
        "l-2",
        datetime.fromisoformat("2027-03-02T09:00:00-06:00"),
        "Glucose, serum 41 mg/dL (ref 70-99)",
        metadata={"test": "Glucose, serum", "value": "41", "units": "mg/dL"},
    )
    assert classify(item, RULES).urgency == "urgent"


def test_a_blood_pressure_medicine_is_critical_in_pregnancy_only() -> None:
    def read(body: str) -> Classification:
        item = InboundItem("voicemail", "v-1", datetime.fromisoformat("2027-03-02T09:00:00-06:00"), body)
        return classify(item, RULES)

    pregnant = read(
        "i'm thirty one weeks pregnant and i ran out of my nifedipine yesterday, please send it to walgreens"
    )
    assert (pregnant.type, pregnant.urgency) == ("medication_refill", "urgent"), pregnant.reasons
    assert "refill.critical_out.pregnancy_blood_pressure" in pregnant.rule_ids
    other = read("i ran out of my nifedipine yesterday, please send it to walgreens")
    assert (other.type, other.urgency) == ("medication_refill", "routine"), other.reasons


def test_the_power_being_out_is_not_the_medicine_being_out() -> None:
    item = InboundItem(
        "portal",
        "p-2",
        datetime.fromisoformat("2027-01-20T15:00:00-06:00"),
        "The power went out last night after the storm and is still out. Is my Lantus pen that sat at room "
        "temperature still ok to use? I have plenty of pens.",
    )
    result = classify(item, RULES)
    assert not any(r.startswith("refill.critical_out") for r in result.rule_ids), result.reasons


def test_a_date_after_submitted_by_is_no_due_date() -> None:
    def pa(body: str) -> bool:
        item = InboundItem(
            "ehr",
            "pa-1",
            datetime.fromisoformat("2027-03-10T11:00:00-06:00"),
            body,
            metadata={"payer": "Aetna", "status": "submitted"},
        )
        return classify(item, RULES).urgency == "urgent"

    assert not pa("Request submitted by clinic staff 03/10/2027. Standard review, decision within 15 days.")
    assert not pa("Form reviewed by the plan pharmacist 03/10/2027; pending.")
    assert pa("Clinical notes must be submitted by 03/10/2027 or the request will be closed.")


def test_a_long_critical_medicine_misspelled_by_a_letter_is_still_that_medicine() -> None:
    def read(body: str) -> Classification:
        item = InboundItem("portal", "p-3", datetime.fromisoformat("2027-03-02T09:00:00-06:00"), body)
        return classify(item, RULES)

    out = read("I took my last levetiracitam this morning, please send a new prescription to CVS for tonight.")
    assert (out.type, out.urgency) == ("medication_refill", "urgent"), out.reasons
    assert "refill.critical_out.anti_epileptic" in out.rule_ids
    plenty = read("Please renew my levetiracitam, I have two weeks left. CVS on Main.")
    assert plenty.urgency == "routine", plenty.reasons


def test_a_transplant_medicine_heard_as_syllables_is_still_that_medicine() -> None:
    def heard(body: str) -> Classification:
        item = InboundItem("voicemail", "v-2", datetime.fromisoformat("2027-03-02T07:00:00-06:00"), body)
        return classify(item, RULES)

    for said in (
        "my husband's pro graph, he only has tonight's dose and then nothing, the pharmacy needs a new script",
        "it's about the tack row limits, i took the last one this morning so i have zero for tonight",
        "the tack row limb us, one milligram, i'm down to my last one, the walgreens says it expired",
    ):
        result = heard(said)
        assert (result.type, result.urgency) == ("medication_refill", "urgent"), (said, result.reasons)
        assert "refill.critical_out.transplant" in result.rule_ids
    # "her" is a word, not a syllable of a name: nothing is joined through it
    assert heard("can you take her limbs out of the cast on friday").urgency == "routine"


def test_a_payers_request_for_a_patient_out_of_medicine_stays_with_authorisations() -> None:
    body = (
        "PLAN PHARMACY REVIEW - REQUEST FOR INFORMATION\nMember: Ann Rowe  DOB 02/02/1950\nDrug: apixaban 5 mg "
        "(non-formulary). Member is out of medication today. Please complete the formulary exception statement "
        "and fax back TODAY for expedited review."
    )
    item = InboundItem("fax", "f-7", datetime.fromisoformat("2027-03-02T10:00:00-06:00"), body)
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("prior_auth_pending", "urgent"), result.reasons
    # the same words from the patient ask for the medicine
    said = InboundItem(
        "portal",
        "p-4",
        item.received_at,
        "My insurance wants a formulary exception for my Eliquis and I took my last one today. Can you send something?",
    )
    assert classify(said, RULES).type == "medication_refill"


def test_a_rescue_inhaler_needed_often_now_or_with_none_anywhere_is_critical() -> None:
    def read(body: str) -> Classification:
        item = InboundItem("portal", "p-5", datetime.fromisoformat("2027-04-12T16:00:00-05:00"), body)
        return classify(item, RULES)

    often = read("My ProAir is empty. I've been using it four times a day since the wildfire smoke. CVS please.")
    assert (often.type, often.urgency) == ("medication_refill", "urgent"), often.reasons
    none = read("Her albuterol ran out and the school one expired, so she has nothing if she needs it. Walgreens.")
    assert (none.type, none.urgency) == ("medication_refill", "urgent"), none.reasons
    spare = read("Please renew his albuterol, we're on the last one at home. He's fine, no cough.")
    assert spare.urgency == "routine", spare.reasons


def test_a_labs_critical_value_told_to_a_call_centre_is_a_critical_result() -> None:
    def note(body: str) -> Classification:
        item = InboundItem("phone", "ph-1", datetime.fromisoformat("2027-03-02T10:00:00-06:00"), body)
        return classify(item, RULES)

    told = note(
        "LAB CALL from the reference lab: result for Ann Rowe, DOB 02/02/1950: potassium 6.9 mmol/L, drawn today."
    )
    assert (told.type, told.urgency) == ("lab_result_urgent", "urgent"), told.reasons
    called = note("CRITICAL VALUE CALL from the hospital lab for Ann Rowe, read back by the LPN. Report to follow.")
    assert called.type != "lab_result_urgent" or called.urgency == "urgent", called.reasons


def test_a_patchs_hours_and_a_quantity_are_no_pulse() -> None:
    body = "REFILL REQUEST\nRx: ESTRADIOL 0.05 MG/24HR PATCH twice weekly  Qty 24  Refills remaining: 0"
    result = classify(InboundItem("fax", "f-8", datetime.fromisoformat("2027-03-02T10:00:00-06:00"), body), RULES)
    assert (result.type, result.urgency) == ("medication_refill", "routine"), result.reasons


def test_a_seizure_medicine_heard_with_a_doubled_letter_lost_is_still_critical() -> None:
    body = "the kep ra liquid for his seizures is almost gone, we have tonight's dose and that's it, walgreens please"
    result = classify(InboundItem("voicemail", "v-3", datetime.fromisoformat("2027-03-06T18:00:00-06:00"), body), RULES)
    assert (result.type, result.urgency) == ("medication_refill", "urgent"), result.reasons


def test_a_water_pill_is_critical_in_heart_failure_only() -> None:
    def read(body: str) -> Classification:
        item = InboundItem("voicemail", "v-4", datetime.fromisoformat("2027-03-08T09:00:00-06:00"), body)
        return classify(item, RULES)

    failing = read(
        "my mother has congestive heart failure and she ran out of her furosemide two days ago, kroger please"
    )
    assert (failing.type, failing.urgency) == ("medication_refill", "urgent"), failing.reasons
    pressure = read("i ran out of my furosemide two days ago, it's for my blood pressure, kroger please")
    assert "refill.critical_out.heart_failure_diuretic" not in pressure.rule_ids, pressure.reasons


def test_a_unitless_critical_result_told_in_a_call_note_is_read() -> None:
    body = (
        "ANSWERING SERVICE MESSAGE\nCALLER: Tom at Valley Med Ctr lab\nRE: pt ROWE, ANN dob 2/2/50\n"
        "MSG: calling a critical value. INR 6.9 drawn this afternoon. Needs name of person receiving."
    )
    item = InboundItem("phone", "ph-2", datetime.fromisoformat("2027-03-02T21:00:00-06:00"), body)
    result = classify(item, RULES)
    assert (result.type, result.urgency) == ("lab_result_urgent", "urgent"), result.reasons
    # without the lab's call, a patient's own INR in a phone note is not a lab report
    own = "MSG: pt says her INR was 2.4 at the coumadin clinic, wants to know if she can have a glass of wine"
    mine = classify(InboundItem("phone", "ph-3", datetime.fromisoformat("2027-03-02T10:00:00-06:00"), own), RULES)
    assert mine.type != "lab_result_urgent", mine.reasons


def test_a_nurse_asking_whether_the_provider_wants_a_dose_changed_is_a_question() -> None:
    body = (
        "CALL CENTER NOTE\nCaller: home health RN for Ruth Yoder, DOB 4/4/1940. Sugars 190-240 all week, no"
        " symptoms. Asks if provider wants to increase the insulin or keep it until the visit on 3/20. A call"
        " back today or tomorrow is fine."
    )
    result = classify(InboundItem("phone", "ph-4", datetime.fromisoformat("2027-03-02T10:00:00-06:00"), body), RULES)
    assert result.type == "clinical_question", result.reasons
