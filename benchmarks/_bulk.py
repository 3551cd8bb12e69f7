"""Fill a migrated store with a large synthetic history, fast (batched Core inserts, no dispatcher).

The rows look like what intake writes: a task, its item with a patient, the patient's identity keys
and the task's summary row, spread over the `days` before `end`, so indexes and query plans are
exercised as they would be in a practice that has run careroute for a long time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from careroute.store.repository import Store
from careroute.store.tables import items, patient_keys, task_facts, tasks

TYPES = [
    ("medication_refill", "refills", 1),
    ("lab_result_routine", "results", 1),
    ("prior_auth_pending", "authorizations", 3),
    ("appointment_callback", "scheduling", 1),
    ("billing_inquiry", "billing", 1),
    ("records_request", "records", 1),
    ("clinical_question", "nurse", 1),
    ("referral_packet", "referrals", 2),
]


def _batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def fill(
    store: Store,
    n: int,
    end: datetime,
    *,
    days: int = 730,
    status: str = "resolved",
    next_escalation_at: datetime | None = None,
    seed: int = 1,
    progress: bool = True,
    with_items: bool = True,
) -> None:
    """n tasks (one item each) created over the `days` before `end`, with patient keys and summary rows."""
    rng = random.Random(seed)
    patients = max(1, n // 3)
    span = days * 86400
    started = time.perf_counter()
    for batch in _batches(n, 20_000):
        task_rows: list[dict[str, Any]] = []
        item_rows: list[dict[str, Any]] = []
        key_rows: list[dict[str, Any]] = []
        fact_rows: list[dict[str, Any]] = []
        for i in batch:
            tid = i + 1
            at = end - timedelta(seconds=span * (n - i) / n)
            pid = rng.randrange(patients)
            kind, queue, effort = TYPES[i % len(TYPES)]
            dob = f"{1930 + pid % 80}-{1 + pid % 12:02d}-{1 + pid % 28:02d}"
            task_rows.append(
                {
                    "id": tid, "status": status, "type": kind, "urgency": "routine", "urgency_rank": 2,
                    "queue": queue, "assignee": None, "effort": effort, "skills": [], "pilot_arm": None,
                    "confidence": 0.9, "channel": "portal", "external_id": f"bulk-{i}", "route_rule": f"tag.{kind}",
                    "pack_version": "bulk", "item_count": 1, "follows_task_id": None, "created_at": at,
                    "updated_at": at, "due_at": at + timedelta(hours=4), "assigned_at": None,
                    "first_claimed_at": at + timedelta(minutes=20) if status != "open" else None,
                    "resolved_at": at + timedelta(hours=1) if status == "resolved" else None,
                    "acknowledged_at": None, "on_hold": False, "next_escalation_at": next_escalation_at,
                }
            )  # fmt: skip
            item_rows.append(
                {
                    "id": tid, "task_id": tid, "channel": "portal", "external_id": f"bulk-{i}", "received_at": at,
                    "received_offset_min": -240,
                    "patient": {"mrn": f"BK{pid:07d}", "name": f"Bulk Patient{pid}", "dob": dob},
                    "subject": "refill", "body": f"Please refill my medicine number {pid % 97}.",
                    "item_metadata": {}, "type": kind, "urgency": "routine", "confidence": 0.9,
                    "reasons": ["bulk"], "rule_ids": [], "duplicate_of": None, "root_received_at": at,
                    "created_at": at,
                }
            )  # fmt: skip
            for key in (f"mrn:BK{pid:07d}", f"dob:{dob}", f"name:PTNT|{dob}"):
                key_rows.append({"key": key, "item_id": tid, "received_at": at})
            fact_rows.append(
                {
                    "task_id": tid, "created_at": at, "channel": "portal", "type": kind, "urgency": "routine",
                    "initial_queue": queue, "final_queue": queue, "route_rule": f"tag.{kind}", "pilot_arm": None,
                    "item_id": tid, "follows_task_id": None,
                    "first_claim_at": at + timedelta(minutes=20) if status != "open" else None,
                    "first_resolved_at": at + timedelta(hours=1) if status == "resolved" else None,
                    "last_resolved_at": at + timedelta(hours=1) if status == "resolved" else None,
                    "reroutes": 1 if i % 13 == 0 else 0, "careroute_reroutes": 0, "manually_dispatched": False,
                    "reopens": 1 if i % 17 == 0 else 0, "follow_up_after_seconds": None,
                    "escalations": 1 if i % 19 == 0 else 0,
                    "queue_age_us": 20 * 60 * 1_000_000 if status != "open" else None,
                }
            )  # fmt: skip
        with store.write() as conn:
            conn.execute(insert(tasks), task_rows)
            if with_items:  # the scoreboard needs only tasks and their summary rows
                conn.execute(insert(items), item_rows)
                conn.execute(insert(patient_keys), key_rows)
            conn.execute(insert(task_facts), fact_rows)
        if progress:
            done = batch.stop
            rate = done / (time.perf_counter() - started)
            print(f"\r  loading history: {done:,}/{n:,} tasks ({rate:,.0f}/s)", end="", flush=True)
    if progress:
        print()
    if store.dialect == "postgresql":
        with store.write() as conn:
            # Explicit ids were inserted: move the sequences past them.
            for table in ("tasks", "items") if with_items else ("tasks",):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
            conn.exec_driver_sql("ANALYZE")
    else:
        with store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
