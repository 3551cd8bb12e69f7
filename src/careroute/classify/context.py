"""ConText (Harkema, Dowling, Thornblade, Chapman 2009), the NegEx family, written for messages.

Given where trigger terms, pseudo-triggers and terminators were found, ``ContextIndex.reading``
says how one danger-sign mention is to be read: present, negated, historical (long ago), resolved
(over now), hypothetical, about someone or something else, and whether it came with doubt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .compiled import (
    NOT_A_SIGN,
    PSEUDO,
    TERMINATOR,
    TERMINATOR_NEGATED,
    TRIGGER,
    CompiledRules,
    Payload,
    Trigger,
)
from .normalise import ReadText
from .phrases import Hit

#: Readings that mean the sign is not (or not now, or not the patient's) present.
NOT_PRESENT = ("negated", "other_person", "historical", "resolved", "hypothetical")
#: A four-digit year right next to a sign dates it ("stroke 2021", "2019 heart attack").
_YEAR_BEFORE, _YEAR_AFTER = 2, 2
_FIRST_YEAR = 1900
#: A date written with slashes next to a sign dates it too ("prolonged seizure 01/11", "repeat after 01/12
#: critical value"), when it is surely a date: it has a year, a leading zero, or a word that introduces a
#: date before it. "pain 10/10" and "8/10" are scores, "150/90" a pressure.
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
_DATE_WORDS = frozenset({"on", "after", "dated", "from", "of", "el", "le", "du"})
#: A year said in a date of birth ("birthday june eleventh twenty twenty four").
_BIRTH_WORDS = frozenset(
    {"birthday", "born", "dob", "birth", "birthdate", "nacio", "naci", "nacimiento", "cumpleanos", "ne"}
)
#: Words that make a sign an absence when the sign's own phrase begins with them ("not breathing").
_NEGATORS = frozenset({"no", "not", "never", "without", "cannot", "nothing", "none", "nobody", "sin", "nunca"})
#: "since 01/12" says it is still going on.
_ONGOING_FROM = frozenset({"since", "desde", "depuis"})


@dataclass(frozen=True, slots=True)
class Reading:
    """How one mention reads; ``category`` None means plainly present."""

    category: str | None = None
    uncertain: bool = False
    trigger: str | None = None  # the words that decided, quoted from the message

    @property
    def counted(self) -> bool:
        return self.category is None


@dataclass(frozen=True, slots=True)
class _Found:
    group: int
    start: int
    end: int


class ContextIndex:
    """The triggers of one message, ready to be asked about any span of it."""

    def __init__(
        self,
        read: ReadText,
        hits: Sequence[Hit[Payload]],
        compiled: CompiledRules,
        year: int | date | None = None,
    ) -> None:
        """``year`` is the year the item was received in, or better the day: a past year or a past day
        written next to a sign dates it."""
        self._read = read
        today = year if isinstance(year, date) else None
        this_year = today.year if today is not None else year
        # Years before the one the item was received in, by word index: "stroke 2021" is history.
        self._past_years: list[int] = []
        if isinstance(this_year, int):
            for i, word in enumerate(read.words):
                past_year = len(word) == 4 and word.isdigit() and _FIRST_YEAR <= int(word) < this_year
                if past_year and any(w in _BIRTH_WORDS for w in read.words[max(0, i - 5) : i]):
                    continue  # "birthday june 11 2024, he got into ...": a birth date dates no sign
                if past_year or (today is not None and "/" in word and _past_day(read.words, i, today)):
                    self._past_years.append(i)
        self._triggers = compiled.triggers
        found: list[_Found] = []
        pseudo: list[tuple[int, int]] = []
        self._not_a_sign: list[tuple[int, int]] = []
        self._stops: list[int] = []
        self._negation_stops: list[int] = []
        for hit in hits:
            kind, index = hit.payload
            if kind == TRIGGER:
                found.append(_Found(index, hit.start, hit.end))
            elif kind == PSEUDO:
                pseudo.append((hit.start, hit.end))
            elif kind == NOT_A_SIGN:
                self._not_a_sign.append((hit.start, hit.end))
            elif kind == TERMINATOR:
                self._stops.append(hit.start)
            elif kind == TERMINATOR_NEGATED:
                self._negation_stops.append(hit.start)
        # A pseudo-trigger ("not only", "no change") cancels any shorter trigger inside it.
        found = [
            f for f in found if not any(a <= f.start and f.end <= b and (f.end - f.start) < (b - a) for a, b in pseudo)
        ]
        # Overlapping triggers: the longest wins ("not sure if" is doubt, not a negation). The
        # same words in two groups ("last month" reaching back and forward) are both kept.
        found.sort(key=lambda f: (-(f.end - f.start), f.start))
        kept: list[_Found] = []
        for f in found:
            if all(f.end <= k.start or f.start >= k.end or (f.start, f.end) == (k.start, k.end) for k in kept):
                kept.append(f)
        self._found = kept
        self.may_negate = any(compiled.triggers[f.group].category == "negated" for f in kept)

    def reading(self, start: int, end: int, measured: bool = False) -> Reading:
        """How the mention at words[start:end] is to be read. A ``measured`` mention is a number said
        with what it measures ("temp 103.5"): a statement of fact, which a list negation in another
        clause ("no appetite, temp 103.5") does not reach."""
        read = self._read
        for a, b in self._not_a_sign:
            if a < end and start < b:
                return Reading("other_person", trigger=read.quote(a, b))
        sentence = read.sentence[start]
        # A sign said as an absence ("has not peed", "will not wake up") carries its own negation;
        # a negation before it belongs to another clause ("won't eat and hasn't peed"), and a
        # double negative is not how a message denies a sign.
        absent_form = any(
            f.start >= start and f.end <= end and self._triggers[f.group].category == "negated" for f in self._found
        )
        nearest: dict[str, tuple[int, _Found]] = {}
        for f in self._found:
            trigger = self._triggers[f.group]
            if (
                f.start < end
                and start < f.end
                and not trigger.inside
                and not (trigger.category == "negated" and self._leads_into(f, start))
            ):
                continue  # a trigger inside the mention is part of it ("no puedo respirar")
            if absent_form and trigger.category == "negated":
                continue
            if measured and trigger.category == "negated" and read.clause[f.start] != read.clause[start]:
                continue
            if read.sentence[f.start] != sentence:
                continue
            distance = 0 if f.start < end and start < f.end else self._reach(trigger, f, start, end)
            if distance is None:
                continue
            best = nearest.get(trigger.category)
            if best is None or distance < best[0]:
                nearest[trigger.category] = (distance, f)

        def quoted(category: str) -> str:
            f = nearest[category][1]
            return read.quote(f.start, f.end)

        uncertain = "uncertain" in nearest
        doubt = quoted("uncertain") if uncertain else None
        for category in ("negated", "other_person"):
            if category in nearest:
                return Reading(category, uncertain, quoted(category))
        for category in ("historical", "resolved", "hypothetical"):
            if category not in nearest:
                continue
            if "recurrent" in nearest:
                continue
            if "current" in nearest and nearest["current"][0] <= nearest[category][0]:
                continue
            return Reading(category, uncertain, quoted(category))
        if "current" not in nearest:
            for i in self._past_years:
                if read.sentence[i] == sentence and start - _YEAR_BEFORE <= i < end + _YEAR_AFTER:
                    return Reading("historical", uncertain, read.quote(i, i + 1))
        return Reading(None, uncertain, doubt)

    def _leads_into(self, f: _Found, start: int) -> bool:
        """A negation that starts before a mention and shares its first words ("no new" before "new
        confusion") reads it as a negation next to it would; unless what it shares is the mention's
        own negation ("is not" before "not breathing": the sign is said as an absence). Only negations:
        "mom passed" (away) sharing "passed" with "passed out" says nothing of the faint."""
        if f.start >= start:
            return False
        words = self._read.words
        return not any(words[k] in _NEGATORS for k in range(start, min(f.end, len(words))))

    def _reach(self, trigger: Trigger, f: _Found, start: int, end: int) -> int | None:
        """Words between trigger and mention if the trigger reaches it, else None."""
        read = self._read
        if f.end <= start and trigger.direction in ("forward", "both"):
            gap_from, gap_to = f.end, start
            if trigger.stop_at_comma and read.clause[f.end - 1] != read.clause[start]:
                return None
        elif f.start >= end and trigger.direction in ("backward", "both"):
            gap_from, gap_to = end, f.start
            if trigger.stop_at_comma and read.clause[end - 1] != read.clause[f.start]:
                return None
        else:
            return None
        distance = gap_to - gap_from
        if distance > trigger.window:
            return None
        if not trigger.through_terminators and any(gap_from <= s < gap_to for s in self._stops):
            return None
        if trigger.category == "negated" and any(gap_from <= s < gap_to for s in self._negation_stops):
            return None
        return distance


def _past_day(words: Sequence[str], i: int, today: date) -> bool:
    """True when words[i] is surely a date ("01/11", "1/5/2027", "on 1/11") before ``today``."""
    m = _SLASH_DATE.fullmatch(words[i])
    if m is None or (i and words[i - 1] in _ONGOING_FROM):
        return False
    month, day, year_text = int(m.group(1)), int(m.group(2)), m.group(3)
    sure = year_text is not None or m.group(1).startswith("0") or m.group(2).startswith("0")
    if not sure and not (i and words[i - 1] in _DATE_WORDS):
        return False
    year = today.year if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
    try:
        when = date(year, month, day)
    except ValueError:
        return False
    if year_text is None and when > today:
        when = when.replace(year=year - 1) if not (month == 2 and day == 29) else when
    return when < today
