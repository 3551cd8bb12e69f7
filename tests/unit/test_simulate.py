"""The what-if simulation: deterministic per seed, same log shape as the store, and sane under changes."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from careroute.assignment import Requirements
from careroute.calendar import BusinessCalendar
from careroute.escalation import EscalationPolicy
from careroute.metrics import fold_log
from careroute.misfires import misfire_report
from careroute.rules.schema import RulePack
from careroute.simulate import (
    Arrival,
    HandlingTime,
    PackEscalations,
    Rostered,
    Shift,
    compare,
    report,
    requirements_from_pack,
    roster_from_pack,
    simulate,
)

NY = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)  # Monday 08:00 in New York
MIN = timedelta(minutes=1)
PACKS = Path(__file__).resolve().parents[2] / "src" / "careroute" / "rules" / "packs"
STARTER = yaml.safe_load((PACKS / "primary_care.yaml").read_text())
POLICY = EscalationPolicy.model_validate({k: STARTER[k] for k in ("calendar", "sla", "escalation")})
HANDLING = {"default": HandlingTime(median=8 * MIN, p90=20 * MIN)}
WEEKDAYS_9_TO_5 = tuple(Shift(d, time(9), time(17)) for d in range(5))


def workday(n: int, seed: int = 7, queue: str = "billing") -> list[Arrival]:
    """n routine billing arrivals spread over Monday 08:00-16:00 New York time."""
    rng = random.Random(seed)
    times = sorted(MONDAY + timedelta(seconds=rng.uniform(0, 8 * 3600)) for _ in range(n))
    return [Arrival(at, "billing_inquiry", "routine", queue, external_id=f"b-{i}") for i, at in enumerate(times)]


def clerks(n: int, shifts: tuple[Shift, ...] = ()) -> list[Rostered]:
    return [Rostered(f"clerk{i}", ("billing",), capacity=5, shifts=shifts) for i in range(n)]


def test_the_same_seed_gives_the_same_log_and_another_seed_another() -> None:
    a = simulate(workday(60), clerks(2), HANDLING, zone=NY, seed=1)
    b = simulate(workday(60), clerks(2), HANDLING, zone=NY, seed=1)
    c = simulate(workday(60), clerks(2), HANDLING, zone=NY, seed=2)
    assert a == b
    assert [(e.kind, e.at) for e in a] != [(e.kind, e.at) for e in c]


def test_the_log_has_the_shape_of_the_real_one() -> None:
    events = simulate(workday(30), clerks(2), HANDLING, zone=NY, seed=3)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))
    by_task: dict[int, list[str]] = {}
    for e in events:
        by_task.setdefault(e.task_id, []).append(e.kind)
    assert len(by_task) == 30
    for kinds in by_task.values():
        assert kinds[:3] == ["created", "classified", "routed"]
        assert kinds[3:] == ["assigned", "claimed", "resolved"]
    facts = fold_log(events)
    assert all(f.type == "billing_inquiry" and f.initial_queue == "billing" for f in facts.values())
    m = report(events)
    assert m.tasks == 30 and m.still_waiting.tasks == 0
    assert m.first_contact_resolution.value == 1.0 and m.reroute_rate.value == 0.0


def test_more_staff_means_a_shorter_queue_age() -> None:
    arrivals = workday(120)
    ages = []
    for staff in (1, 2, 4):
        m = report(simulate(arrivals, clerks(staff), HANDLING, zone=NY, seed=5))
        ages.append(m.queue_age["all"].median)
    assert ages[0] is not None and ages[1] is not None and ages[2] is not None
    assert ages[0] > ages[1] > ages[2]


def test_work_waits_for_the_shift_to_start() -> None:
    early = Arrival(MONDAY - timedelta(hours=1), "billing_inquiry", "routine", "billing")  # 07:00 local
    events = simulate([early], clerks(1, WEEKDAYS_9_TO_5), HANDLING, zone=NY)
    claimed = next(e for e in events if e.kind == "claimed")
    assert claimed.at == MONDAY + timedelta(hours=1)  # 09:00 EDT
    assert report(events).queue_age["routine"].median == 2 * timedelta(hours=1)


def test_tasks_held_at_the_end_of_a_shift_go_back_to_the_queue() -> None:
    late = [Arrival(MONDAY + timedelta(hours=8, minutes=50), "billing_inquiry", "routine", "billing")] * 3
    day = Rostered("day", ("billing",), capacity=5, shifts=WEEKDAYS_9_TO_5)
    night = Rostered("night", ("billing",), capacity=5, shifts=tuple(Shift(d, time(17), time(9)) for d in range(7)))
    slow = {"default": HandlingTime(median=30 * MIN, p90=30 * MIN)}
    events = simulate(late, [day, night], slow, zone=NY)
    returned = [e for e in events if e.kind == "returned"]
    assert len(returned) == 2 and {e.data["from_assignee"] for e in returned} == {"day"}
    assert {e.assignee for e in events if e.kind == "resolved"} == {"day", "night"}
    assert report(events).still_waiting.tasks == 0


def test_a_misrouted_task_is_rerouted_by_the_person_who_claims_it() -> None:
    arrivals = [
        Arrival(
            MONDAY + i * MIN,
            "billing_inquiry",
            "routine",
            "billing",
            rule_id="tag.billing_inquiry",
            correct_queue="records" if i % 4 == 0 else None,
        )
        for i in range(8)
    ]
    roster = [*clerks(1), Rostered("yusuf", ("records",))]
    events = simulate(arrivals, roster, HANDLING, zone=NY, seed=2)
    moved = [e for e in events if e.kind == "rerouted"]
    assert len(moved) == 2 and all(e.actor == "clerk0" and e.rule_ids == ("tag.billing_inquiry",) for e in moved)
    m = report(events)
    assert (m.reroute_rate.count, m.reroute_rate.of) == (2, 8)
    resolved_in = {e.task_id: e.queue for e in events if e.kind == "resolved"}
    assert resolved_in[1] == "records" and resolved_in[2] == "billing"
    facts = fold_log(events)
    found = misfire_report(events, facts.values(), zone=NY, now=MONDAY, tag_queues={"billing_inquiry": "billing"})
    assert found[0].rule_id == "tag.billing_inquiry" and found[0].moves[0].to_queue == "records"


def test_credentials_are_respected() -> None:
    pack = RulePack.model_validate(STARTER)
    urgent = [Arrival(MONDAY + timedelta(hours=2), "clinical_urgent", "urgent", "clinical_triage")]
    events = simulate(urgent, roster_from_pack(pack), HANDLING, zone=NY, requirements=requirements_from_pack(pack))
    assigned = next(e for e in events if e.kind == "assigned")
    assert assigned.assignee in {"rhea", "omar", "mira", "tessa"}
    nobody = simulate(
        urgent, clerks(2), HANDLING, zone=NY, requirements=Requirements({"clinical_triage": frozenset({"RN"})}, {})
    )
    assert report(nobody).still_waiting.tasks == 1


def test_the_starter_packs_roster_keeps_its_shifts() -> None:
    roster = {p.id: p for p in roster_from_pack(RulePack.model_validate(STARTER))}
    tessa = roster["tessa"]
    assert Shift(0, time(17), time(8)) in tessa.shifts and Shift(5, time(0), time(0)) in tessa.shifts
    tuesday_3am = datetime(2026, 10, 6, 7, 0, tzinfo=UTC)
    events = simulate(
        [Arrival(tuesday_3am, "clinical_urgent", "urgent", "on_call")], list(roster.values()), HANDLING, zone=NY
    )
    assert next(e for e in events if e.kind == "claimed").actor == "tessa"
    assert next(e for e in events if e.kind == "claimed").at == tuesday_3am


def test_the_packs_escalation_rules_fire_on_work_nobody_takes() -> None:
    hook = PackEscalations(POLICY.escalation, BusinessCalendar(POLICY.calendar), POLICY.sla)
    urgent = Arrival(MONDAY, "clinical_urgent", "urgent", "clinical_triage")
    routine = Arrival(MONDAY, "billing_inquiry", "routine", "billing")
    nobody = [Rostered("x", ("records",))]
    events = simulate([urgent, routine], nobody, HANDLING, zone=NY, escalations=hook, until=MONDAY + timedelta(hours=6))
    fired = [(e.task_id, e.rule_ids[0], e.at - MONDAY) for e in events if e.kind == "escalated"]
    urgent_fired = [f for f in fired if f[0] == 1]
    assert [f[1] for f in urgent_fired] == ["esc.urgent.unclaimed"] * 4  # at 30 min, then every 15 min, 4 times
    assert [f[2] for f in urgent_fired] == [30 * MIN, 45 * MIN, 60 * MIN, 75 * MIN]
    assert (2, "esc.routine.unclaimed", timedelta(hours=4)) in fired
    assert report(events).escalation_rate.value == 1.0
    staffed = simulate(
        [urgent], [*clerks(1), Rostered("rn", ("clinical_triage",))], HANDLING, zone=NY, escalations=hook
    )
    assert not [e for e in staffed if e.kind == "escalated"]


def test_compare_says_what_changed_in_plain_words() -> None:
    arrivals = workday(120)
    one = report(simulate(arrivals, clerks(1), HANDLING, zone=NY, seed=5))
    four = report(simulate(arrivals, clerks(4), HANDLING, zone=NY, seed=5))
    lines = compare(one, four)
    assert lines[0] == "tasks: 120 in both"
    age = next(line for line in lines if line.startswith("queue age (routine)"))
    assert "shorter in B" in age and "target under 4.0 h" in age
    assert any(line.startswith("reroute rate: 0.0% in both (target under 10%; target met in both)") for line in lines)
    assert "first-contact resolution: 100.0% in both (target over 75%; target met in both)" in lines
    assert compare(one, one)[1].startswith("queue age (all): median")


def test_it_refuses_bad_inputs() -> None:
    with pytest.raises(ValueError):
        HandlingTime(median=10 * MIN, p90=5 * MIN)
    with pytest.raises(ValueError, match="handling time"):
        simulate(workday(1), clerks(1), {}, zone=NY)
    with pytest.raises(ValueError):
        simulate(workday(1), clerks(1), HANDLING, zone=NY, work_in_parallel=0)
    assert simulate([], clerks(1), HANDLING, zone=NY) == []
