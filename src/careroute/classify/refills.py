"""Out of a critical medicine: a refill that cannot wait for the routine queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .compiled import (
    CRITICAL_MED,
    CRITICAL_NEED,
    OUT_BEFORE_NAME,
    OUT_LATER,
    OUT_NEAR,
    OUT_NOW,
    OUT_WITHDRAWAL,
    Payload,
)
from .context import ContextIndex
from .normalise import ReadText
from .phrases import Hit

_BEFORE = 2  # "has no insulin", "has no more of his lantus": the words stand right before the name
_REACH = 30  # words between "ran out" and the medicine's name ("my suboxone ... two sentences on ... my last strip")
# One critical medicine named, of one class: a long story between its name and "I took the last strip" still
# tells of it (a caller names the medicine first and what happened last).
_REACH_ONE_MEDICINE = 90
# Everyday words that say "out" of many things ("when I'm out all day"): near the name only.
_SHORT_REACH = frozenset(
    {"am out", "i am out", "out of", "all out", "without my", "without his", "without her", "he is out", "she is out"}
)
# "Patient reports she is OUT of medication": a generic word stands for the medicine the message names,
# however far up (a pharmacy's form puts the drug line first and the patient's report last).
_GENERIC = frozenset({"medication", "medications", "medicine", "medicines", "meds", "med", "rx", "prescription"})
_GENERIC_AFTER = 3  # "out of her medication", "out of the medicine"


_OUT_OF_OBJECTS = _GENERIC | {"pills", "pill", "tablets", "tabs", "doses", "dose", "pens", "pen", "strips", "films"}
_OUT_OF_OBJECTS |= {"vials", "patches", "supply", "them", "insulin", "inhaler", "injections", "shots"}
_OUT_OF_LOOK = 3  # "out of my seizure medicine", "out of her lantus"
_TOPICAL = frozenset({"cream", "crema", "ointment", "pomada", "lotion", "locion", "topical", "gel", "unguento"})


def _names_a_medicine(read: ReadText, meds: Sequence[Hit[Payload]], at: int) -> bool:
    """Whether the words right after "out of" name a medicine (or stand for one)."""
    if any(at <= m.start < at + _OUT_OF_LOOK for m in meds):
        return True
    return any(w in _OUT_OF_OBJECTS for w in read.words[at : at + _OUT_OF_LOOK])


def critical_medicines(
    read: ReadText, hits: Sequence[Hit[Payload]], context: ContextIndex, gated: frozenset[int] = frozenset()
) -> list[Hit[Payload]]:
    """The mentions of critical medicines that count: not a cream of the same name, and a
    `critical_when` medicine (``gated`` classes) only beside its need said as happening now."""
    meds = [h for h in hits if h.payload[0] == CRITICAL_MED]
    if gated and any(h.payload[1] in gated for h in meds):
        needed = {
            h.payload[1] for h in hits if h.payload[0] == CRITICAL_NEED and context.reading(h.start, h.end).counted
        }
        meds = [h for h in meds if h.payload[1] not in gated or h.payload[1] in needed]
    # "la crema para el eczema, la hidrocortisona": a cream of the same name is no critical medicine
    return [h for h in meds if not any(w in _TOPICAL for w in read.words[max(0, h.start - 6) : h.end + 2])]


@dataclass(frozen=True, slots=True)
class CriticalOut:
    medicine_class: str
    medicine: str
    phrase: str
    start: int  # word indexes of the "out" phrase
    end: int


def out_of_critical_medicine(
    read: ReadText,
    hits: Sequence[Hit[Payload]],
    context: ContextIndex,
    classes: Sequence[str],
    withdrawal: bool = True,
    gated: frozenset[int] = frozenset(),
) -> CriticalOut | None:
    """The critical medicine the patient says they are out of, else None. With ``withdrawal``, a
    patient said to be in withdrawal counts too when no medicine is named as out (opioid treatment, a
    benzodiazepine, alcohol: the refill cannot wait); the caller turns it off where no refill was asked.
    ``gated`` names the classes that are critical only beside their need (`critical_when`)."""
    meds = critical_medicines(read, hits, context, gated)
    reach = _REACH_ONE_MEDICINE if len({h.payload[1] for h in meds}) == 1 else _REACH
    later = [(h.start, h.end) for h in hits if h.payload[0] == OUT_LATER]
    in_withdrawal: CriticalOut | None = None
    for hit in hits:
        if hit.payload[0] != OUT_NOW:
            continue
        if any(a < hit.end and hit.start < b for a, b in later):
            continue  # "almost out of", "before I run out": not out yet
        if context.reading(hit.start, hit.end).category in ("negated", "hypothetical", "historical", "resolved"):
            continue
        how = hit.payload[1]
        if read.words[hit.start : hit.end] == ("out", "of") and not _names_a_medicine(read, meds, hit.end):
            continue  # "greens out of the cold frame": out of something else
        if how == OUT_WITHDRAWAL:
            if withdrawal and in_withdrawal is None:
                in_withdrawal = CriticalOut("withdrawal", "", read.quote(hit.start, hit.end), hit.start, hit.end)
            continue
        generic = how == OUT_NEAR and any(w in _GENERIC for w in read.words[hit.end : hit.end + _GENERIC_AFTER])
        for med in meds:
            if how == OUT_BEFORE_NAME:
                near = 0 <= med.start - hit.end <= _BEFORE
            else:
                far = reach if " ".join(read.words[hit.start : hit.end]) not in _SHORT_REACH else _REACH
                near = generic or abs(med.start - hit.start) <= far
            if near:
                return CriticalOut(
                    classes[med.payload[1]],
                    read.quote(med.start, med.end),
                    read.quote(hit.start, hit.end),
                    hit.start,
                    hit.end,
                )
    return in_withdrawal
