"""What the message asks for: keyword rules add weight to their tag; the margin sets confidence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .compiled import KEYWORD, Payload
from .context import ContextIndex
from .phrases import Hit
from .rules import ClassifierRules

#: When two tags score the same, the first in this list wins: the request a person would act on first.
TIE_ORDER: tuple[str, ...] = (
    "medication_refill",
    "clinical_question",
    "appointment_callback",
    "records_request",
    "billing_inquiry",
    "referral_packet",
    "prior_auth_pending",
    "lab_result_routine",
    "lab_result_urgent",
    "clinical_urgent",
    "other",
)
_REPEAT = 0.25  # a rule's further matches (up to its ``repeats``) add this share of its weight


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    rule_id: str
    tag: str
    start: int
    end: int
    negated: bool


@dataclass(slots=True)
class RequestScores:
    scores: dict[str, float] = field(default_factory=dict)
    matches: list[KeywordMatch] = field(default_factory=list)

    def ranked(self) -> list[tuple[str, float]]:
        order = {tag: i for i, tag in enumerate(TIE_ORDER)}
        return sorted(self.scores.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))


def score_requests(
    hits: Sequence[Hit[Payload]],
    rules: ClassifierRules,
    channel: str,
    context: ContextIndex,
    priors: Mapping[str, Mapping[str, float]],
) -> RequestScores:
    out = RequestScores()
    counts: dict[int, int] = {}
    keyword_hits = [h for h in hits if h.payload[0] == KEYWORD]
    for hit in keyword_hits:
        _, index = hit.payload
        # The longer phrase says what was meant: "attending physician statement" is a form,
        # not a bill; "life insurance" is not an insurance question.
        if any(
            o.start <= hit.start and hit.end <= o.end and (o.end - o.start) > (hit.end - hit.start)
            for o in keyword_hits
        ):
            continue
        rule = rules.keywords[index]
        # "I don't need a refill, just a question": a negated request does not count.
        negated = rule.negatable and context.may_negate and context.reading(hit.start, hit.end).category == "negated"
        out.matches.append(KeywordMatch(rule.id, rule.tag, hit.start, hit.end, negated))
        if negated:
            continue
        seen = counts.get(index, 0)
        if seen > rule.repeats:
            continue
        counts[index] = seen + 1
        out.scores[rule.tag] = out.scores.get(rule.tag, 0.0) + rule.weight * (1.0 if seen == 0 else _REPEAT)
    for tag, bonus in priors.get(channel, {}).items():
        if tag in out.scores:
            out.scores[tag] += float(bonus)
    return out


def keyword_confidence(top: float, second: float) -> float:
    """Confidence from the winning score and its margin over the runner-up.

    One clear keyword (weight about 1.5) alone reads ~0.75; a tie takes 40% off, so a tie
    between two weakly supported tags falls under the default review threshold.
    """
    if top <= 0:
        return 0.0
    strength = 1.0 - math.exp(-0.9 * top)
    margin = (top - second) / top
    return round(strength * (0.6 + 0.4 * margin), 4)
