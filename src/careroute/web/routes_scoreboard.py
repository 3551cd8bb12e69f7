"""The scoreboard: the four metrics by week against their targets, demand by weekday and hour, pilot arms."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from careroute.api.security import client_address
from careroute.dispatcher import Dispatcher
from careroute.metrics import Metrics, Rate
from careroute.model import URGENCIES
from careroute.web import svg
from careroute.web.auth import signed_in
from careroute.web.data import ScoreboardData
from careroute.web.templating import SECURITY_HEADERS, Pages, duration

RATES: tuple[tuple[str, str, str], ...] = (
    ("reroute_rate", "Reroute rate", "Share of tasks a person moved to another queue; lower is better."),
    (
        "first_contact_resolution",
        "First-contact resolution",
        "Share of resolved tasks never reopened; higher is better.",
    ),
    ("escalation_rate", "Escalation rate", "Share of tasks with at least one escalation; lower is better."),
)


def _label(week: date) -> str:
    return week.strftime("%d %b")


def _weekly(sb: ScoreboardData) -> list[tuple[date, Metrics | None]]:
    out = []
    for week in sb.weeks:
        row = sb.weekly.row("all", "all", week)
        out.append((week, row.metrics if row else None))
    return out


MINUTE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 720, 1440)
SHARE_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)


def _minutes(value: float) -> str:
    if value < 60:
        return f"{value:.0f} min"
    hours = value / 60
    return f"{hours:.0f} h" if hours == int(hours) else f"{hours:.1f} h"


def _share(value: float) -> str:
    return f"{value:.0%}"


def charts(sb: ScoreboardData) -> list[tuple[str, Markup]]:
    """One chart per urgency's queue age and one per rate, each bar a week; each with its visible title."""
    weeks = _weekly(sb)
    out = []
    for urgency in URGENCIES:
        target = sb.targets.queue_age_median.get(urgency)
        bars = []
        for week, m in weeks:
            stat = m.queue_age.get(urgency) if m else None
            value = stat.median.total_seconds() / 60 if stat and stat.median is not None else None
            met = stat.met if stat else None
            tip = f"week of {week:%d %b}: " + (
                f"median {duration(stat.median)} over {stat.tasks} tasks"
                if stat and stat.median
                else "no task taken up"
            )
            bars.append(svg.Bar(_label(week), value, met, tip))
        title = f"Queue age, {urgency} tasks (median)"
        out.append(
            (
                title,
                svg.bar_chart(
                    title,
                    f"Median minutes from arrival to first claim of {urgency} tasks per week, against the target.",
                    bars,
                    target=target.total_seconds() / 60 if target else None,
                    fmt=_minutes,
                    steps=MINUTE_STEPS,
                ),
            )
        )
    for name, title, description in RATES:
        bars = []
        target_value: float | None = None
        for week, m in weeks:
            rate: Rate | None = getattr(m, name) if m else None
            target_value = rate.target if rate is not None else target_value
            value = rate.value if rate is not None else None
            tip = f"week of {week:%d %b}: " + (
                f"{value:.0%} ({rate.count} of {rate.of})" if rate and value is not None else "no tasks"
            )
            bars.append(svg.Bar(_label(week), value, rate.met if rate else None, tip))
        if target_value is None:
            target_value = getattr(sb.targets, name)
        out.append((title, svg.bar_chart(title, description, bars, target=target_value, fmt=_share, steps=SHARE_STEPS)))
    return out


def _safe_cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula; only ids and numbers go out, but be sure.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_csv(sb: ScoreboardData) -> str:
    records = sb.weekly.records() + sb.arms.records()
    fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _safe_cell(v) for k, v in record.items()})
    return out.getvalue()


def router(dispatcher: Dispatcher, pages: Pages, data: Callable[[Dispatcher, Any], ScoreboardData]) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/scoreboard", response_class=HTMLResponse)
    def scoreboard(request: Request) -> Response:
        now = dispatcher.clock()
        sb = data(dispatcher, now)
        arms = [row for row in sb.arms.rows if row.dimension in ("all", "pilot_arm")]
        peak = max((v for row in sb.demand for v in row), default=0.0)
        return pages.render(
            request,
            "scoreboard.html",
            active="scoreboard",
            sb=sb,
            charts=charts(sb),
            weekly=_weekly(sb),
            arms=arms,
            rates=RATES,
            heatmap=svg.heatmap(
                "Arrivals by weekday and hour",
                f"Mean tasks arriving per hour, by weekday and hour in {sb.timezone}; darker is busier. "
                f"The busiest hour averages {peak:.1f}.",
                sb.demand,
            ),
            peak=peak,
        )

    @r.get("/scoreboard.csv")
    def scoreboard_csv(request: Request) -> Response:
        # Every export is in the access log, like every read of a task.
        who = signed_in(request)
        dispatcher.store.record_access(
            who.actor, "export", dispatcher.clock(), what="scoreboard.csv", source=client_address(request.scope)
        )
        sb = data(dispatcher, dispatcher.clock())
        headers = {**SECURITY_HEADERS, "content-disposition": 'attachment; filename="careroute-scoreboard.csv"'}
        return Response(to_csv(sb), media_type="text/csv; charset=utf-8", headers=headers)

    return r
