"""Out of a critical medicine: a refill that cannot wait for the routine queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .compiled import CRITICAL_MED, OUT_LATER, OUT_NOW, Payload
from .context import ContextIndex
from .normalise import ReadText
from .phrases import Hit

_BEFORE = 2  # "has no insulin", "has no more of his lantus": the words stand right before the name
_WITHDRAWAL = 2  # payload index of the withdrawal phrases (compiled.py)
_REACH = 30  # words between "ran out" and the medicine's name ("my suboxone ... two sentences on ... my last strip")


@dataclass(frozen=True, slots=True)
class CriticalOut:
    medicine_class: str
    medicine: str
    phrase: str
    start: int  # word indexes of the "out" phrase
    end: int


def out_of_critical_medicine(
    read: ReadText, hits: Sequence[Hit[Payload]], context: ContextIndex, classes: Sequence[str]
) -> CriticalOut | None:
    meds = [h for h in hits if h.payload[0] == CRITICAL_MED]
    for hit in hits:
        # Withdrawal says the patient is already without the medicine, whichever it is (opioid
        # treatment, a benzodiazepine, alcohol): the refill cannot wait, named or not.
        if hit.payload[0] == OUT_NOW and hit.payload[1] == _WITHDRAWAL and context.reading(hit.start, hit.end).counted:
            return CriticalOut("withdrawal", "", read.quote(hit.start, hit.end), hit.start, hit.end)
    if not meds:
        return None
    later = [(h.start, h.end) for h in hits if h.payload[0] == OUT_LATER]
    for hit in hits:
        if hit.payload[0] != OUT_NOW:
            continue
        if any(a < hit.end and hit.start < b for a, b in later):
            continue  # "almost out of", "before I run out": not out yet
        reading = context.reading(hit.start, hit.end)
        if reading.category in ("negated", "hypothetical", "historical", "resolved"):
            continue
        if hit.payload[1] == _WITHDRAWAL:
            continue
        for med in meds:
            near = 0 <= med.start - hit.end <= _BEFORE if hit.payload[1] == 1 else abs(med.start - hit.start) <= _REACH
            if near:
                return CriticalOut(
                    classes[med.payload[1]],
                    read.quote(med.start, med.end),
                    read.quote(hit.start, hit.end),
                    hit.start,
                    hit.end,
                )
    return None
