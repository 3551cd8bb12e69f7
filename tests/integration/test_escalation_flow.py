"""Escalations through the dispatcher on a simulated clock: the rules of the starter pack, as a practice meets them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.model import InboundItem, Patient
from careroute.rules import LoadedPack
from careroute.store.repository import Store
from careroute.store.tables import events, notifications
from tests.conftest import EDT

EST = EDT  # the sample week's offset; the calendar itself knows New York's rules


def at(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def sim(store: Store, starter_pack: LoadedPack) -> tuple[Dispatcher, SimulatedClock]:
    clock = SimulatedClock(at(2026, 10, 9, 16))
    d = Dispatcher(store, starter_pack, clock=clock)
    d.load_pack()
    return d, clock


def fired(store: Store, task_id: int) -> list[tuple[str, datetime]]:
    with store.read() as conn:
        rows = conn.execute(
            select(events.c.rule_ids, events.c.at).where(events.c.task_id == task_id, events.c.kind == "escalated")
        )
        return [(r.rule_ids[0], r.at) for r in rows]


def outbox(store: Store, task_id: int, rule_id: str | None = None) -> list[str]:
    query = select(notifications.c.target).where(notifications.c.task_id == task_id).order_by(notifications.c.id)
    if rule_id is not None:
        query = query.where(notifications.c.rule_id == rule_id)
    with store.read() as conn:
        return [r.target for r in conn.execute(query)]


def prior_auth(external_id: str, received: datetime, **meta: str) -> InboundItem:
    return InboundItem(
        "ehr",
        external_id,
        received,
        "ePA status change for Ozempic 0.5 mg (Aetna). New status: PENDED, clinical review in progress.",
        patient=Patient(mrn=f"PA{external_id[-3:]}", name="Quentin Rowe", dob="1966-02-02"),
        subject="Prior authorization status update",
        metadata={"payer": "Aetna", "status": "pended", **meta},
    )


def test_prior_auth_arriving_friday_1600_escalates_after_two_business_hours_across_a_holiday(
    sim: tuple[Dispatcher, SimulatedClock], store: Store
) -> None:
    d, clock = sim
    task_id = d.intake(prior_auth("pa-101", clock.now)).task_id
    # Friday 16:00-17:00 is one business hour; Monday 2026-10-12 is Columbus Day; Tuesday 08:00-09:00 the second.
    due = at(2026, 10, 13, 9)
    assert d.task_with_timeline(task_id)[0].next_escalation_at == due
    clock.now = due - timedelta(seconds=1)
    assert d.escalate() == []
    clock.now = due
    [firing] = d.escalate()
    assert firing.rule_id == "esc.prior_auth.unclaimed"
    assert "not claimed within 2 business hours" in firing.reason
    assert fired(store, task_id) == [("esc.prior_auth.unclaimed", due)]
    assert "wendy@example.org" in outbox(store, task_id) and "authorizations-lead@example.org" in outbox(store, task_id)
    clock.now = due + timedelta(hours=3)
    # The prior-auth rule fires once per task; the routine 4-business-hour rule comes due now on its own.
    assert [f.rule_id for f in d.escalate()] == ["esc.routine.unclaimed"]
    assert [r for r, _ in fired(store, task_id)] == ["esc.prior_auth.unclaimed", "esc.routine.unclaimed"]
    assert d.escalate() == []


def test_a_hold_pauses_the_business_clock(sim: tuple[Dispatcher, SimulatedClock]) -> None:
    d, clock = sim
    clock.now = at(2026, 10, 6, 9)  # Tuesday
    task_id = d.intake(prior_auth("pa-102", clock.now)).task_id
    assert d.task_with_timeline(task_id)[0].next_escalation_at == at(2026, 10, 6, 11)
    clock.now = at(2026, 10, 6, 10)
    d.hold(task_id, "waiting on the payer's fax", actor="wendy")
    clock.now = at(2026, 10, 6, 13)
    held = d.task_with_timeline(task_id)[0]
    assert held.on_hold and held.next_escalation_at is None and d.escalate() == []
    d.release(task_id, actor="wendy")  # one business hour was left on the clock
    assert d.task_with_timeline(task_id)[0].next_escalation_at == at(2026, 10, 6, 14)


def test_a_peer_to_peer_due_today_warns_four_hours_before(sim: tuple[Dispatcher, SimulatedClock]) -> None:
    d, clock = sim
    clock.now = at(2026, 10, 6, 8, 30)
    item = prior_auth("pa-103", clock.now, status="denied", p2p_due="2026-10-06T16:00:00-04:00")
    task_id = d.intake(item).task_id
    d.claim(task_id, actor="wendy")  # claimed but unresolved: the warning still runs
    clock.now = at(2026, 10, 6, 12)
    assert [f.rule_id for f in d.escalate()] == ["esc.p2p.warning"]


def test_an_unanswered_page_moves_down_the_on_call_roster(sim: tuple[Dispatcher, SimulatedClock], store: Store) -> None:
    d, clock = sim
    clock.now = at(2026, 10, 10, 2)  # Saturday night
    for person in ("tessa", "mira"):
        d.set_presence(person, "busy")  # nobody takes it at once
    item = InboundItem("voicemail", "vm-201", clock.now, "my wife cant breathe and her lips are blue please call now")
    task_id = d.intake(item).task_id
    assert d.task_with_timeline(task_id)[0].queue == "on_call"
    for minute in (5, 10, 15, 20):
        clock.now = at(2026, 10, 10, 2, minute)
        d.escalate()
    pages = [r for r, _ in fired(store, task_id) if r == "esc.emergent.page_on_call"]
    assert len(pages) == 3  # max_times
    sent = outbox(store, task_id, "esc.emergent.page_on_call")
    assert sent == ["tessa@example.org", "mira@example.org", "medical-director@example.org"]
    assert "clinical-lead@example.org" in outbox(store, task_id, "esc.emergent.clinical_lead")
    d.claim(task_id, actor="mira")
    clock.now = at(2026, 10, 10, 3)
    assert d.escalate() == []


def test_a_critical_lab_at_two_on_sunday_moves_to_on_call_after_sixty_minutes(
    sim: tuple[Dispatcher, SimulatedClock],
) -> None:
    d, clock = sim
    clock.now = at(2026, 10, 11, 2)  # Sunday 02:00
    lab = InboundItem(
        "lab",
        "lab-301",
        clock.now,
        "Potassium 6.9 mmol/L (ref 3.5-5.1), critical.",
        patient=Patient(mrn="LB000301", name="Nadia Shore", dob="1950-05-05"),
        subject="Basic metabolic panel",
        metadata={"test": "Potassium", "value": "6.9", "units": "mmol/L", "abnormal_flag": "HH"},
    )
    task_id = d.intake(lab).task_id
    task = d.task_with_timeline(task_id)[0]
    assert task.type == "lab_result_urgent"
    clock.now = at(2026, 10, 11, 2, 59, 59)
    assert "esc.critical_lab.on_call" not in [f.rule_id for f in d.escalate()]
    clock.now = at(2026, 10, 11, 3)
    assert "esc.critical_lab.on_call" in [f.rule_id for f in d.escalate()]
    assert d.task_with_timeline(task_id)[0].queue == "on_call"
    acked = d.acknowledge(task_id, actor="tessa", note="called Dr. on call")
    assert acked.acknowledged_at == clock.now
    events = d.task_with_timeline(task_id)[2]
    assert next(e for e in events if e.kind == "acknowledged").data["time_to_notify_seconds"] == 3600


def test_hold_release_and_acknowledge_refuse_what_does_not_apply(sim: tuple[Dispatcher, SimulatedClock]) -> None:
    from careroute.dispatcher import InvalidCommand
    from careroute.lifecycle import TransitionRefused

    d, clock = sim
    task_id = d.intake(prior_auth("pa-104", clock.now)).task_id
    with pytest.raises(InvalidCommand):
        d.hold(task_id, " ", actor="wendy")
    with pytest.raises(TransitionRefused, match="not on hold"):
        d.release(task_id, actor="wendy")
    d.hold(task_id, "waiting on the patient", actor="wendy")
    with pytest.raises(TransitionRefused, match="already on hold"):
        d.hold(task_id, "again", actor="wendy")


def test_an_emergent_item_is_announced_at_once_even_when_nobody_has_room(
    sim: tuple[Dispatcher, SimulatedClock], store: Store
) -> None:
    d, clock = sim
    clock.now = at(2026, 10, 6, 10)  # Tuesday morning
    for person in ("rhea", "omar", "mira", "tessa"):
        d.set_presence(person, "away")
    item = InboundItem("portal", "p-now", clock.now, "crushing chest pain going down my left arm, sweating")
    task_id = d.intake(item).task_id
    assert d.task_with_timeline(task_id)[0].status == "open"  # nobody with room
    clock.now += timedelta(seconds=1)
    assert [f.rule_id for f in d.escalate()] == ["esc.emergent.now"]
    assert outbox(store, task_id, "esc.emergent.now") == ["tessa@example.org", "clinical-lead@example.org"]
