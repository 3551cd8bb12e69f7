"""The dispatch scoreboard as the shell serves it: metrics from the summary table, CSV and Prometheus text."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from careroute.demand import Grid, slot_occurrences
from careroute.dispatcher import Dispatcher
from careroute.metrics import (
    DIMENSIONS,
    Dimension,
    MetricTargets,
    Period,
    Report,
    aggregate,
    aggregate_cells,
    cell_fields,
    period_spans,
    period_start,
)
from careroute.store.tables import notifications, task_facts, tasks


def report(
    dispatcher: Dispatcher,
    *,
    weeks: int = 8,
    period: Period | None = "week",
    by: Sequence[Dimension] = DIMENSIONS,
    now: datetime | None = None,
) -> Report:
    """The four metrics for tasks created in the last `weeks` practice weeks (the current one included).

    The database counts (one GROUP BY over the summary rows, by period and
    dimension values) and Python takes the nearest-rank percentiles: the same
    figures as `metrics.aggregate` over the same rows (tests/integration/
    test_scoreboard_fast.py holds the two equal). Periods are cut in the pack's
    time zone at the time of the report, never stored, so a changed time zone
    applies to every week at once.
    """
    now = now or dispatcher.clock()
    start, end = report_range(now, dispatcher.zone, weeks)
    return report_between(dispatcher, start, end, now=now, period=period, by=by)


def report_between(
    dispatcher: Dispatcher,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    period: Period | None = "week",
    by: Sequence[Dimension] = DIMENSIONS,
    targets: MetricTargets | None = None,
) -> Report:
    """The four metrics of the tasks created in [start, end), counted by the database (see `report`)."""
    zone = dispatcher.zone
    targets = targets or dispatcher.pack.spec.metrics
    spans = period_spans(start, end, zone, period)
    with dispatcher.store.read() as conn:
        cells = dispatcher.store.scoreboard_cells(conn, spans, end, cell_fields(by), targets.reopen_window)
    return aggregate_cells(cells, zone=zone, now=now, period=period, by=by, targets=targets)


def weekly_and_arms(
    dispatcher: Dispatcher, start: datetime, end: datetime, *, now: datetime, targets: MetricTargets
) -> tuple[Report, Report]:
    """The scoreboard page's two reports from one GROUP BY: by week and urgency, and by pilot arm over the range."""
    zone, fields = dispatcher.zone, ["urgency", "pilot_arm"]
    spans = period_spans(start, end, zone, "week")
    with dispatcher.store.read() as conn:
        cells = dispatcher.store.scoreboard_cells(conn, spans, end, fields, targets.reopen_window)
    weekly = aggregate_cells(
        cells, zone=zone, now=now, period="week", by=("all", "urgency"), targets=targets, fields=fields
    )
    whole = [replace(c, period=None) for c in cells]
    arms = aggregate_cells(
        whole, zone=zone, now=now, period=None, by=("all", "pilot_arm"), targets=targets, fields=fields
    )
    return weekly, arms


def arrival_rates(dispatcher: Dispatcher, start: datetime, end: datetime) -> tuple[Grid, int]:
    """Mean tasks created per hour by local weekday x hour in [start, end) (as `demand.arrivals`), and their number."""
    zone = dispatcher.zone
    with dispatcher.store.read() as conn:
        quarters = dispatcher.store.arrivals_by_quarter_hour(conn, start, end)
    counts = [[0] * 24 for _ in range(7)]
    for at, n in quarters:
        local = at.astimezone(zone)
        counts[local.weekday()][local.hour] += n
    seen = slot_occurrences(start, end, zone)
    grid = tuple(
        tuple(n / times if times else 0.0 for n, times in zip(row, occurred, strict=True))
        for row, occurred in zip(counts, seen, strict=True)
    )
    return grid, sum(n for _, n in quarters)


def report_range(now: datetime, zone: ZoneInfo, weeks: int) -> tuple[datetime, datetime]:
    """[start, end) of the tasks in a report of the last `weeks` weeks at `now`: from local midnight of a Monday."""
    monday = period_start(now, zone, "week")
    first = monday - timedelta(weeks=max(1, weeks) - 1)
    # Up to and including `now`: a task created this instant is in.
    return datetime(first.year, first.month, first.day, tzinfo=zone), now + timedelta(seconds=1)


def report_from_facts(
    dispatcher: Dispatcher,
    *,
    weeks: int = 8,
    period: Period | None = "week",
    by: Sequence[Dimension] = DIMENSIONS,
    now: datetime | None = None,
) -> Report:
    """`report` by the pure fold: every summary row read into Python and aggregated (the reference)."""
    now = now or dispatcher.clock()
    start, end = report_range(now, dispatcher.zone, weeks)
    with dispatcher.store.read() as conn:
        facts = dispatcher.store.facts_created_between(conn, start, end)
    return aggregate(facts, zone=dispatcher.zone, now=now, period=period, by=by, targets=dispatcher.pack.spec.metrics)


def to_csv(rep: Report) -> str:
    records = rep.records()
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return out.getvalue()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(dispatcher: Dispatcher) -> str:
    """Counts, queue depths and ages, escalations and notification failures, in Prometheus text format.

    Labels are queue ids, statuses, types and urgencies only: never anything about a patient.
    """
    store = dispatcher.store
    now = dispatcher.clock()
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: Sequence[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")

    with store.read() as conn:
        by_status = conn.execute(
            select(tasks.c.queue, tasks.c.status, func.count()).group_by(tasks.c.queue, tasks.c.status)
        )
        status_rows = [({"queue": q, "status": s}, float(n)) for q, s, n in by_status]
        summaries = store.queue_summaries(conn, dispatcher.pack.spec.queues)
        escalations = conn.execute(select(func.coalesce(func.sum(task_facts.c.escalations), 0))).scalar_one()
        dead = conn.execute(select(notifications.c.status, func.count()).group_by(notifications.c.status)).all()
    metric("careroute_tasks", "gauge", "Tasks by queue and status.", status_rows)
    metric(
        "careroute_queue_depth",
        "gauge",
        "Unresolved tasks per queue.",
        [({"queue": q.id}, float(q.depth)) for q in summaries],
    )
    metric(
        "careroute_queue_waiting",
        "gauge",
        "Tasks not yet claimed per queue.",
        [({"queue": q.id}, float(q.waiting)) for q in summaries],
    )
    metric(
        "careroute_queue_oldest_waiting_seconds",
        "gauge",
        "Age of the oldest unclaimed task per queue.",
        [
            ({"queue": q.id}, (now - q.oldest_waiting_since).total_seconds() if q.oldest_waiting_since else 0.0)
            for q in summaries
        ],
    )
    metric("careroute_escalations_total", "counter", "Escalations fired.", [({}, float(escalations))])
    metric(
        "careroute_notifications",
        "gauge",
        "Alert notifications by delivery status (dead = failed for good).",
        [({"status": s}, float(n)) for s, n in dead],
    )
    return "\n".join(lines) + "\n"


def summary_lines(rep: Report) -> list[str]:
    """The overall row of each period as readable lines, for the command line."""
    out = []
    for row in rep.rows:
        if row.dimension != "all":
            continue
        m = row.metrics
        label = row.period.isoformat() if row.period else "all time"
        age = m.queue_age.get("all")
        median = f"{age.median.total_seconds() / 60:.0f} min" if age and age.median is not None else "n/a"
        out.append(
            f"{label}: {m.tasks} tasks; queue age median {median}; reroute rate {_pct(m.reroute_rate.value)}; "
            f"first-contact resolution {_pct(m.first_contact_resolution.value)}; "
            f"escalation rate {_pct(m.escalation_rate.value)}"
        )
    return out


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
