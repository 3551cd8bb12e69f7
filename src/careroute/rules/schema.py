"""The rule-pack schema: what a practice may write, checked field by field.

Every model forbids unknown keys so that a misspelt field is an error that
names it, not a rule that silently does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from careroute.model import CHANNELS, TAGS

Identifier = Field(pattern=r"^[a-z][a-z0-9_.\-]*$", min_length=1, max_length=64)
Credential = Literal["coordinator", "MA", "LPN", "RN", "NP", "PA", "MD", "DO"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackMeta(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    timezone: str = "America/New_York"


class QueueSpec(Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    description: str = ""
    #: A clinical queue is staffed by clinicians; danger never leaves one for an administrative queue.
    clinical: bool = False


class TagSpec(Strict):
    queue: str = Identifier
    description: str = ""


class RouteWhen(Strict):
    type: list[str] | None = None
    type_not: list[str] | None = None
    urgency: list[Literal["emergent", "urgent", "routine"]] | None = None
    channel: list[str] | None = None
    possible_danger: bool | None = None
    confidence_below: float | None = Field(default=None, ge=0, le=1)


class RouteRule(Strict):
    id: str = Identifier
    description: str = ""
    when: RouteWhen
    queue: str = Identifier


class StaffSpec(Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    credential: Credential
    queues: list[str] = Field(min_length=1)
    skills: list[str] = []
    max_tasks: int = Field(default=10, ge=1, le=500)


class RulePack(Strict):
    pack: PackMeta
    queues: list[QueueSpec] = Field(min_length=1)
    tags: dict[str, TagSpec]
    routing: list[RouteRule] = []
    staff: list[StaffSpec] = []
    #: Validated by careroute.classify (its own schema), kept opaque here.
    classifier: dict[str, Any] = {}


Loc = tuple[str | int, ...]


def cross_check(pack: RulePack) -> Iterator[tuple[Loc, str]]:
    """References between sections: every queue named must exist, ids are unique, tags are complete."""
    queue_ids = [q.id for q in pack.queues]
    known = set(queue_ids)
    for i, qid in enumerate(queue_ids):
        if qid in queue_ids[:i]:
            yield ("queues", i, "id"), f"queue id {qid!r} appears twice"
    if "review" not in known:
        yield ("queues",), "a 'review' queue is required: uncertain items go there"
    for tag in TAGS:
        if tag not in pack.tags:
            yield ("tags",), f"tag {tag!r} of the taxonomy has no entry"
    for tag, spec in pack.tags.items():
        if tag not in TAGS:
            yield ("tags", tag), f"{tag!r} is not a taxonomy tag (one of: {', '.join(TAGS)})"
        if spec.queue not in known:
            yield ("tags", tag, "queue"), f"unknown queue {spec.queue!r}"
    seen_rules: set[str] = set()
    for i, rule in enumerate(pack.routing):
        if rule.id in seen_rules:
            yield ("routing", i, "id"), f"rule id {rule.id!r} appears twice"
        seen_rules.add(rule.id)
        if rule.queue not in known:
            yield ("routing", i, "queue"), f"unknown queue {rule.queue!r}"
        for field in ("type", "type_not"):
            for j, tag in enumerate(getattr(rule.when, field) or []):
                if tag not in TAGS:
                    yield ("routing", i, "when", field, j), f"{tag!r} is not a taxonomy tag"
        for j, channel in enumerate(rule.when.channel or []):
            if channel not in CHANNELS:
                yield ("routing", i, "when", "channel", j), f"{channel!r} is not a channel"
    seen_staff: set[str] = set()
    for i, person in enumerate(pack.staff):
        if person.id in seen_staff:
            yield ("staff", i, "id"), f"staff id {person.id!r} appears twice"
        seen_staff.add(person.id)
        for j, queue in enumerate(person.queues):
            if queue not in known:
                yield ("staff", i, "queues", j), f"unknown queue {queue!r}"
