"""Draft edits are pure functions over the pack's data: a new pack, or problems that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from careroute.config import STARTER_PACK
from careroute.rules import drafts
from careroute.rules.loader import load_pack_text


@pytest.fixture(scope="module")
def starter() -> dict[str, Any]:
    return drafts.parse(STARTER_PACK.read_text(encoding="utf-8"))


def test_it_adds_a_practice_phrase_to_a_tag(starter: dict[str, Any]) -> None:
    result = drafts.edit(starter, "keywords", {"tag": "records_request", "phrases": "passport form\npassport form\n"})
    assert result.ok, result.problems
    assert drafts.keywords_of(result.data, "records_request") == {
        "id": "practice.records_request",
        "tag": "records_request",
        "phrases": ["passport form"],
    }
    assert starter.get("classifier") == {}  # the input is never changed
    pack = drafts.load(result.data, "draft")
    assert pack.version != load_pack_text(STARTER_PACK.read_text(), source="x").version


def test_it_removes_the_practice_rule_when_no_phrase_is_left(starter: dict[str, Any]) -> None:
    added = drafts.edit(starter, "keywords", {"tag": "billing_inquiry", "phrases": "copay card"}).data
    removed = drafts.edit(added, "keywords", {"tag": "billing_inquiry", "phrases": "  "})
    assert removed.ok and "keywords" not in removed.data["classifier"]


def test_a_problem_names_the_field(starter: dict[str, Any]) -> None:
    wrong_queue = drafts.edit(starter, "route", {"index": "1", "queue": "billng", "when_after_hours": "yes"})
    assert [str(p) for p in wrong_queue.problems] == ["routing[1].queue: unknown queue 'billng'"]
    not_a_number = drafts.edit(
        starter, "staff", {"index": "0", "name": "Rhea", "credential": "RN", "queues": "nurse", "capacity": "eight"}
    )
    assert [p.field for p in not_a_number.problems] == ["staff[0].capacity"]
    bad_shift = drafts.edit(
        starter,
        "staff",
        {"index": "0", "name": "Rhea", "credential": "RN", "queues": "nurse", "shifts": "mondays all day"},
    )
    assert [p.field for p in bad_shift.problems] == ["staff[0].shifts[0]"]
    bad_duration = drafts.edit(starter, "sla", {"claim_emergent": "soonish", "claim_urgent": "30 minutes"})
    assert bad_duration.problems and bad_duration.problems[0].field.startswith("sla.claim.emergent")


def test_it_edits_each_section(starter: dict[str, Any]) -> None:
    moved = drafts.edit(starter, "route", {"index": "5", "action": "up"})
    assert [r["id"] for r in moved.data["routing"]][4] == "route.low_confidence" and moved.ok
    queue = drafts.edit(
        starter, "queue", {"index": "3", "name": "Refill desk", "requires_MA": "on", "requires_RN": "on"}
    )
    assert queue.ok and queue.data["queues"][3]["requires"] == ["MA", "RN"]
    staff = drafts.edit(
        starter,
        "staff",
        {
            "index": "4",
            "name": "Luis Serrano",
            "credential": "MA",
            "queues": "refills, results",
            "capacity": "9",
            "queue_capacity": "results=3",
            "shifts": "mon wed 09:00-15:00",
        },
    )
    assert staff.ok, staff.problems
    assert staff.data["staff"][4]["shifts"] == [{"days": ["mon", "wed"], "hours": "09:00-15:00"}]
    assert staff.data["staff"][4]["queue_capacity"] == {"results": 3}
    calendar = drafts.edit(
        starter,
        "calendar",
        {
            "timezone": "America/New_York",
            "hours_monday": "08:00-12:00, 13:00-17:00",
            "closures": "2026-12-26 Staff day",
            "special_hours": "2026-12-31 closed",
        },
    )
    assert calendar.ok, calendar.problems
    escalation = drafts.edit(
        starter,
        "escalation",
        {
            "index": "new",
            "id": "esc.billing.unclaimed",
            "when_type": "billing_inquiry",
            "after": "1 business days",
            "action_do": "notify",
            "action_target": "billing@example.org",
        },
    )
    assert escalation.ok, escalation.problems
    assert escalation.data["escalation"]["rules"][-1]["action"] == {"do": "notify", "email": "billing@example.org"}
    role = drafts.edit(starter, "role", {"role": "billing_lead", "title": "billing lead", "email": "b@example.org"})
    assert role.ok and role.data["escalation"]["roles"]["billing_lead"]["email"] == "b@example.org"


def test_a_pilot_share_adds_the_manual_queue(starter: dict[str, Any]) -> None:
    result = drafts.edit(starter, "pilot", {"fraction": "20"})
    assert result.ok, result.problems
    assert result.data["pilot"] == {"fraction": 0.2}
    assert result.data["queues"][-1]["id"] == "manual_dispatch"
    assert drafts.edit(starter, "pilot", {"fraction": "120"}).problems[0].field == "pilot.fraction"


def test_the_text_view_names_the_line() -> None:
    data, problems = drafts.edit_text("pack: {name: x}\nqueues: [")
    assert data is None and "line" in problems[0].message
