"""Read a message the way a triage nurse does: past typos, speech-to-text noise, numbers said aloud, accents.

The result keeps, for every normalised word, the character span it came from in the original
text, so evidence shown to staff points at what the patient actually wrote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from rapidfuzz.distance import OSA

from careroute.medicine_names import sound_skeleton

# A number (with decimals, times, dates, blood pressures: 100.4, 9:40, 2/16, 198/118), a word
# (with inner apostrophes: can't, o'clock), or a sentence end. Hyphens split words on purpose:
# "short-of-breath" and "short of breath" must read the same.
#: Abbreviations written with a full stop before a name: the stop ends no sentence.
_TITLES = frozenset({"dr", "st", "mr", "mrs", "ms", "mt", "ft", "sr", "jr", "drs", "prof", "rev", "sgt", "capt"})
_TOKEN = re.compile(
    r"(?P<num>\d+(?:[.,:/]\d+)*)"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
    r"|(?P<stop>[.!?;]+(?=\s|$)|\n)"
    r"|(?P<comma>[,:]|\s[-–—]+\s)"
)

_CONTRACTIONS: dict[str, tuple[str, ...]] = {
    "can't": ("cannot",),
    "won't": ("will", "not"),
    "ain't": ("is", "not"),
    "shan't": ("shall", "not"),
    "i'm": ("i", "am"),
    "i've": ("i", "have"),
    "i'll": ("i", "will"),
    "i'd": ("i", "would"),
    "it's": ("it", "is"),
    "he's": ("he", "is"),
    "she's": ("she", "is"),
    "that's": ("that", "is"),
    "what's": ("what", "is"),
    "there's": ("there", "is"),
    "you're": ("you", "are"),
    "we're": ("we", "are"),
    "they're": ("they", "are"),
    "let's": ("let", "us"),
}

_EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_EN_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
# "in the four eighties" is a range of readings said aloud (480s): a plural ten is read as the ten.
_EN_TENS.update({f"{word[:-1]}ies": value for word, value in _EN_TENS.items() if word.endswith("y")})
_ES_UNITS = {
    "cero": 0,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
}
_ES_TEENS = {
    # "once" (11) is left out on purpose: in English it is "one time".
    "diez": 10,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiuno": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiseis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
}
_ES_TENS = {
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
}
# French, as Acadian and Québécois callers say temperatures and sugars ("trente-huit virgule
# quatre"). "sept" (also September), "seize" (an English verb) and "un"/"une" (articles) are read
# only inside a run that another number word starts ("dix-sept", "soixante-seize", "vingt et un").
_FR_UNITS = {"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "huit": 8, "neuf": 9}
_FR_TEENS = {"dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15}
_FR_TENS = {"vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60}
_FR_INSIDE = {"sept": 7, "seize": 16, "un": 1, "une": 1}
_UNITS = {**_EN_UNITS, **_ES_UNITS, **_FR_UNITS}
_TEENS = {**_EN_TEENS, **_ES_TEENS, **_FR_TEENS}
_TENS = {**_EN_TENS, **_ES_TENS, **_FR_TENS}
# "in the four hundreds" is a range of sugars: read it as 400.
_HUNDREDS = {"hundred": 100, "hundreds": 100, "cien": 100, "ciento": 100}
_THOUSANDS = {"thousand": 1000, "thousands": 1000, "mil": 1000}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TEENS) | frozenset(_TENS) | frozenset(_HUNDREDS) | frozenset(_THOUSANDS)
#: Words that are numbers only next to other number words ("oh" in "one oh three").
_ZERO_INSIDE = frozenset({"oh", "o"})
_POINT = frozenset({"point", "punto", "virgule"})
_JOINERS = frozenset({"and", "y", "et"})


def fold(text: str) -> str:
    """Lower case without accents: "Presión" and "presion" are one word to the lexicon."""
    lowered = text.lower().replace("’", "'")
    if lowered.isascii():
        return lowered
    # Vietnamese "đ" has no decomposition to strip: it is a "d" with a bar, read as "d".
    lowered = lowered.replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def number_value(word: str) -> float | None:
    """The value of a normalised word if it is a number ("103", "100.4", "one")."""
    if word in _UNITS:
        return float(_UNITS[word])
    if word in _TEENS:
        return float(_TEENS[word])
    if word in _TENS:
        return float(_TENS[word])
    if word[:1].isdigit():
        try:
            return float(word.replace(",", ""))
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class NoiseMap:
    """What to undo before matching: misspellings, speech-to-text slips, a fuzzy net for danger words."""

    words: Mapping[str, tuple[str, ...]]
    phrases: Mapping[tuple[str, ...], tuple[str, ...]]
    fuzzy_targets: tuple[str, ...]
    known_words: frozenset[str]
    #: long medicine names a transcript may break into syllables ("tack row limus"), joined within two edits
    spoken_names: frozenset[str] = frozenset()
    #: everyday medicine names, joined only when the heard words spell one exactly ("lo sartan")
    exact_names: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReadText:
    """A message as the classifier reads it: normalised words, their spans, sentence and clause numbers."""

    original: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    sentence: tuple[int, ...]
    clause: tuple[int, ...]  # also counts commas: some ConText triggers stop at one

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Character offsets in the original text of words[start:end]."""
        return self.spans[start][0], self.spans[end - 1][1]

    def quote(self, start: int, end: int) -> str:
        a, b = self.span(start, end)
        return self.original[a:b]

    def joined(self) -> str:
        return " ".join(self.words)


class Normaliser:
    """Compiled once per rules object; read() is called once per message."""

    def __init__(self, noise: NoiseMap) -> None:
        self._noise = noise
        self._phrase_first = {src[0] for src in noise.phrases}
        self._max_phrase = max((len(src) for src in noise.phrases), default=0)
        self._fuzzy_cache: dict[str, str] = {}
        self._forms_cache: dict[str, tuple[str, ...]] = {}  # raw token -> its normalised words
        self._targets_by_letter: dict[str, tuple[str, ...]] = {}
        for target in noise.fuzzy_targets:
            self._targets_by_letter.setdefault(target[0], ())
            self._targets_by_letter[target[0]] += (target,)
        # Speech-to-text breaks a long name into words it knows ("pro graf", "tack row limus"): a run
        # of two or three words that spells a target when joined is read as the target.
        self._join_targets = (
            frozenset(t for t in noise.fuzzy_targets if len(t) >= _JOIN_MIN) | noise.spoken_names | noise.exact_names
        )
        self._join_starts = frozenset(t[:2] for t in self._join_targets)
        # a doubled letter is not heard: "kep ra" is Keppra
        self._join_undoubled = {_undoubled(t): t for t in self._join_targets if len(t) >= 5}
        self._spoken_by_letter: dict[str, tuple[str, ...]] = {}
        for name in sorted(noise.spoken_names):
            if len(name) >= 7:
                self._spoken_by_letter[name[0]] = (*self._spoken_by_letter.get(name[0], ()), name)

    def read(self, text: str) -> ReadText:
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        sentence: list[int] = []
        clause: list[int] = []
        sid = cid = 0
        forms_of = self._forms_cache
        last_raw = ""
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "stop":
                if match.group() == "." and last_raw.lower() in _TITLES:
                    continue  # "St. Brigid", "Dr. Lee": a title's full stop ends no sentence
                if words and sentence[-1] == sid:
                    sid += 1
                    cid += 1
                continue
            if kind == "comma":
                if words and clause[-1] == cid:
                    cid += 1
                continue
            span = match.span()
            raw = match.group()
            last_raw = raw
            if kind == "num":
                words.append(raw.replace(",", "") if _is_thousands(raw) else raw)
                spans.append(span)
                sentence.append(sid)
                clause.append(cid)
                continue
            forms = forms_of.get(raw)
            if forms is None:
                forms = self._word_forms(fold(raw))
                if len(forms_of) < 200_000:
                    forms_of[raw] = forms
            for word in forms:
                words.append(word)
                spans.append(span)
                sentence.append(sid)
                clause.append(cid)
        present = set(words)
        if not self._phrase_first.isdisjoint(present):
            found = partial(self._phrase_at, words, sentence)
            words, spans, sentence, clause = _replace_runs(words, spans, sentence, clause, found)
        if any(w[:2] in self._join_starts for w in present):
            found = partial(self._joined_at, words, clause)
            words, spans, sentence, clause = _replace_runs(words, spans, sentence, clause, found)
        if not _NUMBER_WORDS.isdisjoint(present):
            words, spans, sentence, clause = _numbers(words, spans, sentence, clause)
        return ReadText(text, tuple(words), tuple(spans), tuple(sentence), tuple(clause))

    def _joined(self, pieces: Sequence[str]) -> str | None:
        """The target a run of heard words spells when joined: exactly, or a long medicine name broken
        into two or three syllables ("tack row limus", "sub oxen") within two edits; never through a
        word like "to" or "the" ("over to use" is no overdose)."""
        if not all(p.isalpha() and p not in _GLUE for p in pieces):
            return None
        cat = "".join(pieces)
        if cat in self._join_targets:
            return cat
        if len(cat) >= 5 and (undoubled := self._join_undoubled.get(_undoubled(cat))):
            return undoubled
        # Two heard words are joined only when each is a syllable of some length: "de parte" is Spanish, not
        # Depakote; "sub oxen" is Suboxone.
        if (len(pieces) >= 3 or (len(pieces) == 2 and min(map(len, pieces)) >= 3)) and len(cat) >= 7:
            for name in self._spoken_by_letter.get(cat[0], ()):
                if abs(len(name) - len(cat)) <= 2 and OSA.distance(cat, name, score_cutoff=2) <= 2:
                    return name
            # Heard by sound, not spelling: "pro graph" (Prograf) keeps the name's consonants in order;
            # "tack row limits", "tack row limb us" (tacrolimus), three or four pieces, one more or less.
            heard, slack = sound_skeleton(cat), (0 if len(pieces) == 2 else 1)
            for name in self._spoken_by_letter.get(cat[0], ()):
                said = sound_skeleton(name)
                if (
                    len(said) >= 5
                    and OSA.distance(heard, said, score_cutoff=slack) <= slack
                    and OSA.distance(cat, name, score_cutoff=4) <= 4
                ):
                    return name
        return None

    def _joined_at(self, words: Sequence[str], clause: Sequence[int], i: int) -> tuple[tuple[str, ...], int] | None:
        """The name a run of two or three heard words from words[i] spells, and where the run ends."""
        if words[i][:2] not in self._join_starts or words[i] in self._join_targets:
            return None
        for size in (4, 3, 2):
            end = i + size
            if end <= len(words) and clause[i] == clause[end - 1] and (hit := self._joined(words[i:end])):
                return (hit,), end
        return None

    def _phrase_at(self, words: Sequence[str], sentence: Sequence[int], i: int) -> tuple[tuple[str, ...], int] | None:
        """The reading of the longest noise phrase starting at words[i] (within a sentence), and its end."""
        if words[i] not in self._phrase_first:
            return None
        for size in range(min(self._max_phrase, len(words) - i), 1, -1):
            repl = self._noise.phrases.get(tuple(words[i : i + size]))
            if repl is not None and sentence[i] == sentence[i + size - 1]:
                return repl, i + size
        return None

    def _word_forms(self, word: str) -> tuple[str, ...]:
        if "'" in word:
            if word in _CONTRACTIONS:
                return _CONTRACTIONS[word]
            if word.endswith("n't"):
                return (word[:-3], "not")
            if word.endswith("'s"):  # possessive or "is": the lexicon never needs the "s"
                word = word[:-2]
            word = word.replace("'", "")
        mapped = self._noise.words.get(word)
        if mapped is not None:
            return mapped
        if len(word) >= 5 and word not in self._noise.known_words:
            return (self._fuzzy(word),)
        return (word,)

    def _fuzzy(self, word: str) -> str:
        """The danger or request word a misspelling most likely meant, or the word unchanged.

        Only words we do not know are corrected, only towards a short list of target words, and
        only by one edit (two for long words), first letter kept: "breathng", "bleding",
        "sezure" are caught; a surname is left alone unless it is one typo from a target.
        """
        hit = self._fuzzy_cache.get(word)
        if hit is not None:
            return hit
        best = word
        limit = 2 if len(word) >= 8 else 1
        best_distance = limit + 1
        for target in self._targets_by_letter.get(word[0], ()):
            if abs(len(target) - len(word)) > limit:
                continue
            distance = OSA.distance(word, target, score_cutoff=limit)
            if distance < best_distance:
                best, best_distance = target, distance
        if len(self._fuzzy_cache) < 100_000:
            self._fuzzy_cache[word] = best
        return best


def _replace_runs(
    words: list[str],
    spans: list[tuple[int, int]],
    sentence: list[int],
    clause: list[int],
    found: Callable[[int], tuple[tuple[str, ...], int] | None],
) -> tuple[list[str], list[tuple[int, int]], list[int], list[int]]:
    """The words with each run ``found(i)`` names (its reading and where it ends) replaced by that reading:
    the noise phrases ("chess pain") and the names broken into syllables ("tack row limus") alike."""
    out_w: list[str] = []
    out_s: list[tuple[int, int]] = []
    out_n: list[int] = []
    out_c: list[int] = []
    i, n = 0, len(words)
    while i < n:
        run = found(i)
        if run is None:
            out_w.append(words[i])
            out_s.append(spans[i])
            out_n.append(sentence[i])
            out_c.append(clause[i])
            i += 1
            continue
        reading, end = run
        span = (spans[i][0], spans[end - 1][1])
        out_w.extend(reading)
        out_s.extend([span] * len(reading))
        out_n.extend([sentence[i]] * len(reading))
        out_c.extend([clause[i]] * len(reading))
        i = end
    return out_w, out_s, out_n, out_c


#: The shortest target a run of split words is joined into ("pro graf"): shorter ones join by chance.
_JOIN_MIN = 6


#: Words no name is broken into: a run through one of them is ordinary speech.
def _undoubled(word: str) -> str:
    return "".join(ch for k, ch in enumerate(word) if k == 0 or word[k - 1] != ch)


_GLUE = frozenset(
    {
        "a", "an", "the", "to", "of", "and", "or", "in", "on", "at", "it", "is", "be", "by", "for", "from", "with",
        "as", "i", "he", "she", "we", "you", "they", "my", "his", "her", "our", "your", "do", "did", "does", "not",
        "no", "so", "up", "out", "off", "over",
    }
)  # fmt: skip


def _is_thousands(raw: str) -> bool:
    """1,200 is twelve hundred; "102, and" never reaches here because the comma needs a digit after it."""
    return bool(re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw))


def _is_number_word(word: str) -> bool:
    return word in _NUMBER_WORDS


def _continues_number(word: str) -> bool:
    return word in _NUMBER_WORDS or word in _FR_INSIDE


def _numbers(
    words: Sequence[str], spans: Sequence[tuple[int, int]], sentence: Sequence[int], clause: Sequence[int]
) -> tuple[list[str], list[tuple[int, int]], list[int], list[int]]:
    """Spoken numbers become digits: "a hundred and three" 103, "one oh three point five" 103.5,
    "four fifty" 450, "treinta y nueve" 39. A lone "one" stays a word ("no one", "the last one")."""
    out_w: list[str] = []
    out_s: list[tuple[int, int]] = []
    out_n: list[int] = []
    out_c: list[int] = []
    i, n = 0, len(words)
    while i < n:
        w = words[i]
        starts_run = _is_number_word(w) or (
            w == "a" and i + 1 < n and (words[i + 1] in _HUNDREDS or words[i + 1] in _THOUSANDS)
        )
        if not starts_run:
            out_w.append(w)
            out_s.append(spans[i])
            out_n.append(sentence[i])
            out_c.append(clause[i])
            i += 1
            continue
        j = i + 1
        while j < n and sentence[j] == sentence[i]:
            nxt = words[j]
            joins_next = (nxt in _JOINERS or nxt in _POINT) and j + 1 < n and _continues_number(words[j + 1])
            if _continues_number(nxt) or nxt in _ZERO_INSIDE or joins_next:
                j += 1
            else:
                break
        run = list(words[i:j])
        while run and (run[-1] in _JOINERS or run[-1] in _POINT):
            run.pop()
            j -= 1
        value = _run_value(run)
        if value is None or (len(run) == 1 and run[0] in ("one", "uno")):
            out_w.append(w)
            out_s.append(spans[i])
            out_n.append(sentence[i])
            out_c.append(clause[i])
            i += 1
            continue
        out_w.append(value)
        out_s.append((spans[i][0], spans[j - 1][1]))
        out_n.append(sentence[i])
        out_c.append(clause[i])
        i = j
    return out_w, out_s, out_n, out_c


def _run_value(run: Sequence[str]) -> str | None:
    if not run:
        return None
    if any(w in _POINT for w in run):
        k = next(idx for idx, w in enumerate(run) if w in _POINT)
        whole = _integer_words(run[:k]) if k else "0"
        frac = "".join(_digit_string(w) or "" for w in run[k + 1 :] if w not in _JOINERS)
        if whole is None or not frac:
            return whole
        return f"{whole}.{frac}"
    return _integer_words(run)


def _digit_string(word: str) -> str | None:
    if word in _ZERO_INSIDE:
        return "0"
    if word.isdigit():
        return word
    for table in (_UNITS, _TEENS, _TENS, _FR_INSIDE):
        if word in table:
            return str(table[word])
    return None


def _french_value(words: Sequence[str], k: int) -> tuple[int, int] | None:
    """A French teen or unit at ``k`` ("dix-sept", "onze", "seize", "deux", "un"), with the words it takes."""
    if k >= len(words):
        return None
    w = words[k]
    if w == "dix" and k + 1 < len(words) and words[k + 1] in ("sept", "huit", "neuf"):
        return 10 + (_FR_INSIDE.get(words[k + 1]) or _FR_UNITS[words[k + 1]]), 2
    if w in _FR_TEENS:
        return _FR_TEENS[w], 1
    if w in _FR_INSIDE:
        return _FR_INSIDE[w], 1
    if w in _FR_UNITS or w == "six":
        return _UNITS[w], 1
    return None


def _french_compounds(words: Sequence[str]) -> list[str]:
    """French builds 17-19 and 70-99 from parts ("dix-huit", "soixante-dix", "quatre-vingt-douze",
    "soixante et onze"): join them into one value first; the chunks below would write "dix huit" 108."""
    out: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        base = None
        if w == "quatre" and k + 1 < len(words) and words[k + 1] in ("vingt", "vingts"):
            base, k = 80, k + 2
        elif w == "soixante" and _french_value(words, k + 1 + (words[k + 1 : k + 2] == ["et"])) is not None:
            base, k = 60, k + 1
        elif w == "dix" and k + 1 < len(words) and words[k + 1] in ("sept", "huit", "neuf"):
            value = _french_value(words, k)
            assert value is not None
            out.append(str(value[0]))
            k += value[1]
            continue
        if base is None:
            out.append(w)
            k += 1
            continue
        at = k + 1 if words[k : k + 1] == ["et"] else k
        extra = _french_value(words, at)
        if extra is not None and (base == 80 or extra[0] >= 10 or at > k or base == 60):
            out.append(str(base + extra[0]))
            k = at + extra[1]
        else:
            out.append(str(base))
    return out


def _integer_words(run: Sequence[str]) -> str | None:
    words = _french_compounds([w for w in run if w != "a"])
    if not words:
        return None
    if any(w in _HUNDREDS or w in _THOUSANDS for w in words):
        total = current = 0
        for w in words:
            if w in _JOINERS:
                continue
            if w in _HUNDREDS:
                current = (current or 1) * 100
            elif w in _THOUSANDS:
                total += (current or 1) * 1000
                current = 0
            else:
                digits = _digit_string(w)
                if digits is None:
                    return None
                current += int(digits)
        return str(total + current)
    # No scale word: people say numbers in chunks ("one oh three", "four fifty", "nineteen fifty
    # seven", a phone number digit by digit), so chunks are written one after the other.
    groups: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        if w in _TENS:
            unit_at = k + 2 if k + 2 < len(words) and words[k + 1] in _JOINERS else k + 1
            unit = _UNITS.get(words[unit_at], 0) if unit_at < len(words) else 0
            unit = unit or (_FR_INSIDE.get(words[unit_at], 0) if unit_at < len(words) else 0)
            if 0 < unit < 10:
                groups.append(str(_TENS[w] + unit))
                k = unit_at + 1
                continue
        if w in _JOINERS:
            k += 1
            continue
        digits = _digit_string(w)
        if digits is None:
            return None
        groups.append(digits)
        k += 1
    return "".join(groups)
