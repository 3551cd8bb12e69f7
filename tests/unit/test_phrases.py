"""The phrase matcher finds exactly what walking every phrase from every word would find.

The matcher indexes phrases by their first word and skips, before walking, any phrase whose later
words are not all in the message (a group of phrases at a time): these tests hold it to the plain
definition, so that no index or shortcut ever drops or invents a match.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from careroute.classify.phrases import Element, Hit, PhraseMatcher, WordSpec, _match, compile_phrase, expand_phrase

PHRASES = [
    "chest ~3 pain|pressure",
    "(ran out|run out) ~2 insulin|lantus",
    "my ~2 (last dose|last pen)",
    "my ~4 heart ~3 racing|pound*",
    "is ~1 not ~2 breathing",
    "is ~3 out",
    "pain*",
    "no more ~1 insulin",
    "last pen",
    "my heart",
    "out ~2 of ~1 insulin",
    "the ~6 worst ~3 headache*",
]
VOCABULARY = [
    "my", "is", "not", "the", "chest", "pain", "pains", "painful", "pressure", "ran", "run", "out", "of",
    "insulin", "lantus", "last", "dose", "pen", "heart", "racing", "pounding", "breathing", "no", "more",
    "worst", "headache", "headaches", "and", "she",
]  # fmt: skip
GAP_STOPS = frozenset({"not", "no"})


def _entries() -> list[tuple[str, tuple[Element, ...]]]:
    return [(p, compile_phrase(e, str.lower)) for p in PHRASES for e in expand_phrase(p)]


MATCHER: PhraseMatcher[str] = PhraseMatcher(
    _entries(),
    gap_stops=GAP_STOPS,
    stops_gaps=lambda payload: payload.startswith("chest"),
)


def _walk_everything(words: list[str], sentence: list[int]) -> list[tuple[str, int, int]]:
    """Every phrase tried at every word, longest end kept: the definition the index must keep."""
    found = []
    n = len(words)
    for payload, elements in _entries():
        stops = GAP_STOPS if payload.startswith("chest") else frozenset()
        first = elements[0]
        assert isinstance(first, WordSpec)
        for i in range(n):
            if first.accepts(words[i]):
                end = _match(elements, 1, words, sentence, i + 1, n, sentence[i], stops)
                if end is not None:
                    found.append((payload, i, end))
    return sorted(found)


def _as_tuples(hits: list[Hit[str]]) -> list[tuple[str, int, int]]:
    return sorted((h.payload, h.start, h.end) for h in hits)


@st.composite
def messages(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    words = draw(st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=30))
    breaks = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
    sentence: list[int] = []
    sid = 0
    for brk in breaks:
        sid += brk
        sentence.append(sid)
    return words, sentence


@settings(max_examples=400, deadline=None)
@given(messages())
def test_the_matcher_finds_what_walking_every_phrase_finds(message: tuple[list[str], list[int]]) -> None:
    words, sentence = message
    assert _as_tuples(MATCHER.scan(words, sentence)) == _walk_everything(words, sentence)


def test_a_word_that_comes_back_is_matched_at_every_place() -> None:
    words = ["my", "heart", "is", "racing", "and", "my", "heart", "is", "pounding"]
    hits = _as_tuples(MATCHER.scan(words, [0] * len(words)))
    assert ("my ~4 heart ~3 racing|pound*", 0, 4) in hits
    assert ("my ~4 heart ~3 racing|pound*", 5, 9) in hits


def test_a_phrase_whose_later_words_are_missing_is_not_walked_and_not_found() -> None:
    words = ["my", "last", "pen"]
    hits = _as_tuples(MATCHER.scan(words, [0, 0, 0]))
    assert ("my ~2 (last dose|last pen)", 0, 3) in hits
    assert not any(h[0].startswith("my ~4 heart") for h in hits)


def test_sentences_and_gap_stops_are_kept() -> None:
    words = ["chest", "not", "pain"]
    assert not any(h.payload.startswith("chest") for h in MATCHER.scan(words, [0, 0, 0]))
    words = ["chest", "pain"]
    assert not any(h.payload.startswith("chest") for h in MATCHER.scan(words, [0, 1]))
