"""The rule-pack schema: what a practice may write, checked field by field.

Every model forbids unknown keys so that a misspelt field is an error that
names it, not a rule that silently does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from careroute import escalation as escalation_rules
from careroute.acknowledge import Acknowledgements
from careroute.calendar import CalendarSpec
from careroute.escalation import EscalationPolicy, EscalationSpec
from careroute.metrics import MetricTargets
from careroute.model import CHANNELS, TAGS
from careroute.sla import SlaSpec

Identifier = Field(pattern=r"^[a-z][a-z0-9_.\-]*$", min_length=1, max_length=64)
Credential = Literal["coordinator", "MA", "LPN", "RN", "NP", "PA", "MD", "DO"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackMeta(Strict):
    name: str = Field(min_length=1)
    description: str = ""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class QueueSpec(Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    description: str = ""
    #: A clinical queue is staffed by clinicians; danger never leaves one for an administrative queue.
    clinical: bool = False
    #: Credentials allowed to work this queue's tasks (empty: anyone who serves the queue).
    requires: list[Credential] = []


class TagSpec(Strict):
    queue: str = Identifier
    description: str = ""
    #: Effort units a task of this type weighs against a person's capacity.
    effort: int = Field(default=1, ge=1, le=20)
    #: Credentials allowed to work this type, on top of the queue's own requirement.
    requires: list[Credential] = []


class RouteWhen(Strict):
    type: list[str] | None = None
    type_not: list[str] | None = None
    urgency: list[Literal["emergent", "urgent", "routine"]] | None = None
    channel: list[str] | None = None
    possible_danger: bool | None = None
    confidence_below: float | None = Field(default=None, ge=0, le=1)
    #: True: only while the practice is closed (nights, weekends, holidays); False: only while open.
    after_hours: bool | None = None


class RouteRule(Strict):
    id: str = Identifier
    description: str = ""
    when: RouteWhen
    queue: str = Identifier
    #: Skills a person needs to be pushed tasks routed by this rule (e.g. spanish, a payer).
    skills: list[str] = []


class Shift(Strict):
    days: list[Weekday] = Field(min_length=1)
    hours: str = Field(
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$", description="HH:MM-HH:MM, local time"
    )


class StaffSpec(Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    credential: Credential
    queues: list[str] = Field(min_length=1)
    skills: list[str] = []
    #: Most effort units this person holds at once (assigned or claimed), over all queues.
    capacity: int = Field(default=10, ge=1, le=500)
    #: Optional tighter limits per queue, in effort units.
    queue_capacity: dict[str, int] = {}
    #: Weekly schedule in the pack's time zone; none listed means always on shift.
    shifts: list[Shift] = []
    #: Where escalations and pages for this person are emailed.
    email: str | None = None


class RerouteReason(Strict):
    code: str = Identifier
    label: str = Field(min_length=1)


class Pilot(Strict):
    """Send only a share of items through automatic routing; the rest to a manual dispatch queue."""

    fraction: float = Field(ge=0, le=1)
    manual_queue: str = "manual_dispatch"
    salt: str = "careroute"


class RulePack(Strict):
    pack: PackMeta
    queues: list[QueueSpec] = Field(min_length=1)
    tags: dict[str, TagSpec]
    routing: list[RouteRule] = []
    staff: list[StaffSpec] = []
    reroute_reasons: list[RerouteReason] = []
    pilot: Pilot | None = None
    #: Business hours, holidays and closures; the time zone every local time in the pack is read in.
    calendar: CalendarSpec = CalendarSpec()
    sla: SlaSpec = SlaSpec()
    escalation: EscalationSpec = EscalationSpec()
    #: What the patient hears back, per channel.
    acknowledgements: Acknowledgements = Acknowledgements()
    #: Targets the scoreboard shows each metric against.
    metrics: MetricTargets = MetricTargets()
    #: Who is paged, in order: a page not acknowledged moves to the next entry (staff ids or escalation roles).
    rosters: dict[str, list[str]] = {}
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
        for queue in person.queue_capacity:
            if queue not in person.queues:
                yield ("staff", i, "queue_capacity", queue), f"{queue!r} is not one of this person's queues"
    if pack.pilot is not None and pack.pilot.manual_queue not in known:
        yield ("pilot", "manual_queue"), f"unknown queue {pack.pilot.manual_queue!r}: add it to queues"
    policy = EscalationPolicy(calendar=pack.calendar, sla=pack.sla, escalation=pack.escalation)
    yield from escalation_rules.cross_check(policy, queue_ids, TAGS)
    staff_ids = {p.id for p in pack.staff}
    for name, entries in pack.rosters.items():
        for j, entry in enumerate(entries):
            if entry not in staff_ids and entry not in pack.escalation.roles:
                yield ("rosters", name, j), f"{entry!r} is neither a staff id nor an escalation role"
    for i, esc in enumerate(pack.escalation.rules):
        action = esc.action
        if isinstance(action, escalation_rules.Page) and action.roster not in pack.rosters:
            yield (
                ("escalation", "rules", i, "action", "roster"),
                f"unknown roster {action.roster!r}; add it under rosters",
            )
    codes = [r.code for r in pack.reroute_reasons]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            yield ("reroute_reasons", i, "code"), f"reason code {code!r} appears twice"
