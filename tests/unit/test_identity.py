"""Patient identity from partial data: each rule of careroute.identity with plain values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from careroute.identity import (
    Identity,
    extract_identity,
    find_dob,
    fold,
    given_compatible,
    identity_keys,
    match_patient,
    normalise_phone,
    phonetic,
    spoken_phones,
)
from careroute.model import InboundItem, Patient

WHEN = datetime.fromisoformat("2027-03-01T09:00:00-06:00")


def an_item(body: str, channel: str = "voicemail", **patient: Any) -> InboundItem:
    metadata = patient.pop("metadata", {})
    return InboundItem(channel, "x-1", WHEN, body, Patient(**patient), metadata=metadata)


# -------------------------------------------------------------------- MRN


def test_it_normalises_the_mrn() -> None:
    assert extract_identity(an_item("hi", "portal", mrn=" ab-123 456 ")).mrn == "AB123456"


def test_it_reads_an_mrn_from_a_lab_text_but_not_a_hospital_mrn() -> None:
    assert extract_identity(an_item("Pt: DOE, JAN  MRN: FM155208", "lab")).mrn == "FM155208"
    assert extract_identity(an_item("result for Jan Doe, hospital MRN H00593812", "lab")).mrn is None


def test_it_calls_two_chart_mrns_different_patients() -> None:
    a = Identity(mrn="A1", given="lee", family=("park",), dob="1980-08-08")
    b = Identity(mrn="A2", given="lee", family=("park",), dob="1980-08-08")
    assert match_patient(a, b).different


def test_it_does_not_let_an_mrn_read_from_text_contradict_the_chart() -> None:
    chart = Identity(mrn="A1", dob="1971-03-22", given="teresa", family=("quinn",))
    lab = Identity(mrn="H005", dob="1971-03-22", given="teresa", family=("quinn",), from_text=frozenset({"mrn"}))
    match = match_patient(chart, lab)
    assert not match.different and match.score >= 0.6


# -------------------------------------------------------------------- phones


@pytest.mark.parametrize("raw", ["(715) 555-0102", "715.555.0102", "+1 715 555 0102", "17155550102", "715-555-0102"])
def test_it_normalises_phone_numbers_to_ten_digits(raw: str) -> None:
    assert normalise_phone(raw) == "7155550102"


@pytest.mark.parametrize("raw", ["555-0102", "", "0155550102", "12345"])
def test_it_refuses_what_is_not_a_us_phone_number(raw: str) -> None:
    assert normalise_phone(raw) is None


def test_it_reads_a_phone_number_said_digit_by_digit_in_english_and_spanish() -> None:
    assert spoken_phones("call me at four seven eight five five five zero one eight seven") == ["4785550187"]
    assert spoken_phones("mi numero es siete uno cinco, cinco cinco cinco, cero uno dos tres") == ["7155550123"]
    assert spoken_phones("account one one eight two nine") == []


def test_it_keeps_the_caller_phone_and_the_callback_number() -> None:
    body = "this is ann lee, call me back at seven one five five five five zero one nine nine"
    item = an_item(body, phone="7155550102")
    identity = extract_identity(item)
    assert identity.phone == "7155550102"
    assert identity.other_phones == ("7155550199",)


def test_it_takes_only_the_patients_line_of_a_fax_for_a_phone() -> None:
    body = "KROGER RX\nPatient: Dan Ortiz  DOB: 02/11/1958  Phone on file: 715-555-0117\nRespond by fax to 715-555-0109"
    identity = extract_identity(an_item(body, "fax"))
    assert identity.phone == "7155550117"
    assert "7155550109" not in identity.phones


# -------------------------------------------------------------------- dates of birth


@pytest.mark.parametrize(
    ("said", "dob"),
    [
        ("this is maria lopez, date of birth march fourth nineteen sixty one", "1961-03-04"),
        ("birthday december ninth eighty one", "1981-12-09"),
        ("date of birth three fourteen sixty one", "1961-03-14"),
        ("date of birth ten twenty three nineteen fifty", "1950-10-23"),
        ("date of birth uh oh five twenty two sixty four", "1964-05-22"),
        ("birthday is uh, four, four, nineteen forty two", "1942-04-04"),
        ("birthday april third two thousand eleven", "2011-04-03"),
        ("date of birth eight fifteen twenty seventeen", "2017-08-15"),
        ("born on the twenty-third of january, nineteen eighty-eight", "1988-01-23"),
        ("date of birth, uh, march the fourth, nineteen sixty-one", "1961-03-04"),
        ("birthday june first two thousand and four", "2004-06-01"),
    ],
)
def test_it_reads_a_spoken_english_date_of_birth(said: str, dob: str) -> None:
    assert find_dob(fold(said), 2027)[0] == dob


@pytest.mark.parametrize(
    ("said", "dob"),
    [
        ("mi fecha de nacimiento es doce de mayo de mil novecientos cincuenta y siete", "1957-05-12"),
        ("nació el nueve de febrero del dos mil veintidós", "2022-02-09"),
        ("fecha de nacimiento el primero de enero de dos mil uno", "2001-01-01"),
        ("nacida el catorce de marzo del sesenta y uno", "1961-03-14"),
        ("fecha de nacimiento: 14/03/1961", "1961-03-14"),
    ],
)
def test_it_reads_a_spoken_spanish_date_of_birth(said: str, dob: str) -> None:
    assert find_dob(fold(said), 2027)[0] == dob


@pytest.mark.parametrize(
    ("written", "dob"),
    [
        ("DOB: 03/04/1961", "1961-03-04"),
        ("DOB: 2/14/44", "1944-02-14"),
        ("(DOB 1971-03-22, hospital MRN", "1971-03-22"),
        ("d.o.b. 3/14/61", "1961-03-14"),
        ("Ivy's DOB is 4/16/2014.", "2014-04-16"),
        ("DOB: Jan 5, 1952", "1952-01-05"),
    ],
)
def test_it_reads_a_written_date_of_birth(written: str, dob: str) -> None:
    assert find_dob(fold(written), 2027)[0] == dob


def test_it_never_reads_a_date_of_birth_in_the_future_or_an_impossible_one() -> None:
    assert find_dob(fold("date of birth february thirtieth eighty"), 2027)[0] is None
    assert find_dob(fold("birthday march twenty second"), 2027)[0] is None
    assert find_dob(fold("dob twelve twelve twenty thirty"), 2027)[0] is None


def test_it_marks_what_it_read_from_text() -> None:
    identity = extract_identity(an_item("hi this is ann lee, date of birth one two eighty", phone="7155550102"))
    assert identity.dob == "1980-01-02"
    assert identity.from_text == {"dob", "name"}
    chart = extract_identity(an_item("hi", "portal", name="Ann Lee", dob="1980-01-02"))
    assert chart.from_text == frozenset()


# -------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("body", "given", "family"),
    [
        ("yeah hi this is tom voychick uh that's w o j c i k, date of birth three fourteen sixty one", "tom", "wojcik"),
        ("good morning this is ifeoma new so, n w o s u, date of birth february eighteenth", "ifeoma", "nwosu"),
        (
            "this is keisha at the pharmacy calling for patient victor yanez, y a n e z, date of birth ten "
            "twenty three nineteen fifty",
            "victor",
            "yanez",
        ),
        (
            "this is walter calling about my wife eleanor schofield, date of birth one nine nineteen forty eight",
            "eleanor",
            "schofield",
        ),
        ("hi this is linda, agnes pryor's daughter, her date of birth is one seven thirty eight", "agnes", "pryor"),
        # the caller's family name is the patient's too: the repeat marks where the patient's name begins
        ("hi this is carol weston dennis weston's wife his birthday is may second fifty one", "dennis", "weston"),
        (
            "hola habla rosa quintero eh mi fecha de nacimiento es doce de mayo de mil novecientos cincuenta y siete",
            "rosa",
            "quintero",
        ),
        (
            "le llamo para mi esposo josé sandoval, fecha de nacimiento veinte de octubre de mil novecientos setenta",
            "jose",
            "sandoval",
        ),
        ("hola, le habla maria de los angeles gutierrez, necesito una cita", "maria", "gutierrez"),
    ],
)
def test_it_reads_the_patients_name_from_a_transcript(body: str, given: str, family: str) -> None:
    identity = extract_identity(an_item(body))
    assert identity.given == given
    assert family in identity.family


@pytest.mark.parametrize(
    ("body", "given", "family"),
    [
        ("REFILL REQUEST\nPatient: LOPEZ, MARIA   DOB: 03/04/1961", "maria", "lopez"),
        ("Pt: PRUITT, HAROLD W   DOB: 11/23/1956", "harold", "pruitt"),
        ("Patient: Ingrid M. Solberg   DOB: 02/14/1944", "ingrid", "solberg"),
        ("Employee: Lorenzo Pellegrini   DOB 01/09/1976", "lorenzo", "pellegrini"),
        ("Patient Name: DE LA CRUZ, JUAN CARLOS   DOB: 01/02/1950", "juan", "delacruz"),
        ("TO: Family Medicine\nRe: Tomas Quill   DOB 05/06/2019\nPlease complete the enclosed form.", "tomas", "quill"),
    ],
)
def test_it_reads_the_patients_name_from_a_fax(body: str, given: str, family: str) -> None:
    identity = extract_identity(an_item(body, "fax"))
    assert identity.given == given
    assert family in identity.family
    assert identity.dob is not None


def test_it_takes_the_childs_name_from_a_parents_email() -> None:
    body = "Our claim for my daughter Ivy Voss's visit was denied. Ivy's DOB is 4/16/2014.\nRenata Voss"
    identity = extract_identity(an_item(body, "email", name="Renata Voss"))
    assert (identity.given, identity.dob) == ("ivy", "2014-04-16")


def test_a_reply_subject_is_not_a_patient_label() -> None:
    body = "Re: knee brace invoice - second try\nI wrote last week about the brace charge. DOB 07/08/1971.\nVera Lund"
    identity = extract_identity(an_item(body, "email", name="Vera Lund"))
    assert (identity.given, identity.family) == ("vera", ("lund",))


@pytest.mark.parametrize(
    ("body", "given"),
    [
        (
            "good evening this is missus abena osei, the mother of kofi. kofi, date of birth june second "
            "twenty fifteen",
            "kofi",
        ),
        ("my name is mister kwame boateng b o a t e n g, my birth date is one two nineteen sixty", "kwame"),
    ],
)
def test_titles_are_not_names_and_the_mother_of_names_the_patient(body: str, given: str) -> None:
    assert extract_identity(an_item(body)).given == given


@pytest.mark.parametrize(
    ("body", "given", "family"),
    [
        ("hi this is mulu calling for my father girma bekele, g i r m a, birthday june first fifty", "girma", "bekele"),
        (
            "calling about our resident agnes thorsen, t h o r s e n, date of birth may fifth forty one",
            "agnes",
            "thorsen",
        ),
    ],
)
def test_a_spelled_name_after_a_relation_or_a_role(body: str, given: str, family: str) -> None:
    identity = extract_identity(an_item(body))
    assert (identity.given, identity.family) == (given, (family,))


def test_a_home_attendant_names_the_patient_she_works_for() -> None:
    body = (
        "hello this is vera, i am home attendant for lena kagan, k a g a n, she is eighty, birthday may first forty six"
    )
    identity = extract_identity(an_item(body))
    assert (identity.given, identity.family) == ("lena", ("kagan",))


def test_a_transcript_that_breaks_a_long_surname_still_matches_the_chart() -> None:
    said = extract_identity(an_item("calling for my grandma lena small can yon, birthday nine seventeen forty four"))
    chart = extract_identity(an_item("hi", "portal", name="Lena Smallcanyon", dob="1944-09-17"))
    assert match_patient(said, chart).score >= 0.6


@pytest.mark.parametrize(
    ("body", "given", "family"),
    [
        ("allô, c'est encore gisèle paradis, p a r a d i s. j'ai appelé hier", "gisele", "paradis"),
        ("hi good morning, georgette plourde, february seventeenth sixty two", "georgette", "plourde"),
    ],
)
def test_french_self_cues_and_a_run_of_greetings(body: str, given: str, family: str) -> None:
    identity = extract_identity(an_item(body))
    assert (identity.given, identity.family) == (given, (family,))


def test_a_date_said_right_after_the_callers_name_is_her_date_of_birth() -> None:
    french = extract_identity(an_item("oui allô c'est yvette cyr, cyr, le douze mars quarante deux. j'ai mal"))
    assert (french.given, french.dob) == ("yvette", "1942-03-12")
    english = extract_identity(an_item("hi good morning, roland dube, june fourth fifty one. need my refill"))
    assert english.dob == "1951-06-04"
    # a date that is not right after the name is not taken for one
    later = extract_identity(an_item("hi this is roland dube. my appointment is june fourth, can i move it"))
    assert later.dob is None


def test_a_french_date_of_birth() -> None:
    assert extract_identity(an_item("née le 3 mai 2022", "portal")).dob == "2022-05-03"


def test_a_date_written_with_dots_is_day_first() -> None:
    identity = extract_identity(an_item("Oksana Lysenko, born 04.12.1987", "email"))
    assert identity.dob == "1987-12-04"
    assert extract_identity(an_item("Dana Ruiz, DOB 04/12/1987", "email")).dob == "1987-04-12"


@pytest.mark.parametrize(
    ("body", "given", "dob"),
    [
        (
            "buenas noches, habla marta ibarra, la mamá de joel ibarra, la fecha de nacimiento de él es "
            "dos de junio del dos mil doce",
            "joel",
            "2012-06-02",
        ),
        ("sí, habla ramón ochoa, el esposo de lucía ochoa, ella es paciente de ustedes", "lucia", None),
    ],
)
def test_spanish_relations_name_the_patient(body: str, given: str, dob: str | None) -> None:
    identity = extract_identity(an_item(body))
    assert (identity.given, identity.dob) == (given, dob)


def test_it_keeps_the_caller_id_name_as_weak_evidence_only() -> None:
    named = extract_identity(an_item("hi it's roland", phone="7155550135", metadata={"caller_id_name": "HALE R"}))
    assert (named.caller_family, named.caller_initial) == ("hale", "r")
    for generic in ("WIRELESS CALLER", "RESTRICTED", "PUBLIX PHARMACY"):
        assert extract_identity(an_item("hi", metadata={"caller_id_name": generic})).caller_family is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("jon", "john"),
        ("bill", "william"),
        ("bob", "robert"),
        ("liz", "elizabeth"),
        ("tom", "tomasz"),
        ("peggy", "margaret"),
        ("pepe", "jose"),
        ("r", "roland"),
        ("sean", "shawn"),
        ("debbie", "debra"),
    ],
)
def test_it_knows_nicknames_initials_and_short_forms(a: str, b: str) -> None:
    assert given_compatible(a, b)


@pytest.mark.parametrize(("a", "b"), [("jake", "luke"), ("mary", "martin"), ("anna", "klara")])
def test_it_tells_different_given_names_apart(a: str, b: str) -> None:
    assert not given_compatible(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Gonzales", "Gonzalez"), ("McDonald", "MacDonald"), ("Phillips", "Philips"), ("Thibodeaux", "Thibodeau")],
)
def test_it_gives_sound_alike_surnames_one_key(a: str, b: str) -> None:
    assert phonetic(a) == phonetic(b) or phonetic(a)[:5] == phonetic(b)[:5]


def test_it_joins_mc_and_folds_accents_and_apostrophes() -> None:
    assert extract_identity(an_item("hi", "portal", name="Angela Mc Donald")).family == ("mcdonald",)
    assert extract_identity(an_item("hi", "portal", name="José Peña")).given == "jose"
    assert extract_identity(an_item("hi", "portal", name="José Peña")).family == ("pena",)
    assert extract_identity(an_item("hi", "portal", name="Noreen O'Sullivan")).family == ("osullivan",)


def test_it_keeps_both_halves_of_a_double_barrelled_surname() -> None:
    family = extract_identity(an_item("hi", "portal", name="Ana Ruiz-Delgado")).family
    assert {"ruizdelgado", "ruiz", "delgado"} <= set(family)


# -------------------------------------------------------------------- matching


def chart(**kw: Any) -> Identity:
    return Identity(**kw)


def said(**kw: Any) -> Identity:
    return Identity(from_text=frozenset({"name", "dob"}), **kw)


def test_it_calls_same_name_different_date_of_birth_different_patients() -> None:
    a = chart(mrn="A1", given="daniel", family=("ortiz",), dob="1958-02-11")
    b = said(given="daniel", family=("ortiz",), dob="1991-07-30", phone="9125550166")
    match = match_patient(a, b)
    assert match.different
    assert match.reason == "different date of birth"


def test_it_matches_a_spoken_name_and_date_of_birth_to_the_chart() -> None:
    a = chart(mrn="A1", given="tomasz", family=("wojcik",), dob="1961-03-14", phone="4785550134")
    b = said(given="tom", family=("wojcik",), dob="1961-03-14", phone="4785550134")
    match = match_patient(a, b)
    assert match.score == 1.0
    assert set(match.fields) == {"dob", "family_name", "given_name", "phone"}


def test_it_forgives_a_misheard_surname_when_birthday_and_given_name_agree() -> None:
    a = chart(given="mei", family=("xiong",), dob="1977-01-16")
    b = said(given="mei", family=("zhong",), dob="1977-01-16")
    assert match_patient(a, b).score >= 0.6


def test_it_does_not_match_on_a_date_of_birth_alone() -> None:
    a = chart(given="omar", family=("aziz",), dob="2000-01-01")
    b = chart(given="kelly", family=("brooks",), dob="2000-01-01")
    assert match_patient(a, b).different
    assert match_patient(Identity(dob="2000-01-01"), Identity(dob="2000-01-01")).score < 0.6


def test_it_calls_spouses_on_one_phone_different_patients() -> None:
    a = chart(given="george", family=("amundsen",), phone="7155550140")
    b = chart(given="helen", family=("amundsen",), phone="7155550140")
    assert match_patient(a, b).different


def test_it_keeps_spoken_twins_apart() -> None:
    a = said(given="jacob", family=("hahn",), dob="2015-04-04", phone="7155550183")
    b = said(given="luke", family=("hahn",), dob="2015-04-04", phone="7155550183")
    assert match_patient(a, b).score < 0.6


def test_it_tolerates_a_transcript_swapping_month_and_day() -> None:
    a = chart(given="ann", family=("lee",), dob="1980-03-04", phone="7155550102")
    b = said(given="ann", family=("lee",), dob="1980-04-03", phone="7155550102")
    match = match_patient(a, b)
    assert not match.different


def test_it_gives_selective_index_keys() -> None:
    identity = chart(mrn="FM304127", given="tomasz", family=("wojcik",), dob="1961-03-14", phone="4785550134")
    keys = identity_keys(identity)
    assert "mrn:FM304127" in keys
    assert "phone:4785550134" in keys
    assert "dob:1961-03-14" in keys
    assert f"name:{phonetic('wojcik')}|1961-03-14" in keys
    assert identity_keys(Identity()) == ()
    no_dob = identity_keys(chart(given="heidi", family=("voss",)))
    assert no_dob == (f"name:{phonetic('voss')}|h",)


def test_it_never_shows_phi_in_its_repr() -> None:
    identity = extract_identity(an_item("this is ann lee, date of birth one two eighty", phone="7155550102"))
    text = repr(identity)
    for secret in ("ann", "lee", "1980", "7155550102"):
        assert secret not in text


def test_a_service_branch_before_the_date_of_birth_is_not_a_name() -> None:
    item = an_item(
        "Can your billing office resubmit? Retired USAF, DOB 02/19/1966, DoD ID on file.", "email", name="Graham Yeager"
    )
    identity = extract_identity(item)
    assert identity.given == "graham" and identity.family == ("yeager",)


def test_a_role_before_a_name_is_not_part_of_it() -> None:
    item = an_item(
        "Tanya (LPN, group home) calling re resident Noel Villalba DOB 2/2/92. Asking about melatonin.", "phone"
    )
    identity = extract_identity(item)
    assert identity.given == "noel" and identity.family == ("villalba",)


def test_a_surname_broken_in_the_middle_and_daddy_as_a_relation() -> None:
    item = an_item("hi this is gwen watkins calling for my daddy otis what kins, birthday eleven nineteen forty four.")
    identity = extract_identity(item)
    assert identity.given == "otis"
    chart = an_item("refill", "portal", name="Otis Watkins", dob="1944-11-19")
    assert match_patient(identity, extract_identity(chart)).score >= 0.6


def test_a_pharmacy_form_names_the_family_first_before_the_date_of_birth() -> None:
    item = an_item(
        "REFILL REQUEST for OYELARAN, BISI   DOB 07/22/1971\nlisinopril 20 mg, qty 90. Patient states 3 days left.",
        "fax",
    )
    identity = extract_identity(item)
    assert identity.given == "bisi" and identity.family == ("oyelaran",)
    chart = an_item("refill", "portal", name="Bisi Oyelaran", dob="1971-07-22")
    assert match_patient(identity, extract_identity(chart)).score >= 0.6
    # a caller who says her own name after a comma is not turned around
    spoken = extract_identity(an_item("hi this is jo, mary vance, date of birth may 5 1950", "voicemail"))
    assert spoken.family != ("jo",)


def test_a_caller_who_names_herself_then_whose_mother_or_aunt_she_is() -> None:
    spanish = extract_identity(
        an_item(
            "buenos días, le habla yesenia orozco, mamá de mateo orozco, nació el tres de "
            "diciembre del dos mil diecinueve",
            "voicemail",
        )
    )
    assert spanish.given == "mateo" and spanish.family == ("orozco",)
    english = extract_identity(
        an_item(
            "talofa, this is sina, i'm the aunty of leilani pouono, birthday may eleven twenty nineteen", "voicemail"
        )
    )
    assert english.given == "leilani"


def test_a_whole_name_spelled_word_by_word_replaces_the_name_as_heard() -> None:
    said = extract_identity(an_item("calling for my dad, been yen, b i n h, l e, birthday may third forty two"))
    assert (said.given, said.family, said.dob) == ("binh", ("le",), "1942-05-03")
    # letters said one by one with commas are one word
    one = extract_identity(an_item("this is pat o'hara, o, h, a, r, a, birthday june first sixty"))
    assert one.family == ("ohara",)


def test_a_date_said_after_the_spelling_of_the_callers_name() -> None:
    said = extract_identity(an_item("hi it's dana pruitt, p r u i t t, three nine seventy two. i sent a message"))
    assert (said.given, said.family, said.dob) == ("dana", ("pruitt",), "1972-03-09")


def test_a_whole_name_with_a_birth_date_right_after_it_is_the_patient() -> None:
    said = extract_identity(
        an_item("nurse from willow court, about the renewal we faxed for edith crane, one nine thirty one, thanks")
    )
    assert (said.given, said.family, said.dob) == ("edith", ("crane",), "1931-01-09")
    # the caller's own name gives way to the patient named with a birth date
    caller = extract_identity(an_item("this is joy calling for harold mays, ten two forty, his refill"))
    assert (caller.given, caller.family, caller.dob) == ("harold", ("mays",), "1940-10-02")
    # a name with no date after it is not taken for the patient's
    plain = extract_identity(an_item("thanks for helping with the forms, see you soon", "portal"))
    assert plain.dob is None and plain.family == ()


def test_a_church_title_before_a_name_is_not_the_name() -> None:
    said = extract_identity(an_item("this is deacon otis pryor, p r y o r, nine thirty nineteen forty five"))
    assert (said.given, said.family, said.dob) == ("otis", ("pryor",), "1945-09-30")


def test_a_relation_said_with_of_names_whose_the_patient_is_not_the_patient() -> None:
    said = extract_identity(
        an_item("le hablo por mi nieto mateo ibarra, es el bebé de mi hija sonia, nació el dos de enero")
    )
    assert (said.given, said.family) == ("mateo", ("ibarra",))


def test_a_birthday_without_a_year_supports_a_match_and_never_contradicts_one() -> None:
    said = extract_identity(an_item("le hablo por mi nieto mateo ibarra, nació el dos de enero, tiene fiebre"))
    assert said.dob is None and said.birthday == "01-02"
    chart = Identity(mrn="P1", dob="2026-01-02", given="mateo", family=("ibarra",))
    other_day = Identity(mrn="P2", dob="2025-03-09", given="mateo", family=("ibarra",))
    assert set(identity_keys(said)) & set(identity_keys(chart))
    assert match_patient(said, chart).score >= 0.6 and "birthday" in match_patient(said, chart).fields
    assert not match_patient(said, other_day).different
    assert match_patient(said, other_day).score < 0.6


def test_a_whole_name_spelled_run_together_keeps_the_words_as_said() -> None:
    said = extract_identity(
        an_item(
            "i'm calling for my mom pa nhia vang, p a n h i a v a n g, her birthday is september fourteen fifty six"
        )
    )
    fax = extract_identity(an_item("REFILL REQUEST\nPatient: VANG, PA NHIA   DOB: 09/14/1956", "fax"))
    assert "vang" in said.family
    assert "given_name" in match_patient(said, fax).fields and match_patient(said, fax).score >= 0.6


def test_the_same_names_in_another_order_are_one_person() -> None:
    said = Identity(dob="1958-12-25", given="nur", family=("mohamed", "abdi"), from_text=frozenset({"name"}))
    chart = Identity(dob="1958-12-25", given="mohamed", family=("abdi", "nur"))
    assert "given_name" in match_patient(said, chart).fields
    # two of the same three words are not enough
    other = Identity(dob="1958-12-25", given="ahmed", family=("abdi", "nur"))
    assert "given_name" not in match_patient(said, other).fields


def test_a_family_name_said_first_is_one_person_beside_the_same_birth_date() -> None:
    said = Identity(dob="1961-04-02", given="petrova", family=("irina",), from_text=frozenset({"name", "dob"}))
    chart = Identity(dob="1961-04-02", given="irina", family=("petrova",))
    match = match_patient(said, chart)
    assert {"given_name", "family_name"} <= set(match.fields) and match.score >= 0.9
    vietnamese = Identity(dob="1950-01-09", given="tran", family=("van", "minh"), from_text=frozenset({"name"}))
    assert (
        "given_name"
        in match_patient(vietnamese, Identity(dob="1950-01-09", given="minh", family=("van", "tran"))).fields
    )
    # without a birth date to agree on, two swapped words are not enough
    undated = Identity(given="petrova", family=("irina",), from_text=frozenset({"name"}))
    assert "given_name" not in match_patient(undated, Identity(given="irina", family=("petrova",))).fields


def test_an_answering_service_gives_the_date_of_birth_as_it_was_given() -> None:
    assert find_dob(fold("Caller: Roy Nedd (patient), DOB given as 8/16/58. Says he missed dialysis"), 2028)[0] == (
        "1958-08-16"
    )
    assert find_dob(fold("date of birth verified as 03/02/1971"), 2028)[0] == "1971-03-02"


def test_a_chart_with_a_birth_date_is_also_found_by_the_whole_name() -> None:
    chart = extract_identity(an_item("refill please", "portal", name="Gerald Ostrowski", dob="1958-01-19"))
    note = extract_identity(an_item("wife called re: Gerald Ostrowski", "phone", name="Gerald Ostrowski"))
    assert set(identity_keys(chart)) & set(identity_keys(note))


def test_a_date_said_alone_at_the_end_of_a_voicemail_is_the_callers_birth_date() -> None:
    said = "it's rosa quintero about my thyroid pill, the pharmacy still has nothing. march third sixty two"
    assert extract_identity(an_item(said)).dob == "1962-03-03"
    # a day this year is a visit or a refill date, not a birth date
    soon = "it's rosa quintero, can i move my visit to another day. march third twenty twenty seven"
    assert extract_identity(an_item(soon)).dob is None


def test_words_after_an_article_or_a_pregnancy_are_no_name() -> None:
    said = "my husband is the one with the bad heart, birthday june second forty nine, he needs his eliquis"
    ident = extract_identity(an_item(said))
    assert "heart" not in ident.family
    weeks = "this is tom ruiz, my wife lena ruiz is twenty eight weeks pregnant, birthday may first ninety four"
    ident = extract_identity(an_item(weeks))
    assert ident.dob == "1994-05-01"
    assert ident.family and "pregnant" not in ident.family and "weeks" not in ident.family


def test_a_surname_heard_as_two_words_matches_it_by_sound_beside_the_same_birth_date() -> None:
    said = extract_identity(an_item("this is my husband ted rob lefsky, birthday april seventeenth forty nine"))
    chart = extract_identity(an_item("", "portal", name="Tadeusz Wroblewski", dob="1949-04-17"))
    match = match_patient(said, chart)
    assert not match.different and "family_name" in match.fields and "given_name" in match.fields


def test_an_aide_calling_from_a_patients_home_names_the_patient_not_herself() -> None:
    said = (
        "hi it's dolores from sunrise home care, i'm at the house of kanha sokhom that's k a n h a so khom "
        "birthday march third nineteen forty one, she has a fever since last night"
    )
    ident = extract_identity(an_item(said))
    assert (ident.given, ident.family, ident.dob) == ("kanha", ("sokhom",), "1941-03-03")
    chart = extract_identity(an_item("", "portal", name="Kanha Sokhom", dob="1941-03-03"))
    assert match_patient(ident, chart).score >= 0.6
    # a caller who gives her own name and birth date stays the patient
    own = extract_identity(an_item("this is dolores vieira, birthday march third nineteen forty one, my refill"))
    assert (ident.dob, own.given) == ("1941-03-03", "dolores")


@pytest.mark.parametrize(
    ("said", "dob"),
    [
        ("o meu aniversario e dois de junho de cinquenta e oito", "1958-06-02"),
        ("data de nascimento doze de outubro de mil novecentos e quarenta e sete", "1947-10-12"),
        ("nasci em vinte e um de marco de sessenta e tres", "1963-03-21"),
    ],
)
def test_it_reads_a_spoken_portuguese_date_of_birth(said: str, dob: str) -> None:
    assert find_dob(fold(said), 2027)[0] == dob


def test_a_portuguese_caller_names_herself() -> None:
    ident = extract_identity(an_item("bom dia aqui e fernanda soares, o meu aniversario e nove de maio de setenta"))
    assert (ident.given, ident.family, ident.dob) == ("fernanda", ("soares",), "1970-05-09")


def test_our_before_a_spelled_name_is_not_part_of_it() -> None:
    said = "this is the minister's wife calling for our anna hofer h o f e r born march second fifty one"
    ident = extract_identity(an_item(said))
    assert (ident.given, ident.family, ident.dob) == ("anna", ("hofer",), "1951-03-02")
    again = extract_identity(an_item("hola habla marta soto otra vez, mi fecha de nacimiento doce de mayo del ochenta"))
    assert (again.given, again.family) == ("marta", ("soto",))


def test_a_word_before_a_whole_spelled_name_and_a_verb_after_a_relation_are_no_name() -> None:
    bill = extract_identity(an_item("calling about my husband's bill warren pruitt p r u i t t birthday march 3 1951"))
    assert (bill.given, bill.family) == ("warren", ("pruitt",))
    helped = extract_identity(an_item("birthday february eleven fifty six, my granddaughter helped me send it"))
    assert helped.given != "helped"


def test_spanish_labels_and_a_husbands_call_name_the_patient() -> None:
    fax = "REFILL REQUEST\nPaciente: TORRES, RAMONA   F. nac. 08/21/1958\nMetformin 1000 mg"
    ident = extract_identity(an_item(fax, "fax"))
    assert (ident.given, ident.family, ident.dob) == ("ramona", ("torres",), "1958-08-21")
    call = (
        "habla rubén soto el esposo de marta soto ella dejó mensaje ayer la fecha de ella es doce de mayo del ochenta"
    )
    said = extract_identity(an_item(call))
    assert said.dob == "1980-05-12" and said.given != "dejo"


def test_a_birth_date_said_year_first_with_a_month_name() -> None:
    assert (
        find_dob(fold("i am born nineteen fifty seven january twenty nine, i need my refill"), 2033)[0] == "1957-01-29"
    )
