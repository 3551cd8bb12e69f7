"""Drafts, previews on real history, publish and rollback, through the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from careroute.access import Principal
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rule_admin import Refused, RuleAdmin
from careroute.rules import LoadedPack
from careroute.store.repository import Store
from careroute.store.tables import rule_audit, tasks
from tests.conftest import T0, make_item

ALICE = Principal("alice", "user", "admin", "Alice", clinical=False)
CAROL = Principal("carol", "user", "admin", "Carol", clinical=True)
PARKING = "Do you do parking validation at the new building?"
CHEST = "I have had chest pain since this morning, pressure into my jaw."


def wait_for(admin: RuleAdmin, preview_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = admin.preview_row(preview_id)
        if row.status != "running":
            assert row.status == "done", row.summary
            assert row.summary is not None
            return row.summary
        time.sleep(0.05)
    raise AssertionError("the preview did not finish")


def actions(store: Store) -> list[str]:
    with store.read() as conn:
        return [r.action for r in conn.execute(select(rule_audit.c.action).order_by(rule_audit.c.id))]


def week_of_items(dispatcher: Dispatcher, clock: SimulatedClock) -> dict[str, int]:
    ids = {}
    for n, (name, body) in enumerate([("parking", PARKING), ("refill", None), ("chest", CHEST)]):
        clock.now = T0 - timedelta(days=3, hours=-n)
        ids[name] = dispatcher.intake(make_item(f"portal-{name}", body=body)).task_id
    clock.now = T0
    return ids


def test_it_previews_publishes_and_rolls_back(
    dispatcher: Dispatcher, clock: SimulatedClock, starter_pack: LoadedPack
) -> None:
    ids = week_of_items(dispatcher, clock)
    admin = RuleAdmin(dispatcher)
    draft_id = admin.start_draft(ALICE)
    edit = admin.edit(draft_id, "keywords", {"tag": "billing_inquiry", "phrases": "parking validation"}, ALICE)
    assert edit.ok, edit.problems
    with pytest.raises(Refused, match="Preview"):
        admin.publish(draft_id, ALICE, "parking is a billing question")

    summary = wait_for(admin, admin.start_preview(draft_id, ALICE, days=7))
    assert summary["items"] == 3
    assert summary["changed"]["type"] == 1
    assert [e["task_id"] for e in summary["examples"]] == [ids["parking"]]
    assert summary["blocking_count"] == 0

    published = admin.publish(draft_id, ALICE, "parking is a billing question")
    assert dispatcher.pack.version == published.version != starter_pack.version
    assert published.diff == ["Billing questions are also recognised by: 'parking validation'."]
    new = dispatcher.intake(make_item("portal-after", body=PARKING))
    with dispatcher.store.read() as conn:
        decided_by = conn.execute(select(tasks.c.pack_version).where(tasks.c.id == new.task_id)).scalar_one()
        old = conn.execute(select(tasks.c.pack_version).where(tasks.c.id == ids["parking"])).scalar_one()
    assert decided_by == published.version and old == starter_pack.version
    assert new.decision.type == "billing_inquiry"

    back = admin.rollback(starter_pack.version, ALICE, "not yet")
    assert back.kind == "rollback" and dispatcher.pack.version == starter_pack.version
    assert [p.kind for p in admin.publishes()] == ["rollback", "publish"]
    assert actions(dispatcher.store) == ["draft", "edit", "preview", "publish", "rollback"]


def test_urgent_items_leaving_a_clinical_queue_need_a_clinical_override(
    dispatcher: Dispatcher, clock: SimulatedClock
) -> None:
    ids = week_of_items(dispatcher, clock)
    admin = RuleAdmin(dispatcher)
    draft_id = admin.start_draft(ALICE)
    for index in ("3", "4"):  # route.possible_danger and route.high_urgency
        form = {"index": index, "queue": "scheduling", "when_possible_danger": "yes" if index == "3" else ""}
        if index == "4":
            form["when_urgency"] = "emergent, urgent"
        form["when_type_not"] = "prior_auth_pending"
        assert admin.edit(draft_id, "route", form, ALICE).ok
    summary = wait_for(admin, admin.start_preview(draft_id, ALICE))
    assert summary["blocking_count"] == 1
    assert [b["task_id"] for b in summary["blocking"]] == [ids["chest"]]

    with pytest.raises(Refused, match="clinical admin must override"):
        admin.publish(draft_id, CAROL, "fewer nurse interruptions")
    with pytest.raises(Refused, match="Only a clinical admin"):
        admin.publish(draft_id, ALICE, "fewer nurse interruptions", "the front desk will call 911")
    assert actions(dispatcher.store).count("publish") == 0

    done = admin.publish(draft_id, CAROL, "fewer nurse interruptions", "front desk triages by protocol this week")
    assert done.override_by == "carol" and done.override_reason == "front desk triages by protocol this week"
    with dispatcher.store.read() as conn:
        row = conn.execute(select(rule_audit).where(rule_audit.c.action == "override")).one()
    assert row.actor == "carol" and row.detail["reason"] == "front desk triages by protocol this week"
    assert row.detail["blocking"] == 1


def test_another_instance_follows_a_publish_and_a_restart_keeps_it(
    dispatcher: Dispatcher, store: Store, starter_pack: LoadedPack, clock: SimulatedClock
) -> None:
    admin = RuleAdmin(dispatcher)
    other = Dispatcher(store, starter_pack, clock=clock)
    other_admin = RuleAdmin(other)
    published = admin.set_pilot("20", ALICE, "start the pilot")
    assert dispatcher.pack.spec.pilot is not None and dispatcher.pack.spec.pilot.fraction == 0.2
    assert other_admin.sync(force=True) and other.pack.version == published.version

    restarted = Dispatcher(store, starter_pack, clock=clock)
    RuleAdmin(restarted).adopt()
    assert restarted.pack.version == published.version


def test_a_rules_file_edited_after_a_publish_wins_at_start_up(
    dispatcher: Dispatcher, store: Store, starter_pack: LoadedPack, clock: SimulatedClock
) -> None:
    RuleAdmin(dispatcher).set_pilot("50", ALICE, "half")
    from careroute.rules import load_pack_text

    edited = load_pack_text(starter_pack.text.replace("capacity: 8\n", "capacity: 7\n", 1), source="primary_care.yaml")
    restarted = Dispatcher(store, edited, clock=clock)
    admin = RuleAdmin(restarted)
    admin.adopt()
    assert restarted.pack.version == edited.version
    assert admin.publishes()[0].kind == "file"


def test_the_text_view_saves_only_a_pack_that_loads(dispatcher: Dispatcher, starter_pack: LoadedPack) -> None:
    admin = RuleAdmin(dispatcher)
    draft_id = admin.start_draft(ALICE)
    problems = admin.edit_text(draft_id, starter_pack.text.replace("{queue: billing,", "{queue: billng,", 1), ALICE)
    assert problems and "unknown queue 'billng'" in problems[0] and "line" in problems[0]
    assert admin.draft(draft_id).text == starter_pack.text
    assert admin.edit_text(draft_id, starter_pack.text.replace("capacity: 8\n", "capacity: 9\n", 1), ALICE) == []
    assert "capacity: 9" in admin.draft(draft_id).text
    assert actions(dispatcher.store) == ["draft", "edit", "edit"]
