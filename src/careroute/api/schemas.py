"""Request and response bodies of the JSON API, and how domain values become JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from careroute.model import Event, QueueSummary, Task
from careroute.sla import Due, DueTimes


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=64, description="the staff member acting")


class ResolveBody(Command):
    reason: str | None = Field(default=None, max_length=2_000)


class RerouteBody(Command):
    to_queue: str = Field(min_length=1, max_length=64)
    reason_code: str | None = Field(
        default=None, max_length=64, description="one of the rule pack's reroute reasons (required when it lists some)"
    )
    reason: str | None = Field(default=None, max_length=2_000, description="why it was in the wrong queue")


class UnmergeBody(Command):
    reason: str = Field(min_length=1, max_length=2_000, description="why these are not the same request")


class HoldBody(Command):
    reason: str = Field(min_length=1, max_length=500, description="what the task is waiting on")


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    presence: str = Field(description="available, busy, away or off_shift")


class ReopenBody(Command):
    reason: str | None = Field(default=None, max_length=2_000)


class AssignBody(Command):
    staff: str = Field(min_length=1, max_length=64, description="the staff member to push the task to")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "status": task.status,
        "type": task.type,
        "urgency": task.urgency,
        "queue": task.queue,
        "assignee": task.assignee,
        "confidence": round(task.confidence, 4),
        "effort": task.effort,
        "due_at": iso(task.due_at),
        "assigned_at": iso(task.assigned_at),
        "pilot_arm": task.pilot_arm,
        "on_hold": task.on_hold,
        "acknowledged_at": iso(task.acknowledged_at),
        "next_escalation_at": iso(task.next_escalation_at),
        "channel": task.channel,
        "external_id": task.external_id,
        "route_rule": task.route_rule,
        "pack_version": task.pack_version,
        "item_count": task.item_count,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "first_claimed_at": iso(task.first_claimed_at),
        "resolved_at": iso(task.resolved_at),
        "follows_task_id": task.follows_task_id,
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "at": iso(event.at),
        "actor": event.actor,
        "queue": event.queue,
        "assignee": event.assignee,
        "rule_ids": list(event.rule_ids),
        "reason": event.reason,
        "data": dict(event.data),
        "pack_version": event.pack_version,
    }


def item_json(row: Row[Any]) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "channel": m["channel"],
        "external_id": m["external_id"],
        "received_at": iso(m["received_at"]),
        "patient": m["patient"],
        "subject": m["subject"],
        "body": m["body"],
        "metadata": m["item_metadata"],
        "classification": {
            "type": m["type"],
            "urgency": m["urgency"],
            "confidence": m["confidence"],
            "rule_ids": m["rule_ids"],
            "reasons": m["reasons"],
        },
        "duplicate_of": m["duplicate_of"],
    }


def queue_json(q: QueueSummary, now: datetime) -> dict[str, Any]:
    oldest = q.oldest_waiting_since
    return {
        "id": q.id,
        "name": q.name,
        "clinical": q.clinical,
        "depth": q.depth,
        "waiting": q.waiting,
        "oldest_waiting_since": iso(oldest),
        "oldest_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
        "by_urgency": dict(q.by_urgency),
    }


def _due(d: Due, now: datetime) -> dict[str, Any]:
    return {
        "clock": d.clock,
        "name": d.name,
        "due_at": iso(d.at),
        "met_at": iso(d.met_at),
        "business_hours": d.business,
        "paused": d.at is None,
        "breached": d.breached(now),
        "target": str(d.target) if d.target is not None else None,
    }


def due_json(times: DueTimes, now: datetime) -> list[dict[str, Any]]:
    """Every clock running on a task, for the API and the web views."""
    clocks = [c for c in (times.claim, times.resolve) if c is not None] + [*times.duties, *times.deadlines]
    return [_due(c, now) for c in clocks]


def notification_json(row: Row[Any]) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "task_id": m["task_id"],
        "rule_id": m["rule_id"],
        "kind": m["kind"],
        "target": m["target"],
        "status": m["status"],
        "attempts": m["attempts"],
        "last_error": m["last_error"],
        "created_at": iso(m["created_at"]),
        "sent_at": iso(m["sent_at"]),
    }
