"""The application service: intake of items and the staff commands on tasks.

Each public method is one action: in one transaction it reads what it needs,
asks the pure core (classification, routing, lifecycle) what to do, writes the
task projection and appends the events that record it. Notifications and other
side effects belong after commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from careroute import lifecycle, metrics, sla
from careroute.acknowledge import acknowledgement
from careroute.assignment import URGENCY_RANK, Person, Requirements, WaitingTask, allowed, plan
from careroute.dedup import DedupCandidate, DedupConfig, DuplicateMatch, candidate_for, find_duplicate
from careroute.escalation import (
    EscalationDue,
    Fired,
    Notify,
    Page,
    RaiseUrgency,
    Reassign,
    due_escalations,
    next_escalation_at,
    raised_urgency,
)
from careroute.identity import identity_keys
from careroute.model import Classification, Decision, Event, InboundItem, Staff, Task
from careroute.presence import LIVE_STATES, effective_presence
from careroute.routing import QueueChoice, choose_queue
from careroute.rules.loader import LoadedPack
from careroute.store.repository import Store, row_to_item

#: How many waiting tasks per queue one push looks at: enough to fill every free
#: slot of a practice's staff, bounded so that a push never scans a whole backlog.
PUSH_SCAN = 200

#: The events that move a task's clocks: holds pause them, escalations record what already fired.
CLOCK_EVENTS = ("held", "released", "escalated")

EVENT_FIELDS = ("task_id", "kind", "at", "actor", "queue", "assignee", "rule_ids", "reason", "data")

#: How many waiting tasks per queue a pull looks at first.
PULL_SCAN = 10

#: Duplicate-detection views of recent items kept in memory, so intake does not re-read them. Each holds
#: its tokens and sets (a few kilobytes): 5,000 is a busy day's items, in tens of megabytes; at 50,000 the
#: server grew past 300 MB under sustained load.
CANDIDATE_CACHE = 5_000

#: Claim targets until the pack's SLA section says otherwise (practice benchmarks).
DEFAULT_CLAIM_TARGET = {
    "emergent": timedelta(minutes=5),
    "urgent": timedelta(minutes=30),
    "routine": timedelta(hours=4),
}

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
class Assignment:
    task_id: int
    staff_id: str
    queue: str


Prepared = tuple[InboundItem, Classification, DedupCandidate | None]


def prepare_items(batch: Sequence[InboundItem], classifier: Classifier, with_candidates: bool = True) -> list[Prepared]:
    out: list[Prepared] = []
    for item in batch:
        c = classifier(item)
        out.append((item, c, candidate_for(item, c.type, urgency=c.urgency) if with_candidates else None))
    return out


@dataclass(frozen=True)
class IntakeResult:
    task_id: int
    created: bool  # False when this (channel, external_id) was already taken in
    decision: Decision
    merged: bool = False  # True when the item joined an open task of the same request


def _intake_keys(prepared: Sequence[Prepared]) -> list[str]:
    """What intake locks on PostgreSQL before it reads: each item's (channel, id) and its patient's keys."""
    keys = {f"item:{item.channel}:{item.external_id}" for item, _, _ in prepared}
    for _, _, cand in prepared:
        if cand is not None:
            keys.update(f"patient:{k}" for k in identity_keys(cand.identity))
    return sorted(keys)


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
        is_open: Callable[[datetime], bool] | None = None,
        base_url: str = "http://127.0.0.1:8000",
        find_duplicates: bool = True,
    ) -> None:
        self.store = store
        self.pack = pack
        self.base_url = base_url.rstrip("/")
        #: Off only to measure what duplicate detection costs (benchmarks/dedup.py).
        self.find_duplicates = find_duplicates
        self.clock = clock
        self.classifier = classifier or pack_classifier(pack)
        # Published packs replace the pack (use_pack); a classifier or clock-hours function given here stays.
        self._own_classifier, self._own_is_open = classifier is None, is_open is None
        spec = pack.spec
        self.zone = ZoneInfo(spec.calendar.timezone)
        self.is_open = is_open or pack.calendar.is_open
        self.shifts = {p.id: p.shifts for p in spec.staff}
        self.requirements = Requirements(
            queue_credentials={q.id: frozenset(q.requires) for q in spec.queues if q.requires},
            type_credentials={t: frozenset(s.requires) for t, s in spec.tags.items() if s.requires},
        )
        self.reroute_codes = {r.code for r in spec.reroute_reasons}
        self.dedup = DedupConfig()
        # Per thread: the API's threads and the scheduler's share one dispatcher.
        self._local = threading.local()
        self._candidates: OrderedDict[int, DedupCandidate] = OrderedDict()

    # -- start-up ------------------------------------------------------------

    def load_pack(self) -> None:
        """Record the pack version and make the staff table match its people."""
        spec = self.pack.spec
        people = [
            Staff(p.id, p.name, p.credential, tuple(p.queues), tuple(p.skills), p.capacity, dict(p.queue_capacity))
            for p in spec.staff
        ]
        now = self.clock()
        with self.store.write() as conn:
            self.store.record_pack(conn, self.pack.version, spec.pack.name, self.pack.source, self.pack.text, now)
            self.store.sync_staff(conn, people, now)

    def use_pack(self, pack: LoadedPack) -> None:
        """Switch to another pack (a published version): new items are decided by it from now on.

        Everything derived from the pack is built first and swapped in after, so a
        request in another thread sees the old pack or the new one, not half of each.
        A classifier or opening-hours function given to the constructor stays.
        """
        spec = pack.spec
        classifier = pack_classifier(pack) if self._own_classifier else self.classifier
        is_open = pack.calendar.is_open if self._own_is_open else self.is_open
        requirements = Requirements(
            queue_credentials={q.id: frozenset(q.requires) for q in spec.queues if q.requires},
            type_credentials={t: frozenset(s.requires) for t, s in spec.tags.items() if s.requires},
        )
        self.pack, self.classifier, self.is_open, self.requirements = pack, classifier, is_open, requirements
        self.zone = ZoneInfo(spec.calendar.timezone)
        self.shifts = {p.id: p.shifts for p in spec.staff}
        self.reroute_codes = {r.code for r in spec.reroute_reasons}
        self.load_pack()

    # -- intake --------------------------------------------------------------

    def intake(self, item: InboundItem) -> IntakeResult:
        """Take in one item: idempotent on (channel, external_id); committed before it returns."""
        return self.intake_batch([item])[0]

    def intake_batch(self, batch: Sequence[InboundItem], *, at_received: bool = False) -> list[IntakeResult]:
        """Take in several items in one transaction, in order.

        `at_received` stamps each item's events with its own received_at instead
        of the clock: replay uses it to run a week of history as it happened.
        """
        return self.intake_prepared(self.prepare(batch), at_received=at_received)

    def prepare(self, batch: Sequence[InboundItem]) -> list[Prepared]:
        """The pure, CPU-bound part of intake: classification and the duplicate-detection view.

        Done before the write lock is taken; replay runs it in worker processes.
        """
        return prepare_items(batch, self.classifier, self.find_duplicates)

    def intake_prepared(self, prepared: Sequence[Prepared], *, at_received: bool = False) -> list[IntakeResult]:
        """Store prepared items in one transaction, in order."""
        try:
            return self._intake_prepared(prepared, at_received)
        except IntegrityError:
            # Another writer took in the same (channel, external_id) between our
            # check and our insert (PostgreSQL, concurrent requests). Nothing of
            # this transaction was kept; run it again and the check now sees it.
            return self._intake_prepared(prepared, at_received)

    def _intake_prepared(self, prepared: Sequence[Prepared], at_received: bool) -> list[IntakeResult]:
        with self.store.write() as conn:
            # Items of one request (and one sender's retries) take turns on their patient keys and ids; the
            # lock on who holds what, which also orders the event chain, is taken only where it is needed
            # (an earlier item of the patient, the push, the events), so that instances store the rest of
            # their items side by side. Key locks always come first: no two transactions wait on each other.
            self.store.lock_keys(conn, _intake_keys(prepared))
            # The batch's events are appended together at its end, in the order they were made (the same
            # chain and summaries as one append per item, a quarter of the statements): nothing in intake
            # reads back the events or summaries of its own batch.
            self._local.held_events = []
            try:
                results = [self._intake_one(conn, item, c, cand, at_received) for item, c, cand in prepared]
                touched = {r.decision.queue for r in results if r.created}
                if touched:
                    now = prepared[-1][0].received_at if at_received else self.clock()
                    self.store.lock_assignment(conn)
                    self._push(conn, now, touched)
                held = self._local.held_events
            finally:
                self._local.held_events = None
            self._append(conn, held)
            return results

    def _intake_one(
        self, conn: Connection, item: InboundItem, c: Classification, cand: DedupCandidate | None, at_received: bool
    ) -> IntakeResult:
        existing = self.store.find_item(conn, item.channel, item.external_id)
        if existing is not None:
            return self._existing_result(conn, existing)
        now = item.received_at if at_received else self.clock()
        choice = choose_queue(item, c, self.pack.spec, open_now=self.is_open(now))
        reasons = (*c.reasons, f"{choice.rule_id}: {choice.description}")
        keys = identity_keys(cand.identity) if cand is not None else ()
        match, into, resolved_task = self._same_request(conn, cand, keys) if cand and keys else (None, None, None)
        if match is not None and into is not None:
            assert cand is not None  # a match needs a candidate
            return self._merge(conn, item, c, cand, choice, reasons, keys, match, into, now)
        task_id = self._new_task(conn, item, c, choice, now, follows=resolved_task)
        root = match.root_external_id if match else None
        root_at = match.root_received_at if match else item.received_at
        item_id = self.store.insert_item(conn, self._item_row(item, c, reasons, task_id, root, root_at, now))
        if cand is not None:
            self._remember(item_id, cand)
        self._add_keys(conn, keys, item_id, item.received_at)
        created: dict[str, Any] = {"item_id": item_id, "channel": item.channel, "external_id": item.external_id}
        if match is not None and resolved_task is not None:
            # The same request came back after its task was resolved: a new task, linked to the old one.
            created.update(duplicate_of=root, follows_task_id=resolved_task, score=match.score)
            self._event(
                conn,
                resolved_task,
                "followed_up",
                now,
                "careroute",
                rule_ids=["dedup.same_request"],
                reason=f"the same request arrived again after this task was resolved (score {match.score:.2f})",
                data={"follow_up_task_id": task_id, "item_id": item_id, "channel": item.channel},
            )
        self._intake_events(conn, task_id, item, c, choice, now, created)
        self._acknowledge(conn, task_id, item, c, now)
        decision = Decision(item.external_id, c.type, c.urgency, choice.queue, root, c.confidence, reasons)
        return IntakeResult(task_id, True, decision)

    def _acknowledge(self, conn: Connection, task_id: int, item: InboundItem, c: Classification, now: datetime) -> None:
        """Queue the acknowledgement the pack asks for on this item's channel (sent after commit)."""
        spec = self.pack.spec.acknowledgements
        if not (spec.email.enabled or spec.portal.enabled):
            return
        reply_by = self.claim_due(c.type, c.urgency, now, item.metadata)
        ack = acknowledgement(item, c, reply_by, self.is_open(now), spec, self.zone)
        if ack is None:
            return
        self.store.add_notifications(
            conn,
            [
                {
                    "task_id": task_id,
                    "rule_id": "ack.received",
                    "kind": ack.kind,
                    "target": ack.target,
                    "subject": ack.subject,
                    "body": ack.body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            ],
        )

    def _new_task(
        self,
        conn: Connection,
        item: InboundItem,
        c: Classification,
        choice: QueueChoice,
        now: datetime,
        follows: int | None = None,
    ) -> int:
        return self.store.insert_task(
            conn,
            {
                "status": "open",
                "type": c.type,
                "urgency": c.urgency,
                "urgency_rank": URGENCY_RANK[c.urgency],
                "queue": choice.queue,
                "assignee": None,
                "effort": self.pack.spec.tags[c.type].effort,
                "skills": list(choice.skills),
                "pilot_arm": choice.pilot_arm,
                "confidence": c.confidence,
                "channel": item.channel,
                "external_id": item.external_id,
                "route_rule": choice.rule_id,
                "pack_version": self.pack.version,
                "item_count": 1,
                "follows_task_id": follows,
                "created_at": now,
                "updated_at": now,
                "due_at": self.claim_due(c.type, c.urgency, now, item.metadata),
                "next_escalation_at": self._first_timer(c.type, c.urgency, now, choice.queue, item.metadata),
            },
        )

    def _first_timer(self, type: str, urgency: str, created_at: datetime, queue: str, metadata: Any) -> datetime | None:
        """The escalation timer of a task that has no history yet (nothing held, nothing fired)."""
        spec = self.pack.spec
        if not spec.escalation.rules:
            return None
        facts = sla.TaskFacts(id=0, type=type, urgency=urgency, created_at=created_at, queue=queue, metadata=metadata)
        return next_escalation_at(facts, spec.escalation, self.pack.calendar, created_at, {}, sla=spec.sla)

    def _intake_events(
        self,
        conn: Connection,
        task_id: int,
        item: InboundItem,
        c: Classification,
        choice: QueueChoice,
        now: datetime,
        created: dict[str, Any],
    ) -> None:
        """The created, classified and routed events of a new task, in one statement."""
        classified = {
            "type": c.type,
            "urgency": c.urgency,
            "confidence": c.confidence,
            "possible_danger": c.possible_danger,
            "evidence": [
                {
                    "rule_id": e.rule_id,
                    "start": e.start,
                    "end": e.end,
                    "negated": e.negated,
                    "historical": e.historical,
                    "uncertain": e.uncertain,
                    "other_person": e.other_person,
                }
                for e in c.evidence
            ],
        }
        version = self.pack.version
        base = {"task_id": task_id, "at": now, "actor": "careroute", "assignee": None, "pack_version": version}
        self._append(
            conn,
            [
                {**base, "kind": "created", "queue": None, "rule_ids": [], "reason": None, "data": created},
                {
                    **base,
                    "kind": "classified",
                    "queue": None,
                    "rule_ids": list(c.rule_ids),
                    "reason": "; ".join(c.reasons),
                    "data": classified,
                },
                {
                    **base,
                    "kind": "routed",
                    "queue": choice.queue,
                    "rule_ids": [choice.rule_id],
                    "reason": choice.description,
                    "data": {"pilot_arm": choice.pilot_arm} if choice.pilot_arm else {},
                },
            ],
        )

    # -- duplicates ------------------------------------------------------------

    def _remember(self, item_id: int, cand: DedupCandidate) -> None:
        self._candidates[item_id] = cand
        if len(self._candidates) > CANDIDATE_CACHE:
            self._candidates.popitem(last=False)

    def _candidate(self, row: Row[Any], open_: bool) -> DedupCandidate:
        """A stored item as duplicate detection sees it; the costly part is cached per item."""
        base = self._candidates.get(row.id)
        if base is None:
            base = candidate_for(row_to_item(row), row.type, urgency=row.urgency)
            self._candidates[row.id] = base
            if len(self._candidates) > CANDIDATE_CACHE:
                self._candidates.popitem(last=False)
        return replace(
            base,
            root_external_id=row.duplicate_of or row.external_id,
            root_received_at=row.root_received_at,
            open=open_,
        )

    def _same_request(
        self, conn: Connection, cand: DedupCandidate, keys: Sequence[str]
    ) -> tuple[DuplicateMatch | None, Task | None, int | None]:
        """The earlier request this item repeats, the open task to merge it into, or the resolved task it follows."""
        rows = self.store.items_with_keys(conn, keys, since=cand.received_at - self.dedup.window)
        if not rows:
            return None, None, None
        # Their tasks may be claimed, resolved or moved meanwhile by another instance: decide under the lock
        # on who holds what, on a fresh read (the key locks already keep other items of this patient out).
        if self.store.lock_assignment(conn):
            rows = self.store.items_with_keys(conn, keys, since=cand.received_at - self.dedup.window)
        candidates = [self._candidate(r, r.task_status != "resolved") for r in rows]
        match = find_duplicate(cand, candidates, config=self.dedup)
        if match is None:
            return None, None, None
        cluster = [r for r in rows if (r.duplicate_of or r.external_id) == match.root_external_id]
        matched = next((r for r in cluster if r.external_id == match.matched_external_id), cluster[0])
        if matched.task_status != "resolved":
            return match, self.store.get_task(conn, matched.task_id), None
        # The matched item's task is done; a later follow-up of the same request may still be open.
        open_ids = [r.task_id for r in cluster if r.task_status != "resolved"]
        if open_ids:
            return match, self.store.get_task(conn, max(open_ids)), None
        return match, None, matched.task_id

    def _merge(
        self,
        conn: Connection,
        item: InboundItem,
        c: Classification,
        cand: DedupCandidate,
        choice: QueueChoice,
        reasons: Sequence[str],
        keys: Sequence[str],
        match: DuplicateMatch,
        task: Task,
        now: datetime,
    ) -> IntakeResult:
        """Attach a duplicate to the open task of its request: no second piece of work."""
        root = match.root_external_id
        item_id = self.store.insert_item(
            conn, self._item_row(item, c, reasons, task.id, root, match.root_received_at, now)
        )
        self._remember(item_id, cand)
        self._add_keys(conn, keys, item_id, item.received_at)
        values: dict[str, Any] = {"item_count": task.item_count + 1, "updated_at": now}
        queue = task.queue
        if URGENCY_RANK[c.urgency] < task.urgency_rank:
            # A more urgent message about the same request: the task takes the higher urgency, and
            # unless someone is already working it, it moves to where that urgency is routed.
            values.update(
                urgency=c.urgency,
                urgency_rank=URGENCY_RANK[c.urgency],
                due_at=min(task.due_at, self.claim_due(c.type, c.urgency, now)),
            )
            if choice.queue != task.queue and task.status != "claimed":
                values.update(queue=choice.queue, status="open", assignee=None)
                queue = choice.queue
        self.store.update_task(conn, task.id, values)
        self._event(
            conn,
            task.id,
            "merged",
            now,
            "careroute",
            queue=queue,
            rule_ids=["dedup.same_request"],
            reason=f"same request as {root} (score {match.score:.2f})",
            data={
                "item_id": item_id,
                "channel": item.channel,
                "external_id": item.external_id,
                "duplicate_of": root,
                "score": match.score,
                "patient_fields": list(match.patient_fields),
                "request_terms": list(match.request_terms),
            },
        )
        if queue != task.queue:
            self._event(
                conn,
                task.id,
                "rerouted",
                now,
                "careroute",
                queue=queue,
                rule_ids=[choice.rule_id],
                reason=f"a more urgent message about this request arrived ({c.urgency})",
                data={"from_queue": task.queue, "from_assignee": task.assignee, "from_status": task.status},
            )
        if "urgency" in values:
            self._refresh_timer(conn, task.id, now)
        decision = Decision(item.external_id, c.type, c.urgency, queue, root, c.confidence, tuple(reasons))
        return IntakeResult(task.id, True, decision, merged=True)

    def unmerge(self, item_id: int, reason: str, actor: str) -> Task:
        """Undo a wrong merge: the item becomes its own task again, classified and routed afresh."""
        if not reason or not reason.strip():
            raise InvalidCommand("reason: say why the merge was wrong, so duplicate detection can be improved")
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            rows = self.store.items_by_id(conn, [item_id])
            if not rows:
                raise NotFound(f"no item {item_id}")
            row = rows[0]
            task = self.store.get_task(conn, row.task_id, for_update=True)
            assert task is not None
            if row.duplicate_of is None or (row.channel, row.external_id) == (task.channel, task.external_id):
                raise lifecycle.TransitionRefused("this item is the task's original, not a merged duplicate")
            item = row_to_item(row)
            c = self.classifier(item)
            choice = choose_queue(item, c, self.pack.spec, open_now=self.is_open(now))
            new_id = self._new_task(conn, item, c, choice, now)
            self.store.move_item(conn, item_id, new_id)
            self.store.update_task(conn, task.id, {"item_count": task.item_count - 1, "updated_at": now})
            self._event(
                conn,
                task.id,
                "unmerged",
                now,
                actor,
                queue=task.queue,
                rule_ids=["dedup.same_request"],
                reason=reason.strip(),
                data={
                    "item_id": item_id,
                    "channel": row.channel,
                    "external_id": row.external_id,
                    "new_task_id": new_id,
                },
            )
            created = {"item_id": item_id, "channel": row.channel, "external_id": row.external_id}
            self._intake_events(conn, new_id, item, c, choice, now, {**created, "unmerged_from_task_id": task.id})
            self._push(conn, now, {choice.queue})
            new_task = self.store.get_task(conn, new_id)
            assert new_task is not None
            return new_task

    def _add_keys(self, conn: Connection, keys: Sequence[str], item_id: int, received_at: datetime) -> None:
        self.store.add_patient_keys(conn, [{"key": k, "item_id": item_id, "received_at": received_at} for k in keys])

    @staticmethod
    def _item_row(
        item: InboundItem,
        c: Classification,
        reasons: Sequence[str],
        task_id: int,
        duplicate_of: str | None,
        root_received_at: datetime,
        now: datetime,
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
            "reasons": list(reasons),
            "rule_ids": list(c.rule_ids),
            "duplicate_of": duplicate_of,
            "root_received_at": root_received_at,
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

    def reroute(
        self, task_id: int, to_queue: str, reason: str | None, actor: str, reason_code: str | None = None
    ) -> Task:
        if to_queue not in self.pack.queue_ids:
            raise InvalidCommand(f"to_queue: unknown queue {to_queue!r}")
        text = (reason or "").strip() or None
        if self.reroute_codes:
            if reason_code is None:
                raise InvalidCommand(f"reason_code: a reroute needs one of: {', '.join(sorted(self.reroute_codes))}")
            if reason_code not in self.reroute_codes:
                raise InvalidCommand(f"reason_code: {reason_code!r} is not one of the pack's reroute reasons")
        elif text is None:
            raise InvalidCommand("reason: a reroute needs a reason, so the rule that misrouted can be found")
        return self._command(
            task_id, "reroute", actor=actor, to_queue=to_queue, reason=text, extra={"reason_code": reason_code}
        )

    def reopen(self, task_id: int, actor: str, reason: str | None = None) -> Task:
        return self._command(task_id, "reopen", actor=actor, reason=reason)

    def assign(self, task_id: int, to_staff: str, actor: str) -> Task:
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
        extra: dict[str, Any] | None = None,
    ) -> Task:
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            task = self.store.get_task(conn, task_id, for_update=True)
            if task is None:
                raise NotFound(f"no task {task_id}")
            state = lifecycle.TaskState(task.status, task.queue, task.assignee)
            outcome = lifecycle.apply(state, command, actor=actor, to_queue=to_queue, to_staff=to_staff)
            now = self.clock()
            # Whoever ends up holding the task must be allowed to and have room for it.
            taker = outcome.assignee if outcome.status in ("assigned", "claimed") else None
            if taker is not None and taker != task.assignee:
                self._check_room(conn, task, taker, now)
            values: dict[str, Any] = {
                "status": outcome.status,
                "queue": outcome.queue,
                "assignee": outcome.assignee,
                "updated_at": now,
            }
            if outcome.event == "claimed" and task.first_claimed_at is None:
                values["first_claimed_at"] = now
            if outcome.event == "assigned":
                values["assigned_at"] = now
            if outcome.event == "resolved":
                values["resolved_at"] = now
            if outcome.event == "reopened":
                values["resolved_at"] = None
            self.store.update_task(conn, task_id, values)
            data: dict[str, Any] = {"from_status": task.status, **{k: v for k, v in (extra or {}).items() if v}}
            if outcome.queue != task.queue:
                data["from_queue"] = task.queue
            if task.assignee != outcome.assignee:
                data["from_assignee"] = task.assignee
            self._event(
                conn,
                task_id,
                outcome.event,
                now,
                actor,
                queue=outcome.queue,
                assignee=outcome.assignee,
                # A reroute names the rule that made the original choice, so misfires can be found.
                rule_ids=[task.route_rule] if outcome.event == "rerouted" else [],
                reason=reason,
                data=data,
            )
            if taker is not None:
                self.store.mark_busy_since(conn, taker, now)
            self._refresh_timer(conn, task_id, now)
            # Capacity freed or a task entered a queue: push what waits.
            self._push(conn, now, {task.queue, outcome.queue})
            updated = self.store.get_task(conn, task_id)
            assert updated is not None
            return updated

    def _check_room(self, conn: Connection, task: Task, staff_id: str, now: datetime) -> None:
        person = next(iter(self._people(conn, now, staff_id)), None)
        if person is None:
            raise InvalidCommand(f"staff: unknown staff member {staff_id!r}")
        waiting = self._waiting(task)
        if not allowed(person, waiting, self.requirements):
            raise lifecycle.TransitionRefused(
                f"{staff_id} ({person.credential}) may not take {task.type} tasks in queue {task.queue}"
            )
        if person.room(task.queue) < task.effort:
            raise lifecycle.TransitionRefused(
                f"{staff_id} is at capacity ({person.load} of {person.capacity} effort units; "
                f"this task weighs {task.effort})"
            )

    def _append(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Append events and fold them into each task's metrics summary, in the same transaction."""
        held = getattr(self._local, "held_events", None)
        if held is not None:  # a pass that writes many events writes them together
            held.extend(rows)
            return
        self.store.append_events(conn, rows)
        seen = [r["task_id"] for r in rows]
        # A set, not a scan of the rows per task: a batch or a pass appends hundreds of events at once.
        created = {r["task_id"] for r in rows if r["kind"] == "created"}
        known = self.store.facts_of(conn, [t for t in dict.fromkeys(seen) if t not in created])
        new: dict[int, metrics.TaskFacts] = {}
        for row in rows:
            event = Event(id=0, **{k: row[k] for k in EVENT_FIELDS}, pack_version=row.get("pack_version"))
            task_id = row["task_id"]
            if task_id in known:
                known[task_id] = metrics.step(known[task_id], event)
            else:
                new[task_id] = metrics.step(new.get(task_id), event)
        self.store.save_facts(conn, list(new.values()), list(known.values()))

    def _event(
        self,
        conn: Connection,
        task_id: int,
        kind: str,
        at: datetime,
        actor: str,
        *,
        queue: str | None = None,
        assignee: str | None = None,
        rule_ids: Iterable[str] = (),
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._append(
            conn,
            [
                {
                    "task_id": task_id,
                    "kind": kind,
                    "at": at,
                    "actor": actor,
                    "queue": queue,
                    "assignee": assignee,
                    "rule_ids": list(rule_ids),
                    "reason": reason,
                    "data": data or {},
                    "pack_version": self.pack.version,
                }
            ],
        )

    # -- capacity: who holds what ----------------------------------------------

    @staticmethod
    def _waiting(task: Task) -> WaitingTask:
        return WaitingTask(
            id=task.id,
            queue=task.queue,
            type=task.type,
            urgency=task.urgency,
            effort=task.effort,
            created_at=task.created_at,
            due_at=task.due_at,
            skills=task.skills,
        )

    def _people(
        self, conn: Connection, now: datetime, staff_id: str | None = None, *, only_if_anyone_available: bool = False
    ) -> list[Person]:
        """Staff (or one person) as the router sees them now: presence by shift and live state, load by effort.

        `only_if_anyone_available`: nobody (an empty list) when no one is available, without reading loads;
        a push has nothing to do then, which is every intake at night and at weekends.
        """
        staff_now = [
            (staff, idle_since, effective_presence(staff.presence, self.shifts.get(staff.id, []), now, self.zone))
            for staff, idle_since in self.store.staff_with_idle(conn, staff_id=staff_id)
        ]
        if only_if_anyone_available and all(presence != "available" for _, _, presence in staff_now):
            return []
        loads = self.store.staff_load(conn, staff_id)
        people = []
        for staff, idle_since, presence in staff_now:
            held = loads.get(staff.id, {})
            people.append(
                Person(
                    id=staff.id,
                    credential=staff.credential,
                    queues=frozenset(staff.queues),
                    skills=frozenset(staff.skills),
                    capacity=staff.capacity,
                    presence=presence,
                    load=sum(held.values()),
                    queue_capacity=dict(staff.queue_capacity),
                    queue_load=held,
                    idle_since=idle_since,
                )
            )
        return people

    def _push(self, conn: Connection, now: datetime, queues: Iterable[str] | None = None) -> list[Assignment]:
        """Push waiting tasks to people with room, in priority order.

        Every queue a free person serves is looked at, not only the queue that
        changed: someone who serves two queues must get the emergent task waiting
        in one before a routine task that just arrived in the other. `queues` is
        accepted for callers' clarity but does not narrow the push.
        """
        people = self._people(conn, now, only_if_anyone_available=True)
        free = [p for p in people if p.presence == "available" and p.load < p.capacity]
        if not free:
            return []
        # Read about as many waiting tasks per queue as there are free effort units to fill there
        # (with slack for tasks that need a skill or credential the free people lack).
        slots: dict[str, int] = {}
        for p in free:
            for q in p.queues:
                slots[q] = slots.get(q, 0) + max(0, p.room(q))
        waiting = [
            self._waiting(t)
            for q, n in sorted(slots.items())
            if n > 0
            for t in self.store.waiting_in_queue(conn, q, min(PUSH_SCAN, 2 * n + 10))
        ]
        done = []
        for task, person in plan(waiting, people, self.requirements, now):
            changed = self.store.set_task_if(
                conn,
                task.id,
                "open",
                {"status": "assigned", "assignee": person.id, "assigned_at": now, "updated_at": now},
            )
            if not changed:  # taken meanwhile: leave it
                continue
            self.store.mark_busy_since(conn, person.id, now)
            self._event(
                conn,
                task.id,
                "assigned",
                now,
                "careroute",
                queue=task.queue,
                assignee=person.id,
                rule_ids=["assign.least_loaded"],
                reason="pushed to the eligible person with the lowest load",
                data={"load_before": person.load, "capacity": person.capacity, "effort": task.effort},
            )
            done.append(Assignment(task.id, person.id, task.queue))
        return done

    def _return_unavailable(self, conn: Connection, now: datetime, people: Sequence[Person]) -> list[int]:
        """Unclaimed tasks held by people who are away or off shift go back to their queue."""
        gone = {p.id: p.presence for p in people if p.presence != "available"}
        returned = []
        for task in self.store.held_unclaimed(conn, sorted(gone)):
            if not self.store.set_task_if(
                conn, task.id, "assigned", {"status": "open", "assignee": None, "updated_at": now}
            ):
                continue
            self._event(
                conn,
                task.id,
                "returned",
                now,
                "careroute",
                queue=task.queue,
                rule_ids=["assign.return_unavailable"],
                reason=f"{task.assignee} is {gone[task.assignee or ''].replace('_', ' ')}",
                data={"from_assignee": task.assignee},
            )
            returned.append(task.id)
        return returned

    def tick(self) -> tuple[list[int], list[Assignment]]:
        """Follow the shift schedule: return tasks of people who left, push to people who came.

        Run by the scheduler every few seconds, and by simulations at each step.
        """
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            returned = self._return_unavailable(conn, now, self._people(conn, now))
            return returned, self._push(conn, now)

    def set_presence(self, staff_id: str, presence: str) -> tuple[list[int], list[Assignment]]:
        """A live presence change; tasks of someone who steps away are pushed to others."""
        if presence not in LIVE_STATES:
            raise InvalidCommand(f"presence: must be one of {', '.join(LIVE_STATES)}")
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            if not self.store.set_presence(conn, staff_id, presence, now):
                raise NotFound(f"no staff member {staff_id}")
            returned = self._return_unavailable(conn, now, self._people(conn, now))
            return returned, self._push(conn, now)

    def next_task(self, staff_id: str) -> Task | None:
        """Pull: claim the best waiting task this person may take and has room for (None when there is none)."""
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            person = next(iter(self._people(conn, now, staff_id)), None)
            if person is None:
                raise NotFound(f"no staff member {staff_id}")
            # The head of each queue's push order is almost always enough; read deeper only if it is not.
            candidates: list[WaitingTask] = []
            for depth in (PULL_SCAN, PUSH_SCAN):
                candidates = [
                    self._waiting(t) for q in sorted(person.queues) for t in self.store.waiting_in_queue(conn, q, depth)
                ]
                if any(allowed(person, t, self.requirements) and person.room(t.queue) >= t.effort for t in candidates):
                    break
            for task in sorted(candidates, key=lambda t: t.priority):
                if not allowed(person, task, self.requirements) or person.room(task.queue) < task.effort:
                    continue
                values = {"status": "claimed", "assignee": staff_id, "updated_at": now, "first_claimed_at": now}
                if not self.store.set_task_if(conn, task.id, "open", values):
                    continue
                self.store.mark_busy_since(conn, staff_id, now)
                self._event(
                    conn,
                    task.id,
                    "claimed",
                    now,
                    staff_id,
                    queue=task.queue,
                    assignee=staff_id,
                    rule_ids=["assign.pull"],
                    reason="pulled as the next task",
                    data={"from_status": "open"},
                )
                self._refresh_timer(conn, task.id, now)
                return self.store.get_task(conn, task.id)
            return None

    def people(self) -> list[tuple[Staff, Person]]:
        """Staff with their presence and load as the router sees them now."""
        now = self.clock()
        with self.store.read() as conn:
            staff = {s.id: s for s in self.store.list_staff(conn)}
            return [(staff[p.id], p) for p in self._people(conn, now)]

    # -- clocks, holds and escalation ------------------------------------------

    def claim_due(self, type: str, urgency: str, created_at: datetime, metadata: Any = None) -> datetime:
        """When a task should be claimed by, by the pack's SLA; orders waiting tasks of the same urgency."""
        facts = sla.TaskFacts(id=0, type=type, urgency=urgency, created_at=created_at, metadata=metadata or {})
        due = sla.due_times(facts, self.pack.calendar, self.pack.spec.sla).claim
        return due.at if due is not None and due.at is not None else created_at + DEFAULT_CLAIM_TARGET[urgency]

    def _clock_facts(
        self,
        conn: Connection,
        task: Task,
        history: Sequence[Event] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[sla.TaskFacts, dict[tuple[int, str], Fired]]:
        """The task as the SLA clocks see it, and which escalation rules already fired on it (from its events)."""
        if history is None:
            history = self.store.events_of_kinds(conn, task.id, CLOCK_EVENTS)
        holds: list[sla.Hold] = []
        fired: dict[tuple[int, str], Fired] = {}
        for e in history:
            if e.kind == "held":
                holds.append(sla.Hold(start=e.at, end=None, reason=e.reason or ""))
            elif e.kind == "released" and holds and holds[-1].end is None:
                holds[-1] = sla.Hold(start=holds[-1].start, end=e.at, reason=holds[-1].reason)
            elif e.kind == "escalated" and e.rule_ids:
                key = (task.id, e.rule_ids[0])
                before = fired.get(key)
                fired[key] = Fired(count=(before.count if before else 0) + 1, last_at=e.at)
        facts = sla.TaskFacts(
            id=task.id,
            type=task.type,
            urgency=task.urgency,
            created_at=task.created_at,
            queue=task.queue,
            first_claimed_at=task.first_claimed_at,
            resolved_at=task.resolved_at,
            acknowledged_at=task.acknowledged_at,
            holds=tuple(holds),
            metadata=metadata if metadata is not None else self.store.root_item_metadata(conn, task.id),
        )
        return facts, fired

    def _refresh_timer(self, conn: Connection, task_id: int, now: datetime) -> None:
        """Recompute and persist when the next escalation rule could fire on this task."""
        task = self.store.get_task(conn, task_id)
        if task is None:
            return
        at = None
        if task.status != "resolved" and self.pack.spec.escalation.rules:
            facts, fired = self._clock_facts(conn, task)
            spec = self.pack.spec
            at = next_escalation_at(facts, spec.escalation, self.pack.calendar, now, fired, sla=spec.sla)
        if at != task.next_escalation_at:
            self.store.update_task(conn, task_id, {"next_escalation_at": at})

    def due_times(self, task: Task) -> sla.DueTimes:
        with self.store.read() as conn:
            facts, _ = self._clock_facts(conn, task)
        return sla.due_times(facts, self.pack.calendar, self.pack.spec.sla)

    def hold(self, task_id: int, reason: str, actor: str) -> Task:
        """Put a task on hold (waiting on the patient, the payer, a result): business-hours clocks pause."""
        if not reason or not reason.strip():
            raise InvalidCommand("reason: say what the task is waiting on")
        return self._flag(task_id, actor, "held", {"on_hold": True}, reason.strip(), lambda t: not t.on_hold)

    def release(self, task_id: int, actor: str) -> Task:
        """Take a task off hold: its business-hours clocks resume."""
        return self._flag(task_id, actor, "released", {"on_hold": False}, None, lambda t: t.on_hold)

    def acknowledge(self, task_id: int, actor: str, note: str | None = None) -> Task:
        """Record that a clinician was told (a critical result, a page): time-to-notify is kept."""

        def first_time(t: Task) -> bool:
            return t.acknowledged_at is None

        return self._flag(task_id, actor, "acknowledged", {"acknowledged_at": None}, note, first_time)

    def _flag(
        self,
        task_id: int,
        actor: str,
        kind: str,
        values: dict[str, Any],
        reason: str | None,
        applies: Callable[[Task], bool],
    ) -> Task:
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            task = self.store.get_task(conn, task_id, for_update=True)
            if task is None:
                raise NotFound(f"no task {task_id}")
            if task.status == "resolved":
                raise lifecycle.TransitionRefused(f"the task is resolved; it cannot be {kind}")
            if not applies(task):
                already = {"held": "already on hold", "released": "not on hold", "acknowledged": "already acknowledged"}
                raise lifecycle.TransitionRefused(f"the task is {already[kind]}")
            update = {k: (now if k == "acknowledged_at" else v) for k, v in values.items()}
            self.store.update_task(conn, task_id, {**update, "updated_at": now})
            data: dict[str, Any] = {}
            if kind == "acknowledged":
                data["time_to_notify_seconds"] = int((now - task.created_at).total_seconds())
            self._event(
                conn, task_id, kind, now, actor, queue=task.queue, assignee=task.assignee, reason=reason, data=data
            )
            self._refresh_timer(conn, task_id, now)
            updated = self.store.get_task(conn, task_id)
            assert updated is not None
            return updated

    def escalate(self, limit: int = 500) -> list[EscalationDue]:
        """Fire every escalation whose timer has come; each firing is an `escalated` event.

        Safe to run from several places at once and after a crash: what already
        fired is read from the events in the same transaction that appends new
        ones, so a rule never fires twice for the same step.
        """
        now = self.clock()
        try:
            return self._escalate(now, limit)
        finally:
            self._local.held_events = None

    def _escalate(self, now: datetime, limit: int) -> list[EscalationDue]:
        spec = self.pack.spec
        fired_now: list[EscalationDue] = []
        with self.store.write() as conn:
            self.store.lock_assignment(conn)
            touched = False
            self._local.held_events = []
            timers: list[tuple[int, datetime | None]] = []
            # The pass's task changes and alerts, written together at its end (one statement per kind of
            # change, not one per firing); nothing in the pass reads them back before then.
            changes: dict[int, dict[str, Any]] = {}
            alerts: list[dict[str, Any]] = []
            due_tasks = self.store.tasks_due_for_escalation(conn, now, limit)
            # One read of the clocks' history and the items' metadata for the whole pass.
            ids = [t.id for t in due_tasks]
            histories = self.store.events_of_tasks(conn, ids, CLOCK_EVENTS)
            metadata = self.store.root_metadata_of(conn, ids)
            for task in due_tasks:
                if task.status == "resolved":
                    self.store.update_task(conn, task.id, {"next_escalation_at": None})
                    continue
                facts, fired = self._clock_facts(conn, task, histories.get(task.id, []), metadata.get(task.id, {}))
                current = task
                for due in due_escalations([facts], spec.escalation, self.pack.calendar, now, fired, sla=spec.sla):
                    current = self._apply_escalation(conn, current, due, now, changes, alerts)
                    fired[(task.id, due.rule_id)] = Fired(count=due.firing, last_at=now)
                    fired_now.append(due)
                    # Only a move or a new urgency changes who should hold the task.
                    touched = touched or isinstance(due.action, Reassign | RaiseUrgency)
                # The next timer from what is already in hand: no second read of the task's history.
                facts = replace(facts, queue=current.queue, urgency=current.urgency)
                timers.append(
                    (task.id, next_escalation_at(facts, spec.escalation, self.pack.calendar, now, fired, sla=spec.sla))
                )
            self.store.update_tasks(conn, changes)
            self.store.add_notifications(conn, alerts)
            self.store.set_timers(conn, timers)
            held, self._local.held_events = self._local.held_events, None
            self._append(conn, held)
            if touched:
                self._push(conn, now)
        return fired_now

    def _apply_escalation(
        self,
        conn: Connection,
        task: Task,
        due: EscalationDue,
        now: datetime,
        changes: dict[int, dict[str, Any]],
        alerts: list[dict[str, Any]],
    ) -> Task:
        """Carry out one firing into the pass's pending changes and alerts; returns the task as it now stands."""
        action = due.action
        values: dict[str, Any] = {}
        data: dict[str, Any] = {
            "action": action.model_dump(mode="json"),
            "timer": due.timer,
            "deadline": due.deadline.isoformat(),
            "firing": due.firing,
            "late_seconds": round((now - due.deadline).total_seconds(), 3),
        }
        if isinstance(action, Reassign) and action.queue != task.queue:
            values.update(queue=action.queue, updated_at=now)
            if task.status == "assigned":
                values.update(status="open", assignee=None)
            data["from_queue"] = task.queue
        elif isinstance(action, RaiseUrgency):
            raised = raised_urgency(task.urgency, action)
            if raised != task.urgency:
                values.update(
                    urgency=raised,
                    urgency_rank=URGENCY_RANK[raised],
                    due_at=min(task.due_at, self.claim_due(task.type, raised, now)),
                    updated_at=now,
                )
                data["from_urgency"] = task.urgency
        targets = self._alert_targets(task, action, due.firing)
        if targets:
            data["notified"] = [f"{kind}:{target}" for kind, target in targets]
            subject = f"careroute: task {task.id} ({task.type}, {task.urgency}) needs attention"
            body = (
                f"Task {task.id} in {self.pack.queue_names.get(task.queue, task.queue)}: {due.reason}\n"
                f"Open it: {self.base_url}/tasks/{task.id}\n"
            )
            alerts.extend(
                [
                    {
                        "task_id": task.id,
                        "rule_id": due.rule_id,
                        "kind": kind,
                        "target": target,
                        "subject": subject,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for kind, target in targets
                ]
            )
        if values:
            changes.setdefault(task.id, {}).update(values)  # a later firing's value wins, as before
        self._event(
            conn,
            task.id,
            "escalated",
            now,
            "careroute",
            queue=values.get("queue", task.queue),
            assignee=values.get("assignee", task.assignee),
            rule_ids=[due.rule_id],
            reason=due.reason,
            data=data,
        )
        return replace(task, **values) if values else task

    def _alert_targets(self, task: Task, action: Any, firing: int) -> list[tuple[str, str]]:
        """Where a notify or page goes: (email|webhook, address). Staff are found by id or by name."""
        spec = self.pack.spec
        by_key = {p.id: p for p in spec.staff} | {p.name: p for p in spec.staff}

        def person(who: str | None) -> list[tuple[str, str]]:
            p = by_key.get(who or "")
            return [("email", p.email)] if p is not None and p.email else []

        def role(name: str) -> list[tuple[str, str]]:
            r = spec.escalation.roles.get(name)
            if r is None:
                return []
            out = person(r.by_queue.get(task.queue) or r.person)
            if r.email:
                out.append(("email", r.email))
            if r.webhook:
                out.append(("webhook", r.webhook))
            return list(dict.fromkeys(out))

        if isinstance(action, Notify):
            if action.role:
                return role(action.role)
            if action.person:
                return person(action.person)
            if action.email:
                return [("email", action.email)]
            return [("webhook", action.webhook)] if action.webhook else []
        if isinstance(action, Page):
            roster = spec.rosters.get(action.roster, [])
            if not roster:
                return []
            # Each unacknowledged repeat moves the page one step down the roster.
            entry = roster[min(firing, len(roster)) - 1]
            return role(entry) if entry in spec.escalation.roles else person(entry)
        return []

    # -- reads ---------------------------------------------------------------

    def task_with_timeline(self, task_id: int) -> tuple[Task, list[Row[Any]], list[Event]]:
        with self.store.read() as conn:
            task = self.store.get_task(conn, task_id)
            if task is None:
                raise NotFound(f"no task {task_id}")
            return task, self.store.task_items(conn, task_id), self.store.task_events(conn, task_id)
