"""SLA clocks on hand-built tasks: targets, holds, duties and the item's own deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from careroute.calendar import BusinessCalendar, CalendarSpec
from careroute.sla import (
    Duration,
    Hold,
    SlaSpec,
    TaskFacts,
    business_deadline,
    describe_sla,
    due_times,
    read_deadline,
    wall_clock_after,
)

NY = ZoneInfo("America/New_York")
CAL = BusinessCalendar(CalendarSpec(closures={date(2026, 12, 24): "Christmas Eve"}))
SPEC = SlaSpec.model_validate(
    {
        "claim": {
            "emergent": "5 minutes",
            "urgent": "30 minutes",
            "routine": "4 business hours",
            "by_type": {"prior_auth_pending": "2 business hours"},
        },
        "resolve": {"by_type": {"referral_packet": "3 business days"}},
        "duties": [
            {
                "id": "critical_lab_to_clinician",
                "description": "a critical lab value must reach a clinician",
                "type": ["lab_result_urgent"],
                "within": "60 minutes",
            }
        ],
    }
)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def task(
    type: str = "medication_refill", urgency: str = "routine", created: datetime | None = None, **kw: Any
) -> TaskFacts:
    return TaskFacts(id=1, type=type, urgency=urgency, created_at=created or ny(2026, 10, 19, 9, 0), **kw)


# -- durations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit", "business"),
    [
        ("5 minutes", 5, "minute", False),
        ("1 hour", 1, "hour", False),
        ("90 mins", 90, "minute", False),
        ("2 business hours", 2, "hour", True),
        ("1 business day", 1, "day", True),
        ("1.5 Business Hours", 1.5, "hour", True),
        ("2 hrs", 2, "hour", False),
    ],
)
def test_it_reads_durations_as_a_practice_writes_them(text: str, amount: float, unit: str, business: bool) -> None:
    d = Duration.model_validate(text)
    assert (d.amount, d.unit, d.business) == (amount, unit, business)


def test_durations_print_back_as_they_were_written() -> None:
    assert [str(Duration.model_validate(t)) for t in ("1 business day", "30 minutes", "1.5 business hours")] == [
        "1 business day",
        "30 minutes",
        "1.5 business hours",
    ]
    assert SPEC.model_dump()["claim"]["by_type"] == {"prior_auth_pending": "2 business hours"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2 fortnights", "not a duration"),
        ("0 minutes", "greater than 0"),
        ("1 business week", "minutes, hours or days"),
        (30, "needs a unit"),
    ],
)
def test_a_bad_duration_is_named(text: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Duration.model_validate(text)


def test_a_business_day_is_the_calendars_business_day() -> None:
    assert Duration.model_validate("3 business days").length(CAL) == timedelta(hours=27)
    short = BusinessCalendar(CalendarSpec(business_day_hours=8))
    assert Duration.model_validate("1 business day").length(short) == timedelta(hours=8)


def test_wall_clock_time_is_real_time_across_the_fall_back_night() -> None:
    # 00:30 EDT + 2 hours is 01:30 EST: adding in the local zone would give 02:30, an hour late.
    assert wall_clock_after(ny(2026, 11, 1, 0, 30), timedelta(hours=2)) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


# -- claim and resolve targets ------------------------------------------------------------------------


def test_the_default_targets_are_the_practice_benchmarks() -> None:
    defaults = SlaSpec()
    friday_night = ny(2026, 10, 16, 22, 0)
    emergent = due_times(task(urgency="emergent", created=friday_night), CAL, defaults)
    urgent = due_times(task(urgency="urgent", created=friday_night), CAL, defaults)
    routine = due_times(task(created=friday_night), CAL, defaults)
    assert emergent.claim is not None and emergent.claim.at == ny(2026, 10, 16, 22, 5)
    assert urgent.claim is not None and urgent.claim.at == ny(2026, 10, 16, 22, 30)
    assert routine.claim is not None and routine.claim.at == ny(2026, 10, 19, 12, 0)
    assert routine.resolve is None


def test_a_types_target_applies_and_the_earlier_of_type_and_urgency_wins() -> None:
    routine = due_times(task("prior_auth_pending"), CAL, SPEC)
    assert routine.claim is not None and routine.claim.at == ny(2026, 10, 19, 11, 0)
    assert str(routine.claim.target) == "2 business hours"
    emergent = due_times(task("prior_auth_pending", "emergent"), CAL, SPEC)
    assert emergent.claim is not None and emergent.claim.at == ny(2026, 10, 19, 9, 5)


def test_a_referral_is_resolved_within_three_business_days() -> None:
    due = due_times(task("referral_packet", created=ny(2026, 10, 16, 14, 0)), CAL, SPEC)
    assert due.resolve is not None and due.resolve.at == ny(2026, 10, 21, 14, 0)


def test_a_claim_meets_the_claim_target_and_a_late_claim_is_a_breach() -> None:
    on_time = due_times(task(first_claimed_at=ny(2026, 10, 19, 10, 0)), CAL, SPEC).claim
    late = due_times(task(first_claimed_at=ny(2026, 10, 19, 14, 0)), CAL, SPEC).claim
    assert on_time is not None and late is not None
    now = ny(2026, 10, 19, 15, 0)
    assert on_time.met_by(now) and not on_time.breached(now)
    assert late.met_by(now) and late.breached(now)
    waiting = due_times(task(), CAL, SPEC).claim
    assert waiting is not None
    deadline = ny(2026, 10, 19, 13, 0)
    assert not waiting.breached(deadline - timedelta(seconds=1)) and waiting.breached(deadline)


# -- holds --------------------------------------------------------------------------------------------


def test_a_hold_pauses_a_business_hours_target_and_resumes_it() -> None:
    held = (Hold(ny(2026, 10, 19, 10, 0), ny(2026, 10, 19, 11, 30), "waiting on the payer"),)
    due = due_times(task(), CAL, SPEC, held)
    assert due.claim is not None and due.claim.at == ny(2026, 10, 19, 14, 30)


def test_an_open_hold_stops_the_clock_and_says_why() -> None:
    held = (Hold(ny(2026, 10, 19, 10, 0), None, "waiting on the patient"),)
    due = due_times(task(holds=held), CAL, SPEC)
    assert due.claim is not None and due.claim.at is None and not due.claim.breached(ny(2026, 12, 1, 9, 0))
    assert due.paused_by == "waiting on the patient"


def test_a_hold_after_the_deadline_or_before_the_task_changes_nothing() -> None:
    after = (Hold(ny(2026, 10, 19, 15, 0), None, "waiting on a result"),)
    before = (Hold(ny(2026, 10, 18, 9, 0), ny(2026, 10, 19, 8, 0), "old"),)
    for holds in (after, before):
        due = due_times(task(), CAL, SPEC, holds)
        assert due.claim is not None and due.claim.at == ny(2026, 10, 19, 13, 0)


def test_overlapping_holds_and_holds_at_night_count_once() -> None:
    holds = [
        Hold(ny(2026, 10, 19, 10, 0), ny(2026, 10, 19, 11, 0), "payer"),
        Hold(ny(2026, 10, 19, 10, 30), ny(2026, 10, 19, 12, 0), "patient"),
        Hold(ny(2026, 10, 19, 20, 0), ny(2026, 10, 20, 7, 0), "overnight, closed anyway"),
    ]
    start = ny(2026, 10, 19, 9, 0)
    assert business_deadline(CAL, start, timedelta(hours=8), holds) == ny(2026, 10, 20, 10, 0)


def test_a_hold_does_not_pause_wall_clock_targets_or_duties() -> None:
    held = (Hold(ny(2026, 10, 19, 9, 1), None, "waiting on a result"),)
    due = due_times(task("lab_result_urgent", "emergent", holds=held), CAL, SPEC)
    assert due.claim is not None and due.claim.at == ny(2026, 10, 19, 9, 5)
    duty = due.clock("critical_lab_to_clinician")
    assert duty is not None and duty.at == ny(2026, 10, 19, 10, 0)


def test_a_hold_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="end before"):
        Hold(ny(2026, 10, 19, 10, 0), ny(2026, 10, 19, 9, 0), "x")


# -- duties and deadlines -----------------------------------------------------------------------------


def test_a_critical_lab_duty_runs_at_two_in_the_morning_on_a_sunday() -> None:
    due = due_times(task("lab_result_urgent", "urgent", created=ny(2026, 10, 18, 2, 0)), CAL, SPEC)
    duty = due.clock("critical_lab_to_clinician")
    assert duty is not None and duty.kind == "duty" and not duty.business
    assert duty.at == ny(2026, 10, 18, 3, 0)
    acked = due_times(
        task("lab_result_urgent", "urgent", created=ny(2026, 10, 18, 2, 0), acknowledged_at=ny(2026, 10, 18, 2, 40)),
        CAL,
        SPEC,
    ).clock("critical_lab_to_clinician")
    assert acked is not None and acked.met_by(ny(2026, 10, 18, 3, 0)) and not acked.breached(ny(2026, 10, 18, 3, 0))


def test_deadlines_come_from_the_items_metadata() -> None:
    facts = task(
        "prior_auth_pending",
        metadata={"deadline": "2026-10-23", "p2p_due": "2026-10-21T14:30:00-04:00", "note": "x"},
    )
    due = due_times(facts, CAL, SPEC)
    deadline, p2p = due.clock("deadline"), due.clock("p2p_due")
    assert deadline is not None and deadline.at == ny(2026, 10, 23, 17, 0)  # a date alone: 17:00 that day
    assert p2p is not None and p2p.at == ny(2026, 10, 21, 14, 30) and p2p.kind == "deadline"
    assert due.next_due(ny(2026, 10, 19, 9, 30)) == due.claim


def test_a_deadline_without_an_offset_is_practice_time_and_a_bad_one_is_reported() -> None:
    due = due_times(task(metadata={"p2p_due": "2026-10-21T09:00", "deadline": "next Tuesday"}), CAL, SPEC)
    p2p = due.clock("p2p_due")
    assert p2p is not None and p2p.at == ny(2026, 10, 21, 9, 0)
    assert due.unreadable == ("deadline",)
    assert read_deadline(date(2026, 10, 21), CAL, time(12, 0)) == ny(2026, 10, 21, 12, 0)


def test_every_clock_is_aware_and_in_utc() -> None:
    due = due_times(task("prior_auth_pending", metadata={"deadline": "2026-10-23"}), CAL, SPEC)
    assert all(d.at is not None and d.at.tzinfo == UTC for d in due.clocks)


def test_naive_task_times_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        task(created=datetime(2026, 10, 19, 9, 0))


def test_a_duty_is_wall_clock_and_clock_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="any hour"):
        SlaSpec.model_validate({"duties": [{"id": "d", "within": "1 business hour"}]})
    with pytest.raises(ValidationError, match="used twice"):
        SlaSpec.model_validate({"duties": [{"id": "claim", "within": "1 hour"}]})
    with pytest.raises(ValidationError, match="in quotes"):
        SlaSpec.model_validate({"deadlines": [{"key": "x", "name": "x", "time_of_day": 1020}]})


def test_it_describes_the_slas_in_plain_words() -> None:
    lines = describe_sla(SPEC, CAL)
    assert "Emergent items must be claimed within 5 minutes, day or night." in lines
    assert "Routine items must be claimed within 4 business hours." in lines
    assert (
        "Prior authorisation updates must be claimed within 2 business hours (sooner if their urgency asks for less)."
        in lines
    )
    assert (
        "Critical lab results must be acknowledged within 60 minutes, at any hour"
        " (a critical lab value must reach a clinician)." in lines
    )
    assert "A business day counts as 9 business hours." in lines
    assert any(line.startswith("A task on hold") for line in lines)
