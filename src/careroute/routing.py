"""Queue choice: which role queue a classified item goes to, and by which rule (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from careroute.model import HIGH_URGENCIES, Classification, InboundItem
from careroute.rules.schema import RouteWhen, RulePack


@dataclass(frozen=True, slots=True)
class QueueChoice:
    queue: str
    rule_id: str
    description: str
    skills: tuple[str, ...] = ()
    #: "auto" or "manual" when the pack runs a pilot, else None.
    pilot_arm: str | None = None


def _holds(when: RouteWhen, item: InboundItem, c: Classification, open_now: bool) -> bool:
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
    if when.after_hours is not None and when.after_hours == open_now:
        return False
    return not (when.confidence_below is not None and c.confidence >= when.confidence_below)


def pilot_share(salt: str, channel: str, external_id: str) -> float:
    """A stable number in [0, 1) per item, so an item lands in the same pilot arm on every replay."""
    digest = hashlib.sha256(f"{salt}\x00{channel}\x00{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_queue(item: InboundItem, classification: Classification, pack: RulePack, *, open_now: bool) -> QueueChoice:
    """The first routing rule that holds wins; otherwise the tag's own queue.

    In pilot mode, items outside the automatic share go to the manual dispatch
    queue, except those a safety rule sends to a clinician: danger is never
    left waiting for a human dispatcher.
    """
    choice = None
    for rule in pack.routing:
        if _holds(rule.when, item, classification, open_now):
            choice = QueueChoice(rule.queue, rule.id, rule.description, tuple(rule.skills))
            break
    if choice is None:
        tag = pack.tags[classification.type]
        choice = QueueChoice(tag.queue, f"tag.{classification.type}", f"default queue of {classification.type}")
    pilot = pack.pilot
    if pilot is None:
        return choice
    clinical = {q.id for q in pack.queues if q.clinical}
    safety = choice.queue in clinical and (classification.possible_danger or classification.urgency in HIGH_URGENCIES)
    if safety or pilot_share(pilot.salt, item.channel, item.external_id) < pilot.fraction:
        return QueueChoice(choice.queue, choice.rule_id, choice.description, choice.skills, "auto")
    return QueueChoice(pilot.manual_queue, "pilot.manual", "pilot: manual dispatch arm", (), "manual")
