"""Benchmark: the dispatch scoreboard over 1,000,000 tasks, beside a reference measured in the same run.

    python benchmarks/metrics.py [--tasks 1000000] [--seed 1]

Prints, for synthetic task facts spread over two years (about 9,600 tasks a week):
  - a weekly per-queue report over all of them (`aggregate(..., by=("queue",))`),
  - the same with every dimension (overall, queue, type, urgency, channel, pilot arm),
  - one week's report from that week's facts (what the shell reads from its task_facts table),
  - the incremental path: `step` per event, and `fold_log` over events, in events per second,
each beside a plain `sorted()` over the same 1,000,000 queue ages as a ratio, so the
figures can be compared across machines.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from careroute.metrics import TaskFacts, aggregate, fold_log, step
from careroute.model import Event

NY = ZoneInfo("America/New_York")
START = datetime(2025, 1, 6, 5, 0, tzinfo=UTC)  # a Monday, 00:00 in New York
SPAN = timedelta(days=728)
TYPES = {  # type -> (queue, share of arrivals)
    "clinical_urgent": ("clinical_triage", 0.06),
    "clinical_question": ("nurse", 0.14),
    "medication_refill": ("refills", 0.2),
    "lab_result_routine": ("results", 0.1),
    "referral_packet": ("referrals", 0.06),
    "prior_auth_pending": ("authorizations", 0.06),
    "billing_inquiry": ("billing", 0.12),
    "appointment_callback": ("scheduling", 0.16),
    "records_request": ("records", 0.06),
    "other": ("review", 0.04),
}
CHANNELS = ("portal", "voicemail", "fax", "email", "phone")


def synthetic_facts(n: int, rng: random.Random) -> list[TaskFacts]:
    names = list(TYPES)
    weights = [TYPES[t][1] for t in names]
    step_s = SPAN.total_seconds() / n
    out = []
    for i, type_ in enumerate(rng.choices(names, weights, k=n)):
        created = START + timedelta(seconds=i * step_s + rng.random() * step_s)
        urgent = type_ == "clinical_urgent" or rng.random() < 0.05
        age = timedelta(seconds=rng.lognormvariate(7.0 if urgent else 8.5, 1.0))
        claimed = created + age if rng.random() < 0.98 else None
        resolved = (
            claimed + timedelta(seconds=rng.lognormvariate(7.5, 1.2)) if claimed and rng.random() < 0.95 else None
        )
        rerouted = rng.random() < 0.07
        out.append(
            TaskFacts(
                task_id=i + 1,
                created_at=created,
                channel=rng.choice(CHANNELS),
                type=type_,
                urgency="urgent" if urgent else "routine",
                initial_queue=TYPES[type_][0],
                final_queue="records" if rerouted else TYPES[type_][0],
                route_rule=f"tag.{type_}",
                pilot_arm=None,
                first_claim_at=claimed,
                first_resolved_at=resolved,
                last_resolved_at=resolved,
                reroutes=int(rerouted),
                reopens=int(resolved is not None and rng.random() < 0.1),
                escalations=int(rng.random() < 0.05),
            )
        )
    return out


def synthetic_events(n_tasks: int, rng: random.Random) -> list[Event]:
    """Five events a task, as intake and one staff member write them."""
    out: list[Event] = []
    for t in range(1, n_tasks + 1):
        at = START + timedelta(minutes=t)
        claim = at + timedelta(seconds=rng.randint(60, 20000))
        q = "billing"
        out += [
            Event(len(out) + 1, t, "created", at, "careroute", data={"item_id": t, "channel": "portal"}),
            Event(
                len(out) + 2, t, "classified", at, "careroute", data={"type": "billing_inquiry", "urgency": "routine"}
            ),
            Event(len(out) + 3, t, "routed", at, "careroute", queue=q, rule_ids=("tag.billing_inquiry",)),
            Event(len(out) + 4, t, "claimed", claim, "zara", queue=q, assignee="zara"),
            Event(len(out) + 5, t, "resolved", claim + timedelta(minutes=9), "zara", queue=q, assignee="zara"),
        ]
    return out


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(machine())
    started = time.perf_counter()
    facts = synthetic_facts(args.tasks, rng)
    print(f"built {len(facts):,} synthetic task facts in {time.perf_counter() - started:.1f} s (not measured)")
    now = START + SPAN + timedelta(days=1)
    ages = [
        (f.first_claim_at - f.created_at).total_seconds() if f.first_claim_at else 0.0 for f in facts
    ]  # the reference's input: one float per task
    reference = timed(lambda: sorted(ages))
    print(f"reference: sorted() over {len(ages):,} queue ages: {reference:.3f} s")

    def line(label: str, seconds: float) -> None:
        print(f"{label:<58} {seconds:8.3f} s   {seconds / reference:5.1f} x reference")

    report = aggregate(facts, zone=NY, now=now, by=("queue",))
    line(
        f"weekly per-queue report ({len(report.rows):,} rows)",
        timed(lambda: aggregate(facts, zone=NY, now=now, by=("queue",))),
    )
    line("weekly report, every dimension", timed(lambda: aggregate(facts, zone=NY, now=now)))
    line(
        "one report over everything, per queue (no periods)",
        timed(lambda: aggregate(facts, zone=NY, now=now, period=None, by=("queue",))),
    )
    week_start = START + timedelta(days=364)
    week = [f for f in facts if week_start <= f.created_at < week_start + timedelta(days=7)]
    line(f"one week's report, every dimension ({len(week):,} tasks)", timed(lambda: aggregate(week, zone=NY, now=now)))

    events = synthetic_events(100_000, rng)
    fold_s = timed(lambda: fold_log(events), repeat=1)
    print(
        f"fold_log over {len(events):,} events: {fold_s:.3f} s ({len(events) / fold_s:,.0f} events/s; "
        f"5,000,000 events would take about {5_000_000 * fold_s / len(events):.0f} s, once, to fill task_facts)"
    )

    def stepwise() -> None:
        current = None
        for e in events[:50_000]:
            current = step(current if current is not None and current.task_id == e.task_id else None, e)

    step_s = timed(stepwise, repeat=1)
    print(f"step (the per-event update the shell runs in each write transaction): {1e6 * step_s / 50_000:.1f} µs/event")


if __name__ == "__main__":
    main()
