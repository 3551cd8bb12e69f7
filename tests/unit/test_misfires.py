"""The rule misfire report and reroute-corrected labels, on hand-built logs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from careroute.metrics import fold_log
from careroute.misfires import CorrectedLabel, corrected_labels, misfire_report, queue_types, reason_terms
from careroute.model import Event

NY = ZoneInfo("America/New_York")
WEEK = date(2026, 10, 5)
T0 = datetime(2026, 10, 5, 13, 0, tzinfo=UTC)  # Monday 09:00 in New York
NOW = datetime(2026, 10, 13, 13, 0, tzinfo=UTC)  # the Tuesday after: the week of 5 October is the last full one
MIN = timedelta(minutes=1)
PACK = Path(__file__).resolve().parents[2] / "src" / "careroute" / "rules" / "packs" / "primary_care.yaml"
TAG_QUEUES = {tag: spec["queue"] for tag, spec in yaml.safe_load(PACK.read_text())["tags"].items()}
_ids = itertools.count(1)


def ev(
    task_id: int,
    kind: str,
    at: datetime,
    *,
    actor: str = "careroute",
    queue: str | None = None,
    rule_ids: tuple[str, ...] = (),
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> Event:
    return Event(next(_ids), task_id, kind, at, actor, queue=queue, rule_ids=rule_ids, reason=reason, data=data or {})


def task(task_id: int, at: datetime, queue: str, rule: str, type: str = "billing_inquiry") -> list[Event]:
    return [
        ev(task_id, "created", at, data={"item_id": 100 + task_id, "channel": "portal"}),
        ev(task_id, "classified", at, data={"type": type, "urgency": "routine"}),
        ev(task_id, "routed", at, queue=queue, rule_ids=(rule,)),
    ]


def moved(
    task_id: int,
    at: datetime,
    frm: str,
    to: str,
    rule: str,
    reason: str | None = None,
    code: str | None = "wrong_type",
    actor: str = "zara",
) -> Event:
    data = {"from_queue": frm, **({"reason_code": code} if code else {})}
    return ev(task_id, "rerouted", at, actor=actor, queue=to, rule_ids=(rule,), reason=reason, data=data)


def billing_week() -> list[Event]:
    """20 billing tasks (3 belong in records, 1 in scheduling) and 10 triaged ones (1 was not clinical)."""
    log: list[Event] = []
    for i in range(1, 21):
        log += task(i, T0 + i * MIN, "billing", "tag.billing_inquiry")
    reasons = ["Records request from Mr Smith", "records request", "this is a RECORDS REQUEST, call 555-1234"]
    for i, reason in zip((1, 2, 3), reasons, strict=True):
        log.append(moved(i, T0 + i * MIN + 30 * MIN, "billing", "records", "tag.billing_inquiry", reason))
    log.append(moved(4, T0 + 4 * MIN + 10 * MIN, "billing", "scheduling", "tag.billing_inquiry", code="other"))
    # careroute's own move (a more urgent duplicate arrived) is not a misfire
    log.append(
        moved(5, T0 + 6 * MIN, "billing", "clinical_triage", "tag.billing_inquiry", code=None, actor="careroute")
    )
    for i in range(21, 31):
        log += task(i, T0 + i * MIN, "clinical_triage", "route.high_urgency", type="clinical_question")
    log.append(
        moved(
            21,
            T0 + 21 * MIN + 60 * MIN,
            "clinical_triage",
            "billing",
            "route.high_urgency",
            "asking about a bill",
            code="not_clinical",
        )
    )
    return log


def report(log: list[Event], **kw: Any) -> Any:
    facts = fold_log(log)
    return misfire_report(log, facts.values(), zone=NY, now=NOW, tag_queues=TAG_QUEUES, **kw)


def test_it_groups_staff_reroutes_by_the_rule_that_chose_the_first_queue_most_harmful_first() -> None:
    found = report(billing_week())
    assert [m.rule_id for m in found] == ["tag.billing_inquiry", "route.high_urgency"]
    billing, triage = found
    # 3 x 30 min + 10 min = 100 min lost, against 60 min for the one triage task: sorted by harm.
    assert billing.time_lost == 100 * MIN and triage.time_lost == 60 * MIN
    assert billing.routed == 20 and billing.rerouted == 4 and billing.reroutes == 4
    assert [(m.from_queue, m.to_queue, m.reroutes) for m in billing.moves] == [
        ("billing", "records", 3),
        ("billing", "scheduling", 1),
    ]
    assert billing.reason_codes == (("wrong_type", 3), ("other", 1))
    assert billing.examples == (1, 2, 3, 4)
    assert billing.mean_time_lost == 25 * MIN
    assert billing.share == 0.2


def test_harm_is_the_total_time_lost() -> None:
    log = billing_week()
    found = report(log)
    assert found[0].harm == 100 * MIN
    log.append(moved(22, T0 + 22 * MIN + 50 * MIN, "clinical_triage", "nurse", "route.high_urgency"))
    found = report(log)
    assert [m.rule_id for m in found] == ["route.high_urgency", "tag.billing_inquiry"]
    assert found[0].harm == 110 * MIN


def test_it_counts_only_words_two_reasons_share_and_never_numbers() -> None:
    words = dict(report(billing_week())[0].words)
    assert words["records request"] == 3 and words["records"] == 3
    assert "smith" not in words and "555" not in words and "1234" not in words
    assert "call" not in words  # one reason only
    assert reason_terms("Call back re: 2 bills") == frozenset({"call", "back", "bills", "call back", "back bills"})
    assert reason_terms(None) == frozenset()


def test_it_suggests_a_concrete_change_in_one_sentence() -> None:
    billing, triage = report(billing_week())
    assert billing.suggestion.startswith(
        "rule tag.billing_inquiry sends 15% of its tasks from billing to records; "
        "3 of 3 reroute reasons say 'records request': "
        "consider a records_request keyword (such as 'records request') before the billing_inquiry one"
    )
    assert triage.suggestion == (
        "rule route.high_urgency sends 10% of its tasks from clinical_triage to billing; "
        "1 reroute(s) are too few to suggest a change yet"
    )


def test_it_flags_a_rising_reroute_rate_week_over_week() -> None:
    billing = report(billing_week())[0]
    assert billing.rising
    assert billing.suggestion.endswith("Its reroute rate rose from 0% to 20% in the week of 2026-10-05")
    assert [(w.week, w.routed, w.rerouted) for w in billing.weekly] == [(WEEK, 20, 4)]
    # The same rate the week before: steady, not rising.
    earlier = [
        Event(
            e.id + 10_000,
            e.task_id + 1000,
            e.kind,
            e.at - timedelta(days=7),
            e.actor,
            e.queue,
            e.assignee,
            e.rule_ids,
            e.reason,
            e.data,
        )
        for e in billing_week()
    ]
    billing = report(earlier + billing_week())[0]
    assert not billing.rising
    assert [w.rate for w in billing.weekly] == [0.2, 0.2]
    assert not report(billing_week(), week=WEEK + timedelta(days=7))[0].rising


def test_it_measures_a_second_reroute_from_the_first() -> None:
    log = [*task(1, T0, "billing", "tag.billing_inquiry")]
    log += [moved(1, T0 + 10 * MIN, "billing", "records", "tag.billing_inquiry")]
    log += [moved(1, T0 + 15 * MIN, "records", "scheduling", "tag.billing_inquiry")]
    found = report(log)
    assert found[0].time_lost == 15 * MIN and found[0].reroutes == 2 and found[0].rerouted == 1


def test_the_pilots_manual_dispatch_is_not_a_misfire() -> None:
    log = [*task(1, T0, "manual_dispatch", "pilot.manual")]
    log += [moved(1, T0 + 10 * MIN, "manual_dispatch", "billing", "pilot.manual")]
    assert report(log) == []
    log += [moved(1, T0 + 15 * MIN, "billing", "records", "pilot.manual")]
    found = report(log)
    assert found[0].reroutes == 1 and found[0].time_lost == 5 * MIN


def test_queue_types_keeps_only_queues_one_type_owns() -> None:
    types = queue_types(TAG_QUEUES)
    assert types["records"] == "records_request" and types["billing"] == "billing_inquiry"
    assert "clinical_triage" not in types  # clinical_urgent and lab_result_urgent share it


def test_it_labels_items_whose_correction_stuck() -> None:
    log = billing_week()
    for i in (1, 2):
        log.append(ev(i, "resolved", T0 + 60 * MIN, actor="yusuf", queue="records"))
    log.append(ev(2, "reopened", T0 + 70 * MIN, actor="yusuf", queue="records"))  # the correction is in doubt
    log.append(ev(4, "resolved", T0 + 60 * MIN, actor="pam", queue="scheduling"))
    log += task(40, T0, "billing", "tag.billing_inquiry")
    log += [moved(40, T0 + MIN, "billing", "records", "tag.billing_inquiry", code="wrong_site")]
    log += [ev(40, "resolved", T0 + 2 * MIN, actor="yusuf", queue="records")]
    log += task(41, T0, "billing", "tag.billing_inquiry")
    log += [moved(41, T0 + MIN, "billing", "clinical_triage", "tag.billing_inquiry")]
    log += [ev(41, "resolved", T0 + 2 * MIN, actor="rhea", queue="clinical_triage")]
    assert corrected_labels(log, TAG_QUEUES) == [
        CorrectedLabel(item_id=101, task_id=1, classified_as="billing_inquiry", corrected_type="records_request"),
        CorrectedLabel(item_id=104, task_id=4, classified_as="billing_inquiry", corrected_type="appointment_callback"),
    ]
