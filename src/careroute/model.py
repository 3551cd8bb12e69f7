"""Plain types shared by the functional core and the shell.

Everything here is a frozen dataclass over plain values: no framework, no I/O.
Datetimes are always timezone-aware; a naive one is a bug and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Channel = Literal["portal", "voicemail", "fax", "email", "phone", "lab", "ehr"]
CHANNELS: tuple[str, ...] = ("portal", "voicemail", "fax", "email", "phone", "lab", "ehr")

Urgency = Literal["emergent", "urgent", "routine"]
URGENCIES: tuple[str, ...] = ("emergent", "urgent", "routine")
HIGH_URGENCIES = frozenset({"emergent", "urgent"})

#: The taxonomy's tags (../shared/taxonomy.md), in the order the taxonomy lists them.
TAGS: tuple[str, ...] = (
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
)

TaskStatus = Literal["open", "assigned", "claimed", "resolved", "merged"]


def require_aware(value: datetime, name: str) -> datetime:
    """Refuse naive datetimes: business-hours arithmetic is wrong without an offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return value


@dataclass(frozen=True, slots=True)
class Patient:
    """What the source told us about the patient; every field optional."""

    mrn: str | None = None
    name: str | None = None
    dob: str | None = None  # YYYY-MM-DD
    phone: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {
            k: v for k, v in (("mrn", self.mrn), ("name", self.name), ("dob", self.dob), ("phone", self.phone)) if v
        }


@dataclass(frozen=True, slots=True)
class InboundItem:
    """One piece of inbound work, as every intake adapter normalises it."""

    channel: str
    external_id: str
    received_at: datetime
    # Message content and patient fields are PHI: kept out of repr so that no log line can carry them.
    body: str = field(repr=False)
    patient: Patient = field(default_factory=Patient, repr=False)
    subject: str | None = field(default=None, repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        require_aware(self.received_at, "received_at")

    @property
    def text(self) -> str:
        """Subject and body together, as classification reads them."""
        return f"{self.subject}\n{self.body}" if self.subject else self.body

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "channel": self.channel,
            "external_id": self.external_id,
            "received_at": self.received_at.isoformat(),
            "patient": self.patient.to_dict(),
            "body": self.body,
        }
        if self.subject is not None:
            out["subject"] = self.subject
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass(frozen=True, slots=True)
class Evidence:
    """A phrase that moved a decision, with where it was found and how it was read."""

    rule_id: str
    phrase: str
    start: int  # offsets into the normalised text the classifier read
    end: int
    negated: bool = False
    historical: bool = False
    uncertain: bool = False
    other_person: bool = False


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one item: type, urgency and why."""

    type: str
    urgency: str
    confidence: float
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    #: True when a danger sign was seen (even doubtfully): the item must reach a clinician.
    possible_danger: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The dispatch decision for one item: the contract of ../shared/taxonomy.md."""

    external_id: str
    type: str
    urgency: str
    queue: str
    duplicate_of: str | None
    confidence: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "type": self.type,
            "urgency": self.urgency,
            "queue": self.queue,
            "duplicate_of": self.duplicate_of,
            "confidence": round(self.confidence, 4),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Task:
    """One piece of work: the projection of its events. Several items may belong to it."""

    id: int
    status: str
    type: str
    urgency: str
    queue: str
    assignee: str | None
    confidence: float
    channel: str
    external_id: str
    route_rule: str
    pack_version: str
    item_count: int
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    urgency_rank: int = 2
    effort: int = 1
    skills: tuple[str, ...] = ()
    pilot_arm: str | None = None
    assigned_at: datetime | None = None
    first_claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    follows_task_id: int | None = None
    acknowledged_at: datetime | None = None
    on_hold: bool = False
    next_escalation_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One appended change to a task: who, when, which rule, why."""

    id: int
    task_id: int
    kind: str
    at: datetime
    actor: str
    queue: str | None = None
    assignee: str | None = None
    rule_ids: tuple[str, ...] = ()
    reason: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    pack_version: str | None = None


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A role queue's load right now."""

    id: str
    name: str
    clinical: bool
    depth: int  # unresolved tasks in the queue
    waiting: int  # not yet claimed
    oldest_waiting_since: datetime | None
    by_urgency: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Staff:
    """A person who works queues."""

    id: str
    name: str
    credential: str
    queues: tuple[str, ...]
    skills: tuple[str, ...] = ()
    capacity: int = 10  # effort units held at once, over all queues
    queue_capacity: Mapping[str, int] = field(default_factory=dict)
    presence: str = "available"  # live state; the shift schedule decides whether `available` is on shift
