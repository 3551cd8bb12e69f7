"""The preview's comparison is a pure function over two packs' decisions."""

from __future__ import annotations

import os

from careroute.rules.preview import Decided, HistoryItem, compare, in_parallel
from tests.conftest import T0, make_item


def decided(queue: str, urgency: str = "routine", type: str = "clinical_question", danger: bool = False) -> Decided:
    return Decided(type, urgency, queue, "r", danger, 1, (), None)


def history(n: int) -> list[HistoryItem]:
    return [HistoryItem(10 + i, make_item(f"portal-{i}", received_at=T0)) for i in range(n)]


def test_it_counts_changes_and_names_the_items() -> None:
    live = [decided("nurse"), decided("nurse"), decided("refills", type="medication_refill")]
    draft = [decided("nurse"), decided("records", type="records_request"), decided("refills", type="medication_refill")]
    out = compare(
        history(3),
        live,
        draft,
        ["rhea", "omar", "luis"],
        ["rhea", "yusuf", "pam"],
        frozenset({"nurse"}),
        frozenset({"nurse"}),
    )
    assert out["changed"] == {"any": 2, "type": 1, "urgency": 0, "queue": 1, "assignee": 2}
    assert [e["task_id"] for e in out["examples"]] == [11, 12]
    assert out["examples"][0]["changes"]["queue"] == ["nurse", "records"]
    assert out["blocking_count"] == 0  # a routine question leaving the nurse line is the admin's call
    assert out["moves"] == [["nurse", "records", 1]]


def test_urgent_or_dangerous_items_leaving_a_clinical_queue_block() -> None:
    live = [decided("clinical_triage", "urgent"), decided("clinical_triage", danger=True), decided("clinical_triage")]
    draft = [decided("scheduling", "urgent"), decided("billing", danger=True), decided("clinical_triage")]
    clinical = frozenset({"clinical_triage"})
    out = compare(history(3), live, draft, [None] * 3, [None] * 3, clinical, clinical)
    assert out["blocking_count"] == 2 and [b["task_id"] for b in out["blocking"]] == [10, 11]
    # Moving between clinical queues is not leaving one.
    out = compare(
        history(1), live[:1], [decided("on_call", "urgent")], [None], [None], clinical, clinical | {"on_call"}
    )
    assert out["blocking_count"] == 0


def test_the_two_sides_can_run_in_two_processes() -> None:
    assert in_parallel(lambda: os.getpid(), lambda: os.getpid())[0] != os.getpid()
    assert in_parallel(lambda: 1, lambda: 2, enabled=False) == (1, 2)

    def fails() -> int:
        raise ValueError("no")

    # A child that fails is run again here, so its error is the parent's to see.
    try:
        in_parallel(fails, lambda: 2)
    except ValueError:
        pass
    else:
        raise AssertionError("the failure was lost")


def test_a_keyword_change_reclassifies_only_items_it_can_change() -> None:
    import json
    from pathlib import Path

    from careroute.classify.evaluate import item_from_mapping
    from careroute.config import STARTER_PACK
    from careroute.dispatcher import pack_classifier
    from careroute.rules import drafts, load_pack
    from careroute.rules.preview import keyword_filter

    cases = Path(__file__).parent / "cases" / "classify_cases.jsonl"
    items = [item_from_mapping(json.loads(line)) for line in cases.read_text().splitlines() if line.strip()][:150]
    live = load_pack(STARTER_PACK)
    data = drafts.parse(STARTER_PACK.read_text())
    draft = drafts.load(
        drafts.edit(data, "keywords", {"tag": "medication_refill", "phrases": "pharmacy\nrefil"}).data, "d"
    )
    affected = keyword_filter(live, draft)
    assert affected is not None
    classify_live, classify_draft = pack_classifier(live), pack_classifier(draft)
    for item in items:
        if not affected(item):
            a, b = classify_live(item), classify_draft(item)
            assert (a.type, a.urgency, a.confidence, a.possible_danger) == (
                b.type,
                b.urgency,
                b.confidence,
                b.possible_danger,
            )
    assert 0 < sum(map(affected, items)) < len(items)
    # Anything besides keywords changed: every item is classified again.
    other = drafts.load({**data, "classifier": {"review_below": 0.3}}, "d")
    assert keyword_filter(live, other) is None
