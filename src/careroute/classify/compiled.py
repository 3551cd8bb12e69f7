"""Rules compiled for speed: one normaliser, one phrase matcher over every lexicon phrase.

Built once per ``ClassifierRules`` (at load time); ``classify`` only reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .normalise import NoiseMap, Normaliser, fold
from .phrases import Element, PhraseMatcher, WordSpec, compile_phrase, expand_phrase

if TYPE_CHECKING:
    from .rules import ClassifierRules

#: What a phrase match means: (kind, index into that kind's table).
Payload = tuple[str, int]

# Kinds of phrase in the one matcher.
DANGER = "danger"
KEYWORD = "keyword"
TRIGGER = "trigger"
PSEUDO = "pseudo"
NOT_A_SIGN = "not_a_sign"
TERMINATOR = "terminator"
TERMINATOR_NEGATED = "terminator_negated"
CRITICAL_MED = "critical_med"
#: A symptom that makes a `critical_when` medicine critical in this message ("a little cough" and no albuterol)
CRITICAL_NEED = "critical_need"
OUT_NOW = "out_now"
OUT_LATER = "out_later"
#: How an OUT_NOW phrase relates to the medicine's name: anywhere near it, right before it ("has no
#: insulin"), or not needed at all (withdrawal says the patient is without something).
OUT_NEAR, OUT_BEFORE_NAME, OUT_WITHDRAWAL = 0, 1, 2
NUMERIC_CONTEXT = "numeric_context"
LAB_CRITICAL_TEXT = "lab_critical_text"
PA_TODAY = "pa_today"
PA_GAP = "pa_gap"
PA_GAP_NOW = "pa_gap_now"
ESCALATOR = "escalator"
LOWERER = "lowerer"
GATE = "gate"

NUMERIC_CONTEXTS: tuple[str, ...] = (
    "temperature_words",
    "infant_words",
    "fever_risk_words",
    "glucose_words",
    "pressure_words",
    "pain_words",
    "heart_rate_words",
    "oxygen_words",
    "pressure_symptom_words",
    "overdose_verbs",
    "pill_words",
    "respiratory_rate_words",
    "ambient_words",
    "hypoglycemia_mind_words",
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A ConText trigger group: its category, which way it reaches, and how far."""

    category: str
    direction: str  # forward | backward | both
    window: int
    stop_at_comma: bool
    through_terminators: bool = False
    #: Also applies when the trigger sits inside the mention ("lips a little puffy").
    inside: bool = False


@dataclass(frozen=True, slots=True)
class CompiledRules:
    normaliser: Normaliser
    matcher: PhraseMatcher[Payload]
    triggers: tuple[Trigger, ...]
    critical_classes: tuple[str, ...]
    critical_gated: frozenset[int]  # indexes of the `critical_when` classes
    numeric: Mapping[str, float]
    labs: Mapping[str, Any]
    prior_auth: Mapping[str, Any]
    channel_priors: Mapping[str, Mapping[str, float]]
    #: Single-word medicine names (the lexicon's drug names and critical medicines): a number right after
    #: one is its dose ("metformina de 1000", "lantus 40"), never a reading of sugar or pressure.
    drug_words: frozenset[str] = frozenset()


def _phrases(kind: str, index: int, phrases: Iterable[str]) -> Iterable[tuple[Payload, str]]:
    for phrase in phrases:
        for expanded in expand_phrase(phrase):
            yield (kind, index), expanded


def _literal_words(elements: tuple[Element, ...]) -> Iterable[str]:
    for element in elements:
        if isinstance(element, WordSpec):
            yield from element.words


#: An everyday medicine heard as words is joined only when they spell it exactly, and only a name this long.
_JOIN_EXACT_MIN = 7


def compile_rules(rules: ClassifierRules) -> CompiledRules:
    lex = rules.lexicon
    noise = lex["noise"]
    context = lex["context"]
    meds = lex["medications"]
    numeric = lex["numeric"]
    pa = lex["prior_auth"]

    raw: list[tuple[Payload, str]] = []
    for i, danger_rule in enumerate(rules.danger):
        raw.extend(_phrases(DANGER, i, danger_rule.phrases))
    for i, danger_rule in enumerate(rules.danger):
        raw.extend(_phrases(ESCALATOR, i, danger_rule.emergent_with))
        raw.extend(_phrases(GATE, i, danger_rule.only_with))
        raw.extend(_phrases(LOWERER, i, danger_rule.urgent_with))
    for i, keyword_rule in enumerate(rules.keywords):
        raw.extend(_phrases(KEYWORD, i, keyword_rule.phrases))
    triggers: list[Trigger] = []
    for i, group in enumerate(context["triggers"]):
        triggers.append(
            Trigger(
                group["category"],
                group["direction"],
                int(group["window"]),
                bool(group.get("stop_at_comma")),
                bool(group.get("through_terminators")),
                bool(group.get("inside")),
            )
        )
        raw.extend(_phrases(TRIGGER, i, group["phrases"]))
    raw.extend(_phrases(PSEUDO, 0, context.get("pseudo", ())))
    raw.extend(_phrases(NOT_A_SIGN, 0, context.get("not_a_sign", ())))
    raw.extend(_phrases(TERMINATOR, 0, context["terminators"].get("all", ())))
    raw.extend(_phrases(TERMINATOR_NEGATED, 0, context["terminators"].get("negated", ())))
    when = meds.get("critical_when", {})
    critical_classes = (*meds["critical"], *when)
    for i, name in enumerate(critical_classes):
        if name in when:
            raw.extend(_phrases(CRITICAL_MED, i, when[name]["names"]))
            raw.extend(_phrases(CRITICAL_NEED, i, when[name]["with"]))
        else:
            raw.extend(_phrases(CRITICAL_MED, i, meds["critical"][name]))
    raw.extend(_phrases(OUT_NOW, OUT_NEAR, meds["out_now"]))
    raw.extend(_phrases(OUT_NOW, OUT_BEFORE_NAME, meds.get("out_before", ())))
    raw.extend(_phrases(OUT_NOW, OUT_WITHDRAWAL, meds.get("withdrawal", ())))
    raw.extend(_phrases(OUT_LATER, 0, meds["out_later"]))
    for i, name in enumerate(NUMERIC_CONTEXTS):
        raw.extend(_phrases(NUMERIC_CONTEXT, i, numeric[name]))
    raw.extend(_phrases(LAB_CRITICAL_TEXT, 0, lex["labs"]["critical_text"]))
    raw.extend(_phrases(PA_TODAY, 0, pa["today_words"]))
    raw.extend(_phrases(PA_GAP, 0, pa["gap_words"]))
    raw.extend(_phrases(PA_GAP_NOW, 0, pa.get("gap_now", ())))

    compiled = [(payload, compile_phrase(text, fold)) for payload, text in raw]
    known = {fold(w) for w in noise.get("known_words", ())}
    for _, elements in compiled:
        known.update(_literal_words(elements))
    word_map = {fold(k): tuple(fold(w) for w in v) for k, v in noise.get("words", {}).items()}
    known.update(word_map)
    phrase_map = {
        tuple(fold(w) for w in str(k).split()): tuple(fold(w) for w in v) for k, v in noise.get("phrases", {}).items()
    }
    # the critical medicines' one-word names: a transcript that breaks one into syllables still names it, and
    # a long one misspelled by a letter or two ("Lamotrigene", "levetiracitam") is still that medicine
    spoken = {fold(n) for names in meds["critical"].values() for n in names if " " not in str(n) and len(str(n)) >= 7}
    targets = tuple(sorted({fold(t) for t in noise.get("fuzzy_targets", ())} | spoken))
    known.update(targets)
    exact = frozenset(
        fold(n) for n in meds.get("drug_names", ()) if str(n).isalpha() and len(str(n)) >= _JOIN_EXACT_MIN
    )
    normaliser = Normaliser(NoiseMap(word_map, phrase_map, targets, frozenset(known), frozenset(spoken), exact))
    return CompiledRules(
        normaliser=normaliser,
        matcher=PhraseMatcher(
            compiled,
            gap_stops=frozenset(fold(w) for w in context.get("gap_stops", ())),
            stops_gaps=lambda payload: payload[0] in (DANGER, ESCALATOR, GATE),
        ),
        triggers=tuple(triggers),
        critical_classes=critical_classes,
        critical_gated=frozenset(i for i, name in enumerate(critical_classes) if name in when),
        numeric={k: float(v) for k, v in numeric.items() if isinstance(v, int | float)},
        labs=lex["labs"],
        prior_auth=pa,
        channel_priors=lex.get("channel_priors", {}),
        drug_words=frozenset(
            fold(name)
            for name in [
                *(p for r in rules.keywords if r.id == "kw.refill.medicine_named" for p in r.phrases),
                *(n for names in meds["critical"].values() for n in names),
            ]
            if str(name).isalpha()
        ),
    )
