"""Demand patterns and the staffing they call for (pure).

Arrivals are counted by weekday and hour on the practice's wall clock, per
type, channel, queue or urgency, and turned into a mean rate per hour: the
count in a weekday-hour slot over the number of times that slot occurred in the
observed range (a DST day's skipped hour does not occur; its repeated hour
occurs once and holds two hours of arrivals).

Staffing follows Erlang C (M/M/c): arrivals at rate λ per hour, each task
holding one server for a mean handling time h (observed claim → resolve, or
configured), offered load A = λh, c servers. The probability that a task waits
at all is C(c, A), and P(wait > t) = C(c, A) · exp(−(c − A) t / h). A queue-age
target "median under T" asks for P(wait > T) ≤ 0.5 (a p90 target asks ≤ 0.1);
the staff needed is the least c > A meeting it, divided by the tasks one person
works at once. C is computed through the Erlang B recursion, which stays
stable for thousands of servers where the textbook factorial formula overflows.

Caveats, said plainly: Erlang C assumes first-come-first-served and Poisson
arrivals within the hour; careroute serves urgent work first, so urgent tasks
wait less and routine tasks more than it predicts. Claim → resolve time includes
any time a task sat claimed while its holder did other work, so observed
handling times overstate effort when people hold several tasks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from careroute.metrics import MetricTargets, TaskFacts, nearest_rank
from careroute.model import URGENCIES, require_aware

By = Literal["type", "channel", "queue", "urgency"]
Grid = tuple[tuple[float, ...], ...]  # 7 weekdays (Monday first) x 24 hours
_STEP = timedelta(minutes=15)  # every zone's offset and every transition since the 1970s fall on a quarter hour


def _value(f: TaskFacts, by: By) -> str:
    return f.initial_queue if by == "queue" else str(getattr(f, by))


@dataclass(frozen=True, slots=True)
class ArrivalPattern:
    """Tasks created per weekday x hour slot, per value of one dimension, and how often each slot occurred."""

    by: By
    timezone: str
    counts: Mapping[str, Grid]
    occurrences: Grid

    def rate(self, value: str, weekday: int, hour: int) -> float:
        """Mean arrivals per hour in that slot (0 when the slot never occurred)."""
        seen = self.occurrences[weekday][hour]
        grid = self.counts.get(value)
        return grid[weekday][hour] / seen if grid is not None and seen else 0.0

    def rates(self, value: str) -> Grid:
        return tuple(tuple(self.rate(value, d, h) for h in range(24)) for d in range(7))


def slot_occurrences(start: datetime, end: datetime, zone: ZoneInfo) -> Grid:
    """How many distinct local (date, hour) slots of each weekday x hour lie in [start, end)."""
    at = datetime.fromtimestamp(require_aware(start, "start").timestamp() // 900 * 900, UTC)
    seen: set[tuple[date, int]] = set()
    while at < require_aware(end, "end"):
        local = at.astimezone(zone)
        seen.add((local.date(), local.hour))
        at += _STEP
    grid = [[0.0] * 24 for _ in range(7)]
    for day, hour in seen:
        grid[day.weekday()][hour] += 1
    return tuple(tuple(row) for row in grid)


def arrivals(
    facts: Iterable[TaskFacts],
    *,
    zone: ZoneInfo,
    by: By = "type",
    start: datetime | None = None,
    end: datetime | None = None,
) -> ArrivalPattern:
    """Arrivals per weekday x hour per value of `by` in [start, end) (default: from the first arrival to the last)."""
    counts: dict[str, list[list[float]]] = {}
    first: datetime | None = None
    last: datetime | None = None
    for f in facts:
        at = f.created_at
        if (start is not None and at < start) or (end is not None and at >= end):
            continue
        first = at if first is None or at < first else first
        last = at if last is None or at > last else last
        local = at.astimezone(zone)
        grid = counts.get(_value(f, by))
        if grid is None:
            grid = counts[_value(f, by)] = [[0.0] * 24 for _ in range(7)]
        grid[local.weekday()][local.hour] += 1
    lo = start if start is not None else first
    hi = end if end is not None else (last + timedelta(microseconds=1) if last is not None else None)
    occurrences = slot_occurrences(lo, hi, zone) if lo is not None and hi is not None else _zeros()
    frozen = {k: tuple(tuple(row) for row in grid) for k, grid in counts.items()}
    return ArrivalPattern(by, zone.key, frozen, occurrences)


def _zeros() -> Grid:
    return tuple(tuple(0.0 for _ in range(24)) for _ in range(7))


# -- Erlang C ---------------------------------------------------------------------------------------


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of an M/M/c/c system, by the stable recursion B(k) = A B(k-1) / (k + A B(k-1))."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must not be negative")
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that a task waits at all in M/M/c with offered load `load` erlangs (1.0 when c <= A)."""
    if load == 0:
        return 0.0
    if servers <= load:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def wait_exceeds(servers: int, arrival_rate: float, handle: timedelta, wait: timedelta) -> float:
    """P(a task waits longer than `wait`), arrivals per hour and mean handling time given."""
    hours = handle.total_seconds() / 3600
    load = arrival_rate * hours
    if load == 0:
        return 0.0
    if servers <= load:
        return 1.0
    return erlang_c(servers, load) * math.exp(-(servers - load) * wait.total_seconds() / handle.total_seconds())


def servers_needed(
    arrival_rate: float, handle: timedelta, target: timedelta, *, quantile: float = 0.5, limit: int = 10_000
) -> int:
    """The fewest servers keeping P(wait > target) at or below 1 - quantile (0 when nothing arrives)."""
    if arrival_rate < 0 or handle <= timedelta(0):
        raise ValueError("the arrival rate must not be negative and the handling time must be positive")
    if arrival_rate == 0:
        return 0
    load = arrival_rate * handle.total_seconds() / 3600
    c = max(1, math.floor(load) + 1)
    while wait_exceeds(c, arrival_rate, handle, target) > 1 - quantile:
        c += 1
        if c > limit:
            raise ValueError(f"more than {limit} servers needed: check the arrival rate and handling time")
    return c


# -- staffing -----------------------------------------------------------------------------------------


def handling_times(facts: Iterable[TaskFacts]) -> dict[str, list[timedelta]]:
    """Observed claim -> first resolution per queue the task ended in (tasks claimed, then resolved)."""
    out: dict[str, list[timedelta]] = defaultdict(list)
    for f in facts:
        claim, done = f.first_claim_at, f.first_resolved_at
        if claim is not None and done is not None and done >= claim:
            out[f.final_queue].append(done - claim)
    return dict(out)


def mean_handling(
    times: Mapping[str, Sequence[timedelta]], *, floor: timedelta = timedelta(minutes=1)
) -> dict[str, timedelta]:
    """Mean handling time per queue, never under `floor` (a resolve a second after a claim is not the effort)."""
    return {q: max(floor, sum(ts, timedelta(0)) / len(ts)) for q, ts in times.items() if ts}


def queue_targets(
    facts: Iterable[TaskFacts], targets: MetricTargets | None = None, *, share: float = 0.2
) -> dict[str, timedelta]:
    """Each queue's median queue-age target: that of its most urgent urgency with at least `share` of its tasks."""
    targets = targets or MetricTargets()
    mix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in facts:
        mix[f.initial_queue][f.urgency] += 1
    out = {}
    for queue, counts in mix.items():
        total = sum(counts.values())
        present = [u for u in URGENCIES if counts.get(u, 0) >= share * total and u in targets.queue_age_median]
        chosen = present[0] if present else "routine"
        out[queue] = targets.queue_age_median.get(chosen, timedelta(hours=4))
    return out


@dataclass(frozen=True, slots=True)
class QueueStaffing:
    queue: str
    handle: timedelta
    target: timedelta
    #: Staff needed in each weekday x hour slot, Monday first.
    staff: tuple[tuple[int, ...], ...]

    @property
    def staff_hours_per_week(self) -> int:
        return sum(sum(day) for day in self.staff)

    def peak(self) -> tuple[int, int, int]:
        """(weekday, hour, staff) of the busiest slot."""
        return max(((d, h, self.staff[d][h]) for d in range(7) for h in range(24)), key=lambda x: (x[2], -x[0], -x[1]))


def staffing(
    pattern: ArrivalPattern,
    handle: Mapping[str, timedelta],
    targets: Mapping[str, timedelta],
    *,
    quantile: float = 0.5,
    tasks_per_person: int = 1,
) -> list[QueueStaffing]:
    """Staff per queue per weekday x hour so that the queue-age target holds, by Erlang C.

    `pattern` must count arrivals by queue; `handle` and `targets` are per
    queue. A queue without a handling time is left out (there is nothing to
    size it by); a person is counted as `tasks_per_person` servers.
    """
    if pattern.by != "queue":
        raise ValueError("staffing needs arrivals counted by queue")
    if tasks_per_person < 1:
        raise ValueError("tasks_per_person must be at least 1")
    out = []
    for queue in sorted(pattern.counts):
        if queue not in handle:
            continue
        target = targets.get(queue, timedelta(hours=4))
        grid = tuple(
            tuple(
                math.ceil(
                    servers_needed(pattern.rate(queue, d, h), handle[queue], target, quantile=quantile)
                    / tasks_per_person
                )
                for h in range(24)
            )
            for d in range(7)
        )
        out.append(QueueStaffing(queue, handle[queue], target, grid))
    return out


def median_handling(times: Mapping[str, Sequence[timedelta]]) -> dict[str, timedelta]:
    """Nearest-rank median handling time per queue (for a report beside the mean that Erlang C uses)."""
    out = {}
    for q, ts in times.items():
        m = nearest_rank((t.total_seconds() for t in ts), 0.5)
        if m is not None:
            out[q] = timedelta(seconds=m)
    return out
