"""Queue choice: which role queue a classified item goes to, and by which rule (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from careroute.model import Classification, InboundItem
from careroute.rules.schema import RouteWhen, RulePack


@dataclass(frozen=True, slots=True)
class QueueChoice:
    queue: str
    rule_id: str
    description: str


def _holds(when: RouteWhen, item: InboundItem, c: Classification) -> bool:
    if when.type is not None and c.type not in when.type:
        return False
    if when.type_not is not None and c.type in when.type_not:
        return False
    if when.urgency is not None and c.urgency not in when.urgency:
        return False
    if when.channel is not None and item.channel not in when.channel:
        return False
    if when.possible_danger is not None and c.possible_danger != when.possible_danger:
        return False
    return not (when.confidence_below is not None and c.confidence >= when.confidence_below)


def choose_queue(item: InboundItem, classification: Classification, pack: RulePack) -> QueueChoice:
    """The first routing rule that holds wins; otherwise the tag's own queue."""
    for rule in pack.routing:
        if _holds(rule.when, item, classification):
            return QueueChoice(rule.queue, rule.id, rule.description)
    tag = pack.tags[classification.type]
    return QueueChoice(tag.queue, f"tag.{classification.type}", f"default queue of {classification.type}")
