"""Capacity-aware routing as a practice lives it: a busy morning, people leaving, the night, and races."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.model import InboundItem, Patient
from careroute.rules import LoadedPack
from careroute.store.repository import Store
from careroute.store.tables import events, tasks
from tests.conftest import EDT, T0

PORTAL = [
    ("medication_refill", "Could you send a refill of my {drug} to the pharmacy? I have two pills left."),
    ("appointment_callback", "I need to reschedule my appointment next Tuesday, any morning works."),
    ("billing_inquiry", "My statement shows a balance I thought insurance paid. Can billing look at it?"),
    ("records_request", "Please send a copy of my medical records to my new cardiologist."),
    ("clinical_question", "Is it okay to take ibuprofen with my {drug}? No other problems."),
    ("clinical_urgent", "I have crushing chest pain going into my left arm and I am sweating."),
]
VOICEMAIL = [
    ("medication_refill", "hi this is a refill request for my {drug} please send it to the pharmacy thanks"),
    ("appointment_callback", "hi i need to cancel my appointment tomorrow please call me back"),
    ("clinical_urgent", "my husband cant breathe and his lips look blue please call right away"),
]
DRUGS = ["lisinopril", "metformin", "atorvastatin", "amlodipine", "sertraline", "levothyroxine"]


def morning_items(rng: random.Random, start: datetime) -> list[InboundItem]:
    """250 items over 30 minutes: 80 portal, 60 voicemail, 55 lab, 55 prior-auth updates."""
    out: list[InboundItem] = []
    plan = [("portal", 80), ("voicemail", 60), ("lab", 55), ("ehr", 55)]
    for channel, n in plan:
        for i in range(n):
            at = start + timedelta(seconds=rng.randrange(0, 30 * 60))
            patient = Patient(mrn=f"SC{rng.randrange(10**6):06d}", name=f"Scenario Patient{i}", dob="1960-01-01")
            meta: dict[str, Any] = {}
            subject = None
            if channel == "portal":
                _, text = rng.choice(PORTAL)
            elif channel == "voicemail":
                _, text = rng.choice(VOICEMAIL)
            elif channel == "lab":
                critical = rng.random() < 0.15
                value = "6.9" if critical else "4.4"
                meta = {
                    "test": "Potassium",
                    "value": value,
                    "units": "mmol/L",
                    "abnormal_flag": "HH" if critical else "N",
                }
                subject, text = "Basic metabolic panel", f"Potassium {value} mmol/L (ref 3.5-5.1)."
            else:
                meta = {"payer": "Aetna", "status": "approved"}
                subject, text = "Prior authorization status update", "ePA for Ozempic 0.5 mg (Aetna): APPROVED."
            out.append(
                InboundItem(
                    channel=channel,
                    external_id=f"{channel}-{i}",
                    received_at=at,
                    body=text.format(drug=rng.choice(DRUGS)),
                    patient=patient,
                    subject=subject,
                    metadata=meta,
                )
            )
    return sorted(out, key=lambda item: item.received_at)


def check_capacity(store: Store, dispatcher: Dispatcher) -> None:
    """Nobody holds more effort than their capacity, overall or per queue."""
    for staff, person in dispatcher.people():
        assert person.load <= staff.capacity, f"{staff.id} holds {person.load} > {staff.capacity}"
        for queue, limit in staff.queue_capacity.items():
            assert person.queue_load.get(queue, 0) <= limit


@pytest.mark.slow
def test_a_busy_morning_with_two_people_leaving(store: Store, starter_pack: LoadedPack) -> None:
    clock = SimulatedClock(T0)
    dispatcher = Dispatcher(store, starter_pack, clock=clock)
    dispatcher.load_pack()
    rng = random.Random(20261005)
    items = morning_items(rng, T0)
    handling = timedelta(minutes=4)
    leavers = ("rhea", "luis")
    returned_ids: list[int] = []
    held_by_leavers: set[int] = set()
    pending = list(items)
    for minute in range(0, 46):
        clock.now = T0 + timedelta(minutes=minute)
        arriving = [i for i in pending if i.received_at <= clock.now]
        pending = pending[len(arriving) :]
        for item in arriving:
            dispatcher.intake(item)
        if minute == 15:
            with store.read() as conn:
                held_by_leavers = {
                    r.id
                    for r in conn.execute(
                        select(tasks.c.id).where(tasks.c.assignee.in_(leavers), tasks.c.status == "assigned")
                    )
                }
            for person in leavers:
                returned, _ = dispatcher.set_presence(person, "off_shift")
                returned_ids += returned
        # Each person claims what was pushed to them and resolves what they have held long enough.
        with store.read() as conn:
            rows = list(conn.execute(select(tasks).where(tasks.c.status.in_(("assigned", "claimed")))))
        for row in rows:
            if row.assignee in leavers and minute >= 15:
                continue
            if row.status == "assigned" and (minute % 2 == 0):
                dispatcher.claim(row.id, actor=row.assignee)
            elif row.status == "claimed" and clock.now - row.updated_at >= handling:
                dispatcher.resolve(row.id, actor=row.assignee)
        dispatcher.tick()
        check_capacity(store, dispatcher)

    assert held_by_leavers and set(returned_ids) == held_by_leavers
    with store.read() as conn:
        all_events = list(conn.execute(select(events).order_by(events.c.id)))
        all_tasks = {r.id: r for r in conn.execute(select(tasks))}
    returned_events = [e for e in all_events if e.kind == "returned"]
    assert {e.task_id for e in returned_events} == held_by_leavers
    # Every returned task was pushed again to someone else who serves its queue; none went back to a leaver.
    covered = {q for p in starter_pack.spec.staff if p.id not in leavers for q in p.queues}
    repushed = 0
    for task_id in held_by_leavers:
        back = next(e.id for e in returned_events if e.task_id == task_id)
        later = [e for e in all_events if e.task_id == task_id and e.kind in ("assigned", "claimed") and e.id > back]
        assert all(e.assignee not in leavers for e in later)
        if all_tasks[task_id].queue in covered:
            assert later, f"task {task_id} was not pushed again"
            repushed += 1
        else:
            assert all_tasks[task_id].status == "open"
    assert repushed
    # An emergent or urgent task is assigned before any routine task that waited less: whenever a person was
    # pushed a routine task, no emergent/urgent task that arrived earlier and that they could take was waiting.
    # Event ids give the order things happened in (the log is the truth; many share a timestamp).
    created_seq = {e.task_id: e.id for e in all_events if e.kind == "created"}
    first_taken: dict[int, int] = {}
    for e in all_events:
        if e.kind in ("assigned", "claimed"):
            first_taken.setdefault(e.task_id, e.id)
    serves = {p.id: set(p.queues) for p in starter_pack.spec.staff}
    high = [t for t in all_tasks.values() if t.urgency in ("emergent", "urgent")]
    checked = 0
    for e in all_events:
        if e.kind != "assigned" or all_tasks[e.task_id].urgency != "routine":
            continue
        for h in high:
            waiting_longer = created_seq[h.id] < created_seq[e.task_id]
            if waiting_longer and h.queue in serves[e.assignee or ""]:
                checked += 1
                assert h.id in first_taken and first_taken[h.id] < e.id, (h.id, e.task_id)
    assert len(items) == 250 and len(all_tasks) == 250
    assert checked > 0


def test_after_hours_clinical_items_reach_on_call(store: Store, starter_pack: LoadedPack) -> None:
    evening = datetime(2026, 10, 5, 18, 30, tzinfo=EDT)
    dispatcher = Dispatcher(store, starter_pack, clock=SimulatedClock(evening))
    dispatcher.load_pack()
    urgent = dispatcher.intake(
        InboundItem("voicemail", "vm-night", evening, "i have chest pain and i cant breathe please call")
    )
    refill = dispatcher.intake(InboundItem("portal", "p-night", evening, "please refill my lisinopril 10 mg"))
    assert urgent.decision.queue == "on_call"
    assert refill.decision.queue == "refills"  # administrative work waits for the morning
    task, _, _ = dispatcher.task_with_timeline(urgent.task_id)
    assert task.assignee == "tessa"  # the on-call NP is the only one on shift
    assert dispatcher.task_with_timeline(refill.task_id)[0].status == "open"


def test_nobody_gets_a_task_their_credential_does_not_allow(dispatcher: Dispatcher) -> None:
    for person in ("rhea", "omar", "mira"):
        dispatcher.set_presence(person, "away")
    result = dispatcher.intake(InboundItem("portal", "p-cp", T0, "crushing chest pain since an hour, sweating"))
    task = dispatcher.task_with_timeline(result.task_id)[0]
    assert task.queue == "clinical_triage" and task.status == "open"  # nobody with RN or above is free
    dispatcher.set_presence("rhea", "available")
    assert dispatcher.task_with_timeline(result.task_id)[0].assignee == "rhea"


def _seed_waiting(dispatcher: Dispatcher, n: int) -> None:
    for person in [s.id for s, _ in dispatcher.people()]:
        dispatcher.set_presence(person, "away")
    dispatcher.intake_batch(
        [InboundItem("portal", f"w-{i}", T0, f"please refill my lisinopril, order {i}") for i in range(n)]
    )


def test_threads_pulling_at_once_never_take_one_task_twice_or_pass_capacity(
    dispatcher: Dispatcher, store: Store
) -> None:
    _seed_waiting(dispatcher, 60)
    dispatcher.set_presence("luis", "busy")  # busy: nothing is pushed to him, but he may pull

    def pull(_: int) -> int | None:
        task = dispatcher.next_task("luis")
        return task.id if task else None

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = [t for t in pool.map(pull, range(40)) if t is not None]
    assert len(got) == len(set(got))
    check_capacity(store, dispatcher)
    with store.read() as conn:
        claims = [r.task_id for r in conn.execute(select(events.c.task_id).where(events.c.kind == "claimed"))]
    assert len(claims) == len(set(claims)) == len(got) == 12  # luis's capacity in refill effort units


def _worker(url: str, pack_path: str, staff_id: str, rounds: int, out: Any) -> None:
    from careroute.rules import load_pack

    d = Dispatcher(Store.from_url(url), load_pack(pack_path), clock=SimulatedClock(T0))
    got = []
    for _ in range(rounds):
        task = d.next_task(staff_id)
        if task is not None:
            got.append(task.id)
    out.put(got)


def test_processes_pulling_at_once_never_take_one_task_twice(dispatcher: Dispatcher, store: Store, db_url: str) -> None:
    # PostgreSQL: row and advisory locks; SQLite: one writer at a time across processes (BEGIN IMMEDIATE).
    from careroute.config import STARTER_PACK

    _seed_waiting(dispatcher, 60)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, str(STARTER_PACK), "luis", 10, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [t for _ in procs for t in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert len(got) == len(set(got)) == 12  # luis's capacity, in refill effort units
    check_capacity(store, dispatcher)
