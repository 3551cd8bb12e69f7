"""The classifier section of a rule pack: validation, practice additions, fingerprint, lexicon hygiene."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path

import pytest

from careroute.classify import REVIEW_BELOW_DEFAULT, ClassifierRules, RulesError, classify, default_rules, needs_review
from careroute.classify.phrases import expand_phrase
from careroute.model import InboundItem


def portal(body: str) -> InboundItem:
    return InboundItem("portal", "p-1", datetime.fromisoformat("2027-02-15T10:00:00-06:00"), body)


def test_it_builds_the_defaults_from_an_empty_section() -> None:
    rules = ClassifierRules.from_mapping({})
    assert rules.review_below == REVIEW_BELOW_DEFAULT
    assert rules.fingerprint() == default_rules().fingerprint()
    assert ClassifierRules.from_mapping(None).fingerprint() == default_rules().fingerprint()


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"review_below": 2}, "classifier.review_below"),
        ({"keywords": [{"id": "kw.local.x", "tag": "nonsense", "phrases": ["x"]}]}, "classifier.keywords[0].tag"),
        ({"keywords": [{"id": "kw.local.x", "tag": "other", "phrases": []}]}, "classifier.keywords[0].phrases"),
        ({"keywords": [{"id": "Bad Id", "tag": "other", "phrases": ["x"]}]}, "classifier.keywords[0].id"),
        (
            {"keywords": [{"id": "kw.local.x", "tag": "other", "phrases": ["(a|b"]}]},
            "classifier.keywords[0].phrases[0]",
        ),
        (
            {"keywords": [{"id": "kw.refill.refill_words", "tag": "other", "phrases": ["x"]}]},
            "classifier.keywords[0].id",
        ),
        (
            {"danger": [{"id": "danger.local.x", "urgency": "routine", "phrases": ["x"]}]},
            "classifier.danger[0].urgency",
        ),
        ({"disable": ["danger.chest_pain"]}, "classifier.disable[0]"),
        ({"disable": ["kw.nope.none"]}, "classifier.disable[0]"),
        ({"surprise": True}, "classifier.surprise"),
    ],
)
def test_a_bad_section_names_the_field(section: dict[str, object], path: str) -> None:
    with pytest.raises(RulesError) as info:
        ClassifierRules.from_mapping(section)
    assert str(info.value).startswith(path), str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_practice_can_add_keywords_and_danger_signs() -> None:
    body = "Is Hometown Corner able to get the usual ready for Mr. Quill?"
    assert classify(portal(body), default_rules()).type != "medication_refill"
    rules = ClassifierRules.from_mapping(
        {
            "review_below": 0.5,
            "keywords": [
                {"id": "kw.local.corner", "tag": "medication_refill", "phrases": ["hometown corner"], "weight": 2}
            ],
            "danger": [{"id": "danger.local.lvad", "urgency": "emergent", "phrases": ["lvad ~3 alarm*"]}],
        }
    )
    result = classify(portal(body), rules)
    assert result.type == "medication_refill"
    assert "kw.local.corner" in result.rule_ids
    alarm = classify(portal("my LVAD is alarming"), rules)
    assert (alarm.type, alarm.urgency, alarm.rule_ids) == ("clinical_urgent", "emergent", ("danger.local.lvad",))
    assert rules.fingerprint() != default_rules().fingerprint()


def test_a_practice_can_switch_off_a_keyword_rule() -> None:
    rules = ClassifierRules.from_mapping({"disable": ["kw.other.thanks"]})
    assert all(r.id != "kw.other.thanks" for r in rules.keywords)


def test_review_is_for_unsure_items_without_danger() -> None:
    rules = default_rules()
    assert needs_review(classify(portal("asdf qwerty"), rules), rules)
    assert not needs_review(classify(portal("please refill my lisinopril at CVS"), rules), rules)
    assert not needs_review(classify(portal("maybe some chest tightness?"), rules), rules)


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"^classifier\.model"):
        ClassifierRules.from_mapping({"model": "nope.json"}, base_dir=tmp_path)


def _all_phrases() -> list[tuple[str, str]]:
    rules = default_rules()
    lex = rules.lexicon
    out = [(r.id, p) for r in rules.danger for p in r.phrases + r.emergent_with]
    out += [(r.id, p) for r in rules.keywords for p in r.phrases]
    out += [(f"context.{g['category']}", p) for g in lex["context"]["triggers"] for p in g["phrases"]]
    out += [(k, p) for k in ("pseudo", "not_a_sign") for p in lex["context"][k]]
    out += [(k, p) for k in ("out_now", "out_later") for p in lex["medications"][k]]
    return out


def test_lexicon_phrases_are_written_as_the_normaliser_reads_text() -> None:
    noise = default_rules().lexicon["noise"]
    rewritten = {tuple(k.split()) for k, v in noise["phrases"].items() if k.split() != v}
    mapped = {k for k, v in noise["words"].items() if [k] != v}
    problems = []
    for rule_id, phrase in _all_phrases():
        for expanded in expand_phrase(phrase):
            words = [w for w in expanded.split() if not w.startswith("~")]
            if any("'" in w for w in words):
                problems.append((rule_id, expanded, "apostrophe: write 'do not', 'cannot'"))
            plain = [w for w in words if "|" not in w and "*" not in w]
            if any(w in mapped for w in plain):
                problems.append((rule_id, expanded, "a word the noise map rewrites"))
            for src in rewritten:
                n = len(src)
                if any(tuple(plain[i : i + n]) == src for i in range(len(plain) - n + 1)):
                    problems.append((rule_id, expanded, "words the noise map rewrites"))
    assert not problems, problems[:10]


def test_multi_word_alternatives_are_in_parentheses() -> None:
    """`a|b c` means (a or b) then c; a multi-word choice needs `(a|b c)`."""
    suspicious = []
    for rule_id, phrase in _all_phrases():
        outside = re.sub(r"\([^()]*\)", " G ", phrase).split()
        for a, b in itertools.pairwise(outside):
            if not a.startswith("~") and not b.startswith("~") and "G" not in (a, b) and ("|" in a or "|" in b):
                suspicious.append((rule_id, phrase))
    assert not suspicious, suspicious[:10]


def test_rule_ids_are_unique_and_stable_looking() -> None:
    rules = default_rules()
    ids = [r.id for r in rules.danger if r.phrases] + [r.id for r in rules.keywords]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"(danger|kw)\.[a-z0-9_.]+", i) for i in ids)


def _read(body: str) -> tuple[str, str, tuple[str, ...]]:
    result = classify(portal(body), default_rules())
    return result.type, result.urgency, result.rule_ids


def test_pre_eclampsia_signs_count_only_in_a_pregnancy_named_anywhere_in_the_message() -> None:
    pregnant = _read(
        "I am 34 weeks. Since last night I have a very bad headache, tylenol not helping, and today I see "
        "flashing lights when I look at my phone."
    )
    assert pregnant[:2] == ("clinical_urgent", "emergent") and "danger.preeclampsia" in pregnant[2]
    migraine = _read("I have a very bad headache again, can you refill my sumatriptan?")
    assert "danger.preeclampsia" not in migraine[2]
    denied = _read("Not pregnant. Very bad headache since yesterday, is it my new blood pressure pill?")
    assert "danger.preeclampsia" not in denied[2]


def test_a_young_infants_age_may_sit_a_few_words_after_the_baby() -> None:
    febrile = _read("my baby Lina is 7 weeks, she feels very hot and I checked her temp in the bottom it say 100.9")
    assert febrile[:2] == ("clinical_urgent", "emergent") and "danger.infant_fever" in febrile[2]
    not_an_age = _read("my son had a cold 5 weeks ago, now he needs a school form for sports")
    assert "danger.infant_fever" not in not_an_age[2]


def test_a_blood_pressure_said_as_a_over_b_may_stand_a_clause_from_its_word() -> None:
    bp = _read("his pressure been running high all day, this evening it's one ninety two over one ten on our machine")
    assert bp[0] == "clinical_urgent" and "danger.blood_pressure" in bp[2]
    normal = _read("his pressure been running fine all week, this evening it's one twenty over eighty on our machine")
    assert "danger.blood_pressure" not in normal[2]


def test_stockpiling_pills_and_naming_the_night_are_signs_of_suicide() -> None:
    plan = _read("i've been saving up my sertraline and my roommate's pills and i think tonight's the night")
    assert plan[:2] == ("clinical_urgent", "emergent") and "danger.suicidal" in plan[2]


def test_haitian_creole_danger_signs_negations_and_requests() -> None:
    chest = _read("m gen yon doulè nan pwatrin mwen depi maten, li peze m epi li desann nan bra goch mwen")
    assert chest[:2] == ("clinical_urgent", "emergent") and "danger.chest_pain" in chest[2]
    breathing = _read("manman m pa ka respire byen depi yè swa")
    assert breathing[0] == "clinical_urgent" and "danger.breathing" in breathing[2]
    denied = _read("mwen pa gen kout souf, se jis yon randevou pou vaksen pitit mwen an mwen bezwen")
    assert "danger.breathing" not in denied[2] and denied[0] == "appointment_callback"
    assert _read("mwen resevwa yon fakti pou san swasant dola, asirans mwen te di pa gen anyen pou peye")[0] == (
        "billing_inquiry"
    )
    assert _read("mwen bezwen yon lèt pou travay mwen pou di mwen te malad semèn pase")[0] == "records_request"


def test_a_missed_dialysis_is_urgent() -> None:
    missed = _read("I missed my dialysis Saturday, the van never came, my legs are swollen and I gained six pounds")
    assert missed[:2] == ("clinical_urgent", "urgent") and "danger.missed_dialysis" in missed[2]


def test_spanish_stroke_signs_in_everyday_words() -> None:
    stroke = _read(
        "necesito mi amlodipino. desde hace una hora se me chueco la boca de un lado y la mano derecha no la "
        "siento bien, mi hijo dice que estoy hablando raro"
    )
    assert stroke[:2] == ("clinical_urgent", "emergent") and "danger.stroke" in stroke[2]


def test_a_number_after_a_medicines_name_is_its_dose_not_a_reading() -> None:
    refill = _read("pastillas del azucar: necesito la metformina de 1000 y la glipizida, me quedan 4 pastillas")
    assert refill[:2] == ("medication_refill", "routine")
    sugar = _read("my sugar was 480 this morning and I feel dizzy")
    assert "danger.glucose" in sugar[2]


def test_a_household_sick_beside_a_heater_is_carbon_monoxide() -> None:
    co = _read("we turned on the space heater last night and now all of us have a headache and my son is throwing up")
    assert co[:2] == ("clinical_urgent", "emergent") and "danger.carbon_monoxide" in co[2]


def test_a_month_and_year_before_a_sign_is_history() -> None:
    past = _read("In March 2025 I had chest pain and they put a stent. Time for my yearly checkup, any Saturday?")
    assert "danger.chest_pain" not in past[2] and past[0] == "appointment_callback"


def test_heat_dehydration_in_spanish_and_an_infant_said_he_is_nine_weeks() -> None:
    dry = _read("desde ayer con el calor tengo vomito y diarrea, no aguanto ni el agua y casi no orino")
    assert dry[0] == "clinical_urgent" and "danger.dehydration" in dry[2]
    baby = _read("my baby was born in december so he's like nine weeks, he got a fever a hundred point six")
    assert baby[:2] == ("clinical_urgent", "emergent") and "danger.infant_fever" in baby[2]
    pregnant = _read("she is 8 weeks pregnant and has had a fever of 100.6 since this morning")
    assert "danger.infant_fever" not in pregnant[2]


def test_a_practice_sign_may_override_a_general_one_it_contains() -> None:
    rules = ClassifierRules.from_mapping(
        {
            "danger": [
                {
                    "id": "danger.practice_heat_cramps",
                    "urgency": "urgent",
                    "says": "heat cramps after field work",
                    "phrases": ["(cramps|cramping) ~3 (in the field|after work in the heat)"],
                    "overrides": ["danger.severe_pain"],
                }
            ]
        }
    )
    assert rules.overrides["danger.practice_heat_cramps"] == {"danger.severe_pain"}
    with pytest.raises(RulesError, match=r"^classifier\.danger\[0\]\.overrides\[0\]"):
        ClassifierRules.from_mapping(
            {
                "danger": [
                    {"id": "danger.practice_x", "urgency": "urgent", "phrases": ["x y"], "overrides": ["danger.nope"]}
                ]
            }
        )


def test_exertional_breathlessness_replaces_trouble_breathing_only_inside_its_words() -> None:
    walking = _read("I get short of breath going up one flight of stairs now, since last week.")
    assert walking[:2] == ("clinical_urgent", "urgent")
    assert "danger.breathing" not in walking[2] and "danger.breathing_exertional" in walking[2]
    both = _read("Short of breath climbing the stairs, and tonight I can't catch my breath lying in bed.")
    assert both[:2] == ("clinical_urgent", "emergent") and "danger.breathing" in both[2]


def test_the_lexicon_reads_the_same_with_libyaml_and_without() -> None:
    from importlib import resources

    import yaml

    from careroute.classify.lexicon import LEXICON_FILES, SAFE_LOADER

    root = resources.files("careroute.classify").joinpath("lexicon")
    for name in LEXICON_FILES:
        text = root.joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        assert yaml.load(text, Loader=SAFE_LOADER) == yaml.load(text, Loader=yaml.SafeLoader), name


@pytest.mark.parametrize(
    ("channel", "body", "tag"),
    [
        (
            "voicemail",
            "stuck behind a plow, i'm going to be maybe fifteen minutes late for my ten thirty",
            "appointment_callback",
        ),
        ("portal", "Is the Eastside clinic open with the snow? I'm on the schedule at 2.", "appointment_callback"),
        (
            "voicemail",
            "presione dos para hablar con un agente sobre su cuenta. para no recibir mas llamadas presione nueve",
            "other",
        ),
        (
            "portal",
            "If my son goes on his new job's plan in June, who pays for the allergy shots he started?",
            "billing_inquiry",
        ),
        (
            "fax",
            "TRANSFER OF CARE\nPatient moving to your area. Chart enclosed (22 pages). Please confirm receipt.",
            "referral_packet",
        ),
        (
            "voicemail",
            "my new inhaler is the kind you twist, can someone walk me through it, i don't get the clicks",
            "clinical_question",
        ),
        (
            "voicemail",
            "hi just letting you know the lisinopril for mr ortega was delivered this morning, no call back needed",
            "other",
        ),
        (
            "portal",
            "We got a letter from the plan that says no to his Humira shots. Does the doctor send something?",
            "prior_auth_pending",
        ),
        (
            "voicemail",
            "my job needs me to do a physical before the first for my cdl certification, mornings are best",
            "appointment_callback",
        ),
        (
            "phone",
            "Home health agency: still need the signed certification and plan of care (CMS 485) for Ruth Ames.",
            "records_request",
        ),
        (
            "portal",
            "Can I get a second albuterol inhaler for his backpack? Walgreens on Main please.",
            "medication_refill",
        ),
        (
            "voicemail",
            "the pharmacy said my jardiance needs a prior authorization since the new year, i have a week left",
            "prior_auth_pending",
        ),
        (
            "voicemail",
            "the snow plow is late so i'm stuck, please cancel my nine o'clock and i'll call to rebook",
            "appointment_callback",
        ),
        (
            "phone",
            "Visiting RN: pulse 118 today, parameters say notify if over 110. Feels fine. RN asks whether to recheck.",
            "clinical_question",
        ),
        ("fax", "Tired of denials? Outsource your medical billing to us. Reply REMOVE to stop these faxes.", "other"),
        (
            "fax",
            "Your practice has been selected for inclusion in the 2027 Top Doctors directory. Secure your profile.",
            "other",
        ),
        (
            "portal",
            "Could your office request my records from my old cardiologist in Tulsa? I can sign a release.",
            "records_request",
        ),
        ("phone", "Caller wanted to renew her car tag, wrong number. Not a patient. No action needed.", "other"),
        (
            "voicemail",
            "i gotta cancel my physical tuesday, we're haying. i'll call back in september. thanks",
            "appointment_callback",
        ),
        (
            "voicemail",
            "we're moving to boise, can you send all of my records and my son's records to the new clinic",
            "records_request",
        ),
        (
            "phone",
            "Caller asked for the front desk nurse to call her husband back about dinner. Not a patient call.",
            "other",
        ),
        (
            "phone",
            "Caller stayed silent and hung up. Return call went to a full mailbox. Closing as no message.",
            "other",
        ),
        (
            "email",
            "Our church health ministry is hosting a fair. Could your office donate 50 pamphlets on diabetes?",
            "other",
        ),
        (
            "portal",
            "La metformina me cae mal al estómago. ¿Hay otra forma de metformina que caiga mejor?",
            "clinical_question",
        ),
        (
            "voicemail",
            "my wife needs the lo sartan fifty milligram, only a few days left, fred meyer on main",
            "medication_refill",
        ),
        (
            "fax",
            "PHARMACY PRIOR AUTHORIZATION DETERMINATION\nDrug: Nurtec ODT\nDecision: APPROVED. Sent to the pharmacy.",
            "prior_auth_pending",
        ),
    ],
)
def test_everyday_requests_are_read_by_their_kind(channel: str, body: str, tag: str) -> None:
    item = InboundItem(channel, "k-1", datetime.fromisoformat("2027-02-15T10:00:00-06:00"), body)
    result = classify(item, default_rules())
    assert result.type == tag, result.reasons
