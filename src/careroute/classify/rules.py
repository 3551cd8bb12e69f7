"""ClassifierRules: the curated lexicon plus a practice's additions, validated and compiled once.

A practice's rule pack carries a ``classifier:`` section (see ``ClassifierSection``); this module
turns it into one frozen value that ``classify`` reads. Nothing here runs per message.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careroute.model import TAGS

from .lexicon import load_lexicon
from .phrases import PhraseError, compile_phrase, expand_phrase

if TYPE_CHECKING:
    from .compiled import CompiledRules
    from .learned import LearnedModel
    from .urgency_net import UrgencyNet

#: Below this confidence, and with no danger sign, an item goes to the `review` queue.
#: 0.45 is where one clear request keyword (about 0.6) passes and a tie between two tags fails.
REVIEW_BELOW_DEFAULT = 0.45
#: How much a learned model's probability counts against keyword scores where keywords are weak
#: (0 switches the model off).
MODEL_WEIGHT_DEFAULT = 0.5

_RULE_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


class RulesError(ValueError):
    """A classifier section that cannot be used; the message names the field path."""


@dataclass(frozen=True, slots=True)
class DangerRule:
    """Phrases that name one danger sign, and how urgent it is when present."""

    id: str
    urgency: str  # emergent | urgent
    phrases: tuple[str, ...]
    says: str = ""
    #: Weak signs count only together: this many distinct present mentions are needed.
    min_matches: int = 1
    #: Doubt never lowers this sign ("maybe twenty Tylenol", "I might want to die" stay emergent).
    firm: bool = False
    #: Phrases that, present anywhere in the message, make an urgent sign emergent
    #: (a head injury on a blood thinner, a high fever with a stiff neck).
    emergent_with: tuple[str, ...] = ()
    #: Still urgent when it is over ("my arm went numb for ten minutes, it went away"): a sign
    #: whose passing does not make it safe (a TIA, a faint, chest pain) is over-triaged.
    resolved_urgent: bool = False
    #: Phrases of which one must be present (and current) somewhere in the message for this sign to count:
    #: a headache with flashing lights is a warning sign of pre-eclampsia only in a pregnancy, which the
    #: writer may name in another sentence ("I am 34 weeks. Since last night ...").
    only_with: tuple[str, ...] = ()
    #: Signs this one is a more exact reading of: where it is found, a mention of one of these inside
    #: its words is this sign, not that one ("short of breath going up the stairs" is exertional
    #: breathlessness, urgent, not trouble breathing, emergent).
    overrides: tuple[str, ...] = ()
    #: Phrases that, present anywhere and said of the writer, make this emergent sign urgent: passive
    #: thoughts of death "but I don't have a plan and would never act on it" are seen today, not paged.
    #: A sign said with its `emergent_with` stays emergent.
    urgent_with: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """Phrases that point at one tag; ``weight`` is added to the tag's score when any matches."""

    id: str
    tag: str
    weight: float
    phrases: tuple[str, ...]
    #: False for words that name a topic even when negated ("I don't have insurance" is billing).
    negatable: bool = True
    #: How many further matches add a share of the weight. A hint such as a drug name is one
    #: hint however often it occurs: three medicines named are not three refill requests.
    repeats: int = 2


# ---------------------------------------------------------------- the practice's section


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeywordRuleIn(_Strict):
    id: str = Field(pattern=_RULE_ID)
    tag: Literal[
        "clinical_urgent",
        "clinical_question",
        "medication_refill",
        "lab_result_urgent",
        "lab_result_routine",
        "referral_packet",
        "prior_auth_pending",
        "billing_inquiry",
        "appointment_callback",
        "records_request",
        "other",
    ]
    phrases: list[str] = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0, le=5)
    negatable: bool = True


class DangerRuleIn(_Strict):
    id: str = Field(pattern=_RULE_ID)
    urgency: Literal["emergent", "urgent"]
    phrases: list[str] = Field(min_length=1)
    says: str = ""
    min_matches: int = Field(default=1, ge=1, le=5)
    firm: bool = False
    emergent_with: list[str] = Field(default_factory=list)
    resolved_urgent: bool = False
    only_with: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list)
    urgent_with: list[str] = Field(default_factory=list)


class ClassifierSection(_Strict):
    """The ``classifier:`` section of a practice rule pack."""

    review_below: float = Field(default=REVIEW_BELOW_DEFAULT, ge=0, le=1)
    model: str | None = None
    model_weight: float = Field(default=MODEL_WEIGHT_DEFAULT, ge=0, le=1)
    #: The learned urgency safety net (raises routine patient messages to urgent, never lowers).
    urgency_net: bool = True
    #: Its probability threshold; None keeps the shipped one (chosen leave-one-set-out).
    urgency_net_threshold: float | None = Field(default=None, gt=0, lt=1)
    #: The learned refill net (raises a routine refill of a critical medicine to urgent, never lowers).
    refill_net: bool = True
    #: Its probability threshold; None keeps the shipped one (chosen leave-one-set-out).
    refill_net_threshold: float | None = Field(default=None, gt=0, lt=1)
    keywords: list[KeywordRuleIn] = Field(default_factory=list)
    danger: list[DangerRuleIn] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)


def _path(loc: tuple[int | str, ...]) -> str:
    out = "classifier"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# ---------------------------------------------------------------- the rules value


@dataclass(frozen=True, eq=False)
class ClassifierRules:
    """Everything ``classify`` needs; build it with ``default_rules()`` or ``from_mapping()``."""

    danger: tuple[DangerRule, ...]
    keywords: tuple[KeywordRule, ...]
    #: The rest of the curated lexicon: context, noise, numeric, labs, prior_auth, medications.
    lexicon: Mapping[str, Any]
    review_below: float = REVIEW_BELOW_DEFAULT
    model_path: str | None = None
    model_weight: float = MODEL_WEIGHT_DEFAULT
    model: LearnedModel | None = field(default=None, repr=False)
    #: Ids of curated keyword rules the practice switched off (danger rules cannot be).
    disabled: tuple[str, ...] = ()
    #: The urgency safety net, or None when switched off (see ``urgency_net.py``).
    urgency_net: UrgencyNet | None = field(default=None, repr=False)
    #: A pack's own threshold for the net; None keeps the net's shipped threshold.
    urgency_net_threshold: float | None = None
    #: The refill net, or None when switched off (see ``refill_net.py``).
    refill_net: UrgencyNet | None = field(default=None, repr=False)
    #: A pack's own threshold for the refill net; None keeps its shipped threshold.
    refill_net_threshold: float | None = None
    _compiled: CompiledRules = field(init=False, repr=False)
    _overrides: Mapping[str, frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from .compiled import compile_rules

        ids = {r.id for r in self.danger}
        for i, rule in enumerate(self.danger):
            for name in rule.overrides:
                if name not in ids or name == rule.id:
                    raise RulesError(f"classifier.danger[{i}].overrides: no other danger rule {name!r}")
        object.__setattr__(self, "_overrides", {r.id: frozenset(r.overrides) for r in self.danger if r.overrides})

        try:
            compiled = compile_rules(self)
        except PhraseError as exc:
            raise RulesError(f"classifier: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)

    @property
    def compiled(self) -> CompiledRules:
        return self._compiled

    @property
    def overrides(self) -> Mapping[str, frozenset[str]]:
        """Danger rule id -> the general signs it replaces inside its own words."""
        return self._overrides

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, *, base_dir: Path | None = None, load_model: bool = True
    ) -> ClassifierRules:
        """Validate a pack's ``classifier:`` section and merge it into the curated lexicon.

        ``base_dir`` is where a relative ``model`` path is read from (the pack's folder). Raises
        ``RulesError`` naming the field path, e.g. ``classifier.keywords[0].tag``.
        """
        try:
            section = ClassifierSection.model_validate(dict(data or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise RulesError(f"{_path(tuple(first['loc']))}: {first['msg']}") from None
        base = default_rules()
        # The shipped model stays unless the pack names its own.
        model = base.model
        curated_ids = {r.id for r in base.danger} | {r.id for r in base.keywords}
        seen: set[str] = set(curated_ids)
        groups: tuple[tuple[str, Sequence[KeywordRuleIn | DangerRuleIn]], ...] = (
            ("keywords", section.keywords),
            ("danger", section.danger),
        )
        for kind, rules in groups:
            for i, rule in enumerate(rules):
                if rule.id in seen:
                    raise RulesError(f"classifier.{kind}[{i}].id: rule id {rule.id!r} is already used")
                seen.add(rule.id)
                for j, phrase in enumerate(rule.phrases):
                    try:
                        for expanded in expand_phrase(phrase):
                            compile_phrase(expanded, str.lower)
                    except PhraseError as exc:
                        raise RulesError(f"classifier.{kind}[{i}].phrases[{j}]: {exc}") from None
        keyword_ids = {r.id for r in base.keywords}
        for i, rule_id in enumerate(section.disable):
            if rule_id.startswith("danger."):
                raise RulesError(f"classifier.disable[{i}]: danger rules cannot be switched off")
            if rule_id not in keyword_ids:
                raise RulesError(f"classifier.disable[{i}]: no keyword rule {rule_id!r}")
        keywords = tuple(r for r in base.keywords if r.id not in section.disable) + tuple(
            KeywordRule(r.id, r.tag, r.weight, tuple(r.phrases), r.negatable) for r in section.keywords
        )
        known = {r.id for r in base.danger} | {r.id for r in section.danger}
        for i, r in enumerate(section.danger):
            for j, name in enumerate(r.overrides):
                if name not in known or name == r.id:
                    raise RulesError(f"classifier.danger[{i}].overrides[{j}]: no other danger rule {name!r}")
        danger = base.danger + tuple(
            DangerRule(
                r.id,
                r.urgency,
                tuple(r.phrases),
                r.says,
                r.min_matches,
                r.firm,
                tuple(r.emergent_with),
                r.resolved_urgent,
                tuple(r.only_with),
                tuple(r.overrides),
                tuple(r.urgent_with),
            )
            for r in section.danger
        )
        if section.model and not load_model:
            model = None
        if section.model and load_model:
            from .learned import LearnedModel

            model_file = Path(section.model)
            if not model_file.is_absolute() and base_dir is not None:
                model_file = base_dir / model_file
            try:
                model = LearnedModel.load(model_file)
            except (OSError, ValueError) as exc:
                raise RulesError(f"classifier.model: cannot read the learned model ({type(exc).__name__})") from None
        return cls(
            danger=danger,
            keywords=keywords,
            lexicon=base.lexicon,
            review_below=section.review_below,
            model_path=section.model,
            model_weight=section.model_weight,
            model=model,
            disabled=tuple(section.disable),
            urgency_net=base.urgency_net if section.urgency_net else None,
            urgency_net_threshold=section.urgency_net_threshold if section.urgency_net else None,
            refill_net=base.refill_net if section.refill_net else None,
            refill_net_threshold=section.refill_net_threshold if section.refill_net else None,
        )

    def with_model(self, model: LearnedModel | None) -> ClassifierRules:
        """The same rules blending ``model`` (or none) into keyword scores."""
        return replace(self, model=model)

    def with_urgency_net(self, net: UrgencyNet | None, threshold: float | None = None) -> ClassifierRules:
        """The same rules with another urgency safety net (or none), optionally at ``threshold``."""
        return replace(self, urgency_net=net, urgency_net_threshold=threshold)

    def with_refill_net(self, net: UrgencyNet | None, threshold: float | None = None) -> ClassifierRules:
        """The same rules with another refill net (or none), optionally at ``threshold``."""
        return replace(self, refill_net=net, refill_net_threshold=threshold)

    @property
    def refill_net_cutoff(self) -> float:
        """The probability at or above which the refill net raises a refill (1.0 when there is none)."""
        if self.refill_net is None:
            return 1.0
        return self.refill_net.threshold if self.refill_net_threshold is None else self.refill_net_threshold

    @property
    def urgency_net_cutoff(self) -> float:
        """The probability at or above which the net raises an item (1.0 when there is no net)."""
        if self.urgency_net is None:
            return 1.0
        return self.urgency_net.threshold if self.urgency_net_threshold is None else self.urgency_net_threshold

    def fingerprint(self) -> str:
        """A content hash of everything that can change a classification (for the pack version)."""
        content = {
            "danger": [
                [
                    r.id,
                    r.urgency,
                    list(r.phrases),
                    r.min_matches,
                    r.firm,
                    list(r.emergent_with),
                    r.resolved_urgent,
                    *([list(r.only_with)] if r.only_with else []),  # packs without gates keep their hash
                    *([["overrides", *r.overrides]] if r.overrides else []),
                    *([["urgent_with", *r.urgent_with]] if r.urgent_with else []),
                ]
                for r in self.danger
            ],
            "keywords": [[r.id, r.tag, r.weight, list(r.phrases), r.negatable, r.repeats] for r in self.keywords],
            "lexicon": self.lexicon,
            "review_below": self.review_below,
            "model_weight": self.model_weight,
            "model": self.model.fingerprint() if self.model is not None else None,
            "urgency_net": self.urgency_net.fingerprint() if self.urgency_net is not None else None,
            "urgency_net_threshold": self.urgency_net_cutoff,
            "refill_net": self.refill_net.fingerprint() if self.refill_net is not None else None,
            "refill_net_threshold": self.refill_net_cutoff,
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def is_firm(self, rule_id: str) -> bool:
        return any(r.firm for r in self.danger if r.id == rule_id)

    def says(self, rule_id: str) -> str:
        """The plain-language name of a danger rule, for reasons shown to staff."""
        for rule in self.danger:
            if rule.id == rule_id:
                return rule.says or rule_id
        return rule_id


@functools.cache
def default_rules() -> ClassifierRules:
    """The shipped lexicon (English and Spanish), the shipped learned fallback and urgency safety
    net, with no practice additions."""
    from .learned import shipped_model
    from .refill_net import shipped_refill_net
    from .urgency_net import shipped_net

    danger, keywords, rest = _curated()
    return ClassifierRules(
        danger=danger,
        keywords=keywords,
        lexicon=rest,
        model=shipped_model(),
        urgency_net=shipped_net(),
        refill_net=shipped_refill_net(),
    )


@functools.cache
def lexicon_rules() -> ClassifierRules:
    """The shipped lexicon alone, without the learned model or the urgency net (what they are
    trained beside)."""
    danger, keywords, rest = _curated()
    return ClassifierRules(danger=danger, keywords=keywords, lexicon=rest)


#: Lexicon files of phrasings in other languages, keyed by the ids of the English rules.
LANGUAGE_FILES = ("spanish", "creole", "french", "vietnamese", "portuguese")


@functools.cache
def _curated() -> tuple[tuple[DangerRule, ...], tuple[KeywordRule, ...], Mapping[str, Any]]:
    lex = load_lexicon()
    # Other languages' phrasings join the rules of the same id: Spanish, and Haitian Creole.
    languages = {name: lex[name] for name in LANGUAGE_FILES}
    known = {r["id"] for r in lex["danger"]["rules"]} | {r["id"] for r in lex["requests"]["rules"]}
    danger_es: dict[str, list[str]] = {}  # every language's phrasings, by the English rule's id
    requests_es: dict[str, list[str]] = {}
    for name, language in languages.items():
        for section, into in (("danger", danger_es), ("requests", requests_es)):
            for rule_id, phrases in (language.get(section) or {}).items():
                if rule_id not in known:
                    raise RuntimeError(f"{name}.yaml names an unknown rule {rule_id!r}")
                into.setdefault(rule_id, []).extend(phrases)
    danger = tuple(
        DangerRule(
            r["id"],
            r["urgency"],
            tuple(r["phrases"]) + tuple(danger_es.get(r["id"], ())),
            r.get("says", ""),
            int(r.get("min_matches", 1)),
            bool(r.get("firm", False)),
            tuple(r.get("emergent_with", ())),
            bool(r.get("resolved_urgent", False)),
            tuple(r.get("only_with", ())),
            tuple(r.get("overrides", ())),
            tuple(r.get("urgent_with", ())),
        )
        for r in lex["danger"]["rules"]
    ) + tuple(
        # a measured sign may name what makes it emergent, like a sign in words
        DangerRule(r["id"], r["urgency"], (), r.get("says", ""), emergent_with=tuple(r.get("emergent_with", ())))
        for r in lex["danger"].get("measured", ())
    )
    keywords: list[KeywordRule] = []
    for r in lex["requests"]["rules"]:
        phrases = tuple(r.get("phrases", ())) + tuple(requests_es.get(r["id"], ()))
        if r.get("lexicon"):
            phrases += tuple(lex["medications"][r["lexicon"]])
        negatable, repeats = bool(r.get("negatable", True)), int(r.get("repeats", 2))
        keywords.append(KeywordRule(r["id"], r["tag"], float(r["weight"]), phrases, negatable, repeats))
    unknown_tags = {r.tag for r in keywords} - set(TAGS)
    if unknown_tags:
        raise RuntimeError(f"requests.yaml uses unknown tags {sorted(unknown_tags)}")
    context = dict(lex["context"])
    context["triggers"] = list(context["triggers"]) + [
        trigger for language in languages.values() for trigger in language.get("context") or []
    ]
    rest = {
        "context": context,
        "noise": lex["noise"],
        "numeric": lex["danger"]["numeric"],
        "labs": lex["labs"],
        "prior_auth": lex["prior_auth"],
        "medications": {k: v for k, v in lex["medications"].items() if k != "drug_names"},
        "channel_priors": lex["requests"].get("channel_priors", {}),
    }
    return danger, tuple(keywords), rest
