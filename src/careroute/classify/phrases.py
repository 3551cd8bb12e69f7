"""A small token-pattern language for lexicon phrases, and one matcher that scans all of them at once.

A phrase is space-separated token specs, matched against normalised words:

- ``pain``            the word itself
- ``pain*``           any word that starts with ``pain`` (pain, pains, painful)
- ``hurt*|ache*|sore``  any of the alternatives
- ``~3``              skip up to three words (never across a sentence boundary)
- ``(will not|won t)``  alternatives of several words; the phrase is expanded into one per choice

Why not one big regular expression: an alternation of a few thousand phrases makes
``re`` try every branch at every character. Indexing phrases by their first word keeps a
scan to one dict lookup per word, which is what keeps classification well under a millisecond.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class WordSpec:
    """One position of a phrase: exact words and word prefixes."""

    words: frozenset[str]
    prefixes: tuple[str, ...]

    def accepts(self, word: str) -> bool:
        return word in self.words or (bool(self.prefixes) and word.startswith(self.prefixes))


Element = WordSpec | int  # an int is a gap: skip up to that many words


class PhraseError(ValueError):
    """A lexicon phrase that cannot be compiled (the message names the phrase, never a message body)."""


# An atom is alternatives separated by "|", each a word or a parenthesised group of word sequences:
# "jaw|(left arm)" or "(will not|would not)".
_ATOM = re.compile(r"(?:[^\s()|]+|\([^()]*\))(?:\|(?:[^\s()|]+|\([^()]*\)))*")


def expand_phrase(phrase: str) -> list[str]:
    """Expand groups of several words: "x (a b|c) y" -> ["x a b y", "x c y"].

    Alternatives of single words ("a|b") stay as they are: the matcher handles them in one spec.
    """
    if "(" not in phrase:
        return [phrase]
    if phrase.count("(") != phrase.count(")") or _ATOM.sub("", phrase).strip():
        raise PhraseError(f"cannot read the parentheses in phrase {phrase!r}")
    options: list[list[str]] = []
    for atom in _ATOM.findall(phrase):
        if "(" not in atom:
            options.append([atom])
            continue
        choices: list[str] = []
        for piece in re.findall(r"\([^()]*\)|[^|()]+", atom):
            inner = piece[1:-1] if piece.startswith("(") else piece
            choices.extend(c.strip() for c in inner.split("|"))
        if not all(choices):
            raise PhraseError(f"empty alternative in phrase {phrase!r}")
        options.append(choices)
    return [" ".join(choice) for choice in itertools.product(*options)]


def compile_phrase(phrase: str, fold: Callable[[str], str]) -> tuple[Element, ...]:
    """Turn one expanded phrase into specs; ``fold`` normalises each word exactly as message text is."""
    elements: list[Element] = []
    for raw in phrase.split():
        if raw.startswith("~"):
            if not raw[1:].isdigit():
                raise PhraseError(f"bad gap {raw!r} in phrase {phrase!r}")
            if not elements:
                raise PhraseError(f"phrase {phrase!r} cannot start with a gap")
            elements.append(int(raw[1:]))
            continue
        words: set[str] = set()
        prefixes: list[str] = []
        for alt in raw.split("|"):
            if not alt:
                raise PhraseError(f"empty alternative in phrase {phrase!r}")
            star = alt.endswith("*")
            folded = fold(alt[:-1] if star else alt)
            if not folded:
                raise PhraseError(f"phrase {phrase!r} has a word that normalises to nothing")
            if star:
                prefixes.append(folded)
            else:
                words.add(folded)
        elements.append(WordSpec(frozenset(words), tuple(sorted(prefixes))))
    if not elements:
        raise PhraseError("empty phrase")
    if isinstance(elements[-1], int):
        raise PhraseError(f"phrase {phrase!r} cannot end with a gap")
    return tuple(elements)


#: A phrase walked spec by spec from its second element: (its index, payload, elements, words its gaps
#: never skip).
_Walked = tuple[int, P, tuple[Element, ...], frozenset[str]]
#: Walked phrases that need one set of words first: (that set, ((the rest they need, phrases), ...)).
_Group = tuple[frozenset[str], tuple[tuple[tuple[frozenset[str], ...], tuple[_Walked[P], ...]], ...]]


def _by_index(walked: tuple[int, object, object, object]) -> int:
    return walked[0]


#: The first need of a phrase that needs no later word (its group is always possible).
_ANY: frozenset[str] = frozenset({"\x00any"})


@dataclass(frozen=True, slots=True)
class Hit(Generic[P]):
    """A phrase found in the words: ``start``/``end`` are word indexes, end exclusive."""

    payload: P
    start: int
    end: int


class PhraseMatcher(Generic[P]):
    """All lexicon phrases, indexed by their first word; scan() finds every match in one pass.

    Phrases of plain words (most of them, once alternatives are expanded) are looked up as word
    tuples in a dict; only phrases with gaps or prefixes are walked spec by spec.
    """

    _MAX_EXPANSION = 64  # expand "a|b c|d" into plain tuples up to this many per phrase

    def __init__(
        self,
        entries: Iterable[tuple[P, tuple[Element, ...]]],
        gap_stops: frozenset[str] = frozenset(),
        stops_gaps: Callable[[P], bool] | None = None,
    ) -> None:
        self._phrases: list[tuple[P, tuple[Element, ...]]] = list(entries)
        # Words a gap of some phrases may not skip: "pregnant ~8 bleeding" must not read
        # "pregnant, no bleeding" (the negation would be swallowed by the gap).
        self._stops: list[frozenset[str]] = [
            gap_stops if stops_gaps is not None and stops_gaps(payload) else frozenset() for payload, _ in self._phrases
        ]
        # first word -> length -> word tuple -> payloads
        self._plain: dict[str, dict[int, dict[tuple[str, ...], list[P]]]] = {}
        self._by_word: dict[str, list[int]] = {}
        self._by_prefix: list[tuple[str, int]] = []
        # For walked phrases: the words each later exact position must be, so a phrase whose words
        # are not all in the message is skipped with a few set operations, before any walking.
        self._needs: list[tuple[frozenset[str], ...]] = []
        for index, (payload, elements) in enumerate(self._phrases):
            later = {e.words for e in elements[1:] if isinstance(e, WordSpec) and not e.prefixes}
            # the fewest alternatives first: `_candidates` groups phrases by that first need
            self._needs.append(tuple(sorted(later, key=lambda w: (len(w), sorted(w)))))
            tuples = _plain_tuples(elements, self._MAX_EXPANSION)
            if tuples is not None:
                for words in tuples:
                    by_len = self._plain.setdefault(words[0], {})
                    by_len.setdefault(len(words), {}).setdefault(words, []).append(payload)
                continue
            first = elements[0]
            assert isinstance(first, WordSpec)
            for word in first.words:
                self._by_word.setdefault(word, []).append(index)
            for prefix in first.prefixes:
                self._by_prefix.append((prefix, index))
        # Walked phrases that may start at a word, computed once per distinct word: message
        # vocabulary repeats a lot. Grouped by the rarest words they need (most phrases starting with
        # "my" or "is" fail there, a group at a time), then by the rest of what they need.
        self._cache: dict[str, tuple[_Group[P], ...]] = {}

    def __len__(self) -> int:
        return len(self._phrases)

    def _candidates(self, word: str) -> tuple[_Group[P], ...]:
        found = self._cache.get(word)
        if found is None:
            hits = set(self._by_word.get(word, ()))
            hits.update(index for prefix, index in self._by_prefix if word.startswith(prefix))
            groups: dict[frozenset[str], dict[tuple[frozenset[str], ...], list[_Walked[P]]]] = {}
            for i in sorted(hits):
                payload, elements = self._phrases[i]
                needs = self._needs[i]
                first = needs[0] if needs else _ANY
                groups.setdefault(first, {}).setdefault(needs[1:], []).append((i, payload, elements, self._stops[i]))
            found = tuple(
                (first, tuple((rest, tuple(walked)) for rest, walked in by_rest.items()))
                for first, by_rest in groups.items()
            )
            if len(self._cache) < 200_000:
                self._cache[word] = found
        return found

    def _possible(self, word: str, present: set[str]) -> list[_Walked[P]]:
        """The walked phrases starting at ``word`` whose later words are all in the message."""
        out: list[_Walked[P]] = []
        for first, by_rest in self._candidates(word):
            if first is not _ANY and first.isdisjoint(present):
                continue
            for rest, walked in by_rest:
                for need in rest:
                    if need.isdisjoint(present):
                        break
                else:
                    out.extend(walked)
        out.sort(key=_by_index)  # the lexicon's order, as one list of candidates would give them
        return out

    def scan(self, words: Sequence[str], sentence: Sequence[int]) -> list[Hit[P]]:
        """Every (phrase, start) match, keeping the longest end for each; sentences are never crossed."""
        hits: list[Hit[P]] = []
        n = len(words)
        plain = self._plain
        present = set(words)
        # which walked phrases a word may start depends on the message's words only, not on where
        # the word stands: found once per distinct word ("i", "my", "the" come back again and again)
        possible: dict[str, list[_Walked[P]]] = {}
        for i in range(n):
            word = words[i]
            by_len = plain.get(word)
            if by_len is not None:
                sid = sentence[i]
                for length, table in by_len.items():
                    end = i + length
                    if end > n or sentence[end - 1] != sid:
                        continue
                    payloads = table.get(tuple(words[i:end]))
                    if payloads is not None:
                        hits.extend(Hit(payload, i, end) for payload in payloads)
            walked = possible.get(word)
            if walked is None:
                walked = possible[word] = self._possible(word, present)
            for _, payload, elements, stops in walked:
                end_at = _match(elements, 1, words, sentence, i + 1, n, sentence[i], stops)
                if end_at is not None:
                    hits.append(Hit(payload, i, end_at))
        return hits


def _plain_tuples(elements: tuple[Element, ...], limit: int) -> list[tuple[str, ...]] | None:
    """The word tuples a gap-free, prefix-free phrase stands for, or None if it has gaps or prefixes."""
    options: list[list[str]] = []
    size = 1
    for element in elements:
        if isinstance(element, int) or element.prefixes:
            return None
        options.append(sorted(element.words))
        size *= len(element.words)
        if size > limit:
            return None
    return [tuple(choice) for choice in itertools.product(*options)]


def _match(
    elements: tuple[Element, ...],
    k: int,
    words: Sequence[str],
    sentence: Sequence[int],
    pos: int,
    n: int,
    sid: int,
    stops: frozenset[str] = frozenset(),
) -> int | None:
    """Longest end index at which elements[k:] match from ``pos`` (gaps are tried shortest first;
    a gap never skips one of ``stops``)."""
    if k == len(elements):
        return pos
    element = elements[k]
    if isinstance(element, int):
        best: int | None = None
        for skip in range(element + 1):
            at = pos + skip
            if at >= n or sentence[at] != sid:
                break
            if skip and words[at - 1] in stops:
                break
            end = _match(elements, k + 1, words, sentence, at, n, sid, stops)
            if end is not None:
                return end if best is None else max(best, end)
        return best
    if pos < n and sentence[pos] == sid and element.accepts(words[pos]):
        return _match(elements, k + 1, words, sentence, pos + 1, n, sid, stops)
    return None
