"""Capacity-aware assignment: which waiting task goes to whom (pure).

Waiting tasks are taken in priority order (emergent, urgent, then by claim
deadline, then age); each goes to the eligible person with the lowest load
relative to capacity, ties to whoever has been idle longest. Nobody is pushed
past their capacity, and nobody gets a task their credential does not allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

URGENCY_RANK = {"emergent": 0, "urgent": 1, "routine": 2}


@dataclass(frozen=True, slots=True)
class WaitingTask:
    id: int
    queue: str
    type: str
    urgency: str
    effort: int
    created_at: datetime
    due_at: datetime
    skills: tuple[str, ...] = ()

    @property
    def priority(self) -> tuple[int, datetime, datetime, int]:
        return (URGENCY_RANK[self.urgency], self.due_at, self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class Person:
    """A staff member as the router sees them at one moment."""

    id: str
    credential: str
    queues: frozenset[str]
    skills: frozenset[str]
    capacity: int
    presence: str
    load: int = 0
    queue_capacity: Mapping[str, int] = field(default_factory=dict)
    queue_load: Mapping[str, int] = field(default_factory=dict)
    #: When they last had nothing assigned (or last got a task); longest idle wins ties.
    idle_since: datetime | None = None

    def room(self, queue: str) -> int:
        """Effort units this person can still take in `queue`."""
        room = self.capacity - self.load
        if queue in self.queue_capacity:
            room = min(room, self.queue_capacity[queue] - self.queue_load.get(queue, 0))
        return room

    def took(self, task: WaitingTask, at: datetime) -> Person:
        queue_load = dict(self.queue_load)
        queue_load[task.queue] = queue_load.get(task.queue, 0) + task.effort
        return replace(self, load=self.load + task.effort, queue_load=queue_load, idle_since=at)


@dataclass(frozen=True, slots=True)
class Requirements:
    """What the pack says a queue or a type needs of a person's credential."""

    queue_credentials: Mapping[str, frozenset[str]]
    type_credentials: Mapping[str, frozenset[str]]


def allowed(person: Person, task: WaitingTask, req: Requirements) -> bool:
    """Serves the queue, holds a credential the queue and type accept, and has the skills asked for."""
    if task.queue not in person.queues:
        return False
    for needed in (req.queue_credentials.get(task.queue), req.type_credentials.get(task.type)):
        if needed and person.credential not in needed:
            return False
    return set(task.skills) <= person.skills


def eligible(person: Person, task: WaitingTask, req: Requirements) -> bool:
    return person.presence == "available" and allowed(person, task, req) and person.room(task.queue) >= task.effort


def choose_person(task: WaitingTask, people: Iterable[Person], req: Requirements) -> Person | None:
    """The eligible person with the lowest load relative to capacity; ties to the longest idle."""
    best: Person | None = None
    best_key: tuple[float, float, str] | None = None
    for person in people:
        if not eligible(person, task, req):
            continue
        # Never-assigned people count as idle the longest.
        idle = person.idle_since.timestamp() if person.idle_since else float("-inf")
        key = (person.load / person.capacity, idle, person.id)
        if best_key is None or key < best_key:
            best, best_key = person, key
    return best


def plan(
    waiting: Sequence[WaitingTask], people: Sequence[Person], req: Requirements, at: datetime
) -> list[tuple[WaitingTask, Person]]:
    """Push every waiting task that someone can take, in priority order; returns (task, person) pairs."""
    staff = {p.id: p for p in people}
    out = []
    for task in sorted(waiting, key=lambda t: t.priority):
        person = choose_person(task, staff.values(), req)
        if person is None:
            continue
        out.append((task, person))
        staff[person.id] = person.took(task, at)
    return out
