"""Intake through the dispatcher: one task per (channel, external_id), events in one transaction."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from careroute.dispatcher import Dispatcher, InvalidCommand, NotFound
from careroute.lifecycle import TransitionRefused
from careroute.store.repository import Store
from careroute.store.tables import events, items, tasks
from tests.conftest import make_item


def count(store: Store, table) -> int:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_it_creates_a_task_with_created_classified_routed_and_assigned_events(dispatcher: Dispatcher) -> None:
    result = dispatcher.intake(make_item())
    assert result.created
    task, rows, timeline = dispatcher.task_with_timeline(result.task_id)
    assert [e.kind for e in timeline] == ["created", "classified", "routed", "assigned"]
    assert task.status == "assigned" and task.queue == result.decision.queue == "refills"
    assert task.assignee == "luis"  # the one person on shift who serves refills
    assert timeline[2].rule_ids == (task.route_rule,)
    assert all(e.pack_version == dispatcher.pack.version for e in timeline)
    assert rows[0].external_id == "portal-1"


def test_the_same_item_twice_is_one_task_and_adds_no_events(dispatcher: Dispatcher, store: Store) -> None:
    first = dispatcher.intake(make_item())
    again = dispatcher.intake(make_item())
    assert not again.created and again.task_id == first.task_id
    assert again.decision == first.decision
    assert (count(store, tasks), count(store, items), count(store, events)) == (1, 1, 4)


def test_the_same_external_id_on_another_channel_is_another_item(dispatcher: Dispatcher, store: Store) -> None:
    dispatcher.intake(make_item("x-1", channel="portal"))
    dispatcher.intake(make_item("x-1", channel="email"))
    assert count(store, items) == 2


def test_concurrent_posts_of_one_item_make_one_task(dispatcher: Dispatcher, store: Store) -> None:
    item = make_item("portal-race")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: dispatcher.intake(item), range(16)))
    assert len({r.task_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert (count(store, tasks), count(store, items)) == (1, 1)


def test_a_batch_is_one_transaction(dispatcher: Dispatcher, store: Store) -> None:
    results = dispatcher.intake_batch([make_item(f"b-{i}") for i in range(5)])
    assert [r.created for r in results] == [True] * 5
    assert count(store, tasks) == 5


def test_each_command_appends_an_event_and_updates_the_projection(dispatcher: Dispatcher) -> None:
    task_id = dispatcher.intake(make_item()).task_id  # pushed to luis
    with pytest.raises(TransitionRefused, match="may not take"):
        dispatcher.assign(task_id, "omar", actor="pam")  # omar serves results, not refills
    with pytest.raises(TransitionRefused, match="already with luis"):
        dispatcher.assign(task_id, "luis", actor="pam")
    dispatcher.claim(task_id, actor="luis")
    rerouted = dispatcher.reroute(task_id, "records", "asks for records", actor="luis", reason_code="wrong_type")
    assert rerouted.queue == "records" and rerouted.assignee in {"pam", "yusuf"}  # pushed again at once
    dispatcher.claim(task_id, actor="yusuf")
    done = dispatcher.resolve(task_id, actor="yusuf")
    assert done.status == "resolved" and done.resolved_at is not None and done.queue == "records"
    reopened = dispatcher.reopen(task_id, actor="pam", reason="patient wrote back")
    assert reopened.status in {"open", "assigned"} and reopened.resolved_at is None
    _, _, timeline = dispatcher.task_with_timeline(task_id)
    kinds = [e.kind for e in timeline]
    assert kinds[:4] == ["created", "classified", "routed", "assigned"]
    assert "rerouted" in kinds and kinds.count("claimed") == 2 and "resolved" in kinds and "reopened" in kinds
    reroute = next(e for e in timeline if e.kind == "rerouted")
    assert reroute.reason == "asks for records" and reroute.data["reason_code"] == "wrong_type"
    assert reroute.data["from_queue"] == "refills" and reroute.rule_ids == ("tag.medication_refill",)
    assert done.first_claimed_at is not None


def test_claiming_a_resolved_task_is_refused_and_changes_nothing(dispatcher: Dispatcher, store: Store) -> None:
    task_id = dispatcher.intake(make_item()).task_id
    dispatcher.resolve(task_id, actor="luis")
    before = count(store, events)
    with pytest.raises(TransitionRefused):
        dispatcher.claim(task_id, actor="luis")
    assert count(store, events) == before


def test_commands_check_their_arguments(dispatcher: Dispatcher) -> None:
    task_id = dispatcher.intake(make_item()).task_id
    with pytest.raises(InvalidCommand, match="to_queue"):
        dispatcher.reroute(task_id, "nowhere", "wrong desk", actor="luis", reason_code="wrong_type")
    with pytest.raises(InvalidCommand, match="reason_code: a reroute needs one of"):
        dispatcher.reroute(task_id, "records", "wrong desk", actor="luis")
    with pytest.raises(InvalidCommand, match="not one of the pack's reroute reasons"):
        dispatcher.reroute(task_id, "records", "wrong desk", actor="luis", reason_code="bored")
    with pytest.raises(InvalidCommand, match="staff"):
        dispatcher.assign(task_id, "nobody", actor="pam")
    with pytest.raises(NotFound):
        dispatcher.claim(999_999, actor="luis")
