"""A learned urgency safety net: P(emergent or urgent) for what a patient wrote, used only to raise.

Four blind rounds missed 18-33% of urgent items before their fixes, always through danger signs
phrased in words the curated lexicon had never seen ("her heart is hurting ... going to her back",
"30 weeks, leaking fluid"). This model reads the same normalised words with TF-IDF over word
1-2 grams and character 3-5 grams inside words (so "hurting", "leaking" and misspellings share
features with what it was trained on) and a logistic regression for "high urgency".

It is a net, not a judge: ``classify`` consults it only for patient-written channels, only when
the rules left the item routine, and it can only raise urgency to `urgent` (never lower, never
change a danger verdict). Its threshold and design were chosen leave-one-set-out
(``scripts/validate_urgency_net.py``; results in tests/unit/cases/BLIND_ROUNDS.md).

Trained with scikit-learn by ``scripts/train_classifier.py``, stored as plain JSON, applied with
numpy alone: no scikit-learn import and no pickled code at run time.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "careroute.urgency_net/1"
KINDS = frozenset({"urgency_net", "refill_net"})
#: The shipped net, package data beside the learned fallback.
SHIPPED = "model/urgency_net.json"
#: Channels where a patient (or a caregiver) writes or speaks in their own words. Labs and
#: prior-auth updates have structured signals; faxes and EHR documents describe history.
PATIENT_CHANNELS = frozenset({"portal", "voicemail", "email", "phone"})


def teaches_net(channel: str, tag: str, urgency: str) -> bool:
    """Whether a labelled item trains the net: a patient-written item, except an urgent refill.

    A refill is urgent because a critical medicine has run out, which ``refills.py`` reads from
    the words; taught to the net, it makes "almost out of my insulin" look like danger."""
    return channel in PATIENT_CHANNELS and not (tag == "medication_refill" and urgency != "routine")


#: The shipped design, chosen leave-one-set-out (scripts/validate_urgency_net.py): word 1-2 grams
#: at C=10; character n-grams caught no more held-out urgent items and over-triaged more.
SHIPPED_C = 10.0
SHIPPED_CHARS = False
#: The threshold is the lowest at which the net, scored out-of-set on the training sets, raises at
#: most this share of their routine items: spending about half the over-triage budget (0.08).
SHIPPED_BUDGET = 0.04
#: Character n-grams inside words (scikit-learn's ``char_wb``): 3 to 5 characters.
CHAR_MIN, CHAR_MAX = 3, 5
#: Words whose character n-grams are remembered: most messages reuse a few thousand words.
_WORD_CACHE_MAX = 50_000


def word_grams(words: Sequence[str]) -> Counter[str]:
    """Word unigrams and bigrams over the normalised words."""
    grams: Counter[str] = Counter(words)
    grams.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return grams


def char_grams_of_word(word: str) -> list[str]:
    """Character 3-5 grams of one word padded with spaces, as scikit-learn's ``char_wb`` makes them."""
    padded = f" {word} "
    out: list[str] = []
    for n in range(CHAR_MIN, CHAR_MAX + 1):
        if len(padded) <= n:  # a short word counts once, whole
            out.append(padded)
            break
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def char_grams(words: Sequence[str]) -> Counter[str]:
    grams: Counter[str] = Counter()
    for word in words:
        grams.update(char_grams_of_word(word))
    return grams


def _tfidf(counts: Mapping[int, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sublinear TF-IDF, L2-normalised (one block): indices and weights."""
    index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
    tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=float, count=len(counts))
    weights = tf * idf[index]
    norm = float(np.sqrt(weights @ weights))
    return index, weights / (norm or 1.0)


@dataclass(frozen=True, eq=False)
class UrgencyNet:
    """A fitted binary model: probability that a message is emergent or urgent."""

    word_vocabulary: Mapping[str, int]
    word_idf: np.ndarray
    word_coef: np.ndarray
    char_vocabulary: Mapping[str, int]
    char_idf: np.ndarray
    char_coef: np.ndarray
    intercept: float
    #: Raise to urgent at or above this probability (chosen with the design; a pack may move it).
    threshold: float
    #: What the net reads for: "urgency_net" (danger in a patient's words) or "refill_net" (a critical
    #: medicine running out, ``refill_net.py``). Both are the same kind of model; reasons name which.
    kind: str = "urgency_net"
    _char_cache: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def model_id(self) -> str:
        """A short content id named in reasons, so a raised item says which net raised it."""
        return f"{self.kind}:{self.fingerprint()[:8]}"

    def _char_index(self, word: str) -> tuple[int, ...]:
        # Per-word cache: building n-grams is most of the cost, and words repeat across messages.
        cached = self._char_cache.get(word)
        if cached is None:
            vocabulary = self.char_vocabulary
            cached = tuple(vocabulary[g] for g in char_grams_of_word(word) if g in vocabulary)
            if len(self._char_cache) < _WORD_CACHE_MAX:
                self._char_cache[word] = cached
        return cached

    def probability(self, words: Sequence[str]) -> float:
        """P(emergent or urgent) for a message's normalised words."""
        score = self.intercept
        vocabulary = self.word_vocabulary
        word_counts: Counter[int] = Counter(vocabulary[g] for g in word_grams(words).elements() if g in vocabulary)
        if word_counts:
            index, weights = _tfidf(word_counts, self.word_idf)
            score += float(self.word_coef[index] @ weights)
        char_counts: Counter[int] = Counter()
        for word in words:
            char_counts.update(self._char_index(word))
        if char_counts:
            index, weights = _tfidf(char_counts, self.char_idf)
            score += float(self.char_coef[index] @ weights)
        return 1.0 / (1.0 + math.exp(-score))

    def with_threshold(self, threshold: float) -> UrgencyNet:
        return UrgencyNet(
            self.word_vocabulary,
            self.word_idf,
            self.word_coef,
            self.char_vocabulary,
            self.char_idf,
            self.char_coef,
            self.intercept,
            threshold,
            self.kind,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "threshold": round(self.threshold, 6),
            "intercept": round(self.intercept, 6),
            "char_ngrams": [CHAR_MIN, CHAR_MAX],
            "word": {
                "vocabulary": dict(self.word_vocabulary),
                "idf": self.word_idf.round(6).tolist(),
                "coef": self.word_coef.round(6).tolist(),
            },
            "char": {
                "vocabulary": dict(self.char_vocabulary),
                "idf": self.char_idf.round(6).tolist(),
                "coef": self.char_coef.round(6).tolist(),
            },
        }
        if self.kind != "urgency_net":  # the urgency net's file (and so its fingerprint) stays as it was
            data["kind"] = self.kind
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UrgencyNet:
        if data.get("format") != FORMAT:
            raise ValueError("not a careroute urgency net file")
        if list(data.get("char_ngrams", ())) != [CHAR_MIN, CHAR_MAX]:
            raise ValueError("urgency net was built with other character n-grams")
        blocks = []
        for name in ("word", "char"):
            block = data[name]
            vocabulary = {str(k): int(v) for k, v in block["vocabulary"].items()}
            idf = np.asarray(block["idf"], dtype=float)
            coef = np.asarray(block["coef"], dtype=float)
            if not (len(vocabulary) == idf.shape[0] == coef.shape[0]):
                raise ValueError("urgency net file is inconsistent")
            blocks.append((vocabulary, idf, coef))
        threshold = float(data["threshold"])
        if not 0.0 < threshold < 1.0:
            raise ValueError("urgency net threshold must be between 0 and 1")
        (wv, wi, wc), (cv, ci, cc) = blocks
        kind = str(data.get("kind", "urgency_net"))
        if kind not in KINDS:
            raise ValueError("urgency net file names an unknown kind")
        return cls(wv, wi, wc, cv, ci, cc, float(data["intercept"]), threshold, kind)

    @classmethod
    def load(cls, path: Path | str) -> UrgencyNet:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def fingerprint(self) -> str:
        return _fingerprint(self)


@functools.lru_cache(maxsize=8)
def _fingerprint(net: UrgencyNet) -> str:
    """Hashing serialises the whole net: once per (frozen) net object is enough."""
    return hashlib.sha256(net.dumps().encode("utf-8")).hexdigest()


@functools.cache
def shipped_net() -> UrgencyNet:
    """The net shipped as package data (``scripts/train_classifier.py`` writes it)."""
    text = resources.files("careroute.classify").joinpath(SHIPPED).read_text(encoding="utf-8")
    return UrgencyNet.from_dict(json.loads(text))


def train_net(
    examples: Iterable[tuple[Sequence[str], bool]],
    *,
    c: float = SHIPPED_C,
    threshold: float = 0.5,
    use_chars: bool = True,
    kind: str = "urgency_net",
) -> UrgencyNet:
    """Fit on (normalised words, is high urgency) pairs. Deterministic (lbfgs, scikit-learn's
    sorted vocabularies, no random state). ``use_chars=False`` leaves the character block empty
    (a design compared in scripts/validate_urgency_net.py)."""
    from scipy.sparse import hstack  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    pairs = [(tuple(words), bool(high)) for words, high in examples]
    if len({high for _, high in pairs}) < 2:
        raise ValueError("training the urgency net needs both high and routine examples")
    docs = [words for words, _ in pairs]
    # The analyzers are this module's own functions, so training and run time cannot drift apart.
    word_vec = TfidfVectorizer(analyzer=lambda w: list(word_grams(w).elements()), sublinear_tf=True)
    char_vec = TfidfVectorizer(analyzer=lambda w: list(char_grams(w).elements()), sublinear_tf=True)
    blocks = [word_vec.fit_transform(docs)]
    if use_chars:
        blocks.append(char_vec.fit_transform(docs))
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(hstack(blocks).tocsr(), [high for _, high in pairs])
    coef = np.asarray(model.coef_[0], dtype=float)
    n_words = len(word_vec.vocabulary_)
    char_vocabulary = {str(k): int(v) for k, v in char_vec.vocabulary_.items()} if use_chars else {}
    char_idf = np.asarray(char_vec.idf_, dtype=float) if use_chars else np.zeros(0)
    return UrgencyNet(
        word_vocabulary={str(k): int(v) for k, v in word_vec.vocabulary_.items()},
        word_idf=np.asarray(word_vec.idf_, dtype=float),
        word_coef=coef[:n_words],
        char_vocabulary=char_vocabulary,
        char_idf=char_idf,
        char_coef=coef[n_words:],
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        kind=kind,
    )


def choose_threshold(raisable: Iterable[float], routine_items: int, budget: float) -> float:
    """The lowest threshold at which at most ``budget`` of ``routine_items`` would be raised.

    ``raisable`` are the out-of-set probabilities of the routine items the rules left routine in
    patient channels (the only ones the net can over-triage)."""
    allowed = int(budget * routine_items)
    ranked = sorted(raisable, reverse=True)
    if len(ranked) <= allowed:
        return 0.5
    # Just above the first probability that would exceed the budget.
    return round(min(0.99, ranked[allowed] + 1e-4), 4)
