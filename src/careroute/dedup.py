"""Same request: is a new item the same patient asking for the same thing again? (pure)

The taxonomy's definition: two items are one request when the same patient asks for the
same thing within 72 hours of the first, through any channel. The later item points at
the earliest (the root) of its cluster. Not duplicates: the same patient with a different
request, two patients with the same words, two different lab results for one patient.

`request_facts` reads what an item asks for (medicines, forms, tests, referral sender,
appointment, statement numbers...); `find_duplicate` scores a new item against candidate
items that share an identity key (see `careroute.identity.identity_keys`) and returns the
root it duplicates, with the evidence for the `merged` event. The clock is the items'
own `received_at`; nothing here reads the time, a database or a file after import.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from rapidfuzz import fuzz

from careroute.identity import (
    Identity,
    PatientMatch,
    Prefiltered,
    extract_identity,
    fold,
    has_word,
    identity_keys,
    match_patient,
    required_literals,
)
from careroute.medicine_names import english_forms, sound_skeleton
from careroute.model import InboundItem, require_aware

# --------------------------------------------------------------------------- lexicons


def _words(text: str) -> frozenset[str]:
    """A word list written as one string, for readable tables."""
    return frozenset(text.split())


_PREFIX = 5  # characters of a literal's prefix (see _KindTable)


class _KindTable:
    """Named patterns, each run only on texts that hold its required literals (`identity.required_literals`).

    A table's keyword patterns have no literal prefix, so the regex engine tries each of them at every
    position of the text: a dozen of them cost 0.1-0.2 ms a message. The table's literals are looked up
    once per text instead, and a pattern runs only when each of its literal groups is there, which a
    text it matches always satisfies: the kinds found are the ones the patterns alone would find.
    """

    __slots__ = ("_prefixes", "_rows", "_rows_of")

    def __init__(self, rows: Iterable[tuple[str, re.Pattern[str]]]) -> None:
        self._rows = tuple((kind, pattern, required_literals(pattern)) for kind, pattern in rows)
        rows_of: dict[str, set[int]] = {}
        for i, (_kind, _pattern, needs) in enumerate(self._rows):
            for group in needs:
                for literal in (*group.anywhere, *group.hints):
                    rows_of.setdefault(literal, set()).add(i)
        self._rows_of = {literal: tuple(sorted(rows)) for literal, rows in rows_of.items()}
        # Literals by their first characters ("can't lift her arm", "can't move his leg"...): one look
        # for the prefix rules out the whole family, and a table has a third fewer prefixes than literals.
        by_prefix: dict[str, list[str]] = {}
        for literal in sorted(rows_of):
            by_prefix.setdefault(literal[:_PREFIX], []).append(literal)
        self._prefixes = tuple(
            (prefix, prefix in rows_of, tuple(s for s in group if s != prefix)) for prefix, group in by_prefix.items()
        )

    def _candidates(self, text: str) -> Iterator[tuple[str, re.Pattern[str]]]:
        present: set[str] = set()
        for prefix, is_literal, longer in self._prefixes:
            if prefix in text:
                if is_literal:
                    present.add(prefix)
                for s in longer:
                    if s in text:
                        present.add(s)
        if not present:
            return
        # only the patterns one of whose literals is there, in the table's order
        for i in sorted({i for s in present for i in self._rows_of[s]}):
            kind, pattern, needs = self._rows[i]
            for anywhere, whole, hints in needs:
                if present.isdisjoint(anywhere) and (
                    present.isdisjoint(hints) or not any(has_word(text, w) for w in whole)
                ):
                    break
            else:
                yield kind, pattern

    def kinds(self, text: str) -> frozenset[str]:
        """The kinds whose pattern matches somewhere in `text`."""
        return frozenset(kind for kind, pattern in self._candidates(text) if pattern.search(text))

    def first(self, text: str) -> str | None:
        """The first kind, in the table's order, whose pattern matches `text`."""
        return next((kind for kind, pattern in self._candidates(text) if pattern.search(text)), None)


def _phrase(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", fold(name)).split())


def _load_medicines() -> tuple[dict[str, str], dict[str, list[str]], dict[str, str], dict[str, frozenset[str]]]:
    """phrase -> generic, single-word phrases by first letter (for typos), lay phrase -> class,
    and generic -> the classes it belongs to."""
    phrases: dict[str, str] = {}
    class_words: dict[str, str] = {}
    classes: dict[str, set[str]] = {}
    text = resources.files("careroute").joinpath("dedup_data/medicines.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@"):  # @class|lay words|generics
            name, words, generics = (part.strip() for part in line[1:].split("|"))
            for word in words.split(","):
                class_words[_phrase(word)] = name
            for generic in generics.split(","):
                classes.setdefault(_phrase(generic), set()).add(name)
            continue
        generic, _, others = line.partition("|")
        generic = generic.strip()
        for name in [generic, *others.split(",")]:
            if phrase := _phrase(name):
                phrases.setdefault(phrase, generic)
    by_letter: dict[str, list[str]] = {}
    for phrase in phrases:
        if " " not in phrase and len(phrase) >= 6:
            by_letter.setdefault(phrase[0], []).append(phrase)
    return phrases, by_letter, class_words, {g: frozenset(c) for g, c in classes.items()}


_MEDICINES, _MEDICINES_BY_LETTER, _CLASS_WORDS, _CLASSES = _load_medicines()


def _by_sound() -> dict[tuple[str, str], str]:
    """(first letter, sound skeleton) -> generic, for one-word names of seven letters or more; a skeleton two
    medicines share names neither."""
    out: dict[tuple[str, str], str | None] = {}
    for name, generic in _MEDICINES.items():
        if " " in name or len(name) < 7 or len(skeleton := sound_skeleton(name)) < 5:
            continue
        key = (name[0], skeleton)
        out[key] = generic if out.get(key, generic) == generic else None
    return {k: v for k, v in out.items() if v is not None}


_MEDICINES_BY_SOUND = _by_sound()


def _by_sound_heard(joined: str) -> str | None:
    """The medicine a name split into words sounds like; speech-to-text may add one consonant ("low star tan"
    for losartan), so a skeleton one letter longer than a medicine's is that medicine when only one fits."""
    skeleton = sound_skeleton(joined)
    if generic := _MEDICINES_BY_SOUND.get((joined[0], skeleton)):
        return generic
    if len(skeleton) < 6:
        return None
    fits = {
        g
        for i in range(1, len(skeleton))  # the first letter stays: it is part of the key
        if (g := _MEDICINES_BY_SOUND.get((joined[0], skeleton[:i] + skeleton[i + 1 :])))
    }
    return fits.pop() if len(fits) == 1 else None


_DOSE_WORDS = frozenset(
    {"mg", "milligram", "milligrams", "mcg", "microgram", "micrograms", "tablet", "tablets", "pill", "pills", "capsule"}
    | {"capsules", "units", "ml", "dose", "doses", "one", "two", "three", "four", "five", "ten", "twenty", "fifty"}
    | {"hundred", "forty", "thirty", "twelve", "fifteen", "twenty-five", "miligramos", "pastillas", "pastilla"}
)
_CLASS_PATTERN = Prefiltered(
    re.compile(r"\b(" + "|".join(sorted(map(re.escape, _CLASS_WORDS), key=len, reverse=True)) + r")\b")
)
_PILL_WORD = re.compile(r"\b(?:pills?|medicines?|meds)$")
_PILL_AFTER = re.compile(r"\s+(?:pills?|medicines?|meds|medications?|tablets?|shots?)\b")
_MAX_PHRASE = 4
_PHRASE_STARTS = frozenset(p.split()[0] for p in _MEDICINES if " " in p)
# single words that name a medicine by themselves (a generic is never empty, so `get(w) or ...` is a lookup)
_SINGLE_WORD_MEDICINES = frozenset(p for p, generic in _MEDICINES.items() if generic and " " not in p)

# Words that look like a medicine name to a fuzzy matcher but are ordinary words.
_NOT_MEDICINES = _words(
    "pressure prescription pharmacy insurance question medicine medication morning evening tonight "
    "yesterday thursday saturday appointment tablets tablet capsule capsules inhaler injection "
    "refills refill renewal physical sinemet walking breathing"
)

#: Forms and letters a records request may be about; a request names one kind, usually.
_FORMS = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("fmla", r"\bfmla\b|family (?:and )?medical leave|serious health condition"),
        ("disability", r"disabilit|\bltd\b|\bstd\b|attending physician'?s? statement|\baps\b|workers'? comp"),
        (
            "school_med_form",
            r"medication (?:administration|authori[sz]ation)|(?:administer|give) .{0,30}at school"
            r"|(?:inhaler|epipen|epi-pen|insulin|medicine|medication) (?:at|for) school|school (?:nurse|medication)",
        ),
        (
            "school_note",
            r"school (?:note|excuse)|note for (?:school|class)|(?:return|back|come back) to school"
            r"|school needs a note|excuse (?:note|letter)? ?for school|missed (?:school|class)"
            r"|note (?:saying|that) (?:he|she|they) can (?:come back|return)",
        ),
        ("sports_form", r"sports? physical|pre-?participation|athletic|\bghsa\b|camp form|sports form"),
        (
            "dmv",
            r"\bdmv\b|driver'?s? (?:license|licensing|medical)|driver services|\bcdl\b|dot physical"
            r"|commercial driver",
        ),
        (
            "work_note",
            r"work note|note for (?:work|my (?:job|employer|boss))|return to work|off work|hr needs"
            r"|employer needs|for my employer|out of work|doctor'?s note"
            r"|nota para el trabajo|carta para (?:el|mi) trabajo|let pou travay",
        ),
        ("jury", r"jury"),
        (
            "immunization",
            r"immuni[sz]ation|vaccin\w* (?:record|form|certificate)|shot record|titer"
            r"|(?:form|certificate)\b[^.\n]{0,20}\b(?:vaccin\w*|shots)\b"
            r"|(?:tarjeta|cartilla|carnet|record|registro) de vacun",
        ),
        ("placard", r"placard|handicap|disabled parking|parking permit"),
        ("legal_records", r"attorney|law firm|subpoena|\besq\b|paralegal|litigation|\blegal\b|\blaw\b"),
        (
            "records_copy",
            r"medical records|(?:my|her|his|their|our) (?:[a-z]+ ){0,2}records|copy of (?:my|the|her|his)"
            r"|records transfer|transfer (?:of|my) records|release of information|visit notes|office notes"
            r"|copias? de (?:mis|los|las|su|sus|mi)|mis records|expediente|historial medico|dosye",
        ),
        ("insurance_form", r"life insurance|insurance (?:form|exam)|physician statement"),
        ("letter", r"\bletter\b|\bcarta\b|\blet pou\b"),  # English, Spanish, Haitian Creole
        ("daycare", r"daycare|day care|child ?care form|preschool"),
        ("home_health", r"home health|plan of care|\bdme\b|certificate of medical necessity"),
        ("travel", r"travel letter|\btsa\b|fit to fly"),
        # a utility's medical certificate that holds off a shut-off for a patient on oxygen or a machine
        (
            "utility",
            r"\butility\b|shut ?off|turn (?:off|of) (?:my|the|her|his) (?:gas|power|electric|lights)"
            r"|cut off (?:my|the|her|his) (?:gas|power|electric|lights)|gas and electric|termination (?:date|notice)"
            r"|medical certificat\w* (?:form|for (?:the|my|her|his) (?:gas|power|electric|utility))",
        ),
        ("esa", r"emotional support"),
    )
)

R_TYPE = "medication_refill"
_GENERIC_FORMS = frozenset({"letter", "records_copy"})
#: A form named only to set this one apart from it: "besides the FMLA, the disability insurer sent ...",
#: "es diferente del FMLA". The form asked for is the other one.
_OTHER_FORM = re.compile(
    r"\b(?:ademas del?|aparte del?|diferente del?|distinto del?|no es el|besides the|besides my|in addition to the"
    r"|on top of the|other than the|apart from the|different from the|different than the|separate from the"
    r"|not the same as the)\s+[\w-]+(?:\s+(?:form|paperwork|papers|papeles|formulario))?"
)

_SPECIALTIES = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("cardiology", r"cardiolog|heart|cardiac"),
        ("dermatology", r"dermatolog|\bskin\b"),
        ("orthopedics", r"orthop|spine|joint|sports medicine"),
        ("emergency", r"emergency|\bed\b|\ber\b"),
        ("hospital_discharge", r"discharge|care transitions|transitional care|\btcm\b|inpatient"),
        ("obstetrics", r"obstetric|gyn|women'?s|postpartum|prenatal|\bob\b"),
        ("public_health", r"health department|refugee|public health"),
        ("gastroenterology", r"gastro|\bgi\b|colonoscopy|hepatolog"),
        ("neurology", r"neurolog|seizure|stroke"),
        ("pulmonology", r"pulmon|lung|copd"),
        ("endocrinology", r"endocrin|thyroid|diabet"),
        ("nephrology", r"nephrolog|kidney|renal"),
        ("urology", r"urolog|prostate"),
        ("psychiatry", r"psychiatr|behavioral health|mental health"),
        ("oncology", r"oncolog|cancer|hematolog"),
        ("surgery", r"surg|pre-?op"),
        ("ent", r"\bent\b|otolaryng|ear, nose"),
        ("ophthalmology", r"ophthalm|optometr|\beye\b"),
        ("physical_therapy", r"physical therapy|\bpt\b|rehab"),
    )
)

#: What a clinical message is about, in the patient's words (English and Spanish).
_CLINICAL_TOPICS = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "chest_pain",
            r"chest(?: \w+){0,2} (?:pain|pian|pressure|tight|twinge|hurt|discomfort|is squeezing|squeez)|dolor de pecho"
            # "a pressure in the middle of his chest", "his chest is still hurting"
            r"|(?:pressure|pain|tightness|squeezing|heaviness)(?:\W+\w+){0,6}\W+chest"
            r"|presion en el pecho|angina|heart attack|poitrine|doule nan pwatrin"
            # "un dolor muy fuerte en el pecho", "dolor en el pecho"
            r"|(?:dolor|presion|opresion|peso|apreton)(?: \w+){0,3} (?:en el|del) pecho",
        ),
        (
            "breathing",
            r"breath|breathing|wheez|inhaler|albuterol|short of air|falta el aire|respirar|asthma|souffle|respirer"
            r"|oxygen|lips? (?:look |are |is )?(?:kinda )?blue",
        ),
        ("fever", r"fever|temp(?:erature)?\b|fiebre|calentura|chills|fievre"),
        (
            "stroke",
            r"slur|droop|face (?:is )?drooping|weak(?:ness)? on (?:one|the left|the right)|numb|boca chueca"
            r"|arrastrando|can'?t (?:lift|move) (?:her|his|my) (?:arm|leg)|stroke"
            # the same signs in a family's words: "his speaking is not clear", "his words were coming out mixed up"
            r"|(?:speaking|speech|talking|words) (?:is |are |was |were )?(?:not clear|slurred|strange|mixed|jumbled"
            r"|coming out)|(?:hand|arm|leg|side) (?:is |was |went |got )?(?:weak|numb|heavy)"
            r"|mouth (?:looks |is )?(?:lower|crooked)|cannot hold|can'?t hold",
        ),
        ("bleeding", r"bleed|blood in|black (?:stool|tarry)|tarry|vomiting blood|sangr"),
        (
            "allergy",
            r"hives|swell(?:ing|en)? (?:lips|tongue|face|throat)|lips? (?:started )?swell"
            r"|throat (?:feels )?tight|allergic|reaction",
        ),
        ("headache", r"headache|headach|migraine|dolor de cabeza"),
        ("dizziness", r"dizz|lightheaded|faint|mareo|passed out"),
        ("nausea", r"nause|vomit|throw(?:ing)? up|threw up|vomito"),
        ("bowel", r"diarrh|constipat|stool|bowel|diarrea"),
        ("urinary", r"urin|pee|bladder|uti\b|burning when"),
        ("cough", r"cough|\btos\b|congest|sinus|sore throat|cold symptoms"),
        ("rash", r"\brash(?:es)?\b|itch|\bskin\b"),
        ("wound", r"wound|incision|stitch|suture|skin tear|bandage|dressing|scab|bruis"),
        ("injection_site", r"shot|vaccine|injection site|arm(?:'s)? (?:is )?sore"),
        ("blood_pressure", r"blood pres+ure|\bbp\b|hypertens|\b(?:[89]\d|1\d\d|2[0-4]\d)/(?:[4-9]\d|1[0-4]\d)\b(?!/)"),
        ("blood_sugar", r"sugar|glucose|meter|a1c|insulin|diabet|azucar"),
        (
            "mental_health",
            r"suicid|kill myself|don'?t want to be here|want to die|depress|anxi|panic|overdose"
            r"|pills lined up|took a bunch"
            # a goodbye and the medicine for the mood say the same: "I'm sorry for everything, I told the clinic"
            r"|sorry for everything|(?:some|any)(?:one|body) (?:to )?knows?\b|how many it would take"
            r"|not (?:any|some)(?:one|body)'?s fault|sertraline|zoloft|fluoxetine|prozac|escitalopram|lexapro"
            r"|citalopram|bupropion|wellbutrin|antidepress",
        ),
        ("pain", r"\bpain\b|\bache\b|sore|hurt|dolor"),
        ("swelling", r"swell|swollen|puffy|edema|hinchad"),
        ("procedure_prep", r"colonoscopy|\bprep\b|endoscopy|procedure|fast(?:ing)? before|surgery"),
        ("pregnancy", r"pregnan|weeks along|embaraz|\d\d weeks\b"),
        ("side_effect", r"side effect|since starting|started (?:the|a) new"),
        ("sleep", r"sleep|insomnia"),
        ("fall_injury", r"\bfell\b|\bfall\b|hit (?:his|her|my) head|injur"),
        ("infant", r"weeks? old|newborn|infant|baby"),
    )
)

_BILLING_TOPICS = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("statement", r"statement|\bbill(?:ed)?\b|invoice|charge|\bcuenta\b|\bfactura|\bcobr(?:o|aron|an)\b"),
        ("payment_plan", r"payment plan|monthly payments|pay (?:it )?(?:off )?(?:over time|in installments)"),
        (
            "payment",
            r"\bpa(?:y|id|ying|yment)\b|\bhsa\b|\bfsa\b|debit|credit card|confirmation|\bpag(?:o|ue|ar|ado|amos)\b",
        ),
        (
            "insurance_update",
            r"new insurance|insurance card|update (?:my )?insurance|switched (?:jobs|plans|insurance)"
            r"|coverage (?:changed|starts)|card",
        ),
        ("estimate", r"how much|estimate|self-?pay|cash price|cost of|price|what will i owe"),
        ("claim", r"\bclaim\b|resubmit|denied|coordination of benefits|\beob\b|explanation of benefits"),
        ("collections", r"collections?\b"),
        ("refund", r"refund|overpa|credit on my account"),
        ("preventive", r"preventive|physical|wellness|annual"),
    )
)

_VISIT_KINDS = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("physical", r"physical|annual (?:exam|visit|check)|\bannual\b|wellness|check-?up|chequeo|examen anual"),
        ("follow_up", r"follow[- ]?up|recheck|\bseguimiento\b|see me back|\d+ (?:weeks?|months?) after"),
        ("vaccine", r"flu shot|vaccin|vacuna|booster|immuni[sz]ation|shot"),
        ("new_patient", r"new patient|new primary|taking new|establish|transfer (?:my )?care|paciente nuev"),
        ("lab_visit", r"lab work|blood work|blood draw|labs?\b|analisis"),
        ("chronic_check", r"sugar check|a1c|diabetes (?:check|visit)|blood pressure check|\bbp check"),
        ("imaging", r"mammogram|bone density|dexa|dxa|x-?ray|ultrasound|\bmri\b|\bct\b"),
        ("nurse_visit", r"nurse visit"),
        ("procedure", r"procedure|biopsy|mole|iud|pap\b|papanicolaou?|injection"),
        ("sick_visit", r"sick visit|same[- ]day|urgent appointment"),
        ("telehealth", r"telehealth|video visit|virtual"),
    )
)
_APPOINTMENT_ACTIONS = _KindTable(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "change",
            r"cancel|reschedul|move my|push (?:my|it)|change my (?:appt|appointment)|can'?t make|running late"
            r"|be late|stuck|cancelar|cambiar",
        ),
        (
            "book",
            r"\bschedule|\bbook|make an? (?:appt|appointment)|set up|come in for|sacar una cita|hacer una cita"
            r"|appointment (?:for|with)",
        ),
        ("callback", r"returning (?:a|your) call|call(?:ed)? me|missed (?:a|your) call|got a call|left me a message"),
    )
)
# The patterns below have no literal prefix either: each runs only on texts holding its literals.
_WEEKDAYS = Prefiltered(
    re.compile(
        r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miercoles|jueves|viernes"
        r"|sabado|domingo|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)s?\b"
    )
)
_WEEKDAY_CANON = {
    "lunes": "monday", "martes": "tuesday", "miercoles": "wednesday", "jueves": "thursday", "viernes": "friday",
    "sabado": "saturday", "domingo": "sunday",
    "lundi": "monday", "mardi": "tuesday", "mercredi": "wednesday", "jeudi": "thursday", "vendredi": "friday",
    "samedi": "saturday", "dimanche": "sunday",
}  # fmt: skip
_PROVIDER = Prefiltered(
    re.compile(r"(?=\b(?:dr\.?|doctor|doctora|docteur|docteure|with|con|avec)\s+([a-z][a-z'-]{2,}))")
)
_NOT_PROVIDER = _words(
    "the my a an her his your our you me him them it this that someone somebody anyone whoever doctor dr doctora"
    " docteur le la"
)
# `[a-z]++` (possessive): a run of letters followed by a space can never match by giving letters back,
# so it is not allowed to try, at every word of the text; the matches are those of a plain `[a-z]+`.
_PHARMACY = Prefiltered(
    re.compile(
        r"\b(cvs|walgreens|walmart|kroger|publix|rite aid|costco|sam'?s club|target|amazon pharmacy|express scripts"
        r"|optum|caremark|heb|meijer|safeway|winn-?dixie|harris teeter|food lion|giant|wegmans|hy-?vee"
        r"|([a-z]++(?: [a-z]++)?) (?:pharmacy|drugs?|apothecary|drug co))\b"
    )
)
_UNLISTED_MEDICINE = Prefiltered(
    re.compile(
        # a salt or release form may stand between the name and the strength: "sevelamer carbonate 800 mg"
        r"\b([a-z][a-z-]{3,})\s+(?:(?:hcl|er|xl|sr|xr|dr|la|cr|od|odt|carbonate|acetate|hydrochloride|sodium"
        r"|potassium|calcium|succinate|tartrate|besylate|maleate|mesylate|citrate|sulfate|phosphate|fumarate"
        r"|bromide|magnesium)\s+)?\d+(?:\.\d+)?\s*(?:mg|mcg|units?|ml|meq)\b"
    )
)
_NOT_MEDICINE_BEFORE_STRENGTH = _words(
    "take taking took takes dose doses dosage tablet tablets capsule capsules pill pills from than with only "
    "about daily twice once increased decreased raised lowered changed started stopped extra every each "
    "that this then just also were was have been last first same new old more less over under"
)
# Read as r"\b(\d+(?:\.\d+)?)\s*(mg|...)": the same matches, but written to begin with a digit (the
# word boundary is checked behind it), which lets the regex engine skip from digit to digit instead of
# trying the pattern at every position of the text.
_STRENGTH = re.compile(r"(\d(?<!\w\d)\d*(?:\.\d+)?)\s*(mg|mcg|g|ml|units?|iu|meq|%)(?![a-z])")
_REFERENCE_NUMBER = Prefiltered(
    re.compile(
        r"\b(?:statement|account|acct|claim|invoice|confirmation|reference|ref|case|auth(?:orization)?|rx|order"
        r"|accession|acc)\b\s*(?:number|no\.?|num|#)?\s*(?:ending in\s*)?[:#]?\s*([a-z]{0,4}[\d][\d\- ]{2,18}\d)"
    )
)
_SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4",
    "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9",
}  # fmt: skip
_SPOKEN_REFERENCE = Prefiltered(
    re.compile(
        r"\b(?:statement|account|claim|invoice|confirmation|reference|case|order)\s+(?:number\s+)?(?:is\s+)?"
        r"(?:ending in\s+|that ends in\s+)?"
        r"((?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|uh|um|,)\s*){4,12})"
    )
)
#: "Accession: ARRL-3103-20877"; a phone note of the same result may give only its end ("accession ending
#: 0877"), kept as "*0877" and matched against the end of a whole one
_ACCESSION = Prefiltered(
    re.compile(
        r"\b(?:accession|acc)\b\s*(?:number|no\.?|#)?\s*[:#]?\s*"
        r"(?P<tail>(?:ending in|ending with|ending|ends in|ends with|last four|last 4)\s*[:#]?\s*)?"
        r"(?P<id>[a-z0-9][a-z0-9-]{3,})"
    )
)
_LETTER_WORDS = re.compile(r"[a-z]{3,}")
#: "COLL: 08/19/30 1410", "Collected 08/19/2030 14:10": a result's collection time written in its text; a
#: call centre's note of the lab's call may leave out the year ("specimen collected 11/14 at 16:30")
_COLLECTED = re.compile(
    r"\bcoll(?:ected|ection)?\b\.?\s*(?:date(?:/time)?|time|on|at)?\s*[:#]?\s*"
    r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\s*(?:at\s*)?(\d{1,2}):?(\d{2})\b"
)


#: "collected this AM 07:50": the day it was received
_COLLECTED_TODAY = re.compile(
    r"\bcollected\s+(?:this am|this a\.m\.|this morning|today|earlier today)\s*(?:at\s*)?(\d{1,2}):?(\d{2})\b"
)


def _collected(item: InboundItem, folded: str) -> str | None:
    """The specimen's collection date and time, from the result's fields or its text."""
    value = _meta(item, "collected_at")
    if value:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            at = None
        if at is not None:
            return f"{at:%Y-%m-%d %H%M}"
    m = _COLLECTED.search(folded)
    if m is None:
        if (today := _COLLECTED_TODAY.search(folded)) is None:
            return None
        hour, minute = int(today.group(1)), int(today.group(2))
        return f"{item.received_at:%Y-%m-%d} {hour:02d}{minute:02d}" if hour <= 23 and minute <= 59 else None
    month, day, hour, minute = (int(m.group(i)) for i in (1, 2, 4, 5))
    if m.group(3) is None:  # the year it was received, or the one before for December's specimen in January
        received = item.received_at
        year = received.year - 1 if (month, day) > (received.month, received.day) else received.year
    else:
        year = int(m.group(3))
        year = year + 2000 if year < 100 else year
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        return None
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}{minute:02d}"


# What per-word work has found out, kept for the next message: a practice's vocabulary is a few
# thousand words, read again and again. Plain sets and dicts (C-speed set operations) with a bound.
_MAX_REMEMBERED = 200_000
_NOT_NEAR_MEDICINE: set[str] = set()  # words that are no medicine's typo
_STEMS: dict[str, str] = {}
_DIGIT = re.compile(r"\d")
_TOKENS = re.compile(r"[a-z0-9]+")
_STATUS = _KindTable(
    (
        ("approved", re.compile(r"\bapproved\b|aprobad")),
        ("denied", re.compile(r"\bdenied\b|\bdenial\b")),
        ("more_info_requested", re.compile(r"more information|additional information|more info")),
        ("peer_to_peer", re.compile(r"peer[- ]to[- ]peer")),
        ("submitted", re.compile(r"\bsubmitted\b|received and|pending")),
    )
)
_STOP_WORDS = _words(
    """a about above after again all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
    or other our out over own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours hi hello thanks thank please dear regards sincerely um uh ok okay yes yeah hey call back
    number phone date birth birthday dob name this calling de la el los las que en un una por para con mi es y
    gracias hola"""
)


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True, repr=False)
class RequestFacts:
    """What an item asks for, reduced to comparable terms. Holds message content (PHI)."""

    type: str
    medicines: frozenset[str] = frozenset()
    #: kinds of medicine: those of the named medicines, and lay words ("my blood pressure pill")
    medicine_classes: frozenset[str] = frozenset()
    strengths: frozenset[str] = frozenset()
    forms: frozenset[str] = frozenset()
    lab_tests: frozenset[str] = frozenset()
    accession: str | None = None
    #: when the specimen was collected ("2030-08-19 1410"): a lab's feed and its faxed copy share it
    collected: str | None = None
    case_id: str | None = None
    status: str | None = None
    #: a prior-auth notice's deadline: the same status with a new deadline is a new notice
    deadline: str | None = None
    sender: frozenset[str] = frozenset()
    specialties: frozenset[str] = frozenset()
    visit_kinds: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    weekdays: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    references: frozenset[str] = frozenset()
    pharmacies: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    #: the item says it repeats an earlier message or call ("she sent you a message yesterday")
    says_repeat: bool = False
    #: the item says it is not the earlier request ("this is separate from my colonoscopy question")
    says_new: bool = False

    def __repr__(self) -> str:  # message content is PHI: show only which kinds of term were found
        kinds = [
            n for n in ("medicines", "forms", "lab_tests", "topics", "references", "visit_kinds") if getattr(self, n)
        ]
        return f"RequestFacts(type={self.type}, terms={','.join(kinds) or '-'})"


def find_medicines(folded: str) -> frozenset[str]:
    """Generic names of the medicines a text names, brand names and small typos included."""
    words = _TOKENS.findall(folded)  # a hyphen separates words like a space does
    single = set(words)
    found: set[str] = set()
    if not _PHRASE_STARTS.isdisjoint(single):
        single = _read_phrases(words, single, found)
    # Each remaining word alone: a listed name, else (long words) a small typo of one.
    found.update(map(_MEDICINES.__getitem__, single & _SINGLE_WORD_MEDICINES))
    # Most words are nobody's typo, and once found out are skipped with one set difference.
    for w in single - _SINGLE_WORD_MEDICINES - _NOT_NEAR_MEDICINE:
        if len(w) >= 6 and (generic := _near_medicine(w) or _spanish_form(w)):
            found.add(generic)
        elif len(_NOT_NEAR_MEDICINE) < _MAX_REMEMBERED:
            _NOT_NEAR_MEDICINE.add(w)
    if not found:
        # Speech-to-text splits a name it does not know into words it does: "gabba pentin", "am low dipping",
        # and "met a pro law", which keeps the sound of metoprolol's consonants if not its letters.
        for first, second in itertools.pairwise(words):
            joined = first + second
            if 7 <= len(joined) <= 16 and joined.isalpha() and (generic := _near_medicine(joined)):
                found.add(generic)
        for size in (2, 3, 4):
            for k in range(len(words) - size + 1):
                joined = "".join(words[k : k + size])
                if (
                    7 <= len(joined) <= 16
                    and joined.isalpha()
                    and (generic := _by_sound_heard(joined))
                    # by sound only where a dose follows: "call the er at" sounds like Caltrate too
                    and any(w in _DOSE_WORDS or w.isdigit() for w in words[k + size : k + size + 6])
                ):
                    found.add(generic)
    if not found:
        # A name the lexicon lacks is still a medicine when a strength follows it ("xyzol 20 mg").
        for m in _UNLISTED_MEDICINE.finditer(folded):
            if m.group(1) not in _NOT_MEDICINE_BEFORE_STRENGTH:
                found.add(m.group(1))
    return frozenset(found)


def _read_phrases(words: list[str], single: set[str], found: set[str]) -> set[str]:
    """Add the medicines named by phrases ("potassium chloride") to `found`, longest phrase first.

    A phrase consumes the words it spans, which are then not read alone: returns the words that
    are (`single` itself when no phrase is found, the common case: "one" starts a phrase).
    """
    starts = sorted(k for w in single & _PHRASE_STARTS for k in _positions(words, w))
    kept: list[str] = []
    i = 0  # the words before i are read
    for start in starts:
        if start < i:
            continue  # inside a phrase already read
        for n in range(min(_MAX_PHRASE, len(words) - start), 1, -1):
            phrase = " ".join(words[start : start + n])
            if phrase in _MEDICINES:
                found.add(_MEDICINES[phrase])
                kept.extend(words[i:start])
                i = start + n
                break
    if not i:
        return single
    kept.extend(words[i:])
    return set(kept)


def _positions(words: list[str], word: str) -> Iterator[int]:
    k = -1
    with contextlib.suppress(ValueError):
        while True:
            k = words.index(word, k + 1)
            yield k


@lru_cache(maxsize=8192)
def _near_medicine(word: str) -> str | None:
    """The medicine a mistyped word stands for ("albuteral"), within the same first letter."""
    if word in _NOT_MEDICINES or word.isdigit():
        return None
    best, best_score = None, 0.0
    for cand in _MEDICINES_BY_LETTER.get(word[0], ()):
        if abs(len(cand) - len(word)) <= 2:
            score = fuzz.ratio(word, cand, score_cutoff=85)
            if score > best_score:
                best, best_score = cand, score
    return _MEDICINES[best] if best else None


def _spanish_form(word: str) -> str | None:
    """A medicine named in its Spanish form: "levotiroxina", "metformina", "amlodipino", "losartán"."""
    forms = english_forms(word)
    exact = next((_MEDICINES[f] for f in forms if f in _MEDICINES), None)
    return exact or next((g for f in reversed(forms) if (g := _near_medicine(f))), None)


# A message that says it follows one already sent: "my mom sent you a message but nobody called back",
# "he messaged yesterday afternoon", "I called Monday", "ya mandó mensaje", "I emailed last night".
_SAYS_REPEAT = re.compile(
    r"\b(?:(?:sent|left|put|wrote|posted)\s+(?:in\s+|you\s+guys\s+|you\s+all\s+|you\s+|y'?all\s+)?(?:a\s+|an\s+|the\s+)?"
    r"(?:portal\s+|mychart\s+|computer\s+|online\s+|app\s+)?(?:message|msg|note|e-?mail|voicemail|vm)"
    # "i send the message on the portal this morning": the present tense of a speaker of another language
    r"|\bi\s+send\s+(?:you\s+)?(?:the|a)\s+(?:portal\s+|computer\s+)?(?:message|msg|e-?mail)"
    r"|(?:uploaded|faxed over|dropped off)\b[^.]{0,80}?\b(?:yesterday|last week|this morning|last night)"
    r"|confirm (?:that )?you (?:got|received)|did you (?:get|receive) (?:it|my|the|our)"
    r"|messaged(?:\s+you)?\s+(?:yesterday|this|last|earlier|on|about)"
    r"|(?:yesterday|last night|this morning) i (?:send|sent) (?:you )?(?:an? )?(?:e-?mail|message)"
    r"|(?:wrote|messaged|typed) (?:on|in|through) the (?:computer|portal|app|mychart)"
    r"|e-?mailed(?:\s+you)?\s+(?:yesterday|last|this|earlier|about|on)"
    r"|called(?:\s+you|\s+in)?\s+(?:yesterday|earlier|this morning|last night"
    r"|on (?:mon|tues|wednes|thurs|fri|satur|sun)day)"
    r"|(?:no|without a)\s+(?:call\s?back|return call|response|reply)\s+(?:yet|so far)"
    r"|nobody\s+(?:has\s+)?called\s+(?:me\s+|us\s+|her\s+|him\s+)?back"
    r"|no one\s+(?:has\s+)?called\s+(?:me\s+|us\s+)?back"
    r"|(?:calling|writing|asking)\s+again|second time (?:i am |i'm )?(?:calling|writing|asking)"
    # "my sister send email already", "he already called the answering service"
    r"|(?:send|sent)\s+(?:an?\s+)?(?:e-?mail|message)\s+already"
    r"|(?:it'?s|it is|this is)\s+(?:me|us)\s+again"
    r"|follow(?:ing)?\s+up\s+on\s+(?:a\s+|the\s+|her\s+|his\s+|my\s+)?(?:portal\s+)?(?:msg|message|e-?mail|voicemail)"
    r"|(?:faxed|sent|emailed|mailed)\s+(?:you|over)\s+(?:the|a|his|her|my)\s+(?:form|forms|paperwork|papers)"
    r"|already\s+(?:e-?mailed|called|wrote|messaged|left\s+a\s+(?:message|voicemail)|sent\s+(?:an?\s+)?(?:e-?mail|message))"
    r"|ya\s+(?:mand[oe]|envi[oe]|dej[oe])\s+(?:un\s+)?mensaje|ya\s+llam[eo]"
    # "mi esposo les mandó un correo ayer": a message already sent, in Spanish
    r"|(?:mand[oe]|envi[oe]|dej[oe]|escribi[oe]?)\s+(?:les\s+|le\s+)?(?:un\s+)?(?:mensaje|correo|recado|e-?mail)"
    r"|(?:llam[eo]|llamamos)\s+(?:ayer|esta manana|antes|el lunes|el martes|el miercoles|el jueves|el viernes))\b"
)


def _references(folded: str) -> frozenset[str]:
    """Statement, claim, account, case and order numbers, written or said digit by digit."""
    out = set()
    # a written reference holds digits: without any, the pattern need not be tried at every word
    for m in _REFERENCE_NUMBER.finditer(folded) if _DIGIT.search(folded) else ():
        digits = re.sub(r"\D", "", m.group(1))
        if len(digits) >= 4:
            out.add(digits)
    for m in _SPOKEN_REFERENCE.finditer(folded):
        digits = "".join(_SPOKEN_DIGITS.get(w, "") for w in re.findall(r"[a-z]+", m.group(1)))
        if len(digits) >= 4:
            out.add(digits)
    return frozenset(out)


def _stems(words: set[str]) -> frozenset[str]:
    """`{_stem(w) for w in words}`, each word stemmed once in the process's life (up to a bound)."""
    for w in words.difference(_STEMS):
        if len(_STEMS) >= _MAX_REMEMBERED:  # a bound one practice's vocabulary never reaches
            return frozenset(map(_stem, words))
        _STEMS[w] = _stem(w)
    return frozenset(map(_STEMS.__getitem__, words))  # entries are never removed: safe across threads


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _meta(item: InboundItem, key: str) -> str | None:
    value = item.metadata.get(key) if item.metadata else None
    return str(value) if value not in (None, "") else None


#: A sentence that says a request was done ("the thyroid one came through, thank you").
_DONE = re.compile(
    r"\b(?:came through|went through|picked (?:it|them) up|was filled|were filled|was sent"
    r"|already got|already have it|came in fine|(?:collected|received) (?:it|them)"
    # "thank you so much for sending the insulin", "thanks for the amlodipine, my daughter collected it"
    r"|thank(?:s| you)(?: so much| very much| again)? for (?:sending|calling in|the)"
    # "I also need tamsulosin renewed. Got the metoprolol, thank you."
    r"|(?:got|received|picked up) (?:the|my|his|her) [a-z0-9 .-]{1,40}?,? thank(?:s| you))\b"
)
#: "the refill never came through", "has not been filled": not done; "wants to know if it was sent": asked
_NOT_DONE = re.compile(
    r"\b(?:not|never|no|hasn't|hasnt|didn't|didnt|haven't|havent|still|if|whether)\W+(?:\w+\W+){0,2}$"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")


def _is_done(sentence: str) -> bool:
    m = _DONE.search(sentence)
    return m is not None and not _NOT_DONE.search(sentence[: m.start()])


def _without_done(folded: str) -> str:
    """The text without its sentences about a request already done (all of it if nothing else is left)."""
    kept = [s for s in _SENTENCE.findall(folded) if not _is_done(s)]
    rest = "".join(kept)
    return rest if rest.strip() else folded


#: "yesterday I wrote about the metformin, but now it is another medicine, the sertraline": what comes after
#: the cue is what this message asks for
_ANOTHER_MEDICINE = re.compile(
    r"\b(?:otra medicina|otro medicamento|otra medicacion|otra pastilla|otra receta|another medicine"
    r"|another medication|a different medicine|a different medication|a different prescription"
    r"|another prescription|different one this time|outra medicacao|outro remedio|outro medicamento)\b"
)


#: "This is separate from my colonoscopy question", "different from the amlodipine": not the earlier request
_SAYS_NEW = re.compile(
    r"\b(?:separate from|different from|not the same as|unrelated to|not related to|a separate (?:question|issue|matter"
    r"|request)|a different (?:question|issue|matter|request))\b"
)


def _without_what_it_is_not(folded: str) -> str:
    """The text without the few words after "different from", "separate from" ("different from the amlodipine.
    Her eye drops ..." asks for the drops), when something is left."""
    if _SAYS_NEW.search(folded) is None:
        return folded  # the common case, read on every refill: no copy of the text
    rest = _SAYS_NEW.sub(" ", re.sub(r"\b(?:separate|different) from(?:\W+\w+){1,4}", " ", folded))
    return rest if rest.strip() else folded


def _after_another_medicine(folded: str) -> str:
    """The text after its last "another medicine" cue, when a medicine is named after it; else all of it."""
    cues = list(_ANOTHER_MEDICINE.finditer(folded))
    if not cues:
        return folded
    rest = folded[cues[-1].end() :]
    return rest if find_medicines(rest) else folded


def request_facts(item: InboundItem, type: str, *, folded: str | None = None) -> RequestFacts:
    """The terms that say what an item asks for, read once at intake.

    `folded` is `fold(item.text)` when the caller has it already (intake reads the identity too).
    """
    if folded is None:
        folded = fold(item.text)
    meta_item = _meta(item, "item")
    # A refill that thanks for one medicine and asks for another asks for the other one only.
    asked = _without_what_it_is_not(_after_another_medicine(_without_done(folded))) if type == R_TYPE else folded
    medicines = find_medicines(asked + (" " + fold(meta_item) if meta_item else ""))
    strengths = frozenset(f"{float(n):g} {u.rstrip('s')}" for n, u in _STRENGTH.findall(folded))
    test = _meta(item, "test")
    lab_tests = frozenset({re.sub(r"[^a-z0-9]+", " ", fold(test)).strip()}) if test else frozenset()
    accession = _meta(item, "accession")
    if not accession and (m := _ACCESSION.search(folded)) and any(c.isdigit() for c in m.group("id")):
        accession = ("*" if m.group("tail") else "") + m.group("id")
    case_id = _meta(item, "case_id")
    status = _meta(item, "status")
    if type == "prior_auth_pending" and not status:
        status = _STATUS.first(folded)
    # A fax says who sent it by its station id and number; either one names the sender.
    senders = {x for x in (_meta(item, "csid"), _meta(item, "from_number")) if x}
    if item.channel == "fax" and folded.strip():
        senders.add(folded.strip().splitlines()[0][:60])
    pharmacies = frozenset(m.group(1).strip() for m in _PHARMACY.finditer(folded))
    providers = frozenset(p for p in _PROVIDER.findall(folded) if p not in _NOT_PROVIDER and p not in _STOP_WORDS)
    words = _stems(set(_LETTER_WORDS.findall(folded)) - _STOP_WORDS)
    # Each type is compared on its own terms (see match_request): read only those.
    clinical = type in ("clinical_urgent", "clinical_question")
    appointment = type == "appointment_callback"
    classes: set[str] = set()
    if type == R_TYPE:
        classes = {_CLASS_WORDS[m.group(1)] for m in _CLASS_PATTERN.finditer(asked)}
    elif clinical:
        # In a clinical message "blood pressure" is mostly a reading, not a medicine: only
        # "her pressure pill", "the sugar medicine" name one.
        classes = {
            _CLASS_WORDS[m.group(1)]
            for m in _CLASS_PATTERN.finditer(folded)
            if _PILL_WORD.search(m.group(1)) or _PILL_AFTER.match(folded, m.end())
        }
    for medicine in medicines:
        classes |= _CLASSES.get(medicine, frozenset())
    return RequestFacts(
        type=type,
        medicines=medicines,
        medicine_classes=frozenset(classes),
        strengths=strengths,
        forms=_FORMS.kinds(_OTHER_FORM.sub(" ", folded)) if type == "records_request" else frozenset(),
        lab_tests=lab_tests,
        accession=fold(accession).strip() if accession else None,
        collected=_collected(item, folded) if type.startswith("lab_result") else None,
        case_id=re.sub(r"[^a-z0-9]", "", fold(case_id)) if case_id else None,
        status=fold(status).strip() if status else None,
        deadline=(_meta(item, "deadline") or None) if type == "prior_auth_pending" else None,
        sender=frozenset(x for s in senders if (x := re.sub(r"[^a-z0-9]", "", fold(s)))),
        specialties=_SPECIALTIES.kinds(folded) if type == "referral_packet" else frozenset(),
        visit_kinds=_VISIT_KINDS.kinds(folded) if appointment else frozenset(),
        actions=_APPOINTMENT_ACTIONS.kinds(folded) if appointment else frozenset(),
        weekdays=frozenset(_WEEKDAY_CANON.get(d, d) for d in _WEEKDAYS.findall(folded)),
        providers=providers,
        topics=(
            _BILLING_TOPICS.kinds(folded)
            if type == "billing_inquiry"
            else _CLINICAL_TOPICS.kinds(folded)
            if clinical
            else frozenset()
        ),
        references=_references(folded),
        pharmacies=pharmacies,
        words=words,
        says_repeat=bool(_SAYS_REPEAT.search(folded)),
        says_new=bool(_SAYS_NEW.search(folded)),
    )


# --------------------------------------------------------------------------- same request


@dataclass(frozen=True, slots=True)
class RequestMatch:
    """How alike two requests of one type are; `different` when they plainly ask for different things."""

    score: float
    terms: tuple[str, ...] = ()
    different: bool = False


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice overlap of two word sets: 1 when equal, 0 when disjoint."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _same_reference(a: frozenset[str], b: frozenset[str]) -> str | None:
    """A shared reference number; a spoken 'ending in 4417' matches the written '20611-4417'."""
    for x in a:
        for y in b:
            short, long_ = sorted((x, y), key=len)
            if len(short) >= 4 and long_.endswith(short):
                return short
    return None


def match_request(a: RequestFacts, b: RequestFacts) -> RequestMatch:
    """Whether two items of the same type ask for the same thing (0..1), or plainly different things."""
    text = _overlap(a.words, b.words)
    ref = _same_reference(a.references, b.references)
    kind = a.type
    if kind.startswith("lab_result"):
        # Results are not requests: two results are one only when they are one accession.
        # One accession may hold a panel: a potassium and a creatinine under it are two results.
        if _same_accession(a.accession, b.accession) and not (
            a.lab_tests and b.lab_tests and a.lab_tests != b.lab_tests
        ):
            return RequestMatch(1.0, ("accession",))
        # The lab's faxed copy of a result its feed sent (no accession on the copy): the same specimen, collected
        # at the same minute, and no test named differently.
        if (
            a.collected
            and a.collected == b.collected
            and not (a.accession and b.accession)
            and not (a.lab_tests and b.lab_tests and a.lab_tests != b.lab_tests)
        ):
            return RequestMatch(0.95, ("collected",))
        return RequestMatch(0.0, (), True)
    if kind == "prior_auth_pending":
        if a.case_id and b.case_id:
            if a.case_id != b.case_id:
                return RequestMatch(0.0, (), True)
            # A new status is news about the case, not the same notice again.
            if a.status and b.status and a.status != b.status:
                return RequestMatch(0.0, (), True)
            # "denied, peer-to-peer until 4 pm today" and, three days on, "denial stands, appeal within
            # 180 days": one status, two notices
            if a.deadline and b.deadline and a.deadline != b.deadline:
                return RequestMatch(0.0, (), True)
            return RequestMatch(1.0, ("case_id",))
        shared = a.medicines & b.medicines
        if shared and (a.status == b.status or not (a.status and b.status)):
            return RequestMatch(0.8, tuple(sorted(shared)))
        return RequestMatch(0.3 * text, ())
    if kind == "medication_refill":
        shared = a.medicines & b.medicines
        if shared:
            return RequestMatch(0.95, tuple(f"medicine:{m}" for m in sorted(shared)))
        if a.medicines and b.medicines:
            return RequestMatch(0.0, (), True)
        # One side names no medicine: "my blood pressure pill" is the same refill as the
        # lisinopril the other names; otherwise only a shared pharmacy and words can tell.
        pharmacy = _same_pharmacy(a.pharmacies, b.pharmacies)
        kinds = a.medicine_classes & b.medicine_classes
        if kinds:
            return RequestMatch(
                round(0.6 + (0.15 if pharmacy else 0.0) + 0.3 * text, 4),
                tuple(f"medicine_class:{k}" for k in sorted(kinds)),
            )
        return RequestMatch(round(0.35 + (0.3 if pharmacy else 0.0) + 0.4 * text, 4), ("pharmacy",) if pharmacy else ())
    if kind == "records_request":
        # "a letter" and "a copy of my records" are what most requests say; the named form decides.
        specific_a, specific_b = a.forms - _GENERIC_FORMS, b.forms - _GENERIC_FORMS
        if specific_a and specific_b:
            shared = specific_a & specific_b
            if not shared:
                return RequestMatch(0.0, (), True)
            return RequestMatch(0.9, tuple(f"form:{f}" for f in sorted(shared)))
        shared = a.forms & b.forms
        if shared and not (specific_a or specific_b):
            return RequestMatch(0.8, tuple(f"form:{f}" for f in sorted(shared)))
        if shared:
            # "my records, with the immunisations" and, from the daughter, "her records": one request, said
            # once in more detail.
            return RequestMatch(round(0.65 + 0.3 * text, 4), tuple(f"form:{f}" for f in sorted(shared)))
        return RequestMatch(round(0.3 + 0.6 * text, 4), ())
    if kind == "referral_packet":
        if a.sender & b.sender:
            return RequestMatch(0.95, ("sender",))
        shared = a.specialties & b.specialties
        if shared:
            return RequestMatch(0.75, tuple(f"specialty:{s}" for s in sorted(shared)))
        if a.specialties and b.specialties:
            return RequestMatch(0.0, (), True)
        # Neither names its sender or specialty: one patient's referral packets within days are most often
        # one referral sent again (faxed twice, or sent electronically and then faxed).
        return RequestMatch(round(0.45 + 0.6 * text, 4), ())
    if kind == "billing_inquiry":
        if ref:
            return RequestMatch(1.0, ("reference",))
        if a.references and b.references:
            return RequestMatch(0.0, (), True)
        shared = (a.topics & b.topics) - {"payment", "preventive"}
        if shared:
            return RequestMatch(round(0.6 + 0.4 * text, 4), tuple(f"topic:{t}" for t in sorted(shared)))
        if a.topics - {"payment"} and b.topics - {"payment"}:
            return RequestMatch(round(0.2 + 0.4 * text, 4), ())
        return RequestMatch(round(0.4 + 0.6 * text, 4), ())
    if kind == "appointment_callback":
        return _match_appointment(a, b, text)
    if kind in ("clinical_urgent", "clinical_question"):
        shared_meds = a.medicines & b.medicines
        shared_classes = a.medicine_classes & b.medicine_classes  # "metformin" and "her sugar pill"
        shared_topics = (a.topics & b.topics) - {"pain"}
        terms = (
            tuple(f"medicine:{m}" for m in sorted(shared_meds))
            + tuple(f"medicine_class:{k}" for k in sorted(shared_classes) if not shared_meds)
            + tuple(f"topic:{t}" for t in sorted(shared_topics))
        )
        score = 0.3 * bool(shared_meds or shared_classes) + (0.0, 0.35, 0.45)[min(2, len(shared_topics))] + 0.5 * text
        if not terms and (a.topics or a.medicines) and (b.topics or b.medicines):
            score *= 0.5  # each names what it is about, and they name nothing in common
        return RequestMatch(round(min(1.0, 0.25 + score), 4), terms)
    # "other" (spam, wrong numbers) is never merged: nobody asked for anything.
    return RequestMatch(0.0, (), True)


def _same_accession(a: str | None, b: str | None) -> bool:
    """One accession, or the end of one said alone ("accession ending 0877") and a whole one ending so."""
    if not a or not b:
        return False
    if a == b:
        return True
    if a.startswith("*") == b.startswith("*"):
        return False
    tail, whole = (a[1:], b) if a.startswith("*") else (b[1:], a)
    tail = tail.replace("-", "")
    return len(tail) >= 4 and whole.replace("-", "").endswith(tail)


def _same_pharmacy(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(x == y or fuzz.ratio(x, y) >= 85 for x in a for y in b)


def _match_appointment(a: RequestFacts, b: RequestFacts, text: float) -> RequestMatch:
    terms: list[str] = []
    # One patient rarely has two scheduling errands open at once: lean to "same" unless the
    # visits or the errands differ.
    score = 0.5
    visits = a.visit_kinds & b.visit_kinds
    if visits:
        score += 0.35
        terms.extend(f"visit:{v}" for v in sorted(visits))
    elif a.visit_kinds and b.visit_kinds:
        return RequestMatch(0.0, (), True)
    if a.weekdays & b.weekdays:
        score += 0.15
        terms.extend(f"day:{d}" for d in sorted(a.weekdays & b.weekdays))
    if any(fuzz.ratio(x, y) >= 85 for x in a.providers for y in b.providers):
        score += 0.15
        terms.append("provider")
    actions = a.actions & b.actions
    if actions:
        score += 0.1
        terms.extend(f"action:{x}" for x in sorted(actions))
    elif a.actions and b.actions:
        score -= 0.2  # one cancels, the other books: two errands
    return RequestMatch(round(min(1.0, score + 0.3 * text), 4), tuple(terms))


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True, slots=True, repr=False)
class DedupCandidate:
    """One item as duplicate detection sees it; built at intake and kept with the item.

    `root_external_id` is the earliest item of the item's cluster (itself for an original),
    and `root_received_at` when that root arrived: the 72-hour window runs from the root.
    """

    external_id: str
    received_at: datetime
    type: str
    identity: Identity
    facts: RequestFacts
    root_external_id: str = ""
    root_received_at: datetime | None = None
    open: bool = True
    urgency: str | None = None
    channel: str = ""

    def __post_init__(self) -> None:
        require_aware(self.received_at, "received_at")
        if not self.root_external_id:
            object.__setattr__(self, "root_external_id", self.external_id)
        if self.root_received_at is None:
            object.__setattr__(self, "root_received_at", self.received_at)
        else:
            require_aware(self.root_received_at, "root_received_at")

    def __repr__(self) -> str:
        return f"DedupCandidate({self.external_id}, type={self.type}, root={self.root_external_id})"

    @property
    def window_start(self) -> datetime:
        return self.root_received_at or self.received_at

    def as_root_of(self, match: DuplicateMatch | None) -> DedupCandidate:
        """This candidate as it is stored once `match` (or no match) was decided for it."""
        if match is None:
            return self
        return DedupCandidate(
            self.external_id, self.received_at, self.type, self.identity, self.facts,
            match.root_external_id, match.root_received_at, self.open, self.urgency, self.channel,
        )  # fmt: skip


def candidate_for(item: InboundItem, type: str, *, urgency: str | None = None) -> DedupCandidate:
    """The candidate record of a new item (an original until `find_duplicate` says otherwise)."""
    folded = fold(item.text)  # once, for both readings
    return DedupCandidate(
        external_id=item.external_id,
        received_at=item.received_at,
        type=type,
        identity=extract_identity(item, folded=folded),
        facts=request_facts(item, type, folded=folded),
        urgency=urgency,
        channel=item.channel,
    )


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """How sure duplicate detection must be. Defaults measured on ../shared/samples and our cases."""

    window: timedelta = timedelta(hours=72)
    #: patient evidence needed: 0.6 is a date of birth plus a name, or an MRN, or phone plus full name
    patient_threshold: float = 0.6
    #: request likeness needed (same medicine, same form, same referral sender, ...)
    request_threshold: float = 0.6
    #: merging into a task already resolved still names its root; the shell decides whether to reopen
    match_closed: bool = True
    #: pairs of (new type, earlier type) also compared besides equal types. Empty by default: a
    #: clinical_urgent item must never be folded into a routine clinical_question.
    related_types: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """The verdict for the `merged` event: which root, how sure, and on what evidence."""

    root_external_id: str
    matched_external_id: str
    root_received_at: datetime
    score: float
    patient_score: float
    request_score: float
    patient_fields: tuple[str, ...]
    request_terms: tuple[str, ...]
    root_open: bool = True

    @property
    def fields(self) -> tuple[str, ...]:
        """Patient fields and request terms together, as the `merged` event records them."""
        return tuple(f"patient:{f}" for f in self.patient_fields) + self.request_terms


_URGENCY_RANK = {"routine": 0, "urgent": 1, "emergent": 2}
_CLINICAL_TYPES = frozenset({"clinical_urgent", "clinical_question"})
#: Within this long, a sure patient match makes two clinical messages one episode more likely.
_SAME_EPISODE = timedelta(hours=3)
_SAME_EPISODE_PATIENT = 0.9
_SAME_EPISODE_BONUS = 0.25
#: An item that says it repeats an earlier message, from a patient this sure, of the same type within the
#: window, is that message again even in other words ("he messaged yesterday about black stools").
_SAYS_REPEAT_PATIENT = 0.8
_SAYS_REPEAT_BONUS = 0.35
_DEFAULT_CONFIG = DedupConfig()  # frozen: shared by every call that passes none


#: Below the patient threshold, a whole name (given and family, nothing contradicting) or a shared
#: phone number in an item that says it repeats an earlier one ("it's me again about that blood
#: pressure pill") is the same patient when the same named medicine or reference is asked again: a
#: wife's phone note for "Gerald Ostrowski ... tacrolimus" and his portal message about his
#: tacrolimus. Two patients of one name asking for one medicine within 72 hours, one of them without
#: a date of birth, is the rarer story; a date of birth that differs still keeps them apart.
_CORROBORATING_REQUEST = 0.9
_CORROBORATING_TERMS = ("medicine:", "reference", "accession", "case_id", "form:")


def _may_corroborate(patient: PatientMatch, says_repeat: bool) -> bool:
    fields = patient.fields
    whole_name = "family_name" in fields and "given_name" in fields
    return whole_name or ("phone" in fields and says_repeat)


def _corroborates(request: RequestMatch, new: DedupCandidate, cand: DedupCandidate, threshold: float) -> bool:
    if request.different:
        return False
    if request.score >= _CORROBORATING_REQUEST and any(t.startswith(_CORROBORATING_TERMS) for t in request.terms):
        return True
    # A husband's call for his wife by her whole name, about the bleeding she wrote of an hour ago: one
    # clinical episode, when the call says she wrote or it comes within hours, on a shared topic.
    return (
        new.type in _CLINICAL_TYPES
        and (new.facts.says_repeat or new.received_at - cand.received_at <= _SAME_EPISODE)
        and any(t.startswith("topic:") for t in request.terms)
        and request.score >= threshold
    )


def find_duplicate(
    new: DedupCandidate,
    candidates: Iterable[DedupCandidate],
    window: timedelta | None = None,
    config: DedupConfig | None = None,
) -> DuplicateMatch | None:
    """The root of the earlier request that `new` repeats, or None if it is a new request.

    Candidates are earlier items that share an identity key with `new` (the store fetches
    them by key); the window runs from each candidate's root, so a chain of reminders
    cannot stretch one request past 72 hours.
    """
    cfg = config if config is not None else _DEFAULT_CONFIG
    window = window if window is not None else cfg.window
    if new.type == "other" or new.identity.is_empty:
        return None
    # Read once, not once a candidate: the loop runs for every candidate of every item at intake.
    new_id, new_at, new_type, identity = new.external_id, new.received_at, new.type, new.identity
    related, match_closed = cfg.related_types, cfg.match_closed
    best: DuplicateMatch | None = None
    for cand in candidates:
        if cand.external_id == new_id or cand.received_at > new_at:
            continue
        if cand.type != new_type and (new_type, cand.type) not in related:
            continue
        window_start = cand.root_received_at or cand.received_at  # cand.window_start
        if new_at - window_start > window:
            continue
        if not cand.open and not match_closed:
            continue
        patient = match_patient(identity, cand.identity)
        if patient.different:
            continue
        partial = patient.score < cfg.patient_threshold
        if partial and not _may_corroborate(patient, new.facts.says_repeat):
            continue
        request = match_request(new.facts, cand.facts)
        if partial and not _corroborates(request, new, cand, cfg.request_threshold):
            continue
        if (
            not request.different
            and new_type in _CLINICAL_TYPES
            and patient.score >= _SAME_EPISODE_PATIENT
            and new_at - cand.received_at <= _SAME_EPISODE
        ):
            # One patient, two clinical messages within hours (a wife calls, then he writes from the truck):
            # one episode, told in different words.
            request = RequestMatch(
                round(min(1.0, request.score + _SAME_EPISODE_BONUS), 4), (*request.terms, "same_episode")
            )
        if (
            not request.different
            and new.facts.says_repeat
            and cand.type == new_type
            and patient.score >= _SAYS_REPEAT_PATIENT
            and request.score < cfg.request_threshold
        ):
            request = RequestMatch(
                round(min(1.0, request.score + _SAYS_REPEAT_BONUS), 4), (*request.terms, "says_repeat")
            )
        if request.different or request.score < cfg.request_threshold:
            continue
        if new.facts.says_new and not any(t.startswith(("reference", "accession", "case_id")) for t in request.terms):
            continue  # "this is separate from my colonoscopy question from Monday"
        score = round((patient.score + request.score) / 2, 4)
        if best is None or score > best.score or (score == best.score and window_start < best.root_received_at):
            best = DuplicateMatch(
                root_external_id=cand.root_external_id,
                matched_external_id=cand.external_id,
                root_received_at=window_start,
                score=score,
                patient_score=patient.score,
                request_score=request.score,
                patient_fields=patient.fields,
                request_terms=request.terms,
                root_open=cand.open,
            )
    return best


def dedup_replay(
    items_with_types: Iterable[tuple[InboundItem, str]],
    config: DedupConfig | None = None,
) -> list[str | None]:
    """`duplicate_of` for each item in arrival order, as the dispatcher would decide it.

    Candidates are fetched through an in-memory index of `identity_keys`, as the store does
    with its patient_keys table, so the cost per item follows the candidates, not the history.
    """
    cfg = config or DedupConfig()
    index: dict[str, list[DedupCandidate]] = {}
    out: list[str | None] = []
    for item, type_ in items_with_types:
        new = candidate_for(item, type_)
        keys = identity_keys(new.identity)
        since = new.received_at - cfg.window
        seen: dict[str, DedupCandidate] = {}
        for key in keys:
            for cand in index.get(key, ()):
                if cand.received_at >= since:
                    seen.setdefault(cand.external_id, cand)
        match = find_duplicate(new, seen.values(), config=cfg)
        out.append(match.root_external_id if match else None)
        stored = new.as_root_of(match)
        for key in keys:
            index.setdefault(key, []).append(stored)
    return out


__all__ = [
    "DedupCandidate",
    "DedupConfig",
    "DuplicateMatch",
    "RequestFacts",
    "RequestMatch",
    "candidate_for",
    "dedup_replay",
    "find_duplicate",
    "find_medicines",
    "match_request",
    "request_facts",
]
