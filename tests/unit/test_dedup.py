"""Same-request matching (careroute.dedup): each non-duplicate rule, the window, root chaining."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from careroute.dedup import (
    DedupCandidate,
    DedupConfig,
    candidate_for,
    dedup_replay,
    find_duplicate,
    find_medicines,
    request_facts,
)
from careroute.identity import fold
from careroute.model import InboundItem, Patient

T0 = datetime.fromisoformat("2027-03-01T08:00:00-06:00")
ALICE = {"mrn": "A100", "name": "Alice Amberg", "dob": "1970-07-04", "phone": "715-555-0102"}
BOB = {"mrn": "B200", "name": "Bob Brandt", "dob": "1955-05-05"}


def an_item(
    eid: str, hours: float, body: str, patient: dict[str, str] | None = None, channel: str = "portal", **metadata: Any
) -> InboundItem:
    return InboundItem(channel, eid, T0 + timedelta(hours=hours), body, Patient(**(patient or {})), metadata=metadata)


def replay(*pairs: tuple[InboundItem, str]) -> list[str | None]:
    return dedup_replay(list(pairs))


R = "medication_refill"


def test_it_merges_a_voicemail_into_the_portal_refill_by_brand_name() -> None:
    portal = an_item("p1", 0, "Refill my sertraline 50 mg please.", ALICE)
    vm = an_item(
        "v1",
        3,
        "this is alice amberg, date of birth july fourth nineteen seventy, i need my zoloft",
        {"phone": "7155550102"},
        "voicemail",
    )
    assert replay((portal, R), (vm, R)) == [None, "p1"]


def test_it_keeps_apart_the_same_patient_asking_for_another_medicine() -> None:
    a = an_item("p1", 0, "Refill my metformin 500 mg.", ALICE)
    b = an_item("p2", 2, "And my lisinopril 10 mg please.", ALICE)
    assert replay((a, R), (b, R)) == [None, None]


def test_it_keeps_apart_two_patients_with_the_same_words() -> None:
    a = an_item("p1", 0, "Please renew my prescriptions. Thank you!", ALICE)
    b = an_item("p2", 1, "Please renew my prescriptions. Thank you!", BOB)
    assert replay((a, R), (b, R)) == [None, None]


def test_it_never_merges_two_lab_results_of_one_patient() -> None:
    a = an_item("l1", 0, "TSH 6.1 H", ALICE, "lab", test="TSH", accession="AC-1")
    b = an_item("l2", 0.01, "LDL 168 H", ALICE, "lab", test="LDL", accession="AC-2")
    c = an_item("l3", 5, "TSH 6.1 H (resent)", ALICE, "lab", test="TSH", accession="AC-1")
    t = "lab_result_routine"
    assert replay((a, t), (b, t), (c, t)) == [None, None, "l1"]


def test_it_keeps_apart_different_forms_for_one_patient() -> None:
    a = an_item("f1", 0, "FMLA certification for Alice Amberg DOB 07/04/1970", {}, "fax")
    b = an_item("f2", 1, "Driver medical report (DMV) for Alice Amberg DOB 07/04/1970", {}, "fax")
    assert replay((a, "records_request"), (b, "records_request")) == [None, None]


def test_it_keeps_apart_different_referrals_for_one_patient() -> None:
    a = an_item("f1", 0, "CARDIOLOGY REFERRAL\nPatient: Alice Amberg DOB 07/04/1970", {}, "fax", csid="HEART CTR")
    b = an_item("f2", 1, "DERMATOLOGY REFERRAL\nPatient: Alice Amberg DOB 07/04/1970", {}, "fax", csid="SKIN CTR")
    assert replay((a, "referral_packet"), (b, "referral_packet")) == [None, None]


def test_it_keeps_apart_requests_of_different_types() -> None:
    a = an_item("p1", 0, "Refill my sertraline 100 mg.", ALICE)
    b = an_item("p2", 1, "Is it normal to feel jittery on sertraline?", ALICE)
    assert replay((a, R), (b, "clinical_question")) == [None, None]


def test_it_never_merges_spam() -> None:
    a = an_item("v1", 0, "press one now", {"phone": "8005550100"}, "voicemail")
    b = an_item("v2", 1, "press one now", {"phone": "8005550100"}, "voicemail")
    assert replay((a, "other"), (b, "other")) == [None, None]


def test_it_keeps_the_72_hour_window_edge() -> None:
    first = an_item("p1", 0, "Refill my pantoprazole 40 mg.", ALICE)
    inside = an_item("p2", 72, "Still need the pantoprazole.", ALICE)
    outside = an_item("p3", 72.01, "Still need the pantoprazole.", ALICE)
    assert replay((first, R), (inside, R)) == [None, "p1"]
    assert replay((first, R), (outside, R)) == [None, None]


def test_it_measures_the_window_from_the_root_not_the_latest_reminder() -> None:
    items = [an_item(f"p{i}", h, "Any news on my sumatriptan refill?", ALICE) for i, h in enumerate((0, 40, 76))]
    assert replay(*((i, R) for i in items)) == [None, "p0", None]


def test_it_names_the_root_when_the_best_match_is_a_later_duplicate() -> None:
    root = candidate_for(an_item("p1", 0, "Refill omeprazole 40 mg.", ALICE), R)
    second = candidate_for(an_item("v1", 10, "omeprazole again", ALICE), R)
    second = DedupCandidate(
        second.external_id,
        second.received_at,
        R,
        second.identity,
        second.facts,
        root_external_id="p1",
        root_received_at=root.received_at,
    )
    new = candidate_for(an_item("f1", 20, "omeprazole renewal", ALICE), R)
    match = find_duplicate(new, [second])
    assert match is not None
    assert (match.root_external_id, match.matched_external_id) == ("p1", "v1")
    assert "patient:mrn" in match.fields and "medicine:omeprazole" in match.fields


def test_it_refuses_a_candidate_whose_root_is_out_of_the_window() -> None:
    old_root = T0 - timedelta(hours=60)
    cand = candidate_for(an_item("v1", 0, "omeprazole", ALICE), R)
    cand = DedupCandidate(
        cand.external_id,
        cand.received_at,
        R,
        cand.identity,
        cand.facts,
        root_external_id="p0",
        root_received_at=old_root,
    )
    new = candidate_for(an_item("p2", 13, "omeprazole", ALICE), R)
    assert find_duplicate(new, [cand]) is None
    assert find_duplicate(new, [cand], window=timedelta(hours=80)) is not None


def test_it_reports_a_closed_root_and_can_be_told_to_skip_it() -> None:
    cand = candidate_for(an_item("p1", 0, "Refill omeprazole 40 mg.", ALICE), R)
    closed = DedupCandidate(cand.external_id, cand.received_at, R, cand.identity, cand.facts, open=False)
    new = candidate_for(an_item("p2", 5, "omeprazole please", ALICE), R)
    match = find_duplicate(new, [closed])
    assert match is not None and not match.root_open
    assert find_duplicate(new, [closed], config=DedupConfig(match_closed=False)) is None


def test_it_does_not_fold_an_urgent_item_into_a_routine_question_by_default() -> None:
    q = candidate_for(an_item("p1", 0, "ankles swollen on amlodipine?", ALICE), "clinical_question")
    u = candidate_for(an_item("p2", 2, "legs very swollen, short of breath", ALICE), "clinical_urgent")
    assert find_duplicate(u, [q]) is None


def test_it_keeps_apart_a_new_prior_auth_status_of_one_case() -> None:
    a = an_item("a1", 0, "Ozempic submitted", ALICE, "ehr", case_id="C-1", status="submitted")
    b = an_item("a2", 5, "Ozempic approved", ALICE, "ehr", case_id="C-1", status="approved")
    c = an_item("a3", 6, "Ozempic approved", ALICE, "ehr", case_id="C-1", status="approved")
    t = "prior_auth_pending"
    assert replay((a, t), (b, t), (c, t)) == [None, None, "a2"]


def test_it_matches_a_spoken_statement_number_to_the_written_one() -> None:
    a = an_item(
        "e1",
        0,
        "About statement #55120-3381 for $140.\nAlice Amberg\nDOB 07/04/1970",
        {"name": "Alice Amberg"},
        "email",
    )
    b = an_item(
        "v1",
        20,
        "this is alice amberg, date of birth july fourth nineteen seventy, statement number "
        "ending in three three eight one",
        {"phone": "7155550102"},
        "voicemail",
    )
    c = an_item(
        "e2",
        21,
        "And statement #55120-9000 is wrong too.\nAlice Amberg\nDOB 07/04/1970",
        {"name": "Alice Amberg"},
        "email",
    )
    t = "billing_inquiry"
    assert replay((a, t), (b, t), (c, t)) == [None, "e1", None]


def test_it_knows_brand_names_typos_and_unlisted_medicines() -> None:
    assert find_medicines("my keppra and the k dur") == {"levetiracetam", "potassium chloride"}
    assert find_medicines("the albuteral inhaler") == {"albuterol"}
    assert find_medicines("zorvaxin 40 mg daily") == {"zorvaxin"}
    assert find_medicines("blood pressure question") == set()


def test_it_reads_form_kinds() -> None:
    facts = request_facts(
        an_item("f1", 0, "Certification of Health Care Provider (FMLA)", {}, "fax"), "records_request"
    )
    assert "fmla" in facts.forms
    assert (
        "immunization"
        in request_facts(
            an_item("p1", 0, "The school needs the state form 3231 for his vaccines."), "records_request"
        ).forms
    )
    note = request_facts(an_item("v1", 0, "his school needs a note saying he can come back"), "records_request")
    form = request_facts(an_item("f2", 0, "AUTHORIZATION FOR MEDICATION ADMINISTRATION AT SCHOOL"), "records_request")
    assert note.forms.isdisjoint(form.forms)


def test_it_never_shows_message_content_in_reprs() -> None:
    cand = candidate_for(an_item("p1", 0, "Refill my sertraline 50 mg please.", ALICE), R)
    text = repr(cand) + repr(cand.facts) + repr(cand.identity)
    for secret in ("sertraline", "Alice", "amberg", "1970"):
        assert secret not in text


def test_it_rejects_naive_datetimes() -> None:
    cand = candidate_for(an_item("p1", 0, "x", ALICE), R)
    try:
        DedupCandidate("p1", datetime(2027, 3, 1), R, cand.identity, cand.facts)
    except ValueError:
        return
    raise AssertionError("a naive received_at was accepted")


def test_it_takes_a_lay_word_for_the_medicine_it_covers() -> None:
    portal = an_item("p1", 0, "Please renew my lisinopril 20 mg.", ALICE)
    same = an_item("p2", 3, "Still need my blood pressure pill.", ALICE)
    other = an_item("p3", 4, "And my cholesterol pill too.", ALICE)
    assert replay((portal, R), (same, R), (other, R)) == [None, "p1", None]


def test_a_records_request_with_a_word_before_records_is_the_same_request() -> None:
    vm = an_item("v1", 0, "this is alice amberg, i need my records sent to my new doctor", ALICE, "voicemail")
    portal = an_item("p1", 4, "Please fax my cardiology records to my new doctor.", ALICE)
    assert replay((vm, "records_request"), (portal, "records_request")) == [None, "v1"]


def test_a_clinical_question_naming_a_medicine_by_its_kind_is_the_same_question() -> None:
    Q = "clinical_question"
    portal = an_item("p1", 0, "Before my fasting labs on Friday can I take my metformin?", ALICE)
    vm = an_item("v1", 5, "mom wants to know about her sugar pill the morning of the fasting test friday", ALICE)
    other = an_item("v2", 6, "and can she keep taking the cholesterol pill with grapefruit", ALICE)
    assert replay((portal, Q), (vm, Q), (other, Q)) == [None, "p1", None]


def test_two_clinical_messages_from_one_patient_within_hours_are_one_episode() -> None:
    U = "clinical_urgent"
    wife = an_item("v1", 0, "his chest feels like something heavy on it and he is sweating", ALICE, "voicemail")
    him = an_item("p1", 0.2, "Still tight as a drum and my left arm feels heavy. Should I drive in?", ALICE)
    next_day = an_item("p2", 30, "Different thing: a rash on my leg since this morning.", ALICE)
    assert replay((wife, U), (him, U), (next_day, U)) == [None, "v1", None]


def test_a_french_voicemail_and_an_english_one_about_the_same_chest_pain_match() -> None:
    U = "clinical_urgent"
    mother = an_item(
        "v1", 0, "j'ai mal dans la poitrine pis j'ai de la misère à prendre mon souffle", ALICE, "voicemail"
    )
    daughter = an_item(
        "v2", 5, "my mother says her chest is squeezing and she can't catch her breath", ALICE, "voicemail"
    )
    assert replay((mother, U), (daughter, U)) == [None, "v1"]


def test_a_message_that_says_it_repeats_one_is_that_one_in_other_words() -> None:
    from careroute.dedup import find_duplicate

    first = InboundItem(
        "portal",
        "p-1",
        datetime.fromisoformat("2027-07-19T15:46:00-05:00"),
        "Since yesterday morning my poop is black, like tar, 3 times now. I take naproxen for my back.",
        Patient(mrn="IM1", name="Ruben Solis", dob="1981-12-12"),
    )
    said_again = InboundItem(
        "phone",
        "ph-1",
        datetime.fromisoformat("2027-07-20T07:14:00-05:00"),
        "Caller: wife re: husband RUBEN SOLIS, DOB 12/12/81. Says he messaged yesterday afternoon about black "
        "stools, no callback yet. She says he looked pale at breakfast.",
        Patient(name="Ruben Solis"),
    )
    new_words = InboundItem(
        "phone",
        "ph-2",
        datetime.fromisoformat("2027-07-20T07:14:00-05:00"),
        "Caller: wife re: husband RUBEN SOLIS, DOB 12/12/81. She says he looked pale at breakfast and his back hurts.",
        Patient(name="Ruben Solis"),
    )
    earlier = candidate_for(first, "clinical_urgent")
    match = find_duplicate(candidate_for(said_again, "clinical_urgent"), [earlier])
    assert match is not None and "says_repeat" in match.request_terms
    assert find_duplicate(candidate_for(new_words, "clinical_urgent"), [earlier]) is None


def test_follow_up_cues_a_writer_uses() -> None:
    from careroute.dedup import _SAYS_REPEAT
    from careroute.identity import fold

    for said in (
        "she sent you guys a message in portuguese",
        "My wife uploaded the allergy plan on the portal yesterday. Can you confirm you got it?",
        "i wrote on the computer this morning about the cholesterol medicine",
        "yesterday i send email about the bill",
        "mi esposo les mandó un correo ayer por la cuenta",
        "mi hija le envió un mensaje por el portal",
    ):
        assert _SAYS_REPEAT.search(fold(said)), said
    assert not _SAYS_REPEAT.search(fold("please send a message to my daughter when the results are in"))


def test_a_refill_that_thanks_for_one_medicine_and_asks_for_another_is_a_new_request() -> None:
    first = an_item("p1", 0, "I need my thyroid pill sent to the pharmacy please.", ALICE)
    second = an_item(
        "p2", 30, "The thyroid one came through, thank you. Now I need the atorvastatin 40 refilled too.", ALICE
    )
    assert replay((first, R), (second, R)) == [None, None]
    again = an_item("p3", 31, "Just checking on my thyroid pill, the pharmacy has nothing yet.", ALICE)
    assert replay((first, R), (again, R)) == [None, "p1"]


def test_a_refill_that_says_it_never_came_through_is_the_same_request() -> None:
    first = an_item("p1", 0, "Please send my metformin 500 mg to the pharmacy.", ALICE)
    for body in (
        "Calling about my metformin refill, the pharmacy still has not got it, it never came through.",
        "My metformin refill has not come through yet. Thank you.",
    ):
        again = an_item("p2", 5, body, ALICE)
        assert replay((first, R), (again, R)) == [None, "p1"], body


def test_a_spanish_call_about_a_bill_an_english_email_asked_about_is_that_question() -> None:
    email = an_item(
        "e-1",
        0,
        "I was billed $212.50 for my March visit, but my secondary insurance should cover it. Date of birth "
        "4/2/1951. Can you check the statement?",
        {"name": "Tomas Ybarra"},
        channel="email",
    )
    call = an_item(
        "v-1",
        20,
        "buenas tardes, habla la esposa de tomas ybarra, nació el dos de abril de mil novecientos cincuenta y uno. "
        "mi esposo les mandó un correo ayer por la cuenta de la visita de marzo. gracias",
        channel="voicemail",
    )
    assert replay((email, "billing_inquiry"), (call, "billing_inquiry")) == [None, "e-1"]


def test_a_whole_name_spelled_word_by_word_matches_the_fax() -> None:
    fax = an_item(
        "f-1",
        0,
        "REFILL REQUEST\nPatient: NGUYEN, LAN   DOB: 02/11/1949\nRx: amlodipine 5 mg tab, refills left: 0",
        channel="fax",
    )
    call = an_item(
        "v-1",
        6,
        "hi this is my calling for my mother, lawn win, l a n, n g u y e n, birthday two eleven forty nine. she "
        "needs her amlodipine, the pharmacy faxed you",
        channel="voicemail",
    )
    assert replay((fax, R), (call, R)) == [None, "f-1"]


# --- rounds 39-41: a name or a phone alone, corroborated by the same named medicine


def test_a_whole_name_without_a_birth_date_matches_when_the_same_medicine_is_asked() -> None:
    chart = {"mrn": "G300", "name": "Gideon Vasquez-Hale", "dob": "1961-02-03"}
    portal = an_item("p1", 0, "My shipment of tacrolimus 1 mg is stuck in the snow, I need a short fill.", chart)
    note = an_item(
        "n1", 2, "Phone note: wife called re: Gideon Vasquez-Hale, mail-order tacrolimus delayed, wants a short fill.",
        {"name": "Gideon Vasquez-Hale", "phone": "406-555-0199"}, "phone",
    )  # fmt: skip
    assert replay((portal, R), (note, R)) == [None, "p1"]
    # the same whole name asking for another medicine is a new request
    other = an_item("n2", 3, "Gideon Vasquez-Hale needs his amlodipine sent in.", {"name": "Gideon Vasquez-Hale"},
                    "phone")  # fmt: skip
    assert replay((portal, R), (other, R)) == [None, None]
    # and a birth date that differs keeps two patients of one name apart, whatever they ask
    namesake = an_item(
        "n3", 4, "tacrolimus 1 mg please", {"name": "Gideon Vasquez-Hale", "dob": "1990-11-11"}, "portal"
    )
    assert replay((portal, R), (namesake, R)) == [None, None]


def test_a_shared_phone_alone_needs_the_item_to_say_it_repeats_and_the_same_medicine() -> None:
    fax = an_item(
        "f1", 0, "REFILL AUTHORIZATION REQUEST Patient: MARTEL, ODILE DOB 04/02/1949 Ph: 406-555-0177 "
        "Rx: amlodipine 10 mg #90, refills remaining 0", channel="fax",
    )  # fmt: skip
    again = an_item("v1", 5, "yeah it's me again about the amlodipine, the pharmacy still has nothing",
                    {"phone": "406-555-0177"}, "voicemail")  # fmt: skip
    assert replay((fax, R), (again, R)) == [None, "f1"]
    first_time = an_item("v2", 5, "hi, can you send my amlodipine to the pharmacy", {"phone": "406-555-0177"},
                         "voicemail")  # fmt: skip
    assert replay((fax, R), (first_time, R)) == [None, None]  # a household shares a phone: not enough alone


def test_one_prior_auth_status_with_a_new_deadline_is_a_new_notice() -> None:
    t = "prior_auth_pending"
    due_today = an_item("a1", 0, "MRI denied; peer-to-peer until 4 pm", ALICE, "ehr", case_id="C-9", status="denied",
                        deadline="2028-01-10T16:00:00-07:00")  # fmt: skip
    stands = an_item("a2", 70, "Denial stands; appeal within 180 days", ALICE, "ehr", case_id="C-9",
                     status="denied", deadline="2028-07-08")  # fmt: skip
    again = an_item("a3", 71, "Denial stands; appeal within 180 days", ALICE, "ehr", case_id="C-9",
                    status="denied", deadline="2028-07-08")  # fmt: skip
    assert replay((due_today, t), (stands, t), (again, t)) == [None, None, "a2"]


def test_a_salt_between_the_name_and_the_strength_still_names_the_medicine() -> None:
    assert "sevelamer" in find_medicines("drug: sevelamer carbonate 800 mg, 2 with each meal")
    assert "sevelamer" in find_medicines("necesito refill del renvela")
    assert "metoprolol" in find_medicines("metoprolol succinate 50 mg daily")


def test_a_family_tells_stroke_signs_in_its_own_words_and_a_name_is_no_rash() -> None:
    call = request_facts(an_item("v1", 0, "hello my name is rashed, his speaking is not clear, the left hand is weak"),
                         "clinical_urgent")  # fmt: skip
    mail = request_facts(an_item("e1", 0, "his words were coming out mixed up and his mouth looks lower"),
                         "clinical_urgent")  # fmt: skip
    assert "stroke" in call.topics and "stroke" in mail.topics
    assert "rash" not in call.topics


def test_more_follow_up_cues() -> None:
    from careroute.dedup import _SAYS_REPEAT
    from careroute.identity import fold

    for said in ("my sister send email already", "he already called the answering service", "yeah it's me again"):
        assert _SAYS_REPEAT.search(fold(said)), said
    assert not _SAYS_REPEAT.search(fold("the doctor already sent it to the pharmacy"))


def test_a_husband_s_call_by_her_whole_name_about_what_she_wrote_is_that_episode() -> None:
    chart = {"mrn": "Y100", "name": "Yara Okonkwo", "dob": "1996-05-14"}
    wrote = an_item("p1", 0, "I had my baby 8 days ago and I'm bleeding a lot, soaked two pads, dizzy when I stand.",
                    chart)  # fmt: skip
    call = an_item("v1", 1, "calling for my wife yara okonkwo, she is bleeding a lot and dizzy, she sent a message "
                   "on the computer", {"phone": "559-555-0122"}, "voicemail")  # fmt: skip
    u = "clinical_urgent"
    assert replay((wrote, u), (call, u)) == [None, "p1"]
    # the same whole name a day later about something else is a new request
    later = an_item("v2", 30, "calling for yara okonkwo, she has a rash on her arm", {"phone": "559-555-0122"},
                    "voicemail")  # fmt: skip
    assert replay((wrote, u), (later, u)) == [None, None]


def test_a_name_is_no_medicine_and_a_spanish_baby_is_the_patient() -> None:
    from careroute.identity import extract_identity

    assert not find_medicines("llamo por mi bebe camila rosario")
    identity = extract_identity(an_item("v1", 0, "mi nombre es yokasta rosario, llamo por mi bebé camila rosario",
                                        channel="voicemail"))  # fmt: skip
    assert identity.given == "camila" or "camila" in identity.said_names


def test_follow_up_cues_of_a_front_desk_and_a_school_nurse() -> None:
    from careroute.dedup import _SAYS_REPEAT
    from careroute.identity import fold

    for said in ("called following up on portal msg from last night", "the school nurse faxed you the form"):
        assert _SAYS_REPEAT.search(fold(said)), said


def test_a_thank_you_for_one_medicine_and_a_request_for_another_is_a_new_refill() -> None:
    first = an_item("p1", 0, "Please refill my amlodipine 5 mg, I have 3 left.", ALICE)
    thanks = an_item(
        "p2", 30, ("Thank you so much for sending the amlodipine, I got it. I also need my metformin."), ALICE
    )
    collected = an_item("p3", 31, "Thanks for the amlodipine, my son collected it. Now the test strips please.", ALICE)
    assert replay((first, R), (thanks, R), (collected, R)) == [None, None, None]
    again = an_item("p4", 32, "Thanks for calling back. The amlodipine still has not come to the pharmacy.", ALICE)
    assert replay((first, R), (again, R)) == [None, "p1"]


def test_a_labs_faxed_copy_without_an_accession_is_the_result_its_feed_sent() -> None:
    feed = an_item(
        "l1",
        0,
        "INR 6.9 HH",
        {"name": "Alice Amberg", "dob": "1970-07-04"},
        "lab",
        test="INR",
        accession="AC-5531",
        collected_at="2027-02-28T15:20:00-06:00",
    )
    copy = an_item(
        "f1",
        14,
        ("CRITICAL VALUE - FAX COPY\nPT: AMBERG, ALICE  DOB 7/4/70\nINR 6.9 (HH)  COLL 2/28/27 15:20"),
        None,
        "fax",
    )
    later = an_item(
        "f2",
        20,
        ("CRITICAL VALUE - FAX COPY\nPT: AMBERG, ALICE  DOB 7/4/70\nINR 7.4 (HH)  COLL 3/1/27 09:05"),
        None,
        "fax",
    )
    L = "lab_result_urgent"
    assert replay((feed, L), (copy, L), (later, L)) == [None, "l1", None]


def test_a_utility_medical_certificate_asked_twice_is_one_request() -> None:
    patient = an_item(
        "v1", 0, ("the gas and electric company will shut off my power, i need the medical certificate form"), ALICE
    )
    family = an_item(
        "e1",
        3,
        ("Attached is the utility medical certification form for my mother Alice Amberg (DOB 7/4/1970)."),
        {"name": "Alice Amberg"},
        "email",
    )
    assert replay((patient, "records_request"), (family, "records_request")) == [None, "v1"]


def test_a_phone_note_giving_the_end_of_an_accession_is_the_same_result() -> None:
    lab = an_item(
        "l1", 0, "Potassium 6.8 mmol/L HH", ALICE, "lab", accession="HRL-2707-44196", test="Potassium", value="6.8"
    )
    note = an_item(
        "n1",
        0.2,
        "Critical value call from the lab: potassium 6.8 on Alice Amberg, accession ending 4196.",
        ALICE,
        "phone",
    )
    other = an_item(
        "n2", 0.3, "Critical value call: potassium 6.8 for Alice Amberg, accession ending 9999.", ALICE, "phone"
    )
    t = "lab_result_urgent"
    assert replay((lab, t), (note, t), (other, t)) == [None, "l1", None]


def test_a_medicine_said_to_have_arrived_is_not_asked_for_again() -> None:
    first = an_item("p1", 0, "Please renew my losartan 50 mg, 90 days to the Kroger on Main.", ALICE)
    later = an_item("p2", 40, "One more: I need my metformin renewed too. Got the losartan, thank you!", ALICE)
    assert replay((first, R), (later, R)) == [None, None]


def test_a_medicine_heard_as_words_is_found_by_its_sound() -> None:
    assert find_medicines("he needs his met a pro law the long acting one") == frozenset({"metoprolol"})
    assert find_medicines("ask a question about my appointment tomorrow") == frozenset()


def test_a_form_named_to_set_this_one_apart_is_not_the_form_asked_for() -> None:
    fmla = an_item("f1", 0, "FMLA certification for Alice Amberg, DOB 07/04/1970, please complete.", ALICE, "fax")
    other = an_item(
        "p1",
        30,
        "Besides the FMLA, her disability insurer sent an attending physician statement for the doctor to fill out.",
        ALICE,
    )
    t = "records_request"
    assert replay((fmla, t), (other, t)) == [None, None]


def test_asking_whether_a_refill_was_sent_is_not_saying_it_was() -> None:
    first = an_item("p1", 0, "Please renew my losartan 50 mg at the Kroger on Main.", ALICE)
    later = an_item("v1", 20, "Calling to know if the losartan was sent, Kroger still has nothing.", ALICE, "voicemail")
    assert replay((first, R), (later, R)) == [None, "p1"]


def test_a_chest_pressure_told_in_other_words_is_the_same_episode() -> None:
    daughter = an_item(
        "v1",
        0,
        "this is his daughter, my father bob brandt birthday may fifth fifty five has a pressure in the middle of "
        "his chest after shoveling",
        {"phone": "7155550199"},
        "voicemail",
    )
    wife = an_item("p1", 0.3, "His chest is still hurting and now he is sweating. Please call.", BOB)
    t = "clinical_urgent"
    assert replay((daughter, t), (wife, t)) == [None, "v1"]


def test_an_annual_with_a_pap_moved_in_two_languages_is_one_visit() -> None:
    call = an_item(
        "v1",
        0,
        "tengo cita mañana con la doctora para el papanicolau y el chequeo anual, quisiera cambiar la cita",
        ALICE,
        "voicemail",
    )
    note = an_item(
        "n1", 20, "Calling again to change tomorrow's annual + Pap, wants the week of the 25th.", ALICE, "phone"
    )
    t = "appointment_callback"
    assert replay((call, t), (note, t)) == [None, "v1"]


def test_a_call_centres_note_of_a_labs_call_without_the_year_is_the_result_its_feed_sent() -> None:
    note = an_item(
        "ph1",
        -9,
        "ANSWERING SERVICE\nRe: AMBERG, ALICE DOB 07/04/1970\nMessage: critical value. Potassium 6.8 mmol/L,"
        " specimen collected 2/28 at 15:20. Lab requests read-back.",
        {"name": "Alice Amberg", "dob": "1970-07-04"},
        "phone",
    )
    feed = an_item(
        "l1", 0, "Potassium 6.8 mmol/L HH", ALICE, "lab", test="Potassium", collected_at="2027-02-28T15:20:00-06:00"
    )
    other = an_item(
        "l2", 1, "Potassium 6.1 mmol/L HH", ALICE, "lab", test="Potassium", collected_at="2027-03-01T06:10:00-06:00"
    )
    L = "lab_result_urgent"
    assert replay((note, L), (feed, L), (other, L)) == [None, "ph1", None]


def test_a_message_that_says_it_is_another_medicine_now_is_a_new_request() -> None:
    first = an_item("p1", 0, "Necesito mi metformina de 500, me quedan dos dias. Walgreens.", ALICE)
    again = an_item(
        "v1",
        20,
        "hola soy alice amberg otra vez, ayer escribi por la metformina pero ahora es otra medicina, la atorvastatina",
        {"phone": "715-555-0102", "dob": "1970-07-04"},
        "voicemail",
    )
    same = an_item(
        "v2", 22, "it's alice amberg again about my metformin 500, still not at walgreens", ALICE, "voicemail"
    )
    assert replay((first, R), (again, R), (same, R)) == [None, None, "p1"]


def test_a_medicine_heard_with_a_consonant_too_many_is_found_by_sound_before_a_dose() -> None:
    assert find_medicines(fold("i need the low star tan the hundred milligram")) == frozenset({"losartan"})
    assert find_medicines(fold("low star tan was the name of the diner")) == frozenset()


def test_a_call_note_collected_this_morning_is_the_result_its_feed_sent() -> None:
    feed = an_item(
        "l1", 2, "Potassium 6.9 mmol/L HH", ALICE, "lab", test="Potassium", collected_at="2027-03-01T07:50:00-06:00"
    )
    note = an_item(
        "ph1",
        3,
        "CALL CENTRE NOTE: lab called with CRITICAL VALUE potassium 6.9 on Alice Amberg DOB 7/4/1970, collected"
        " this AM 07:50. Read back.",
        {"name": "Alice Amberg", "dob": "1970-07-04"},
        "phone",
    )
    L = "lab_result_urgent"
    assert replay((feed, L), (note, L)) == [None, "l1"]


def test_a_message_that_says_it_is_separate_from_an_earlier_one_is_a_new_request() -> None:
    first = an_item("p1", 0, "How much will my colonoscopy cost with my plan? I'd like to know before I book.", ALICE)
    bill = an_item(
        "e1",
        30,
        "I got another statement for $42 I already paid. This is separate from my colonoscopy question.",
        ALICE,
        "email",
    )
    B = "billing_inquiry"
    assert replay((first, B), (bill, B)) == [None, None]
    pills = an_item("p2", 0, "Please renew my amlodipine 5 mg, CVS on Main.", ALICE)
    drops = an_item(
        "p3", 20, "One more thing, different from the amlodipine: my latanoprost drops are almost out.", ALICE
    )
    assert replay((pills, R), (drops, R)) == [None, None]
