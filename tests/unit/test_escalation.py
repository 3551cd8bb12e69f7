"""Which escalation rules are due, on hand-built tasks and a fixed clock; and the rules in plain English."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from careroute.calendar import BusinessCalendar
from careroute.escalation import (
    EscalationPolicy,
    EscalationRule,
    EscalationSpec,
    Fired,
    Notify,
    Page,
    RaiseUrgency,
    Reassign,
    cross_check,
    diff,
    due_escalations,
    explain,
    explain_rule,
    next_escalation_at,
    raised_urgency,
)
from careroute.model import TAGS
from careroute.sla import Hold, TaskFacts

NY = ZoneInfo("America/New_York")
SECOND = timedelta(seconds=1)
PACKS = Path(__file__).resolve().parents[2] / "src" / "careroute" / "rules" / "packs"
STARTER = yaml.safe_load((PACKS / "primary_care.yaml").read_text())
EXAMPLE = EscalationPolicy.model_validate({k: STARTER[k] for k in ("calendar", "sla", "escalation")})
QUEUE_NAMES = {q["id"]: q["name"] for q in STARTER["queues"]}
CAL = BusinessCalendar(EXAMPLE.calendar)
RULES = EXAMPLE.escalation
NOTHING_FIRED: dict[tuple[int, str], Fired] = {}


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def task(type: str, urgency: str = "routine", created: datetime | None = None, **kw: Any) -> TaskFacts:
    kw.setdefault("queue", STARTER["tags"][type]["queue"])
    return TaskFacts(id=kw.pop("id", 7), type=type, urgency=urgency, created_at=created or ny(2026, 10, 19, 9, 0), **kw)


def due(
    tasks: list[TaskFacts],
    now: datetime,
    fired: dict[tuple[int, str], Fired] | None = None,
    rules: EscalationSpec = RULES,
    calendar: BusinessCalendar = CAL,
) -> list[tuple[int, str, datetime, int]]:
    found = due_escalations(tasks, rules, calendar, now, fired or NOTHING_FIRED, sla=EXAMPLE.sla)
    return [(d.task_id, d.rule_id, d.deadline, d.firing) for d in found]


def rule(data: dict[str, Any]) -> EscalationRule:
    return EscalationRule.model_validate({"id": "esc.test", **data})


# -- the prior-authorisation rule ----------------------------------------------------------------------


def test_prior_auth_fires_exactly_two_business_hours_later_across_a_holiday_monday() -> None:
    # Friday 16:00: one business hour Friday, Monday 19 January is Martin Luther King Jr. Day, due Tuesday 09:00.
    pa = task("prior_auth_pending", created=ny(2026, 1, 16, 16, 0))
    deadline = ny(2026, 1, 20, 9, 0)
    assert due([pa], deadline - SECOND) == []
    assert due([pa], deadline) == [(7, "esc.prior_auth.unclaimed", deadline, 1)]
    [fired] = due_escalations([pa], RULES, CAL, deadline, NOTHING_FIRED, sla=EXAMPLE.sla)
    assert fired.reason == (
        "prior_auth_pending not claimed within 2 business hours (due Tue 20 Jan 09:00) → authorisation supervisor"
    )
    assert isinstance(fired.action, Notify) and fired.action.role == "authorization_supervisor"


def test_prior_auth_across_the_spring_forward_weekend_and_a_closed_monday() -> None:
    policy = EXAMPLE.model_copy(
        update={"calendar": EXAMPLE.calendar.model_copy(update={"closures": {date(2026, 3, 9): "staff training"}})}
    )
    calendar = BusinessCalendar(policy.calendar)
    pa = task("prior_auth_pending", created=ny(2026, 3, 6, 16, 0))  # EST
    deadline = ny(2026, 3, 10, 9, 0)  # EDT
    assert due([pa], deadline - SECOND, calendar=calendar) == []
    assert due([pa], deadline, calendar=calendar) == [(7, "esc.prior_auth.unclaimed", deadline, 1)]


def test_a_claimed_task_does_not_fire_an_unclaimed_rule() -> None:
    deadline = ny(2026, 10, 19, 11, 0)
    claimed_in_time = task("prior_auth_pending", first_claimed_at=ny(2026, 10, 19, 10, 0))
    claimed_late = task("prior_auth_pending", first_claimed_at=ny(2026, 10, 19, 11, 30))
    assert due([claimed_in_time], deadline) == []
    assert due([claimed_late], ny(2026, 10, 19, 12, 0)) == []  # the scheduler was late; the claim came first
    # A claim stamped after `now` has not happened yet (replay and simulation read facts as of now).
    assert due([claimed_late], deadline) == [(7, "esc.prior_auth.unclaimed", deadline, 1)]


def test_a_resolved_task_fires_nothing() -> None:
    done = task("prior_auth_pending", resolved_at=ny(2026, 10, 19, 9, 30))
    assert due([done], ny(2026, 10, 30, 9, 0)) == []


def test_a_hold_pauses_a_business_hours_rule() -> None:
    held = task("prior_auth_pending", holds=(Hold(ny(2026, 10, 19, 9, 30), ny(2026, 10, 19, 13, 0), "payer"),))
    assert due([held], ny(2026, 10, 19, 11, 0)) == []
    assert due([held], ny(2026, 10, 19, 14, 30)) == [(7, "esc.prior_auth.unclaimed", ny(2026, 10, 19, 14, 30), 1)]
    still = task("prior_auth_pending", holds=(Hold(ny(2026, 10, 19, 9, 30), None, "waiting on the payer"),))
    assert due([still], ny(2026, 10, 30, 9, 0)) == []
    assert next_escalation_at(still, RULES, CAL, ny(2026, 10, 30, 9, 0), NOTHING_FIRED, sla=EXAMPLE.sla) is None


# -- repeats, max_times and idempotence ------------------------------------------------------------------


SUNDAY_2AM = ny(2026, 10, 18, 2, 0)


def test_an_emergent_item_pages_on_call_at_the_claim_target_and_repeats_up_to_three_times() -> None:
    emergent = task("clinical_urgent", "emergent", created=SUNDAY_2AM)
    first = SUNDAY_2AM + timedelta(minutes=5)
    # Announced at once (even when nobody has room for it), then paged at the claim target.
    assert due([emergent], SUNDAY_2AM + SECOND) == [(7, "esc.emergent.now", SUNDAY_2AM + SECOND, 1)]
    announced = {(7, "esc.emergent.now"): Fired(1, SUNDAY_2AM + SECOND)}
    assert due([emergent], first - SECOND, announced) == []
    assert due([emergent], first, announced) == [
        (7, "esc.emergent.clinical_lead", first, 1),
        (7, "esc.emergent.page_on_call", first, 1),
    ]
    fired = {(7, "esc.emergent.page_on_call"): Fired(1, first + 30 * SECOND)}
    nxt = first + timedelta(minutes=5, seconds=30)
    assert [d[1:] for d in due([emergent], nxt - SECOND, fired) if d[1].endswith("page_on_call")] == []
    assert (7, "esc.emergent.page_on_call", nxt, 2) in due([emergent], nxt, fired)
    [repeat] = [
        d
        for d in due_escalations([emergent], RULES, CAL, nxt, fired, sla=EXAMPLE.sla)
        if d.rule_id == "esc.emergent.page_on_call"
    ]
    assert isinstance(repeat.action, Page) and repeat.reason.endswith("→ page on-call (repeat 2 of 3)")
    spent = {(7, "esc.emergent.page_on_call"): Fired(3, nxt + timedelta(minutes=5))}
    assert [d for d in due([emergent], nxt + timedelta(hours=1), spent) if d[1].endswith("page_on_call")] == []


def test_after_downtime_a_repeat_fires_once_not_once_per_missed_interval() -> None:
    emergent = task("clinical_urgent", "emergent", created=SUNDAY_2AM)
    fired = {
        (7, "esc.emergent.now"): Fired(1, SUNDAY_2AM + timedelta(seconds=1)),
        (7, "esc.emergent.page_on_call"): Fired(1, SUNDAY_2AM + timedelta(minutes=5)),
        (7, "esc.emergent.clinical_lead"): Fired(1, SUNDAY_2AM + timedelta(minutes=5)),
    }
    assert due([emergent], SUNDAY_2AM + timedelta(hours=3), fired) == [
        (7, "esc.emergent.page_on_call", SUNDAY_2AM + timedelta(minutes=10), 2)
    ]


def test_the_same_question_gets_the_same_answer_and_a_recorded_firing_is_not_due_again() -> None:
    tasks = [
        task("prior_auth_pending", id=1),
        task("referral_packet", id=2, created=ny(2026, 10, 14, 9, 0)),
        task("clinical_urgent", "emergent", id=3, created=ny(2026, 10, 19, 10, 0)),
    ]
    now = ny(2026, 10, 19, 16, 0)
    first = due_escalations(tasks, RULES, CAL, now, NOTHING_FIRED, sla=EXAMPLE.sla)
    assert first == due_escalations(list(reversed(tasks)), RULES, CAL, now, NOTHING_FIRED, sla=EXAMPLE.sla)
    assert [d.deadline for d in first] == sorted(d.deadline for d in first)
    fired = {(d.task_id, d.rule_id): Fired(1, now) for d in first}
    again = due_escalations(tasks, RULES, CAL, now, fired, sla=EXAMPLE.sla)
    assert again == []


def test_next_escalation_at_is_the_timer_to_persist() -> None:
    pa = task("prior_auth_pending")
    now = ny(2026, 10, 19, 9, 30)
    assert next_escalation_at(pa, RULES, CAL, now, NOTHING_FIRED, sla=EXAMPLE.sla) == ny(2026, 10, 19, 11, 0)
    fired = {(7, "esc.prior_auth.unclaimed"): Fired(1, ny(2026, 10, 19, 11, 0))}
    # The routine rule (4 business hours) is next once the prior-auth rule has fired.
    assert next_escalation_at(pa, RULES, CAL, now, fired, sla=EXAMPLE.sla) == ny(2026, 10, 19, 13, 0)


# -- wall-clock duties, deadlines and filters ---------------------------------------------------------------


def test_a_critical_lab_not_acknowledged_in_60_minutes_moves_to_on_call_at_night() -> None:
    lab = task("lab_result_urgent", "urgent", created=SUNDAY_2AM, first_claimed_at=SUNDAY_2AM + timedelta(minutes=10))
    three_am = SUNDAY_2AM + timedelta(hours=1)
    assert [d for d in due([lab], three_am - SECOND) if d[1] == "esc.critical_lab.on_call"] == []
    assert (7, "esc.critical_lab.on_call", three_am, 1) in due([lab], three_am)
    [moved] = [
        d for d in due_escalations([lab], RULES, CAL, three_am, {}, sla=EXAMPLE.sla) if d.rule_id.startswith("esc.crit")
    ]
    assert isinstance(moved.action, Reassign) and moved.action.queue == "on_call"
    assert moved.reason == (
        "lab_result_urgent not acknowledged by the critical_lab_to_clinician duty (60 minutes)"
        " (due Sun 18 Oct 03:00) → on_call queue"
    )
    acked = task("lab_result_urgent", "urgent", created=SUNDAY_2AM, acknowledged_at=SUNDAY_2AM + timedelta(minutes=20))
    assert [d for d in due([acked], three_am) if d[1] == "esc.critical_lab.on_call"] == []


def test_a_pre_breach_warning_fires_before_the_items_peer_to_peer_deadline() -> None:
    pa = task(
        "prior_auth_pending",
        first_claimed_at=ny(2026, 10, 19, 9, 30),
        metadata={"p2p_due": "2026-10-21T14:30:00-04:00"},
    )
    warning = ny(2026, 10, 21, 10, 30)
    assert due([pa], warning - SECOND) == []
    assert due([pa], warning) == [(7, "esc.p2p.warning", warning, 1)]


def test_a_referral_not_resolved_in_three_business_days_goes_to_the_coordinator_lead() -> None:
    referral = task("referral_packet", created=ny(2026, 10, 16, 14, 0), first_claimed_at=ny(2026, 10, 16, 14, 5))
    deadline = ny(2026, 10, 21, 14, 0)
    assert due([referral], deadline - SECOND) == []
    assert due([referral], deadline) == [(7, "esc.referral.unresolved", deadline, 1)]


def test_the_routine_rule_names_the_supervisor_and_filters_by_urgency() -> None:
    refill = task("medication_refill")
    assert due([refill], ny(2026, 10, 19, 13, 0)) == [(7, "esc.routine.unclaimed", ny(2026, 10, 19, 13, 0), 1)]
    urgent = task("medication_refill", "urgent", queue="clinical_triage")
    assert "esc.routine.unclaimed" not in [d[1] for d in due([urgent], ny(2026, 10, 19, 13, 0))]


def test_queue_and_claimed_status_conditions() -> None:
    rules = EscalationSpec(
        rules=[
            rule(
                {
                    "when": {"queue": ["refills"], "status": "claimed"},
                    "after": "1 business hour",
                    "action": {"do": "raise_urgency"},
                }
            )
        ]
    )
    claimed = task("medication_refill", first_claimed_at=ny(2026, 10, 19, 16, 30))
    assert due([claimed], ny(2026, 10, 20, 8, 30), rules=rules) == [(7, "esc.test", ny(2026, 10, 20, 8, 30), 1)]
    assert due([task("medication_refill")], ny(2026, 10, 21, 8, 30), rules=rules) == []  # never claimed
    assert due([task("billing_inquiry", first_claimed_at=ny(2026, 10, 19, 9, 5))], ny(2026, 10, 21), rules=rules) == []


def test_raise_urgency_goes_up_and_never_down() -> None:
    one_step = RaiseUrgency(do="raise_urgency")
    assert [raised_urgency(u, one_step) for u in ("routine", "urgent", "emergent")] == [
        "urgent",
        "emergent",
        "emergent",
    ]
    assert raised_urgency("emergent", RaiseUrgency(do="raise_urgency", to="urgent")) == "emergent"
    assert raised_urgency("routine", RaiseUrgency(do="raise_urgency", to="emergent")) == "emergent"


# -- the rules as plain English ---------------------------------------------------------------------------


ROLES = RULES.roles


def say(data: dict[str, Any]) -> str:
    return explain_rule(rule(data), ROLES, EXAMPLE.sla, QUEUE_NAMES)


def test_it_explains_the_prior_auth_rule_as_the_practice_would_say_it() -> None:
    roles = {"authorization_supervisor": ROLES["authorization_supervisor"].model_copy(update={"email": None})}
    text = explain_rule(RULES.rules[0], roles, EXAMPLE.sla)
    assert text == (
        "If a prior authorisation update is not claimed within 2 business hours,"
        " notify the authorisation supervisor (Wendy Park)."
    )
    assert explain_rule(RULES.rules[0], ROLES).endswith("(Wendy Park) by email.")


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ({"do": "notify", "person": "Wendy Park"}, "notify Wendy Park."),
        ({"do": "notify", "email": "desk@example.org"}, "email desk@example.org."),
        (
            {"do": "notify", "webhook": "https://hooks.example.org/pa"},
            "send a signed webhook to https://hooks.example.org/pa.",
        ),
        ({"do": "notify", "role": "clinical_lead"}, "notify the clinical lead (Tessa Quill) by email."),
        (
            {"do": "notify", "role": "queue_supervisor"},
            "notify the supervisor of the task's queue (Clinical triage: Tessa",
        ),
        ({"do": "reassign", "queue": "on_call"}, "move it to the On call queue."),
        ({"do": "raise_urgency", "to": "urgent"}, "raise its urgency to urgent."),
        ({"do": "raise_urgency"}, "raise its urgency one step (routine to urgent, urgent to emergent)."),
        ({"do": "page"}, "page the on-call clinician."),
        ({"do": "page", "roster": "medical_director"}, "page the medical director roster."),
    ],
)
def test_it_explains_each_kind_of_action(action: dict[str, Any], words: str) -> None:
    text = say({"when": {"type": ["billing_inquiry"]}, "after": "30 minutes", "action": action})
    assert text.startswith("If a billing question is not claimed within 30 minutes, ")
    assert words in text


def test_it_explains_timers_statuses_and_repeats() -> None:
    assert say(
        {
            "when": {"urgency": ["emergent"]},
            "after": {"sla": "claim"},
            "action": {"do": "page"},
            "repeat_every": "5 minutes",
            "max_times": 3,
        }
    ) == (
        "If an emergent item is not claimed by its claim target (5 minutes), page the on-call clinician,"
        " and again every 5 minutes, up to 3 times in all."
    )
    assert say(
        {
            "when": {"type": ["lab_result_urgent"], "status": "unacknowledged"},
            "after": {"sla": "critical_lab_to_clinician"},
            "action": {"do": "reassign", "queue": "on_call"},
            "repeat_every": "10 minutes",
            "max_times": None,
        }
    ) == (
        "If a critical lab result is not acknowledged by its duty time (60 minutes, at any hour),"
        " move it to the On call queue, and again every 10 minutes until it is acknowledged."
    )
    assert say(
        {
            "when": {"queue": ["referrals"], "status": "claimed"},
            "after": "1 business day",
            "action": {"do": "notify", "role": "referral_coordinator_lead"},
        }
    ) == (
        "If an item in the Referrals queue is claimed but not resolved within 1 business day of being claimed,"
        " notify the referral coordinator lead (Yusuf Reed) by email."
    )
    assert (
        say(
            {
                "when": {"urgency": ["urgent"]},
                "after": {"sla": "claim", "before_due": "10 minutes"},
                "action": {"do": "notify", "person": "Rhea Vance"},
            }
        )
        == "If an urgent item is still not claimed 10 minutes before its claim target (30 minutes), notify Rhea Vance."
    )


def test_the_whole_document_names_hours_slas_and_every_rule() -> None:
    text = explain(RULES, CAL, EXAMPLE.sla, queue_names=QUEUE_NAMES)
    assert (
        "Business hours: Monday to Friday 08:00–17:00 America/New_York, closed on US federal holidays (observed)"
        " and on 2026-12-24 (Christmas Eve)." in text
    )
    assert "- Emergent items must be claimed within 5 minutes, day or night." in text
    for r in RULES.rules:
        assert f"**{r.id}**" in text
    assert "No escalation rules" in explain(EscalationSpec(), EXAMPLE.calendar, EXAMPLE.sla)


# -- differences between two policies ---------------------------------------------------------------------


def changed(section: str, **update: Any) -> EscalationPolicy:
    return EXAMPLE.model_copy(update={section: getattr(EXAMPLE, section).model_copy(update=update)})


def test_no_difference_says_nothing() -> None:
    assert diff(EXAMPLE, EscalationPolicy.model_validate(EXAMPLE.model_dump())) == []


def test_it_says_what_changes_in_hours_closures_and_targets() -> None:
    new = changed("calendar", hours={**EXAMPLE.calendar.hours, "friday": ["08:00-12:00"]}, closures={})
    new = new.model_copy(
        update={
            "sla": EXAMPLE.sla.model_copy(
                update={"claim": EXAMPLE.sla.claim.model_copy(update={"routine": None, "by_type": {}})}
            )
        }
    )
    assert diff(EXAMPLE, new) == [
        "Friday hours change from 08:00–17:00 to 08:00–12:00.",
        "No longer closed on 2026-12-24 (Christmas Eve).",
        "Routine items no longer have a target to be claimed (was 4 business hours).",
        "Prior authorisation updates no longer have a target to be claimed (was 2 business hours).",
    ]


def test_it_says_which_rules_were_added_removed_and_changed() -> None:
    rules = list(RULES.rules)
    first = rules[0].model_copy(
        update={"after": rules[0].after.model_copy(update={"elapsed": rules[-2].after.elapsed})}
    )
    added = rule(
        {"after": "1 hour", "when": {"type": ["records_request"]}, "action": {"do": "notify", "person": "Pam"}}
    )
    new_rules = [first, *rules[1:-1], added]
    roles = {
        **ROLES,
        "authorization_supervisor": ROLES["authorization_supervisor"].model_copy(update={"person": "Ann Lee"}),
    }
    new = changed("escalation", rules=new_rules, roles=roles)
    lines = diff(EXAMPLE, new)
    assert "The authorisation supervisor is now Ann Lee (was Wendy Park)." in lines
    assert (
        "Rule esc.prior_auth.unclaimed changes: was \u201cIf a prior authorisation update is not claimed within"
        " 2 business hours, notify the authorisation supervisor (Wendy Park) by email.\u201d; now \u201cIf a prior"
        " authorisation update is not claimed within 3 business days, notify the authorisation supervisor (Ann Lee)"
        " by email.\u201d"
    ) in lines
    assert "New rule esc.test: If a records request is not claimed within 1 hour, notify Pam." in lines
    assert any(line.startswith("Rule esc.p2p.warning removed (it said: If a prior authorisation") for line in lines)


# -- the example pack sections ---------------------------------------------------------------------------


def test_the_example_sections_fit_the_starter_pack() -> None:
    assert list(cross_check(EXAMPLE, QUEUE_NAMES, TAGS)) == []
    assert {r.id for r in RULES.rules} >= {
        "esc.prior_auth.unclaimed",
        "esc.emergent.page_on_call",
        "esc.emergent.clinical_lead",
        "esc.critical_lab.on_call",
        "esc.routine.unclaimed",
        "esc.referral.unresolved",
    }


def test_cross_check_names_unknown_queues_roles_clocks_and_tags() -> None:
    bad = changed(
        "escalation",
        rules=[
            rule(
                {
                    "when": {"type": ["prior_auth"], "queue": ["billng"]},
                    "after": {"sla": "p2p"},
                    "action": {"do": "page"},
                }
            ),
            rule({"after": "1 hour", "action": {"do": "notify", "role": "boss"}}),
            rule({"after": "1 hour", "action": {"do": "reassign", "queue": "nowhere"}}),
        ],
    )
    problems = {".".join(map(str, loc)): message for loc, message in cross_check(bad, QUEUE_NAMES, TAGS)}
    assert problems["escalation.rules.0.when.type.0"] == "'prior_auth' is not a taxonomy tag"
    assert problems["escalation.rules.0.when.queue.0"] == "unknown queue 'billng'"
    assert problems["escalation.rules.0.after.sla"].startswith("unknown clock 'p2p' (one of: claim,")
    assert problems["escalation.rules.1.action.role"].startswith("unknown role 'boss'")
    assert problems["escalation.rules.1.id"] == "rule id 'esc.test' appears twice"
    assert problems["escalation.rules.2.action.queue"] == "unknown queue 'nowhere'"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"after": "2 fortnights", "action": {"do": "page"}}, "not a duration"),
        ({"after": {"elapsed": "1 hour", "sla": "claim"}, "action": {"do": "page"}}, "not both"),
        ({"after": {"before_due": "10 minutes"}, "action": {"do": "page"}}, "needs either"),
        ({"after": {"sla": "claim", "before_due": "1 business hour"}, "action": {"do": "page"}}, "wall clock"),
        ({"after": "1 hour", "action": {"do": "notify", "role": "a", "person": "b"}}, "exactly one"),
        ({"after": "1 hour", "action": {"do": "email"}}, "does not match any of the expected tags"),
        ({"after": "1 hour", "action": {"do": "page"}, "repeat_every": "5 minutes"}, "max_times above 1"),
        ({"after": "1 hour", "action": {"do": "page"}, "max_times": 3}, "needs repeat_every"),
        ({"after": "1 hour", "action": {"do": "page"}, "when": {"status": "reopened"}}, "status"),
        ({"after": "1 hour", "action": {"do": "page"}, "then": "x"}, "Extra inputs"),
    ],
)
def test_a_rule_mistake_is_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(data)
