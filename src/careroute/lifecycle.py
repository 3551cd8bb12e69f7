"""Which staff commands a task in a given state accepts (pure).

A task moves open -> assigned (pushed to a person) -> claimed -> resolved, and
may be rerouted to another queue or reopened. A refused command raises
`TransitionRefused` with a message a coordinator can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Command = Literal["claim", "resolve", "reroute", "reopen", "assign"]

ACTIVE = frozenset({"open", "assigned", "claimed"})


class TransitionRefused(Exception):
    """The command does not apply to the task as it stands (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class TaskState:
    status: str
    queue: str
    assignee: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The task's state after a command, and the event kind that records it."""

    event: str
    status: str
    queue: str
    assignee: str | None


def apply(
    state: TaskState,
    command: Command,
    *,
    actor: str,
    to_queue: str | None = None,
    to_staff: str | None = None,
) -> Outcome:
    """Check one command against the task's state and return what it becomes."""
    status = state.status
    if status == "merged":
        raise TransitionRefused("this item was merged into another task; act on that task instead")
    if command == "claim":
        if status == "resolved":
            raise TransitionRefused("the task is resolved; reopen it before claiming it")
        if status == "claimed":
            who = "you" if state.assignee == actor else state.assignee
            raise TransitionRefused(f"the task is already claimed by {who}")
        return Outcome("claimed", "claimed", state.queue, actor)
    if command == "resolve":
        if status == "resolved":
            raise TransitionRefused("the task is already resolved")
        return Outcome("resolved", "resolved", state.queue, state.assignee or actor)
    if command == "reroute":
        if status == "resolved":
            raise TransitionRefused("the task is resolved; reopen it before rerouting it")
        if not to_queue:
            raise TransitionRefused("reroute needs the queue to send the task to")
        if to_queue == state.queue:
            raise TransitionRefused(f"the task is already in queue {to_queue}")
        return Outcome("rerouted", "open", to_queue, None)
    if command == "reopen":
        if status != "resolved":
            raise TransitionRefused(f"only a resolved task can be reopened; this one is {status}")
        return Outcome("reopened", "open", state.queue, None)
    if command == "assign":
        if status == "resolved":
            raise TransitionRefused("the task is resolved; reopen it before assigning it")
        if not to_staff:
            raise TransitionRefused("assign needs the staff member to assign to")
        if state.assignee == to_staff and status in {"assigned", "claimed"}:
            raise TransitionRefused(f"the task is already with {to_staff}")
        return Outcome("assigned", "assigned", state.queue, to_staff)
    raise TransitionRefused(f"unknown command {command!r}")
