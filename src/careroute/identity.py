"""Patient identity from partial data: who an inbound item is about (pure).

A portal message carries an MRN; a voicemail carries only the caller's phone and a
name and date of birth spoken into a transcript; a fax carries them in its text. This
module reads what there is into an `Identity`, gives the keys under which the store
indexes it (`identity_keys`), and compares two identities (`match_patient`).

Everything read from free text is marked as such: transcripts mis-spell names and
misplace digits, so text evidence can support a match but never, alone, contradict one.
Identities hold PHI: their repr names which fields are present, never their values.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from careroute.model import InboundItem

# --------------------------------------------------------------------------- text folding


def fold(text: str) -> str:
    """Lower case without accents, curly quotes made straight: 'José' -> 'jose'."""
    if text.isascii():  # most text: nothing to decompose
        return text.lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _words(text: str) -> frozenset[str]:
    """A word list written as one string, for readable tables."""
    return frozenset(text.split())


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.;:!?\n]|,")

# --------------------------------------------------------------------------- regex prefilters
#
# Python's regex engine has no literal prefilter: a pattern such as r"\bfmla\b|family medical leave" is
# tried at every position of the text, which made a handful of keyword tables cost most of intake's
# duplicate detection. `str.__contains__` is an order of magnitude faster, so each pattern gets a
# necessary condition read from its own syntax tree: groups of literal strings of which any match must
# contain one string from every group. A text that fails the condition cannot match, and the pattern is
# not run; a text that passes runs the pattern as before, so results never change. Being derived from the
# pattern, the condition cannot go stale when a pattern is edited. Anything the reader does not
# understand yields no condition (the pattern always runs): the prefilter may only ever be too weak.

_MAX_STRINGS = 64  # alternatives kept per literal set before giving up on exactness
#: Stands for a word boundary (`\b`) inside the literal strings while a pattern is read: a literal with
#: a boundary on both sides ("\bed\b") must be a whole word of the text, not merely a part of one.
_EDGE = "\x00"
_WORD_CHARS = re.compile(r"\w+")  # what a literal made of word characters only looks like

#: (exact, needs): every string the node can match when that is a small finite set (else None),
#: and the literal groups every match of the node must contain one string of.
_Info = tuple[frozenset[str] | None, list[frozenset[str]]]


class LiteralGroup(NamedTuple):
    """Strings of which a text must hold one: anywhere, or as a whole word (a run of `\\w` characters)."""

    anywhere: frozenset[str]
    words: frozenset[str]
    #: the shortest of `words`, looked for as plain strings first ("monday" stands for "mondays" too):
    #: only when one is there are the words' edges looked at
    hints: frozenset[str]


def _usable(strings: frozenset[str] | None) -> bool:
    # the empty string (or a lone boundary) is in every text: no condition
    return strings is not None and bool(strings) and all(s.strip(_EDGE) for s in strings)


def _shortest(group: frozenset[str]) -> int:
    return min(len(s.replace(_EDGE, "")) for s in group)


def _best(info: _Info) -> frozenset[str] | None:
    """The most telling single group of a node: longest shortest string, then fewest strings."""
    exact, needs = info
    groups = [*needs, exact] if exact is not None and _usable(exact) else needs
    if not groups:
        return None
    return max(groups, key=lambda g: (_shortest(g), -len(g)))


def _seq_info(items: Any) -> _Info:
    needs: list[frozenset[str]] = []
    run: frozenset[str] = frozenset({""})  # product of the consecutive exact nodes just read
    exact_all = True
    for op, av in items:
        exact, more = _node_info(op, av)
        needs.extend(more)
        if exact is None or len(run) * len(exact) > _MAX_STRINGS:
            exact_all = False
            if _usable(run):
                needs.append(run)
            run = exact if exact is not None else frozenset({""})
        else:
            run = frozenset(a + b for a in run for b in exact)
    if exact_all:
        return run, needs
    if _usable(run):
        needs.append(run)
    return None, needs


def _node_info(op: Any, av: Any) -> _Info:
    name = getattr(op, "name", "")
    if name == "LITERAL":
        return frozenset({chr(av)}), []
    if name == "IN":
        chars: set[str] = set()
        for item_op, item_av in av:
            item = getattr(item_op, "name", "")
            if item == "LITERAL":
                chars.add(chr(item_av))
            elif item == "RANGE" and item_av[1] - item_av[0] < 16:
                chars.update(map(chr, range(item_av[0], item_av[1] + 1)))
            else:  # NEGATE, CATEGORY (\d, \s, \w are Unicode classes), large ranges: no literal
                return None, []
        return (frozenset(chars) or None), []
    if name == "AT":
        return frozenset({_EDGE if getattr(av, "name", "") == "AT_BOUNDARY" else ""}), []  # zero width
    if name == "ASSERT_NOT":
        return frozenset({""}), []  # zero width, and a negative assertion proves nothing
    if name == "ASSERT":  # zero width, but what it looks at is in the text
        exact, needs = _seq_info(av[1])
        return frozenset({""}), needs + ([exact] if exact is not None and _usable(exact) else [])
    if name == "SUBPATTERN":
        _group, add_flags, _del_flags, sub = av
        if add_flags & (re.IGNORECASE | re.ASCII):
            return None, []
        return _seq_info(sub)
    if name == "ATOMIC_GROUP":
        return _seq_info(av)
    if name == "BRANCH":
        infos = [_seq_info(alt) for alt in av[1]]
        exacts = [e for e, _ in infos if e is not None]
        if len(exacts) == len(infos) and len(union := frozenset[str]().union(*exacts)) <= _MAX_STRINGS:
            return union, []  # the enclosing sequence makes the most of an exact set
        bests = [b for i in infos if (b := _best(i)) is not None]
        return None, ([frozenset[str]().union(*bests)] if len(bests) == len(infos) else [])
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        exact, needs = _seq_info(sub)
        if low == 0:
            return (frozenset({""}) | exact if high == 1 and exact is not None else None), []
        needs = needs + ([exact] if exact is not None and _usable(exact) else [])
        return (exact if low == high == 1 else None), needs
    return None, []  # ANY, NOT_LITERAL, CATEGORY, GROUPREF...: anything could be there


def _literal_group(strings: frozenset[str]) -> LiteralGroup:
    """Whole words where a boundary is read on both sides of word characters; elsewhere plain strings."""
    anywhere: set[str] = set()
    words: set[str] = set()
    for s in strings:
        core = s.strip(_EDGE)
        if s.startswith(_EDGE) and s.endswith(_EDGE) and _WORD_CHARS.fullmatch(core):
            words.add(core)
        else:
            anywhere.add(s.replace(_EDGE, ""))
    # A string holding another plain string of the group adds nothing: where it is, the other is.
    anywhere_min = {s for s in anywhere if not any(t != s and t in s for t in anywhere)}
    words = {w for w in words if not any(t in w for t in anywhere_min)}
    hints = {w for w in words if not any(t != w and t in w for t in words)}
    return LiteralGroup(frozenset(anywhere_min), frozenset(words), frozenset(hints))


def has_word(text: str, word: str) -> bool:
    """Whether `word` (word characters only) is one of `re.findall(r"\\w+", text)`, without reading them all.

    An occurrence is a whole word when no word character (`\\w`: alphanumeric or "_") touches it.
    """
    end = len(word)
    i = text.find(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + end] if i + end < len(text) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            return True
        i = text.find(word, i + 1)
    return False


def required_literals(pattern: re.Pattern[str], limit: int = 3) -> tuple[LiteralGroup, ...]:
    """Groups of strings such that every match of `pattern` contains one string of each group.

    Empty when nothing is known (or the pattern ignores case or is ASCII-only): then it must always run.
    """
    if pattern.flags & (re.IGNORECASE | re.ASCII) or not isinstance(pattern.pattern, str):
        return ()
    try:
        parsed = importlib.import_module("re._parser").parse(pattern.pattern, pattern.flags)
        if parsed.state.flags & (re.IGNORECASE | re.ASCII):
            return ()
        exact, needs = _seq_info(parsed)
    except Exception:  # a future parser we do not understand: no prefilter, never a wrong one
        return ()
    groups = {*needs, *([exact] if exact is not None and _usable(exact) else [])}
    ranked = sorted(groups, key=lambda g: (-_shortest(g), len(g), sorted(g)))[:limit]
    # the quickest group to check first
    return tuple(_literal_group(g) for g in sorted(ranked, key=lambda g: (len(g), sorted(g))))


def literals_present(groups: Iterable[LiteralGroup], text: str) -> bool:
    """Whether `text` holds a string of every group (whole words as words)."""
    for anywhere, whole, hints in groups:
        for s in anywhere:
            if s in text:
                break
        else:
            for w in hints:
                if w in text:  # there as a string: is one of the group there as a word?
                    if not any(has_word(text, x) for x in whole):
                        return False
                    break
            else:
                return False
    return True


class Prefiltered:
    """A compiled pattern run only on texts that contain its required literals (see `required_literals`)."""

    __slots__ = ("_needs", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._needs = required_literals(pattern)

    def may_match(self, text: str) -> bool:
        return literals_present(self._needs, text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if literals_present(self._needs, text) else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text) if literals_present(self._needs, text) else iter(())

    def findall(self, text: str) -> list[Any]:
        return self.pattern.findall(text) if literals_present(self._needs, text) else []


# --------------------------------------------------------------------------- number words

_UNITS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9,
    "cero": 0, "uno": 1, "una": 1, "un": 1, "primero": 1, "dos": 2, "tres": 3, "cuatro": 4,
    "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
    # French ("sept" is left out: it is also September)
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "huit": 8, "neuf": 9, "premier": 1,
    # Portuguese ("um" is left out: it is also a speaker's filler)
    "dois": 2, "duas": 2, "quatro": 4, "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
_TEENS = {
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
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "diez": 10,
    "once": 11,
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
    "veintiun": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiseis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
    "dez": 10,
    "doze": 12,
    "treze": 13,
    "catorze": 14,
    "dezesseis": 16,
    "dezasseis": 16,
    "dezessete": 17,
    "dezassete": 17,
    "dezoito": 18,
    "dezenove": 19,
    "dezanove": 19,
}  # fmt: skip  (Spanish 20-29 are one word, so they behave like teens: complete groups)
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    "twentieth": 20, "thirtieth": 30,
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90,
    "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60, "oitenta": 80,
}  # fmt: skip
_HUNDREDS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "trescientos": 300, "cuatrocientos": 400,
    "quinientos": 500, "seiscientos": 600, "setecientos": 700, "ochocientos": 800,
    "novecientos": 900, "novecentos": 900,
}  # fmt: skip
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
    "janeiro": 1, "fevereiro": 2, "marco": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "novembro": 11, "dezembro": 12,
}  # fmt: skip
_DIGIT_WORDS = {
    k: v
    for k, v in _UNITS.items()
    if k
    not in {
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "primero",
        "un",
        "una",
    }
}
_DIGIT_WORDS["o"] = 0
_DIGIT_CHARS = {k: str(v) for k, v in _DIGIT_WORDS.items()}  # spoken_phones appends the characters
# Words a speaker drops between the parts of a date or a phone number.
_NUMBER_FILLERS = frozenset(
    {
        "uh",
        "um",
        "er",
        "eh",
        "ah",
        "is",
        "es",
        "the",
        "of",
        "and",
        "y",
        "el",
        "la",
        ",",
        "de",
        "del",
        "e",  # Portuguese "and": "cinquenta e oito"
        "dash",
        "hyphen",
        "slash",
        "like",
        "its",
        "it's",
        "was",
        "be",
        "on",
    }
)


@dataclass(frozen=True, slots=True)
class _Atom:
    """One spoken number word: kind u(nit) t(een) d(ecade) h(undreds) k(thousand) g(roup) y(ear) m(onth)."""

    kind: str
    value: int


def _atoms(words: Sequence[str]) -> list[_Atom]:
    """Number atoms at the start of `words`, up to the first word that is not a number or a filler."""
    out: list[_Atom] = []
    for w in words:
        if w == "sept" and out and out[-1].kind == "d" and out[-1].value >= 20:
            # "vingt-sept décembre": after a French ten, "sept" is seven, not September
            out.append(_Atom("u", 7))
        elif w == "um" and out and out[-1].kind == "d":
            # "vinte e um": after a Portuguese ten, "um" is one, not a speaker's filler
            out.append(_Atom("u", 1))
        elif w in _UNITS:
            out.append(_Atom("u", _UNITS[w]))
        elif w in _TEENS:
            out.append(_Atom("t", _TEENS[w]))
        elif w in _TENS:
            out.append(_Atom("d", _TENS[w]))
        elif w in _HUNDREDS:
            out.append(_Atom("h", _HUNDREDS[w]))
        elif w in ("thousand", "mil"):
            out.append(_Atom("k", 1000))
        elif w in _MONTHS:
            out.append(_Atom("m", _MONTHS[w]))
        elif w.isdigit() and len(w) == 4:
            out.append(_Atom("y", int(w)))
        elif w.isdigit() and len(w) <= 2:
            out.append(_Atom("g", int(w)))
        elif re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)", w):
            out.append(_Atom("g", int(w[:-2])))
        elif w in _NUMBER_FILLERS:
            continue
        else:
            break
    return out


def _groups(atoms: Sequence[_Atom], i: int) -> Iterator[tuple[int, int]]:
    """Ways to read a number 0..99 starting at atoms[i]: (value, index after it)."""
    if i >= len(atoms):
        return
    a = atoms[i]
    nxt = atoms[i + 1] if i + 1 < len(atoms) else None
    if a.kind == "d":
        if nxt is not None and nxt.kind == "u" and nxt.value > 0:
            yield a.value + nxt.value, i + 2
        yield a.value, i + 1
    elif a.kind in ("t", "g"):
        yield a.value, i + 1
    elif a.kind == "u":
        if a.value == 0 and nxt is not None and nxt.kind == "u":
            yield nxt.value, i + 2  # "oh five"
        elif a.value > 0:
            yield a.value, i + 1


def _years(atoms: Sequence[_Atom], i: int, ref_year: int) -> Iterator[tuple[int, int]]:
    """Ways to read a year starting at atoms[i]: (year, index after it)."""
    if i >= len(atoms):
        return
    a = atoms[i]
    if a.kind == "y":
        yield a.value, i + 1
        return
    # "nineteen sixty one", "twenty seventeen", "nineteen oh five"
    if a.kind in ("t", "d", "g") and a.value in (19, 20):
        for g, j in _groups(atoms, i + 1):
            yield a.value * 100 + g, j
    # "two thousand (and) three", "dos mil veintidos", "mil novecientos cincuenta y siete"
    thousands, j = 0, i
    if a.kind == "u" and a.value in (1, 2) and i + 1 < len(atoms) and atoms[i + 1].kind == "k":
        thousands, j = a.value * 1000, i + 2
    elif a.kind == "k":
        thousands, j = 1000, i + 1
    if thousands:
        if j < len(atoms) and atoms[j].kind == "h":
            thousands += atoms[j].value
            j += 1
        yield thousands, j
        for g, k in _groups(atoms, j):
            yield thousands + g, k
    # a bare two-digit year: "eighty one" -> 1981, "oh three" -> 2003 (never in the future)
    for g, j in _groups(atoms, i):
        if atoms[i].kind == "u" and atoms[i].value > 0:
            continue  # a lone "five" is not a year
        yield (2000 + g if 2000 + g <= ref_year else 1900 + g), j


def _months(atoms: Sequence[_Atom], i: int) -> Iterator[tuple[int, int, bool]]:
    """(month, index after, named?) readings at atoms[i]."""
    if i < len(atoms) and atoms[i].kind == "m":
        yield atoms[i].value, i + 1, True
        return
    for g, j in _groups(atoms, i):
        if 1 <= g <= 12 and atoms[i].kind != "d":
            yield g, j, False


def _valid(y: int, m: int, d: int, ref_year: int) -> str | None:
    if not 1900 <= y <= ref_year:
        return None
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def parse_spoken_date(words: Sequence[str], ref_year: int) -> str | None:
    """A date of birth read from spoken or written words, as YYYY-MM-DD, or None.

    Understands "march fourth nineteen sixty one", "three fourteen sixty one",
    "oh five twenty two sixty four", "the ninth of december eighty one" and Spanish
    "doce de mayo de mil novecientos cincuenta y siete". The reading must use every
    number word of the run, which settles most ambiguity ("ten twenty three nineteen
    fifty" can only be 1950-10-23).
    """
    atoms = _atoms(words)
    # "... sixty one, one more thing": a trailing "one" may belong to the next sentence, so a
    # run may shed trailing single digits, never a decade or a year ("twenty thirty" stays whole).
    end = len(atoms)
    while end >= 3:
        found = _read_date(atoms[:end], ref_year)
        if found:
            return found
        if atoms[end - 1].kind != "u":
            break
        end -= 1
    return None


def _read_date(atoms: Sequence[_Atom], ref_year: int) -> str | None:
    n = len(atoms)
    # month (named or numeric) day year
    for m, i, _named in _months(atoms, 0):
        for d, j in _groups(atoms, i):
            for y, k in _years(atoms, j, ref_year):
                if k == n and (found := _valid(y, m, d, ref_year)):
                    return found
    # day month-name year ("doce de mayo de ...", "the fourth of march ...")
    for d, i in _groups(atoms, 0):
        if i < n and atoms[i].kind == "m":
            for y, k in _years(atoms, i + 1, ref_year):
                if k == n and (found := _valid(y, atoms[i].value, d, ref_year)):
                    return found
    # year, month name, day: "born nineteen fifty seven january twenty nine"
    for y, i in _years(atoms, 0, ref_year):
        if i < n and atoms[i].kind == "m":
            for d, k in _groups(atoms, i + 1):
                if k == n and (found := _valid(y, atoms[i].value, d, ref_year)):
                    return found
    return None


_WRITTEN_DATE = re.compile(
    r"(?<![\d/])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)|(?<![\d/])(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?![\d/])"
)


def _written_date(text: str, ref_year: int) -> str | None:
    m = _WRITTEN_DATE.match(text)
    if not m:
        return None
    if m.group(1):
        return _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)), ref_year)
    year, month, day = int(m.group(6)), int(m.group(4)), int(m.group(5))
    if year < 100:
        year = 2000 + year if 2000 + year <= ref_year else 1900 + year
    if month > 12 >= day or m.group(0).count(".") == 2:
        # 14/03/1961 and 04.12.1987: day first, as Spanish, Ukrainian and most non-US forms write it
        # (a date written with dots is European; a US writer uses slashes)
        month, day = day, month
    return _valid(year, month, day, ref_year)


def _normalise_dob(value: str | None) -> str | None:
    """patient.dob is YYYY-MM-DD by contract; tolerate MM/DD/YYYY from a careless adapter."""
    if not value:
        return None
    value = value.strip()
    found = _written_date(value, 9999)
    return found


_DOB_CUE = re.compile(
    r"\b(?:d\.?\s?o\.?\s?b|date of birth|birth ?date|birthday(?:'s)?|born(?: on)?|b-?day"
    r"|fecha de nacimiento|naci(?: el)?|nacio(?: el)?|nacid[oa](?: el)?|nacimiento|cumpleanos|dat nesans"
    r"|data de nascimento|(?:o )?meu aniversario(?: e)?|aniversario(?: e)?|nasci(?: em| no dia)?"
    # "la fecha de ella es nueve doce setenta y nueve", a pharmacy's "F. nac. 08/21/1958"
    r"|(?:la )?fecha de (?:ella|el)|f\.? ?nac\.?|fecha nac\.?"
    r"|date de naissance|nee? le)"
    # "la fecha de nacimiento de ella es ...", "her date of birth is ...": whose it is may come between
    r"\b\s*(?:(?:de|del)\s+(?:ella|el|mi\s+\w+|su\s+\w+|la\s+nina|el\s+nino)\s+)?(?:is|es|:|#)?\s*"
    # "DOB given as 8/16/58" in an answering service's note
    r"(?:(?:given|stated|verified|confirmed|provided|reported) as\s+)?",
)


def find_dob(folded: str, ref_year: int) -> tuple[str | None, int]:
    """(date of birth, position of its cue) from folded free text.

    When no date can be read, the position of the first cue is still given (or -1): the
    name said before "date of birth" is the patient's even if the date itself was garbled.
    """
    first = -1
    for m in _DOB_CUE.finditer(folded):
        if first < 0:
            first = m.start()
        rest = folded[m.end() : m.end() + 90]
        rest = rest.lstrip(" .:#(-")
        found = _written_date(rest, ref_year)
        if not found:
            words = [w for w in _WORD.findall(rest.replace("-", " "))]
            words = _cut_sentence(words)
            found = parse_spoken_date(words, ref_year)
        if found:
            return found, m.start()
    return None, first


_BIRTH_CUE = re.compile(r"\b(?:born(?: on)?|was born|nee? le|nacio(?: el)?|naci(?: el)?|nacid[oa](?: el)?)\b\s*")


def age_in_weeks(item: InboundItem) -> float | None:
    """How old the patient is in weeks when the item arrived: from the patient's date of birth, else
    from a birth date said in the message. A birth date said without a year ("il est né le vingt
    sept décembre", "she was born January 3rd") is the last such day before the item: parents say
    a newborn's birthday that way, and nobody else's."""
    received = item.received_at.date()
    said = _normalise_dob(item.patient.dob) if item.patient.dob else None
    folded = ""
    if said is None:
        folded = fold(item.text)
        said, _ = find_dob(folded, received.year)
    if said is None:
        said = _birthday_without_year(folded, received)
    if said is None:
        return None
    born = date.fromisoformat(said)
    if born > received:
        return None
    return (received - born).days / 7


def _birthday_without_year(folded: str, received: date) -> str | None:
    for m in _BIRTH_CUE.finditer(folded):
        words = _cut_sentence([w for w in _WORD.findall(folded[m.end() : m.end() + 60].replace("-", " ")) if w != ","])
        for year in (received.year, received.year - 1):
            # the day and month are the first few words; the year is what was left unsaid
            for k in range(min(6, len(words)), 1, -1):  # "treinta y uno de diciembre": five words
                found = parse_spoken_date([*words[:k], str(year)], received.year)
                if found and date.fromisoformat(found) <= received:
                    return found
    return None


_DATE_START = re.compile(r"\d")


def _date_after_name(folded: str, ref_year: int, seen: _CueMatches) -> str | None:
    """A spoken date with a year said within a few words after the caller's name, else None."""
    for pattern in (_SELF_CUE, _GREETING_CUE):
        for m in seen.get(pattern, ()):
            if found := _date_right_after(folded, m.end(1), ref_year):
                return found
    return None


_LAST_SENTENCE = re.compile(r"[^.!?\n]*[.!?\n\s]*$")


def _closing_date(folded: str, ref_year: int) -> str | None:
    """A date said alone as a voicemail's last words, with a year long gone: the caller's date of birth.

    "... if somebody could send it. february ninth fifty five": callers close with who they are, and a
    day with a year two or more years back, said on its own, is no appointment or refill date."""
    m = _LAST_SENTENCE.search(folded)
    words = [w for w in _WORD.findall(m.group(0) if m else "") if w not in {",", ".", "!", "?", "\n", ";", ":"}]
    if not 2 <= len(words) <= 6:
        return None
    head = words[0]
    if not (head in _MONTHS or head in _UNITS or head in _TEENS or head in _TENS or _DATE_START.match(head)):
        return None
    found = parse_spoken_date(words, ref_year)
    return found if found and int(found[:4]) <= ref_year - 2 else None


_BEFORE_SPELLING = frozenset(
    {"that", "s", "thats", "that's", "it's", "is", "it", "its", "spelled", "spelt", "spell", "spelling"}
)
_BIRTH_WORDS = frozenset({"birthday", "born", "dob", "birth", "birthdate", "cumpleanos", "nacimiento", "nacio"})


def _date_right_after(folded: str, pos: int, ref_year: int) -> str | None:
    """A spoken or written date with a year starting within a few words after `pos`, else None."""
    words = _cut_sentence([w for w in _WORD.findall(folded[pos : pos + 90]) if w != ","])
    # "sawyer rhodes, r h o d e s, seven seven eighty four": the spelling comes before the date
    said = 0
    while said < len(words) and words[said] in _BEFORE_SPELLING:  # "that's b o u n m y"
        said += 1
    lead = said
    while lead < len(words) and len(words[lead]) == 1 and words[lead].isalpha():
        lead += 1
    if lead - said >= 2:  # letters, not an article
        words = words[lead:]
        # "... b o u n m y say a vong birthday may ninth ...": the name said again by its syllables
        # after the spelling; a word for the birth date ends them.
        for j, w in enumerate(words[:6]):
            if w in _BIRTH_WORDS:
                words = words[j + 1 :]
                break
    for skip in range(min(4, len(words))):
        head = words[skip]
        if head in _MONTHS or head in _UNITS or head in _TEENS or head in _TENS or _DATE_START.match(head):
            return parse_spoken_date(words[skip:], ref_year)
    return None


def _cut_sentence(words: list[str]) -> list[str]:
    for i, w in enumerate(words):
        if w in {".", ";", "!", "?", "\n", ":"}:
            return words[:i]
    return words


# --------------------------------------------------------------------------- phones


_PHONE_DIGITS = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})(?!\d)")
# What the three digit groups of _PHONE_DIGITS look like alone: `\)?[\s.-]?` and `[\s.-]?` are at most two
# and one non-digits. It begins with a character class (written out, not `\d{3}`), which lets the regex
# engine skip to the next digit instead of trying the whole pattern at every position of the text.
_PHONE_SHAPE = re.compile(r"\d\d\d\D{0,2}\d\d\d\D?\d\d\d\d")


def _phone_digit_matches(text: str) -> Iterator[re.Match[str]]:
    """`_PHONE_DIGITS.finditer(text)`, started where a phone number can first begin.

    Every match has the shape of `_PHONE_SHAPE` at its first digit group, which is at most four
    characters ("+1 (") after the match's start; the lookbehind still sees the text before `pos`.
    """
    shape = _PHONE_SHAPE.search(text)
    if shape is None:
        return iter(())
    return _PHONE_DIGITS.finditer(text, max(0, shape.start() - 4))


def normalise_phone(value: str | None) -> str | None:
    """Ten US digits, or None: '(478) 555-0134', '+1 478.555.0134' -> '4785550134'."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == 10 and digits[0] not in "01" else None


_PHONE_FILLERS = frozenset({",", "uh", "um", "dash"})


def spoken_phones(folded: str) -> list[str]:
    """Phone numbers said digit by digit: 'four seven eight five five five zero one eight seven'."""
    out: list[str] = []
    run: list[str] = []
    for w in _WORD.findall(folded.replace("-", " ")):
        if (digit := _DIGIT_CHARS.get(w)) is not None:
            run.append(digit)
        elif not run:
            continue  # most words: nothing to end
        elif w.isdigit() and len(w) <= 4:
            run.extend(w)
        elif w in _PHONE_FILLERS:
            continue
        else:
            _flush_phone(run, out)
            run = []
    _flush_phone(run, out)
    return out


def _flush_phone(run: list[str], out: list[str]) -> None:
    digits = "".join(run)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and digits[0] not in "01":
        out.append(digits)


# --------------------------------------------------------------------------- names


def _load_nicknames() -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    text = resources.files("careroute").joinpath("dedup_data/nicknames.txt").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines()):
        line = line.split("#", 1)[0].strip()
        for name in line.split():
            groups.setdefault(name, set()).add(number)
    return {name: frozenset(ids) for name, ids in groups.items()}


_NICKNAMES = _load_nicknames()

_PARTICLES = frozenset(
    {"mc", "mac", "st", "van", "von", "der", "den", "de", "del", "della", "di", "da", "la", "las", "los", "le", "du"}
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "md", "do", "rn", "np", "pa", "fnp", "phd"})
_ROLE_WORDS = frozenset({"resident", "patient", "client", "member", "pt", "consumer", "individual"})
_HONORIFICS = _words(
    "mr mrs ms miss missus misses mister madam dr sr sra srta senor senora don dona"
    # church and community titles said before a name: "this is deacon otis pryor"
    " deacon deaconess pastor reverend rev elder bishop minister imam sheikh hajj hajji hajja"
)

# Words that end a spoken name: a transcript has no capitals to show where a name stops.
_NAME_STOP = _words(
    """uh um er eh ah oh calling call called from at the and i im i'm i'll i've id date birthday birth dob this
    is with about for on my a an here again patient pharmacist pharmacy nurse speaking yes hi hello hey so
    just to regarding in of your you we our me he she her his their it its it's that thats that's who was has
    had have need needs needed wanted want would like returning checking please thanks thank sorry okay ok
    well yeah good morning afternoon evening doctor dr mom dad mother father son daughter wife husband
    es de mi su y el la llamo hablo llamando para por con que fecha nacimiento tengo tiene necesito quiero
    le les lo buenos dias buenas tardes hola gracias also office clinic drug apothecary number phone re
    refill prescription appointment question bill billing records department hospital medical center
    health calling not no but or if as be been being am are were will can could should may might must
    do does did don't dont there they them what when where why how over out up down off got get getting
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen twenty thirty
    forty fifty sixty seventy eighty ninety nineteen hundred thousand patient's caller message name
    aqui sou fala meu minha bom dia boa tarde obrigada obrigado otra vez nuevamente ella ellos usted yo
    mensaje ayer hoy manana dejo deje llame llamo cita doctora telefono trabajo tarde noche semana
    helped drove brought took sent wrote picked dropped gave went came made showed tried asked found
    leaving left voicemail trying try told tell said say clinica parte oficina farmacia new old last first
    next today tomorrow yesterday retired veteran usaf usmc usn army navy military
    monday tuesday wednesday thursday friday saturday sunday week month year years old year's weeks months days
    pregnant embarazada semanas meses
    daughter's son's wife's husband's mother's father's dos tres cuatro cinco seis siete ocho nueve
    anos ano esposo esposa hijo hija mama papa madre padre abuela abuelo nieto nieta hermano hermana
    sister brother grandmother grandfather grandma grandpa child baby kid granddaughter grandson
    mother-in-law father-in-law niece nephew friend neighbor caregiver aunt uncle habla soy
    jai j'ai encore les des pour mon ma mes votre rappelez appel toute tout suis est et pis bonjour allo oui
    merci madame monsieur c'est cest"""
)
_RELATIONS = (
    r"wife|husband|son|daughter|mother|mom|mum|father|dad|grandson|granddaughter|grandmother|grandfather"
    r"|grandma|grandpa|brother|sister|child|baby|niece|nephew|aunt|uncle|mother-in-law|father-in-law"
    r"|esposo|esposa|hijo|hija|mama|papa|madre|padre|abuela|abuelo|nieto|nieta|hermano|hermana|nino|nina"
    r"|daddy|mommy|momma|granny|mamaw|papaw|granddaddy|grandmama|father in law|mother in law"
    r"|aunty|auntie|tia|tio|bebe|bebita|bebito|nena|nene|mija|mijo"
)
_PUNCTUATION = frozenset({",", ".", ";", ":", "!", "?", "\n", "("})
# "my father tesfaye ...", "our resident dorothy ruud, r u u d": who the person is, never their name.
_PERSON_WORDS = frozenset(_RELATIONS.split("|")) | {"resident", "patient", "client", "member", "caregiver"}
_NAME_TOKENS = r"((?:[a-z][a-z'-]*\.?)(?:\s+[a-z][a-z'-]*\.?){0,5})"
# The cues have no literal prefix: each runs only on texts holding its literals (see `Prefiltered`).
_RELATION_CUE = Prefiltered(
    re.compile(
        rf"\b(?:(?:my|mi|su|our|nuestra|nuestro)\s+(?:{_RELATIONS})\s*,?\s+(?:is\s+)?"
        rf"|the\s+(?:{_RELATIONS})\s+of\s+|(?:el|la|su)\s+(?:{_RELATIONS})\s+de\s+"
        # "yesenia orozco, mama de mateo orozco", "i'm the aunty of leilani": the caller, then whose
        rf"|(?:,|i'm the|i am the|soy la|soy el|soy)\s+(?:{_RELATIONS})\s+(?:of|de)\s+)"
        rf"{_NAME_TOKENS}"  # "my son bao", "the mother of chidera", "el esposo de leticia"
    )
)
_PATIENT_CUE = Prefiltered(
    re.compile(
        rf"\b(?:patient|paciente|prescription for|refill for|rx for|on behalf of|attendant for|aide for|caregiver for"
        rf"|nurse for|care manager for|case manager for)\s*:?\s+"
        rf"(?:(?:patient|mr|mrs|ms)\.?\s+)?{_NAME_TOKENS}"
    )
)
_POSSESSIVE_CUE = re.compile(rf"((?:[a-z][a-z'-]*\s+){{0,2}}[a-z][a-z-]*)'s\s+(?:{_RELATIONS}|caregiver|nurse)\b")
# The end of every _POSSESSIVE_CUE match, and the characters its leading words are made of.
_POSSESSIVE_TAIL = re.compile(rf"'s\s+(?:{_RELATIONS}|caregiver|nurse)\b")
_NOT_IN_POSSESSIVE_NAME = re.compile(r"[^a-z'\s-]")
_SELF_CUE = Prefiltered(
    re.compile(
        rf"\b(?:this is|my name is|my name's|name's|it's|its|i am|i'm|im|habla|le habla|soy|me llamo"
        rf"|mi nombre es|c'est|c est|je suis|je m'appelle|je m appelle|mon nom est"
        rf"|aqui e|aqui fala|meu nome e|o meu nome e|sou a|sou o|fala a|fala o)\s+"
        rf"(?:(?:uh|um|er|ah|eh|erm|encore|again),?\s+)?{_NAME_TOKENS}"
    )
)
# "... our pharmacy faxed yesterday for walter nance, one sixteen thirty four": no cue says whose the date
# is, but a whole name with a full date right after it is how a patient is named (see `_name_then_date`).
# "calling for", "about", and an aide's "I'm at the house of ...", "on behalf of ..."
_FOR_NAME_CUE = Prefiltered(
    re.compile(rf"\b(?:for|about|regarding|(?:house|home|apartment) of|on behalf of)\s+(?:our\s+)?{_NAME_TOKENS}")
)
_GREETINGS = (
    r"(?:hi|hello|hey|yes|yeah|good (?:morning|afternoon|evening)|hola|buenos dias|buenas tardes|allo|bonjour|oui)"
)
_GREETING_CUE = re.compile(  # anchored at the start: cheap as it is; "hi good morning, georgette plourde,"
    rf"^\s*(?:{_GREETINGS}[\s,]+)*{_GREETINGS}\s*,\s*{_NAME_TOKENS}\s*,"
)
_LABEL_CUE = Prefiltered(
    re.compile(
        r"(?:^|\n|\s{2,}|\(|;)\s*(?:patient name|patient|paciente|nombre|pt name|pt|name|employee|applicant"
        r"|claimant|student|member|insured|client|child|resident|re|member name|beneficiary|veteran|subscriber"
        r"|enrollee|worker)\s*:\s*"
        r"(?:our client\s+|(?:employee|patient|member|claimant|resident|insured|pt)\s+)?"
        r"([a-z][a-z'.,\- ]{1,60}?)(?=\s{2,}|\s*\(|\s*;|\s*\n|\s*$|,?\s+(?:dob|d\.o\.b|date of birth|born"
        r"|mrn|phone|ph|age|sex|hospital|acct|account|id)\b)"
    )
)
_SPELLED = re.compile(r"(?<![a-z'])((?:[a-z][\s,.-]+){2,}[a-z])(?![a-z'])")
_FILLERS_BEFORE_SPELLING = frozenset(
    {
        "uh",
        "um",
        "that's",
        "thats",
        "that",
        "is",
        "it's",
        "its",
        "spelled",
        "spelt",
        "like",
        "last",
        "name",
        ",",
        "eh",
        "se",
        "escribe",
    }
)


@dataclass(frozen=True, slots=True)
class _Mention:
    tokens: tuple[str, ...]
    start: int
    end: int
    cue: str  # label, dob, relation, patient, possessive, self, greeting, caller_id


def _clean_tokens(raw: str) -> tuple[str, ...]:
    """The leading run of name-like words of `raw`, up to the first word that cannot be a name.

    Particles ("de los", "van der") count as name words only inside a name, where a real
    word follows them: "maria de los angeles gutierrez", but not "ana lopez de la clinica".
    """
    out: list[str] = []
    words = [_strip_possessive(w.strip("'-")) for w in raw.replace(".", " ").split()]
    words = [w for w in words if w]
    counted = 0
    for i, w in enumerate(words):
        if not out and (w in _HONORIFICS or w in _ROLE_WORDS):
            continue  # "re resident noel villalba": who the person is to the writer comes before the name
        if w in _PARTICLES:
            rest = [x for x in words[i + 1 :] if x not in _PARTICLES]
            if rest and rest[0] not in _NAME_STOP and rest[0].isalpha():
                out.append(w)
                continue
            break
        if w in _NAME_STOP or (not w.isalpha() and not re.fullmatch(r"[a-z]+(?:['-][a-z]+)+", w)):
            break
        out.append(w)
        counted += 1
        if counted == 3:
            break
    while out and out[-1] in _PARTICLES:
        out.pop()
    return tuple(out)


def _spelled_words(run: str) -> tuple[str, ...]:
    """The words a spelled run spells: 'h o a, t r a n' is two ('hoa', 'tran'), 'o s e i' one.

    A comma between groups of letters parts the words; commas between single letters ('m, a, r')
    are one word said slowly."""
    parts = [re.sub(r"[^a-z]", "", p) for p in run.split(",")]
    parts = [p for p in parts if p]
    if len(parts) > 1 and all(len(p) >= 2 for p in parts):
        return tuple(parts)
    return ("".join(parts),)


def _spelled_after(folded: str, pos: int) -> tuple[tuple[str, ...], int] | None:
    """A spelled-out name ('o s e i', 'h o a, t r a n') starting within a few filler words after `pos`."""
    rest = folded[pos : pos + 80]
    words = re.finditer(r"[a-z']+|,", rest)
    offset = 0
    for w in words:
        if w.group() in _FILLERS_BEFORE_SPELLING:
            offset = w.end()
            continue
        offset = w.start()
        break
    m = _SPELLED.match(rest, offset)
    if m and not re.match(r"\s*[a-z]{2}", rest[m.end() :]):
        spelled = _spelled_words(m.group(1))
        if sum(map(len, spelled)) >= 3:
            return spelled, pos + m.end()
    return None


def _mention(folded: str, m: re.Match[str], group: int, cue: str) -> _Mention | None:
    tokens = _clean_tokens(m.group(group))
    if not tokens:
        return None
    # where the accepted tokens end, so a spelled surname right after them can replace the last
    end = m.start(group)
    for t in tokens:
        end = folded.index(t, end) + len(t)
    spelled = _spelled_after(folded, end)
    if spelled:
        words, end = spelled
        # "tom voychick, w o j c i k": the spelling is the surname; "wah tron, h o a, t r a n": the
        # whole name spelled replaces the name as it was heard; "pa nhia vang, p a n h i a v a n g"
        # spells the whole name said, run together
        if len(words) > 1:
            tokens = words
        elif words[0] != "".join(tokens):
            tokens = (tokens[0], words[0])
    return _Mention(tokens, m.start(group), end, cue)


_HARD_STOP = frozenset(
    {
        "is",
        "this",
        "it's",
        "its",
        "im",
        "i'm",
        "name",
        "name's",
        "patient",
        "for",
        "about",
        "my",
        "our",  # "calling for our jacob wipf, w i p f"
        "am",
        "calling",
        "hi",
        "hello",
        "hey",
        "habla",
        "soy",
        "llamo",
        "es",
        "on",
        "mi",
        "c'est",
        "cest",
        "encore",
        "suis",
        "appelle",
    }
)


_ARTICLES = frozenset({"the", "a", "an"})


def _name_before(folded: str, pos: int) -> _Mention | None:
    """The name said just before a date-of-birth cue: 'victor yanez, y a n e z, date of birth'."""
    head = folded[max(0, pos - 120) : pos]
    tokens = re.findall(r"[a-z][a-z'-]*|[.,;:!?\n(]", head)
    spelled: list[str] = []
    name: list[str] = []
    skipping = True
    stop = -1  # index in tokens of the word that ended the name
    run: list[str] = []  # the spelled letters with the commas between them, read backwards
    for k in range(len(tokens) - 1, -1, -1):
        w = tokens[k]
        stop = k
        if not name and len(w) == 1 and w.isalpha() and len(spelled) < 20:
            spelled.append(w)
            run.append(w)
            continue
        if not name and w == "," and spelled:
            run.append(w)
        if not name and len(spelled) >= 3 and w in _FILLERS_BEFORE_SPELLING:
            continue
        if skipping and w in {
            ",",
            "(",
            "uh",
            "um",
            "eh",
            "mi",
            "my",
            "her",
            "his",
            "su",
            "and",
            "the",
            "patient's",
            "\n",
        }:
            continue
        skipping = False
        if len(spelled) >= 3:
            # A spelled surname follows a mis-heard one ("ifeoma new so, n w o s u"): any words
            # back to the cue are the name, even ones that look like ordinary words.
            if w in _HARD_STOP or w in _HONORIFICS or w in _PERSON_WORDS or w in _PUNCTUATION:
                break
            if len(name) >= 2 and w in _NAME_STOP:
                break  # "my husband's bill warren pruitt, p r u i t t": a word before the whole name
        elif w in {",", ".", ";", ":", "!", "?", "\n", "("} or w in _NAME_STOP or w in _HONORIFICS or w in _ROLE_WORDS:
            break
        elif w == "e" and k > 0 and tokens[k - 1] == "aqui":
            break  # Portuguese "aqui é fernanda soares": the caller's cue, not a middle initial
        name.append(_strip_possessive(w.strip("'-")))
        if len(name) == 3:
            break
    if len(spelled) < 3:
        spelled = []
    name.reverse()
    if not name and not spelled:
        return None
    if name and not spelled and 0 <= stop < len(tokens) - 1 and tokens[stop] in _ARTICLES:
        return None  # "he's the one with the black lung, birthday ...": a thing, not a name
    if len(name) == 1 and not spelled and stop >= 1 and tokens[stop] == ",":
        # "REFILL REQUEST for ZEBARI, REBWAR  DOB": a form's family name first, before the comma
        family = tokens[stop - 1]
        lead = tokens[stop - 2] if stop >= 2 else "\n"
        if lead in {"for", "re", ":", "\n"} and family not in _NAME_STOP and family not in _PERSON_WORDS:
            name = [name[0], family]
    word = "".join(reversed(spelled))
    said: tuple[str, ...] = tuple(name)
    # "wah tron, h o a, t r a n": the whole name spelled, word by word, replaces the name as heard
    words = _spelled_words("".join(reversed(run))) if spelled else ()
    if len(words) > 1:
        said = words
    elif word and word not in name and word != "".join(name):  # "tesfaye woldemichael, t e s f a y e" spells
        said = (name[0], word) if name else (word,)
    return _Mention(said, pos - 1, pos, "dob")


def _name_then_date(folded: str, ref_year: int) -> tuple[tuple[str, ...], str] | None:
    """(name, date of birth) for a whole name said for someone with a full date right after it."""
    if not _FOR_NAME_CUE.may_match(folded):
        return None
    pos = 0
    # each cue word is tried, even one inside the words an earlier cue took ("about the renewal we
    # faxed for edith crane"): search on from the end of the cue word, not of the match
    while m := _FOR_NAME_CUE.pattern.search(folded, pos):
        pos = m.start(1)
        men = _mention(folded, m, 1, "for")
        if men is None or len(men.tokens) < 2 or men.tokens[0] in _PERSON_WORDS:
            continue
        if found := _date_right_after(folded, men.end, ref_year):
            return men.tokens, found
    return None


#: "... de mi hija karla", "the baby of my daughter karla": the words before a relation mention that make it
#: someone the patient belongs to.
_OF_BEFORE = re.compile(r"\b(?:de|of)\s+(?:mi|my|su|his|her|our|nuestra|nuestro)\s+\S+\s+$")


def _strip_possessive(word: str) -> str:
    return word[:-2] if word.endswith("'s") else word


def _label_mentions(folded: str) -> list[_Mention]:
    out: list[_Mention] = []
    for m in _LABEL_CUE.finditer(folded):
        label = folded[m.start() : m.start(1)].strip(" \t\n(;")
        if label.startswith("re") and not label.startswith("resident"):
            # "Re: Bao Pham  DOB 09/17/2021" names a patient; "Re: sleep study bill" is a reply's subject.
            line_end = folded.find("\n", m.end(1))
            if not _DOB_CUE.search(folded[m.end(1) : line_end if line_end >= 0 else len(folded)]):
                continue
        raw = m.group(1).strip(" ,.-")
        if "," in raw:  # "LOPEZ, MARIA" / "PRUITT, HAROLD W": family name first
            family, _, given = raw.partition(",")
            tokens = _clean_tokens(given) + _clean_tokens(family)
            if len(_clean_tokens(given)) > 1:  # "HAROLD W" keeps the given name only
                tokens = _clean_tokens(given)[:1] + _clean_tokens(family)
        else:
            tokens = _clean_tokens(raw)
        tokens = tuple(t for t in tokens if len(t) > 1 or t == tokens[0])
        if len(tokens) >= 2:
            out.append(_Mention(tokens, m.start(1), m.end(1), "label"))
    return out


def _possessive_matches(folded: str) -> Iterator[re.Match[str]]:
    """`_POSSESSIVE_CUE.finditer(folded)`, run only over the stretch of text where it can match.

    Tried at every position, the cue's leading words backtrack over every word of the text (about
    0.1 ms a message, the dearest step of identity extraction). Every match ends with a
    `_POSSESSIVE_TAIL` and its leading words are letters, apostrophes, hyphens and spaces: no match
    starts before the run of such characters that leads to the first tail, nor ends after the last
    tail, which ends on a word boundary. Searching between those bounds gives the same matches.
    """
    tails = list(_POSSESSIVE_TAIL.finditer(folded))
    if not tails:
        return iter(())
    first = tails[0].start()
    other = _NOT_IN_POSSESSIVE_NAME.search(folded[first - 1 :: -1]) if first else None
    return _POSSESSIVE_CUE.finditer(folded, first - other.start() if other else 0, tails[-1].end())


#: Matches of the name cues in one text, found once for `_text_name` and `_said_given_names`.
_CueMatches = dict[object, list[re.Match[str]]]


def _cue_matches(pattern: Prefiltered | re.Pattern[str], folded: str, seen: _CueMatches) -> list[re.Match[str]]:
    found = seen.get(pattern)
    if found is None:
        found = seen[pattern] = list(pattern.finditer(folded))
    return found


def _text_name(
    folded: str, dob_pos: int, allow_self: bool, seen: _CueMatches | None = None
) -> tuple[tuple[str, ...], str] | None:
    """The patient's name as said or written in free text, and the kind of cue that gave it.

    Order of trust: a labelled field ("Patient: LOPEZ, MARIA"); the full name said right
    before the date of birth; a name given for someone else ("my son ...", "patient ...",
    "... 's daughter"), the one nearest before the date of birth; the caller's own name
    ("this is ...") when the caller may be the patient; a lone word before the date of birth.
    """
    if seen is None:
        seen = {}
    labels = _label_mentions(folded)
    if labels:
        return labels[0].tokens, "label"
    before = _name_before(folded, dob_pos) if dob_pos >= 0 else None
    if before and len(before.tokens) >= 2:
        return before.tokens, "dob"
    mentions: list[_Mention] = []
    for cue, pattern in (("relation", _RELATION_CUE), ("patient", _PATIENT_CUE)):
        for m in _cue_matches(pattern, folded, seen):
            if (men := _mention(folded, m, 1, cue)) is not None:
                mentions.append(men)
    for m in _possessive_matches(folded):
        tail: list[str] = []
        for w in reversed(m.group(1).split()):
            if w in _NAME_STOP or not w.replace("-", "").isalpha():
                break
            tail.insert(0, w)
        # "this is lynette guidry russell guidry's wife": the caller's name runs into the
        # patient's; a family name said twice marks where the patient's name begins.
        repeat = [i for i, w in enumerate(tail[:-1]) if w == tail[-1]]
        if repeat:
            tail = tail[repeat[-1] + 1 :]
        if tail:
            mentions.append(_Mention(tuple(tail[-3:]), m.start(1), m.end(1), "possessive"))
    if len(mentions) > 1:
        # "le hablo por mi nieto emiliano, es el bebé de mi hija karla": a relation said with "de" / "of"
        # tells whose the patient is, when another mention names the patient
        named = [x for x in mentions if not _OF_BEFORE.search(folded, max(0, x.start - 24), x.start)]
        mentions = named or mentions
    if mentions:
        # the mention nearest before the date of birth is the patient's; else the first one
        before_dob = sorted((x for x in mentions if 0 <= x.start < dob_pos), key=lambda x: x.start)
        chosen = before_dob[-1] if before_dob else min(mentions, key=lambda x: x.start)
        return chosen.tokens, chosen.cue
    if allow_self:
        cues: tuple[tuple[Prefiltered | re.Pattern[str], str], ...] = ((_SELF_CUE, "self"), (_GREETING_CUE, "greeting"))
        for self_cue, cue in cues:
            for m in _cue_matches(self_cue, folded, seen):
                men = _mention(folded, m, 1, cue)
                if men is not None:
                    return men.tokens, cue
    if before:
        return before.tokens, "dob"
    return None


def _said_given_names(folded: str, seen: _CueMatches | None = None) -> tuple[str, ...]:
    """The first word of every name said in a transcript: the caller's and the patient's."""
    out: list[str] = []
    if seen is None:
        seen = {}
    patterns: tuple[Prefiltered | re.Pattern[str], ...] = (_SELF_CUE, _RELATION_CUE, _PATIENT_CUE, _GREETING_CUE)
    for pattern in patterns:
        for m in _cue_matches(pattern, folded, seen):
            tokens = _clean_tokens(m.group(1))
            if tokens:
                out.append(tokens[0])
    return tuple(dict.fromkeys(out))


def _join_particles(tokens: Sequence[str]) -> list[str]:
    """'mc donald' -> 'mcdonald', 'de la cruz' -> 'delacruz' (and 'cruz' kept as an alternative)."""
    out: list[str] = []
    pending = ""
    for t in tokens:
        if t in _PARTICLES:
            pending += t
            continue
        if pending:
            out.append(pending + t)
            if pending not in ("mc", "mac", "o"):
                out.append(t)
            pending = ""
        else:
            out.append(t)
    if pending:
        out.append(pending)
    return out


def name_parts(tokens: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """(given name, family-name tokens) from words in speaking order, initials and suffixes dropped."""
    words: list[str] = []
    for t in tokens:
        for piece in re.split(r"[\s]+", t):
            piece = piece.replace("'", "")
            if piece and piece not in _SUFFIXES:
                words.append(piece)
    if not words:
        return None, ()
    given = words[0]
    rest = [w for w in words[1:] if len(w) > 1]
    family: list[str] = []
    for w in _join_particles(rest):
        family.append(w.replace("-", ""))
        if "-" in w:  # double-barrelled: either half may be used alone
            family.extend(p for p in w.split("-") if len(p) > 1)
    return given, tuple(dict.fromkeys(family))


def _structured_name(value: str) -> tuple[str | None, tuple[str, ...]]:
    folded = fold(value).strip()
    if "," in folded:
        family, _, given = folded.partition(",")
        words = given.split()[:1] + family.split()
    else:
        words = [w for w in folded.replace(".", " ").split() if w not in _HONORIFICS]
    return name_parts(words)


@lru_cache(maxsize=4096)
def phonetic(name: str) -> str:
    """A sound-alike key for a name: Gonzales/Gonzalez, Philips/Phillips, McDonald/MacDonald agree."""
    s = re.sub(r"[^a-z]", "", fold(name))
    if not s:
        return ""
    if s.startswith("mac") and len(s) > 5:
        s = "mc" + s[3:]
    if s.endswith(("aux", "eux")):  # French: Thibodeaux is said Thibodeau
        s = s[:-1]
    for prefix, repl in (("kn", "n"), ("wr", "r"), ("ps", "s"), ("wh", "w"), ("x", "s"), ("gn", "n")):
        if s.startswith(prefix):
            s = repl + s[len(prefix) :]
    for a, b in (
        ("sch", "sk"),
        ("tch", "ch"),
        ("ph", "f"),
        ("ck", "k"),
        ("dg", "j"),
        ("gh", "g"),
        ("th", "t"),
        ("dt", "t"),
        ("z", "s"),
        ("q", "k"),
        ("x", "ks"),
        ("v", "f"),
    ):
        s = s.replace(a, b)
    s = re.sub(r"c(?=[eiy])", "s", s).replace("c", "k")
    first, rest = s[0], re.sub(r"[aeiouyhw]", "", s[1:])
    key = first + re.sub(r"(.)\1+", r"\1", rest)
    return key[:8]


# Pure, and asked about the same few names over and over as candidates are compared (a fuzzy
# ratio, phonetic codes and nickname groups each time): the answers are kept.
@lru_cache(maxsize=65536)
def given_compatible(a: str, b: str) -> bool:
    """Whether two given names may be the same person's: nicknames, initials, prefixes, sound-alikes."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    if _NICKNAMES.get(a, frozenset()) & _NICKNAMES.get(b, frozenset()):
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return True  # Tom/Tomasz, Chris/Christopher, Alex/Alexandra
    return (phonetic(a) == phonetic(b) and a[0] == b[0]) or fuzz.ratio(a, b) >= 85


def _with_joined(tokens: Iterable[str]) -> tuple[str, ...]:
    t = tuple(tokens)
    return t + tuple(t[i] + t[i + 1] for i in range(len(t) - 1))


def family_compatible(a: Iterable[str], b: Iterable[str], loose: bool = False) -> bool:
    """Whether any family-name token of one may be the same as any of the other's."""
    cutoff = 75 if loose else 85
    if loose:
        # A transcript also breaks a name in the middle ("otis what kins" for Watkins): try the pieces joined.
        a, b = _with_joined(a), _with_joined(b)
    for x in a:
        for y in b:
            if x == y or phonetic(x) == phonetic(y) or fuzz.ratio(x, y) >= cutoff:
                return True
            # A transcript breaks a long name into words ("small can yon") and keeps its first piece.
            if loose and min(len(x), len(y)) >= 4 and (x.startswith(y) or y.startswith(x)):
                return True
            # ... or hears it by sound: "ted rob lefsky" for Wroblewski, one sound apart in a long name
            if loose and min(len(px := phonetic(x)), len(py := phonetic(y))) >= 5 and OSA.distance(px, py) <= 1:
                return True
    return False


# --------------------------------------------------------------------------- identity

_MRN_IN_TEXT = Prefiltered(re.compile(r"(?<!hospital )(?<!hosp )\bmrn\b\s*[:#]?\s*([a-z]{0,3}\d{5,10})\b"))
_GENERIC_CALLER_ID = re.compile(
    r"wireless|caller|restricted|unknown|private|unavailable|anonymous|toll|free|pharm|apoth|drug|clinic"
    r"|hospital|medical|health|center|llc|inc|corp|school|academy|county|dept|law|office|rx|labs?\b|cvs"
    r"|walgreens|walmart|kroger|publix"
)


@dataclass(frozen=True, slots=True, repr=False)
class Identity:
    """What an item tells about its patient. Every field may be missing.

    `from_text` names the fields read from free text (transcript, fax, email body);
    those can support a match but cannot, alone, prove two patients different.
    """

    mrn: str | None = None
    dob: str | None = None
    phone: str | None = None
    given: str | None = None
    family: tuple[str, ...] = ()
    other_phones: tuple[str, ...] = ()
    caller_family: str | None = None
    caller_initial: str | None = None
    #: first names of everyone a transcript names (caller and patient): when the name we took
    #: for the patient's turns out to be the caller's, the other item may name the patient.
    said_names: tuple[str, ...] = ()
    #: "MM-DD" of a birth date said without a year ("nació el treinta y uno de diciembre"), when no
    #: date of birth is known: it can support a match, never contradict one.
    birthday: str | None = None
    from_text: frozenset[str] = field(default_factory=frozenset)

    def __repr__(self) -> str:  # PHI: say which fields are known, never their values
        present = [n for n in ("mrn", "dob", "phone", "given", "family") if getattr(self, n)]
        return f"Identity(fields={','.join(present) or '-'}, from_text={','.join(sorted(self.from_text)) or '-'})"

    @property
    def phones(self) -> tuple[str, ...]:
        return ((self.phone,) if self.phone else ()) + self.other_phones

    @property
    def is_empty(self) -> bool:
        return not (self.mrn or self.dob or self.phones or self.family or self.given)


def extract_identity(item: InboundItem, *, folded: str | None = None) -> Identity:
    """Read the patient's identity from an item's patient object, text and metadata.

    `folded` is `fold(item.text)` when the caller has it already (intake reads the request too).
    """
    p = item.patient
    ref_year = item.received_at.year
    from_text: set[str] = set()
    if folded is None:
        folded = fold(item.text)

    mrn = re.sub(r"[^A-Z0-9]", "", p.mrn.upper()) if p.mrn else None
    if not mrn and (m := _MRN_IN_TEXT.search(folded)):
        mrn = m.group(1).upper()
        from_text.add("mrn")

    dob = _normalise_dob(p.dob)
    dob_found, dob_pos = find_dob(folded, ref_year)
    if not dob and dob_found:
        dob = dob_found
        from_text.add("dob")

    given: str | None = None
    family: tuple[str, ...] = ()
    if p.name:
        given, family = _structured_name(p.name)
    # A voicemail's "this is ..." names the caller, who is often the patient; in a letter or a
    # message it is the writer, so only a name tied to the patient counts there.
    seen: _CueMatches = {}  # the name cues' matches, for the said names below
    spoken = item.channel in ("voicemail", "phone")
    said = _text_name(folded, dob_pos, allow_self=spoken, seen=seen)
    if (
        (not said or said[1] in ("self", "greeting"))
        and (named := _name_then_date(folded, ref_year))
        and (not dob or (dob_found == dob and named[1] == dob))
    ):
        # the caller's own name is not the patient's when she names someone else with a birth date
        # ("this is rosa, the aide ... at the house of bounmy sayavong ... birthday may ninth 1944")
        said = (named[0], "for")
        if not dob:
            dob = named[1]
            from_text.add("dob")
    if spoken and not dob and said and said[1] in ("self", "greeting"):
        # "c'est bernadette pelletier, pelletier, le onze avril trente huit": a caller who gives a date
        # right after her own name gives her date of birth, cue or not.
        dob = _date_after_name(folded, ref_year, seen)
        if dob:
            from_text.add("dob")
    if spoken and not dob and (closing := _closing_date(folded, ref_year)):
        dob = closing
        from_text.add("dob")
    if said:
        s_given, s_family = name_parts(said[0])
        if not (given or family):
            given, family = s_given, s_family
            from_text.add("name")
        elif (
            item.channel == "email"
            and not p.dob
            and dob_found
            and s_family
            and s_given  # a lone word before the date ("Retired USAF, DOB ...") is not a whole name
            and not (family_compatible(family, s_family) and given_compatible(given or "", s_given or ""))
        ):
            # The sender's name came from the mail header, but the message gives someone
            # else's name and date of birth (a parent writing for a child): that is the patient.
            given, family = s_given, s_family
            from_text.add("name")

    phone = normalise_phone(p.phone)
    texts: list[str] = []
    if item.channel == "fax":
        # A fax is full of the sender's numbers; only one on the patient's own line is the patient's.
        for line in folded.splitlines():
            if _DOB_CUE.search(line) or re.search(r"phone on file|patient phone|home phone|cell", line):
                texts.extend(m.group(0) for m in _phone_digit_matches(line) if not _after_fax(line, m))
    elif item.channel in ("voicemail", "phone", "portal", "email"):
        # Lab and EHR texts carry only the sender's numbers.
        texts.extend(m.group(0) for m in _phone_digit_matches(folded) if not _after_fax(folded, m))
        texts.extend(spoken_phones(folded))
    other = tuple(dict.fromkeys(x for t in texts if (x := normalise_phone(t)) and x != phone))
    if not phone and item.channel == "fax" and other:
        phone, other = other[0], other[1:]
        from_text.add("phone")

    birthday = None
    if not dob and (said_day := _birthday_without_year(folded, item.received_at.date())):
        birthday = said_day[5:]
    caller_family = caller_initial = None
    caller = str(item.metadata.get("caller_id_name") or "") if item.metadata else ""
    if caller and not _GENERIC_CALLER_ID.search(fold(caller)):
        words = [w for w in re.split(r"[\s,]+", fold(caller)) if w.isalpha()]
        if words:
            caller_family = words[0]
            if len(words) > 1:
                caller_initial = words[1][0]
    return Identity(
        mrn=mrn,
        dob=dob,
        phone=phone,
        given=given,
        family=family,
        other_phones=other,
        caller_family=caller_family,
        caller_initial=caller_initial,
        said_names=_said_given_names(folded, seen) if "name" in from_text else (),
        birthday=birthday,
        from_text=frozenset(from_text),
    )


def _after_fax(text: str, m: re.Match[str]) -> bool:
    """A number introduced as a fax number is a machine, not a patient."""
    return "fax" in text[max(0, m.start() - 12) : m.start()]


def identity_keys(identity: Identity) -> tuple[str, ...]:
    """Index keys for the store: items sharing any key are candidates for the same patient.

    Each key is selective on its own within a 72-hour window, so fetching candidates by key
    costs O(candidates), whatever the history size.
    """
    keys: list[str] = []
    if identity.mrn:
        keys.append(f"mrn:{identity.mrn}")
    keys.extend(f"phone:{p}" for p in identity.phones)
    if identity.dob:
        keys.append(f"dob:{identity.dob}")
    initial = identity.given[0] if identity.given else "_"
    day = identity.dob[5:] if identity.dob else identity.birthday
    for token in identity.family[:3]:
        code = phonetic(token)
        if code:
            keys.append(f"name:{code}|{identity.dob}" if identity.dob else f"name:{code}|{initial}")
            if identity.dob and identity.given:
                # a wife's call names him without his birth date: the whole name meets the chart's
                keys.append(f"name:{code}|{initial}")
            if day:  # a grandmother gives the baby's birthday without a year: the day meets the chart's
                keys.append(f"name:{code}|day:{day}")
    return tuple(dict.fromkeys(keys))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class PatientMatch:
    """How sure we are that two identities are one patient, and on what evidence.

    `different` is a hard verdict: the evidence contradicts (two MRNs, two dates of birth,
    two reliably different names) and no score can outweigh it.
    """

    score: float
    fields: tuple[str, ...] = ()
    different: bool = False
    reason: str = ""


def _swapped(a: Identity, b: Identity) -> bool:
    """Each side's given name is the other side's family name."""
    return bool(
        a.given
        and b.given
        and a.family
        and b.family
        and family_compatible([a.given], b.family, True)
        and family_compatible([b.given], a.family, True)
    )


def _same_words(a: Identity, b: Identity) -> bool:
    """Both identities name the same three or more words, in any order."""
    x = {a.given or "", *a.family} - {""}
    y = {b.given or "", *b.family} - {""}
    return len(x) >= 3 and x == y


@lru_cache(maxsize=16384)
def _near_dob(a: str, b: str) -> bool:
    """Dates a transcript could have confused: month and day swapped, or one field misheard."""
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if ya == yb and ma == db and da == mb:
        return True
    return sum(x != y for x, y in ((ya, yb), (ma, mb), (da, db))) == 1


def match_patient(a: Identity, b: Identity) -> PatientMatch:
    """Score whether two identities are the same patient (0..1), or say they are different."""
    fields: list[str] = []
    text_mrn = "mrn" in a.from_text or "mrn" in b.from_text
    if a.mrn and b.mrn:
        if a.mrn == b.mrn:
            return PatientMatch(1.0 if not text_mrn else 0.95, ("mrn",))
        if not text_mrn:
            return PatientMatch(0.0, (), True, "different MRN")

    score = 0.0
    # The date of birth first: a conflict ends the comparison before any name is compared (the
    # name comparisons only set states, so the score and the fields come out as before).
    if a.dob and b.dob:
        if a.dob == b.dob:
            score += 0.5
            fields.append("dob")
        elif ("dob" in a.from_text or "dob" in b.from_text) and _near_dob(a.dob, b.dob):
            score -= 0.1
        else:
            return PatientMatch(0.0, (), True, "different date of birth")

    reliable_names = "name" not in a.from_text and "name" not in b.from_text
    family_state = given_state = "unknown"
    if a.family and b.family:
        loose = not reliable_names
        family_state = "match" if family_compatible(a.family, b.family, loose) else "conflict"
    strong_conflict = False
    if a.given and b.given:
        given_state = "match" if given_compatible(a.given, b.given) else "conflict"
        if given_state == "conflict":
            if (a.said_names and any(given_compatible(x, b.given) for x in a.said_names)) or (
                b.said_names and any(given_compatible(x, a.given) for x in b.said_names)
            ):
                given_state = "unknown"  # we took the caller's name; the patient's is there too
            else:
                strong_conflict = fuzz.ratio(a.given, b.given) < 60
    if given_state == "conflict" and family_state == "match" and _same_words(a, b):
        # "nur mohamed abdi" and "Mohamed Abdi Nur": the same names in another order (Somali, Vietnamese
        # and Spanish names are written in more than one order)
        given_state = "match"
    if (given_state == family_state == "conflict") and (_same_words(a, b) or ("dob" in fields and _swapped(a, b))):
        # "orlova yelena" and "Yelena Orlova", "vo van tuan" and "Tuan Van Vo": the family name said first, as
        # Russian, Vietnamese, Chinese and Korean speakers often do (two words only beside a shared birth date)
        given_state = family_state = "match"
    if family_state == "unknown" and a.given and b.given and not (a.family and b.family):
        # One side has a single spoken word: it may be the given or the family name.
        single = (a.given, *a.family) if not a.family else (b.given, *b.family)
        other = b if not a.family else a
        if any(given_compatible(s, other.given or "") or family_compatible([s], other.family) for s in single):
            given_state = "match"

    if reliable_names and family_state == "conflict" and given_state == "conflict":
        return PatientMatch(0.0, (), True, "different name")
    if reliable_names and family_state == "match" and given_state == "conflict":
        return PatientMatch(0.0, (), True, "different given name")  # spouses, siblings, twins

    if family_state == "match":
        score += 0.3
        fields.append("family_name")
    elif family_state == "conflict":
        score -= 0.3 if reliable_names else 0.15
    if given_state == "match":
        score += 0.15
        fields.append("given_name")
    elif given_state == "conflict":
        # Jake and Luke with one birthday and one phone are twins, not a mis-heard name.
        score -= 0.3 if reliable_names else (0.5 if strong_conflict else 0.2)

    if set(a.phones) & set(b.phones):
        score += 0.25
        fields.append("phone")
    for x, y in ((a, b), (b, a)):
        if x.birthday and not x.dob and y.dob and y.dob[5:] == x.birthday:
            score += 0.35  # the day and month of the chart's date of birth, said without the year
            fields.append("birthday")
            break
    for x, y in ((a, b), (b, a)):
        # Caller ID ("HALE R") names the line's owner: weak alone, telling with the same given name.
        if x.caller_family and family_state != "match" and y.family and family_compatible([x.caller_family], y.family):
            same_initial = bool(x.caller_initial and y.given and y.given[0] == x.caller_initial)
            score += 0.2 if same_initial and given_state == "match" else 0.1
            fields.append("caller_id")
            break
    return PatientMatch(round(max(0.0, min(1.0, score)), 4), tuple(fields))
