"""The application service: intake of items and the staff commands on tasks.

Each public method is one action: in one transaction it reads what it needs,
asks the pure core (classification, routing, lifecycle) what to do, writes the
task projection and appends the events that record it. Notifications and other
side effects belong after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from careroute import lifecycle
from careroute.model import Classification, Decision, Event, InboundItem, Staff, Task
from careroute.routing import choose_queue
from careroute.rules.loader import LoadedPack
from careroute.store.repository import Store

Clock = Callable[[], datetime]
Classifier = Callable[[InboundItem], Classification]


def system_clock() -> datetime:
    return datetime.now(UTC)


class SimulatedClock:
    """A clock that replay and tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class NotFound(LookupError):
    """No task (or staff member, or queue) with that id (HTTP 404)."""


class InvalidCommand(ValueError):
    """A command whose arguments are wrong whatever the task's state (HTTP 422)."""


@dataclass(frozen=True)
class IntakeResult:
    task_id: int
    created: bool  # False when this (channel, external_id) was already taken in
    decision: Decision


def pack_classifier(pack: LoadedPack) -> Classifier:
    from careroute.classify import classify

    rules = pack.classifier_rules

    def run(item: InboundItem) -> Classification:
        return classify(item, rules)

    return run


class Dispatcher:
    def __init__(
        self,
        store: Store,
        pack: LoadedPack,
        clock: Clock = system_clock,
        classifier: Classifier | None = None,
    ) -> None:
        self.store = store
        self.pack = pack
        self.clock = clock
        self.classifier = classifier or pack_classifier(pack)

    # -- start-up ------------------------------------------------------------

    def load_pack(self) -> None:
        """Record the pack version and make the staff table match its people."""
        spec = self.pack.spec
        people = [
            Staff(p.id, p.name, p.credential, tuple(p.queues), tuple(p.skills), p.max_tasks) for p in spec.staff
        ]
        now = self.clock()
        with self.store.write() as conn:
            self.store.record_pack(conn, self.pack.version, spec.pack.name, self.pack.source, self.pack.text, now)
            self.store.sync_staff(conn, people, now)

    # -- intake --------------------------------------------------------------

    def intake(self, item: InboundItem) -> IntakeResult:
        """Take in one item: idempotent on (channel, external_id); committed before it returns."""
        return self.intake_batch([item])[0]

    def intake_batch(self, batch: Sequence[InboundItem], *, at_received: bool = False) -> list[IntakeResult]:
        """Take in several items in one transaction, in order.

        `at_received` stamps each item's events with its own received_at instead
        of the clock: replay uses it to run a week of history as it happened.
        """
        # Classification is pure CPU work: do it before taking the write lock.
        classified = [(item, self.classifier(item)) for item in batch]
        try:
            with self.store.write() as conn:
                return [self._intake_one(conn, item, c, at_received) for item, c in classified]
        except IntegrityError:
            # Another writer took in the same (channel, external_id) between our
            # check and our insert (PostgreSQL, concurrent requests). Nothing of
            # this transaction was kept; run it again and the check now sees it.
            with self.store.write() as conn:
                return [self._intake_one(conn, item, c, at_received) for item, c in classified]

    def _intake_one(
        self, conn: Connection, item: InboundItem, c: Classification, at_received: bool
    ) -> IntakeResult:
        existing = self.store.find_item(conn, item.channel, item.external_id)
        if existing is not None:
            return self._existing_result(conn, existing)
        now = item.received_at if at_received else self.clock()
        pack = self.pack
        choice = choose_queue(item, c, pack.spec)
        task_id = self.store.insert_task(
            conn,
            {
                "status": "open",
                "type": c.type,
                "urgency": c.urgency,
                "queue": choice.queue,
                "assignee": None,
                "confidence": c.confidence,
                "channel": item.channel,
                "external_id": item.external_id,
                "route_rule": choice.rule_id,
                "pack_version": pack.version,
                "item_count": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        item_id = self.store.insert_item(conn, self._item_row(item, c, task_id, None, now))
        base = {"task_id": task_id, "at": now, "actor": "careroute", "pack_version": pack.version}
        self.store.append_events(
            conn,
            [
                {
                    **base,
                    "kind": "created",
                    "queue": None,
                    "assignee": None,
                    "rule_ids": [],
                    "reason": None,
                    "data": {"item_id": item_id, "channel": item.channel, "external_id": item.external_id},
                },
                {
                    **base,
                    "kind": "classified",
                    "queue": None,
                    "assignee": None,
                    "rule_ids": list(c.rule_ids),
                    "reason": "; ".join(c.reasons),
                    "data": {
                        "type": c.type,
                        "urgency": c.urgency,
                        "confidence": c.confidence,
                        "possible_danger": c.possible_danger,
                    },
                },
                {
                    **base,
                    "kind": "routed",
                    "queue": choice.queue,
                    "assignee": None,
                    "rule_ids": [choice.rule_id],
                    "reason": choice.description,
                    "data": {},
                },
            ],
        )
        decision = Decision(
            external_id=item.external_id,
            type=c.type,
            urgency=c.urgency,
            queue=choice.queue,
            duplicate_of=None,
            confidence=c.confidence,
            reasons=(*c.reasons, f"{choice.rule_id}: {choice.description}"),
        )
        return IntakeResult(task_id, True, decision)

    @staticmethod
    def _item_row(
        item: InboundItem, c: Classification, task_id: int, duplicate_of: str | None, now: datetime
    ) -> dict[str, Any]:
        offset = item.received_at.utcoffset()
        return {
            "task_id": task_id,
            "channel": item.channel,
            "external_id": item.external_id,
            "received_at": item.received_at,
            "received_offset_min": int(offset.total_seconds() // 60) if offset else 0,
            "patient": item.patient.to_dict(),
            "subject": item.subject,
            "body": item.body,
            "item_metadata": dict(item.metadata),
            "type": c.type,
            "urgency": c.urgency,
            "confidence": c.confidence,
            "reasons": list(c.reasons),
            "rule_ids": list(c.rule_ids),
            "duplicate_of": duplicate_of,
            "created_at": now,
        }

    def _existing_result(self, conn: Connection, row: Row[Any]) -> IntakeResult:
        task = self.store.get_task(conn, row.task_id)
        assert task is not None  # items.task_id is a foreign key
        decision = Decision(
            external_id=row.external_id,
            type=row.type,
            urgency=row.urgency,
            queue=task.queue,
            duplicate_of=row.duplicate_of,
            confidence=row.confidence,
            reasons=tuple(row.reasons),
        )
        return IntakeResult(task.id, False, decision)

    # -- staff commands ------------------------------------------------------

    def claim(self, task_id: int, actor: str) -> Task:
        return self._command(task_id, "claim", actor=actor)

    def resolve(self, task_id: int, actor: str, reason: str | None = None) -> Task:
        return self._command(task_id, "resolve", actor=actor, reason=reason)

    def reroute(self, task_id: int, to_queue: str, reason: str, actor: str) -> Task:
        if to_queue not in self.pack.queue_ids:
            raise InvalidCommand(f"to_queue: unknown queue {to_queue!r}")
        if not reason or not reason.strip():
            raise InvalidCommand("reason: a reroute needs a reason, so the rule that misrouted can be found")
        return self._command(task_id, "reroute", actor=actor, to_queue=to_queue, reason=reason.strip())

    def reopen(self, task_id: int, actor: str, reason: str | None = None) -> Task:
        return self._command(task_id, "reopen", actor=actor, reason=reason)

    def assign(self, task_id: int, to_staff: str, actor: str) -> Task:
        with self.store.read() as conn:
            known = {s.id for s in self.store.list_staff(conn)}
        if to_staff not in known:
            raise InvalidCommand(f"staff: unknown staff member {to_staff!r}")
        return self._command(task_id, "assign", actor=actor, to_staff=to_staff)

    def _command(
        self,
        task_id: int,
        command: lifecycle.Command,
        *,
        actor: str,
        reason: str | None = None,
        to_queue: str | None = None,
        to_staff: str | None = None,
    ) -> Task:
        with self.store.write() as conn:
            task = self.store.get_task(conn, task_id, for_update=True)
            if task is None:
                raise NotFound(f"no task {task_id}")
            state = lifecycle.TaskState(task.status, task.queue, task.assignee)
            outcome = lifecycle.apply(state, command, actor=actor, to_queue=to_queue, to_staff=to_staff)
            now = self.clock()
            values: dict[str, Any] = {
                "status": outcome.status,
                "queue": outcome.queue,
                "assignee": outcome.assignee,
                "updated_at": now,
            }
            if outcome.event == "claimed" and task.first_claimed_at is None:
                values["first_claimed_at"] = now
            if outcome.event == "resolved":
                values["resolved_at"] = now
            if outcome.event == "reopened":
                values["resolved_at"] = None
            self.store.update_task(conn, task_id, values)
            data: dict[str, Any] = {"from_status": task.status}
            if outcome.queue != task.queue:
                data["from_queue"] = task.queue
            if task.assignee != outcome.assignee:
                data["from_assignee"] = task.assignee
            self.store.append_events(
                conn,
                [
                    {
                        "task_id": task_id,
                        "kind": outcome.event,
                        "at": now,
                        "actor": actor,
                        "queue": outcome.queue,
                        "assignee": outcome.assignee,
                        # A reroute names the rule that made the original choice, so misfires can be found.
                        "rule_ids": [task.route_rule] if outcome.event == "rerouted" else [],
                        "reason": reason,
                        "data": data,
                        "pack_version": self.pack.version,
                    }
                ],
            )
            updated = self.store.get_task(conn, task_id)
            assert updated is not None
            return updated

    # -- reads ---------------------------------------------------------------

    def task_with_timeline(self, task_id: int) -> tuple[Task, list[Row[Any]], list[Event]]:
        with self.store.read() as conn:
            task = self.store.get_task(conn, task_id)
            if task is None:
                raise NotFound(f"no task {task_id}")
            return task, self.store.task_items(conn, task_id), self.store.task_events(conn, task_id)
