"""Each staff command on a task, and each refusal, as a pure function."""

import pytest

from careroute.lifecycle import TaskState, TransitionRefused, apply


def state(status: str, assignee: str | None = None, queue: str = "refills") -> TaskState:
    return TaskState(status=status, queue=queue, assignee=assignee)


@pytest.mark.parametrize("status", ["open", "assigned"])
def test_it_claims_an_unclaimed_task(status: str) -> None:
    out = apply(state(status, "bob" if status == "assigned" else None), "claim", actor="alice")
    assert (out.event, out.status, out.assignee) == ("claimed", "claimed", "alice")


def test_it_refuses_to_claim_a_resolved_task() -> None:
    with pytest.raises(TransitionRefused, match="resolved; reopen it"):
        apply(state("resolved", "alice"), "claim", actor="bob")


def test_it_refuses_to_claim_a_task_someone_else_claimed() -> None:
    with pytest.raises(TransitionRefused, match="already claimed by alice"):
        apply(state("claimed", "alice"), "claim", actor="bob")


def test_it_tells_you_when_you_already_hold_the_claim() -> None:
    with pytest.raises(TransitionRefused, match="already claimed by you"):
        apply(state("claimed", "alice"), "claim", actor="alice")


@pytest.mark.parametrize("status", ["open", "assigned", "claimed"])
def test_it_resolves_an_unresolved_task(status: str) -> None:
    out = apply(state(status, "alice" if status != "open" else None), "resolve", actor="alice")
    assert (out.event, out.status) == ("resolved", "resolved")


def test_it_refuses_to_resolve_twice() -> None:
    with pytest.raises(TransitionRefused, match="already resolved"):
        apply(state("resolved"), "resolve", actor="alice")


def test_reroute_moves_the_task_and_clears_the_assignee() -> None:
    out = apply(state("claimed", "alice"), "reroute", actor="alice", to_queue="records")
    assert (out.event, out.status, out.queue, out.assignee) == ("rerouted", "open", "records", None)


def test_it_refuses_a_reroute_to_the_same_queue_or_of_a_resolved_task() -> None:
    with pytest.raises(TransitionRefused, match="already in queue refills"):
        apply(state("open"), "reroute", actor="alice", to_queue="refills")
    with pytest.raises(TransitionRefused, match="reopen it before rerouting"):
        apply(state("resolved"), "reroute", actor="alice", to_queue="records")


def test_reopen_only_applies_to_resolved_tasks() -> None:
    out = apply(state("resolved", "alice"), "reopen", actor="bob")
    assert (out.event, out.status, out.assignee) == ("reopened", "open", None)
    with pytest.raises(TransitionRefused, match="only a resolved task can be reopened"):
        apply(state("open"), "reopen", actor="bob")


def test_assign_pushes_to_a_person_and_refuses_a_no_op() -> None:
    out = apply(state("open"), "assign", actor="sup", to_staff="alice")
    assert (out.event, out.status, out.assignee) == ("assigned", "assigned", "alice")
    with pytest.raises(TransitionRefused, match="already with alice"):
        apply(state("assigned", "alice"), "assign", actor="sup", to_staff="alice")
    with pytest.raises(TransitionRefused, match="reopen it before assigning"):
        apply(state("resolved"), "assign", actor="sup", to_staff="alice")


def test_a_merged_item_takes_no_commands() -> None:
    with pytest.raises(TransitionRefused, match="merged"):
        apply(state("merged"), "claim", actor="alice")
