"""Danger signs: lexicon phrases, and measured values said in words (fever, sugar, pressure, ...).

Every mention found is read through ConText; the caller decides what counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from careroute.medicine_names import english_forms

from .compiled import DANGER, ESCALATOR, GATE, LOWERER, NUMERIC_CONTEXT, NUMERIC_CONTEXTS, CompiledRules, Payload
from .context import ContextIndex, Reading
from .normalise import ReadText, number_value
from .phrases import Hit
from .rules import ClassifierRules

# Units that make "<number> <unit> old" an age; weeks per unit.
_AGE_UNITS: Mapping[str, float] = {
    "day": 1 / 7,
    "days": 1 / 7,
    "dia": 1 / 7,
    "dias": 1 / 7,
    "week": 1.0,
    "weeks": 1.0,
    "wk": 1.0,
    "wks": 1.0,
    "semana": 1.0,
    "semanas": 1.0,
    "month": 4.35,
    "months": 4.35,
    "mo": 4.35,
    "mos": 4.35,
    "mes": 4.35,
    "meses": 4.35,
}
_AGE_MARKERS = frozenset({"old"})  # "3 weeks old"
# "3 semanas de nacido", "dos semanas de vida": Spanish "de" says an age only before one of these ("tres dias
# de fiebre" is how long a fever has lasted).
_BORN_WORDS = frozenset({"nacido", "nacida", "nacidos", "nacidas", "nacer", "edad", "vida", "born"})
_INFANT_NOUNS = frozenset(
    {
        "baby",
        "bebe",
        "infant",
        "newborn",
        "son",
        "daughter",
        "hijo",
        "hija",
        "nino",
        "nina",
        "grandson",
        "granddaughter",
        "nieto",
        "nieta",
    }
)
_OVER = frozenset({"over", "sobre"})
# "tiene seis semanas", "cumplio 5 semanas": Spanish says an age with a verb.
_AGE_VERBS = frozenset({"tiene", "cumple", "cumplio", "cumplira"})
# "he is like nine weeks", "she is only 6 weeks": an infant said as he or she (a pregnancy is "I am").
_AGE_SUBJECTS = frozenset({"he", "she", "baby", "bebe"})
# "my son 5 weeks", "our son is 6 weeks": the English noun comes after one of these.
_SON_OWNERS = frozenset({"my", "our", "his", "her", "your", "their", "the", "a", "baby", "newborn", "little", "infant"})
_AGE_FILLERS = frozenset({"like", "about", "almost", "only", "just", "barely", "como", "casi", "apenas", "solo"})
# "my son 5 weeks ago", "two weeks later": a time, not an age.
_NOT_AN_AGE = frozenset(
    {"ago", "later", "before", "after", "since", "now", "from", "until", "of", "pregnant", "along", "embarazada"}
    # "tiene tres dias con calentura", "two days with fever": how long something has lasted
    | {"con", "with", "sin", "without", "que", "straight", "seguidos"}
)
# Words for taking a temperature, which alone say nothing of a fever.
_MEASURING_WORDS = frozenset(
    {"temp", "temps", "temperature", "thermometer", "termometro", "temperatura", "degrees", "degree", "grados"}
    | {"rectal", "rectally", "axillary", "oral", "orally", "tympanic", "forehead", "armpit"}
)
# "sugar pill", "pressure medicine": a reading's word naming the medicine for it.
_MEDICINE_NOUNS = frozenset(
    {"pill", "pills", "medicine", "medicines", "meds", "med", "medication", "medications", "tablet", "tablets"}
    | {"shot", "shots", "prescription", "script", "refill", "pastilla", "pastillas", "medicina", "medicamento"}
)
# A number followed by one of these is a dose, a count or a time, never a vital sign.
_NOT_A_READING = frozenset(
    {
        "mg",
        "mcg",
        "ml",
        "units",
        "unit",
        "u",
        "iu",
        "tabs",
        "tablets",
        "tablet",
        "pills",
        "pill",
        "capsules",
        "lbs",
        "lb",
        "pounds",
        "kg",
        "dollars",
        "percent",
        "am",
        "pm",
        "minutes",
        "mins",
        "hours",
        "hrs",
        "days",
        "weeks",
        "months",
        "years",
        "times",
        "calories",
        "carbs",
        "grams",
        "g",
        "oz",
        "steps",
        "miles",
        "th",
        "st",
        "nd",
        "rd",
        "o",
    }
)

#: Context lists that name a symptom or a risk: they count only when said as present.
_SAID_SYMPTOMS = frozenset({"pressure_symptom_words", "fever_risk_words", "hypoglycemia_mind_words"})

#: add(rule_id, urgency, start, end, detail): records one measured danger sign.
_Add = Callable[[str, str, int, int, str], None]


@dataclass(frozen=True, slots=True)
class DangerFinding:
    """One danger-sign mention: which rule, where (word indexes), how it reads."""

    rule_id: str
    urgency: str
    start: int
    end: int
    reading: Reading
    detail: str = ""  # a measured value, e.g. "temperature 103.5"
    #: Over now, but a sign whose passing does not make it safe: counted, with doubt.
    resolved: bool = False
    #: Said with what makes it emergent (its rule's `emergent_with`): doubt does not lower it.
    corroborated: bool = False


def find_danger(
    read: ReadText,
    hits: Sequence[Hit[Payload]],
    context: ContextIndex,
    rules: ClassifierRules,
    age_weeks: Callable[[], float | None] | None = None,
) -> list[DangerFinding]:
    """Every danger mention with its ConText reading. ``age_weeks`` gives the patient's age when
    nothing in the words says it (asked only when a fever might be an infant's)."""
    compiled = rules.compiled
    findings: list[DangerFinding] = []
    seen: set[tuple[int, int, int]] = set()
    for hit in hits:
        kind, index = hit.payload
        if kind != DANGER:
            continue
        key = (index, hit.start, hit.end)
        if key in seen:
            continue
        seen.add(key)
        rule = rules.danger[index]
        findings.append(DangerFinding(rule.id, rule.urgency, hit.start, hit.end, context.reading(hit.start, hit.end)))
    findings.extend(_measured(read, hits, context, compiled, age_weeks))
    # "not breathing fast": a sign said as an absence ("not breathing") that is the start of a
    # longer, negated mention of the same sign ("breathing fast") is that negation, not a sign.
    negated_spans = [(f.rule_id, f.start, f.end) for f in findings if f.reading.category == "negated"]
    if negated_spans:
        findings = [
            replace(f, reading=Reading("negated", f.reading.uncertain, f.reading.trigger))
            if f.reading.counted and any(r == f.rule_id and f.start < a < f.end < b for r, a, b in negated_spans)
            else f
            for f in findings
        ]
    # A TIA that went away, a faint that is over: still urgent, never dropped as history.
    still_urgent = {r.id for r in rules.danger if r.resolved_urgent}
    findings = [
        DangerFinding(f.rule_id, f.urgency, f.start, f.end, Reading(None, True, f.reading.trigger), f.detail, True)
        if f.reading.category == "resolved" and f.rule_id in still_urgent
        else f
        for f in findings
    ]
    # Weak signs (min_matches > 1) count only when enough of them are present together.
    needed = {r.id: r.min_matches for r in rules.danger if r.min_matches > 1}
    if needed:
        present: dict[str, list[tuple[int, int]]] = {}
        for f in findings:
            if f.rule_id in needed and f.reading.counted:
                present.setdefault(f.rule_id, []).append((f.start, f.end))
        # Phrases that overlap are one sign said once ("I've got my dad's pistol here" matches three ways).
        count = {rule_id: _separate(spans) for rule_id, spans in present.items()}
        findings = [f for f in findings if f.rule_id not in needed or count.get(f.rule_id, 0) >= needed[f.rule_id]]
    # Signs that count only beside another fact of the message (a pregnancy, for pre-eclampsia's signs).
    gated = {r.id for r in rules.danger if r.only_with}
    if gated and any(f.rule_id in gated for f in findings):
        opened = {
            rules.danger[hit.payload[1]].id
            for hit in hits
            if hit.payload[0] == GATE and context.reading(hit.start, hit.end).counted
        }
        findings = [f for f in findings if f.rule_id not in gated or f.rule_id in opened]
    # After the gates, so that a closed gate's sign overrides nothing: a more exact sign replaces the
    # general one said inside or across its words (rules' `overrides`). "Short of breath going up the
    # stairs" is exertional, but "lips and fingertips are blue" stays trouble breathing; "a tight pressure
    # in my chest when I bike up the hill, it goes away when I stop" is one chest, read the exact way.
    exact = [
        (f.start, f.end, rules.overrides[f.rule_id])
        for f in findings
        if f.rule_id in rules.overrides and f.reading.counted
    ]
    if exact:
        findings = [
            f for f in findings if not any(f.rule_id in names and f.start < b and a < f.end for a, b, names in exact)
        ]
    # Signs that come with what makes them emergent (hit his head, on warfarin, vomiting; chest pain
    # with sweating): an urgent sign becomes emergent, and no sign so corroborated is lowered by doubt
    # ("probably indigestion" said of jaw pain with a cold sweat is the classic denial).
    escalated: dict[str, str] = {}
    for hit in hits:
        kind, index = hit.payload
        if kind == ESCALATOR and context.reading(hit.start, hit.end).counted:
            escalated.setdefault(rules.danger[index].id, read.quote(hit.start, hit.end))
    if escalated:
        findings = [
            replace(f, urgency="emergent", detail=f"with {escalated[f.rule_id]!r}", corroborated=True)
            if f.rule_id in escalated
            else f
            for f in findings
        ]
    # Emergent signs said with what makes them urgent (passive thoughts of death, no plan, no intent).
    lowered: dict[str, str] = {}
    for hit in hits:
        kind, index = hit.payload
        if kind == LOWERER and context.reading(hit.start, hit.end).category not in ("other_person", "hypothetical"):
            lowered.setdefault(rules.danger[index].id, read.quote(hit.start, hit.end))
    if lowered:
        findings = [
            replace(f, urgency="urgent", detail=f"with {lowered[f.rule_id]!r}")
            if f.rule_id in lowered and f.urgency == "emergent" and not f.corroborated
            else f
            for f in findings
        ]
    return findings


def _near(contexts: Mapping[str, list[tuple[int, int]]], name: str, i: int, before: int, after: int) -> int | None:
    """Start of the nearest context phrase `name` within reach of word i, else None."""
    best: int | None = None
    best_distance = before + after + 1
    for start, end in contexts.get(name, ()):
        if end <= i and i - end <= before:
            distance = i - end
        elif start > i and start - i - 1 <= after:
            distance = start - i - 1
        else:
            continue
        if distance < best_distance:
            best, best_distance = start, distance
    return best


def _measured(
    read: ReadText,
    hits: Sequence[Hit[Payload]],
    context: ContextIndex,
    compiled: CompiledRules,
    age_weeks: Callable[[], float | None] | None = None,
) -> list[DangerFinding]:
    """Danger read from numbers: temperature, infant age, blood sugar, blood pressure, pain score,
    heart rate, oxygen. The number must sit next to words that say what it measures."""
    contexts: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        kind, index = hit.payload
        if kind == NUMERIC_CONTEXT:
            name = NUMERIC_CONTEXTS[index]
            # A symptom or a risk said as absent ("no tiene dolor de pecho", "not confused") adds nothing.
            if name in _SAID_SYMPTOMS:
                category = context.reading(hit.start, hit.end).category
                # A risk that is past still is one: the surgery last week, the kidney stone on Friday, chemo
                # in the spring. A pressure symptom must be today's.
                if category is not None and not (name == "fever_risk_words" and category in ("historical", "resolved")):
                    continue
            contexts.setdefault(name, []).append((hit.start, hit.end))
    words, sentence = read.words, read.sentence
    has_number = any(w[:1].isdigit() for w in words)
    might_be_infant = age_weeks is not None and "temperature_words" in contexts
    if not has_number and "infant_words" not in contexts and not might_be_infant:
        return []
    limits = compiled.numeric
    drugs = compiled.drug_words
    out: list[DangerFinding] = []

    def add(rule_id: str, urgency: str, start: int, end: int, detail: str) -> None:
        lo, hi = min(start, end - 1), max(start + 1, end)
        out.append(DangerFinding(rule_id, urgency, lo, hi, context.reading(lo, hi, measured=True), detail))

    infant = _infant(words, sentence, contexts, limits)
    by_birth = ""
    if infant is None and might_be_infant and age_weeks is not None:
        # No age said, but the patient's date of birth (or one said in the message) is that of a young
        # infant: a fever is read as an infant's wherever it is said.
        weeks = age_weeks()
        if weeks is not None and weeks <= limits["infant_max_weeks"]:
            infant = contexts["temperature_words"][0][0]
            by_birth = " (by date of birth)"
    fever_seen = False
    temperature_read = False  # a temperature was said as a number (a normal one says there is no fever)
    n = len(words)
    for i, word in enumerate(words):
        if not word[:1].isdigit():
            continue
        if "/" in word:
            if any(w in _NOT_A_PAIR_AFTER for w in words[i + 1 : i + 5]):
                continue  # "the 70/30 plan", "from the 70/30 to the 80/20 plan": coinsurance, not a pressure
            if i and (words[i - 1] in _PREMIX_WORDS or any(_is_drug(w, drugs) for w in words[max(0, i - 2) : i])):
                continue  # "NovoLog Mix 70/30", "Humulin 70/30": a premixed insulin's name, not a pressure
            _fraction(word, i, contexts, limits, add)
            continue
        if ":" in word:
            continue  # a time of day
        value = number_value(word)
        if value is None:
            continue
        if _phone_piece(words, i):
            continue  # "fax 708-555-0140": a telephone number's digits are no reading
        if i and (
            _is_drug(words[i - 1], drugs) or (i > 1 and words[i - 1] in ("de", "of") and _is_drug(words[i - 2], drugs))
        ):
            continue  # a dose: "metformina de 1000", "lantus 40"
        unit = words[i + 1] if i + 1 < n else ""
        if (i and words[i - 1] in _COUNT_WORDS) or unit in _DURATION_UNITS:
            continue  # "qty 24", "#30": a count; "0.05 mg/24 hr", "every 72 hours": a span of time, not a reading
        if (
            10 <= value <= 500
            and _near(contexts, "overdose_verbs", i, 4, 0) is not None
            and _near(contexts, "pill_words", i, 1, 4) is not None
        ):
            add("danger.overdose", "emergent", i, i + 1, f"took {word} at once")
            continue
        oxygen = _near(contexts, "oxygen_words", i, 4, 1)
        if oxygen is not None and 50 <= value <= 100 and unit in ("percent", "", "on", "sat", "ra"):
            # "sat dropped to 84 percent on room air": a percentage is what oxygen is read in.
            if value < limits["oxygen_low"]:
                add("danger.low_oxygen", "emergent", min(oxygen, i), i + 1, f"oxygen {word}%")
            continue
        if unit in _NOT_A_READING:
            continue
        if i + 2 < n and words[i + 1] in _OVER and words[i + 2][:1].isdigit():
            second = number_value(words[i + 2])
            # "A over B" is a blood pressure's own shape: the word that says so may stand a clause away
            # ("his pressure been running high all day, this evening it's 192 over 110").
            # Past a clause, only a pair shaped like a high or low pressure (systolic above diastolic by
            # 20 or more) is read so: "I am having pressure ... it is 204 over 122".
            shaped = second is not None and 40 <= second <= 200 and 80 <= value <= 300 and value - second >= 20
            reach = 30 if shaped else 12
            if second is not None and _near(contexts, "pressure_words", i, reach, 1) is not None:
                _pressure(value, second, i, i + 3, limits, add, "pressure_symptom_words" in contexts)
                continue
        # A number with a decimal point between 99 and 108 is a temperature in Fahrenheit almost whatever
        # stands between it and the word that says so ("checked her temp in the bottom it say 100.9").
        reach = 8 if "." in word and 99 <= value <= 108 else 4
        temp = _near(contexts, "temperature_words", i, reach, 2)
        if (
            temp is not None
            and (95 <= value <= 108 or 35 <= value <= 43)
            and _near(contexts, "ambient_words", i, 4, 4) is None
        ):
            fahrenheit = value if value >= 95 else value * 9 / 5 + 32
            start = min(temp, i)
            temperature_read = True
            if fahrenheit >= limits["fever_f"]:
                fever_seen = True
                detail = f"temperature {word}"
                if infant is not None:
                    add("danger.infant_fever", "emergent", start, i + 1, detail + " in a young infant" + by_birth)
                elif fahrenheit >= limits["fever_f_high"]:
                    add("danger.high_fever", "urgent", start, i + 1, detail)
                elif "fever_risk_words" in contexts:
                    add("danger.fever_with_risk", "urgent", start, i + 1, detail + " with a risk factor")
            continue
        glucose = _near(contexts, "glucose_words", i, 8, 1)
        if glucose is not None and glucose + 1 < n and words[glucose + 1] in _MEDICINE_NOUNS:
            glucose = None  # "the sugar pill, metformin 1000": the medicine for sugar, not a reading
        if glucose is not None and 10 <= value <= 1500:
            start = min(glucose, i)
            if value < limits["glucose_very_low"] or (
                value <= limits["glucose_low"] and "hypoglycemia_mind_words" in contexts
            ):
                add("danger.glucose", "emergent", start, i + 1, f"blood sugar {word}")
            elif value <= limits["glucose_low"] or value >= limits["glucose_high"]:
                add("danger.glucose", "urgent", start, i + 1, f"blood sugar {word}")
            continue
        # The top number alone ("pressure was 190", "la presión en ciento noventa") is enough to call. A
        # pressure is a whole number: "weight 182.4 lb (yesterday 181.6), BP 118/68" is a weight.
        if (
            limits["systolic_high"] <= value <= 300
            and "." not in word
            and _near(contexts, "pressure_words", i, 4, 0) is not None
            and (i + 1 >= n or words[i + 1] not in _OVER)
        ):
            _pressure(value, 0, i, i + 1, limits, add, "pressure_symptom_words" in contexts)
            continue
        if oxygen is not None and oxygen > i and i and words[i - 1] in _OTHER_VITAL_LABELS:
            oxygen = None  # "HR 72, SpO2 95%": the pulse, labelled, before the oxygen's label
        if oxygen is not None and 50 <= value <= 100:
            if value < limits["oxygen_low"]:
                add("danger.low_oxygen", "emergent", min(oxygen, i), i + 1, f"oxygen {word}%")
            continue
        breaths = _near(contexts, "respiratory_rate_words", i, 4, 1)
        if breaths is not None and 8 <= value <= 80:
            if value >= limits["respiratory_rate_high"]:
                add("danger.fast_breathing", "urgent", min(breaths, i), i + 1, f"breathing rate {word}")
            continue
        rate = _near(contexts, "heart_rate_words", i, 4, 0)
        if rate is not None and 20 <= value <= 250 and value >= limits["heart_rate_high"]:
            add("danger.palpitations", "urgent", min(rate, i), i + 1, f"heart rate {word}")
            continue
        if (
            rate is not None
            and 20 <= value <= limits["heart_rate_low"]
            and i - rate <= 4
            and _pulse_said(words, rate)
            and words[i - 1] not in _MONTHS
        ):
            add("danger.slow_pulse", "urgent", min(rate, i), i + 1, f"heart rate {word}")
            continue
        if (
            i + 3 < n
            and words[i + 1] in ("out", "de")
            and words[i + 2] in ("of", "10")
            and (words[i + 3] == "10" or words[i + 2] == "10")
            and _near(contexts, "pain_words", i, 8, 8) is not None
            and value >= limits["pain_score_severe"]
            and value <= 10
        ):
            add("danger.severe_pain", "urgent", i, i + 4, f"pain {word} out of 10")
    if infant is not None and not fever_seen and not temperature_read:
        # "my 3 week old feels hot / has a fever" with no number is still a febrile young infant; "temp",
        # "thermometer" or "rectal" alone name the measuring, not a fever.
        for start, end in contexts.get("temperature_words", ()):
            if words[start] in _MEASURING_WORDS and end - start == 1:
                continue
            if sentence[start] == sentence[infant] or abs(start - infant) <= 12:
                add("danger.infant_fever", "emergent", start, end, "fever in a young infant" + by_birth)
                break
    return out


_MONTHS = frozenset(
    {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october"}
    | {"november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)


#: Words right before a premixed insulin's ratio ("NovoLog Mix 70/30", "insulina 70/30").
_PREMIX_WORDS = frozenset({"mix", "mezcla", "premix", "premixed", "insulin", "insulina"})


def _pulse_said(words: Sequence[str], at: int) -> bool:
    """A pulse or heart rate read now ("his pulse is 41"); an athlete's "resting heart rate" is no sign."""
    if at > 0 and words[at - 1] == "resting":
        return False
    return words[at] != "heart" or (at + 1 < len(words) and words[at + 1] == "rate")


def _fraction(
    word: str,
    i: int,
    contexts: Mapping[str, list[tuple[int, int]]],
    limits: Mapping[str, float],
    add: _Add,
) -> None:
    parts = word.split("/")
    if len(parts) != 2:
        return
    try:
        first, second = float(parts[0]), float(parts[1])
    except ValueError:
        return
    if second == 10 and 0 <= first <= 10:
        if first >= limits["pain_score_severe"] and _near(contexts, "pain_words", i, 8, 8) is not None:
            add("danger.severe_pain", "urgent", i, i + 1, f"pain {word}")
        return
    if 60 <= first <= 300 and 30 <= second <= 200 and first > second:
        _pressure(first, second, i, i + 1, limits, add, "pressure_symptom_words" in contexts)


def _pressure(
    systolic: float,
    diastolic: float,
    start: int,
    end: int,
    limits: Mapping[str, float],
    add: _Add,
    with_symptoms: bool,
) -> None:
    reading = f"blood pressure {systolic:g}/{diastolic:g}" if diastolic else f"blood pressure {systolic:g} systolic"
    if systolic >= limits["systolic_high"] or diastolic >= limits["diastolic_high"]:
        # With headache, vision change, chest pain or neurological signs it is a hypertensive emergency.
        if with_symptoms:
            add("danger.blood_pressure", "emergent", start, end, reading + " with symptoms")
        else:
            add("danger.blood_pressure", "urgent", start, end, reading)
    elif systolic <= 80:
        add("danger.low_blood_pressure", "urgent", start, end, reading)


#: Words before a number that make it a count of something dispensed, not a reading.
_COUNT_WORDS = frozenset({"qty", "quantity", "disp", "dispense", "count", "supply", "refills", "tabs", "tablets"})
#: Words after a number that make it a span of time ("24 hr patch"); a pulse is never said as "88 hr".
_DURATION_UNITS = frozenset({"hr", "hrs", "hour", "hours"})
#: Labels of a vital sign other than oxygen: the number right after one is that sign's reading.
_OTHER_VITAL_LABELS = frozenset(
    {"hr", "pulse", "p", "rr", "resp", "respirations", "bp", "temp", "t", "wt", "weight", "bs", "glucose", "rate"}
)


def _is_drug(word: str, drugs: frozenset[str]) -> bool:
    """A medicine's name, in English or in its Spanish form ("metformina", "glipizida", "losartán")."""
    return word in drugs or any(form in drugs for form in english_forms(word))


def _separate(spans: Sequence[tuple[int, int]]) -> int:
    """How many of these spans stand apart, overlapping ones counted once."""
    count, end = 0, -1
    for start, stop in sorted(spans):
        if start >= end:
            count += 1
            end = stop
        else:
            end = max(end, stop)
    return count


def _infant(
    words: Sequence[str],
    sentence: Sequence[int],
    contexts: Mapping[str, list[tuple[int, int]]],
    limits: Mapping[str, float],
) -> int | None:
    """Word index where a young infant (under ``infant_max_weeks``) is mentioned, else None."""
    if "infant_words" in contexts:
        return contexts["infant_words"][0][0]
    n = len(words)
    for i, word in enumerate(words):
        value = number_value(word) if (word[:1].isdigit() or word in ("one", "uno")) else None
        if value is None or i + 1 >= n:
            continue
        weeks = _AGE_UNITS.get(words[i + 1])
        if weeks is None:
            continue
        after = words[i + 2] if i + 2 < n else ""
        # "3 weeks old", "my son 5 weeks", "my baby Lina is 7 weeks": an infant noun a few words before, in
        # the same sentence ("I am 34 weeks" is a pregnancy, and names no infant).
        k = i - 1
        while k >= 0 and words[k] in _AGE_FILLERS:
            k -= 1
        said_with_verb = k >= 0 and words[k] in _AGE_VERBS  # "tiene seis semanas", "tiene como seis semanas"
        # "he is like nine weeks": he or she, "is", then the age
        said_with_verb = said_with_verb or (k >= 1 and words[k] == "is" and words[k - 1] in _AGE_SUBJECTS)
        infant_before = any(
            words[j] in _INFANT_NOUNS and sentence[j] == sentence[i] and not _spanish_son(words, j)
            for j in range(max(0, i - 4), i)
        )
        born = after == "de" and i + 3 < n and words[i + 3] in _BORN_WORDS
        plain = after not in _NOT_AN_AGE and after != "de" and (said_with_verb or infant_before)
        is_age = after in _AGE_MARKERS or born or plain
        if is_age and value * weeks <= limits["infant_max_weeks"]:
            return i
    return None


_NOT_A_PAIR_AFTER = frozenset({"plan", "plans", "split", "coinsurance", "coverage", "rule", "ratio"})


def _phone_piece(words: Sequence[str], i: int) -> bool:
    """True when words[i] is a group of a telephone number ("708 555 0140", "0140" alone)."""
    word = words[i]
    if len(word) > 1 and word[0] == "0" and word.isdigit():
        return True
    groups = [len(w) if w.isdigit() else 0 for w in words[max(0, i - 2) : i + 3]]
    at = min(i, 2)
    # three, three and four digits in a row, whichever of them this is
    return any(groups[start : start + 3] == [3, 3, 4] for start in range(max(0, at - 2), at + 1))


def _spanish_son(words: Sequence[str], j: int) -> bool:
    """ "ya son tres semanas con la tos" ("it has been three weeks"): Spanish "son" is a verb, not a son."""
    return words[j] == "son" and (j == 0 or words[j - 1] not in _SON_OWNERS)


def without_ruled_out(words: Sequence[str], findings: Sequence[DangerFinding]) -> tuple[str, ...]:
    """The words with every danger mention the rules ruled out (negated, past, someone else's,
    asked about) taken away: what the learned readers see.

    Bags of words cannot see "no" in front of "chest pain"; the ConText reading can. Without this
    a list of denied signs ("no chest pain, not breathing fast") reads to a model like their presence."""
    drop: set[int] = set()
    keep: set[int] = set()
    for f in findings:
        (keep if f.reading.counted else drop).update(range(f.start, f.end))
    drop -= keep
    if not drop:
        return tuple(words)
    return tuple(w for i, w in enumerate(words) if i not in drop)
