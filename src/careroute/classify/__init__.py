"""Classification a triage nurse would trust: type, urgency, confidence and the reasons why.

A pure package: ``classify(item, rules)`` does no I/O. Rules are built once, at load time, from
the curated lexicon in ``lexicon/*.yaml`` plus a practice pack's ``classifier:`` section.
"""

from __future__ import annotations

from .classifier import classify, classify_many, needs_review
from .rules import REVIEW_BELOW_DEFAULT, ClassifierRules, ClassifierSection, RulesError, default_rules

__all__ = [
    "REVIEW_BELOW_DEFAULT",
    "ClassifierRules",
    "ClassifierSection",
    "RulesError",
    "classify",
    "classify_many",
    "default_rules",
    "needs_review",
]
