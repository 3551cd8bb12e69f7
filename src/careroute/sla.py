"""SLA clocks: when a task is due to be claimed, resolved, acknowledged or finished. Pure.

A task runs two kinds of clock. Business-hours targets ("routine work is
claimed within 4 business hours") count only the practice's opening hours and
stop while the task is on hold. Wall-clock clocks (emergent targets, duties
such as "a critical lab value reaches a clinician within 60 minutes at any
hour", and deadlines the item itself carries, such as a payer's peer-to-peer
date) run day and night and never stop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from careroute.calendar import BusinessCalendar
from careroute.model import require_aware

Urgency = Literal["emergent", "urgent", "routine"]
Unit = Literal["second", "minute", "hour", "day", "week"]
Fulfilment = Literal["claim", "acknowledge", "resolve"]

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s+(business\s+)?(seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?)\s*$", re.IGNORECASE
)
_UNITS: Mapping[str, Unit] = {
    "sec": "second",
    "min": "minute",
    "hr": "hour",
    "hrs": "hour",
    "hou": "hour",
    "day": "day",
    "wee": "week",
}
_CLOCK_ID = r"^[a-z][a-z0-9_.\-]*$"

#: The taxonomy's tags in the practice's words: (one, several).
TYPE_NAMES: Mapping[str, tuple[str, str]] = {
    "clinical_urgent": ("urgent clinical message", "urgent clinical messages"),
    "clinical_question": ("clinical question", "clinical questions"),
    "medication_refill": ("refill request", "refill requests"),
    "lab_result_urgent": ("critical lab result", "critical lab results"),
    "lab_result_routine": ("routine lab result", "routine lab results"),
    "referral_packet": ("referral packet", "referral packets"),
    "prior_auth_pending": ("prior authorisation update", "prior authorisation updates"),
    "billing_inquiry": ("billing question", "billing questions"),
    "appointment_callback": ("appointment call-back", "appointment call-backs"),
    "records_request": ("records request", "records requests"),
    "other": ("unsorted item", "unsorted items"),
}


def type_name(tag: str, plural: bool = False) -> str:
    one, several = TYPE_NAMES.get(tag, (tag.replace("_", " "), tag.replace("_", " ") + "s"))
    return several if plural else one


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Section):
    """A length of time as a practice writes it: "30 minutes", "2 business hours", "1 business day".

    Wall-clock units are elapsed real time ("1 day" is 24 hours, even across a DST
    change). "N business days" is N times the calendar's business day.
    """

    amount: float = Field(gt=0)
    unit: Unit
    business: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"{value!r} needs a unit, e.g. '{value} minutes' or '{value} business hours'")
        if not isinstance(value, str):
            return value
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like '30 minutes', '2 business hours' or '1 business day'")
        amount, business, unit = match.groups()
        return {"amount": float(amount), "unit": _UNITS[unit.lower()[:3]], "business": bool(business)}

    @model_validator(mode="after")
    def _business_units(self) -> Duration:
        if self.business and self.unit in ("second", "week"):
            raise ValueError("business time is counted in minutes, hours or days")
        return self

    @model_serializer
    def _as_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        plural = "" if self.amount == 1 else "s"
        return f"{self.amount:g} {'business ' if self.business else ''}{self.unit}{plural}"

    def length(self, calendar: BusinessCalendar) -> timedelta:
        """Real time for a wall-clock duration; business time for a business one."""
        if self.business and self.unit == "day":
            return calendar.business_day * self.amount
        return timedelta(**{self.unit + "s": self.amount})

    def after(self, start: datetime, calendar: BusinessCalendar, holds: Sequence[Hold] = ()) -> datetime | None:
        """The instant this long after `start`; business time on hold does not count (None while held)."""
        if self.business:
            return business_deadline(calendar, start, self.length(calendar), holds)
        return wall_clock_after(start, self.length(calendar))

    def before(self, end: datetime, calendar: BusinessCalendar) -> datetime:
        """The instant this long before `end`; only wall-clock durations can be counted back."""
        if self.business:
            raise ValueError("a business duration cannot be counted backwards")
        return wall_clock_after(end, -self.length(calendar))


def wall_clock_after(start: datetime, length: timedelta) -> datetime:
    # DST hazard: adding a timedelta to a datetime in a ZoneInfo zone is wall-clock
    # arithmetic (00:30 + 2h on the fall-back night gives 02:30, three real hours
    # later). Adding in UTC keeps "60 minutes" sixty real minutes.
    # The answer stays in UTC (see careroute.calendar on PEP 495 and the repeated hour).
    return require_aware(start, "start").astimezone(UTC) + length


@dataclass(frozen=True, slots=True)
class Hold:
    """A time the task waited on someone outside the practice; open-ended while `end` is None."""

    start: datetime
    end: datetime | None
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.start, "hold start")
        if self.end is not None and require_aware(self.end, "hold end") < self.start:
            raise ValueError("a hold cannot end before it starts")


def _merged_holds(holds: Iterable[Hold], start: datetime) -> list[tuple[datetime, datetime | None]]:
    """Holds that matter after `start`, sorted and with overlaps merged (None = still on hold)."""
    spans: list[tuple[datetime, datetime | None]] = []
    for hold in sorted(holds, key=lambda h: h.start):
        if hold.end is not None and hold.end <= start:
            continue
        last_end = spans[-1][1] if spans else None
        if spans and (last_end is None or hold.start <= last_end):
            end = None if last_end is None or hold.end is None else max(last_end, hold.end)
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((hold.start, hold.end))
    return spans


def business_deadline(
    calendar: BusinessCalendar, start: datetime, length: timedelta, holds: Iterable[Hold] = ()
) -> datetime | None:
    """When `length` of business time has passed since `start`, not counting time on hold.

    None while an open-ended hold has stopped the clock before it ran out.
    """
    at = start
    remaining = length
    for hold_start, hold_end in _merged_holds(holds, start):
        if hold_start > at:
            candidate = calendar.add_business_time(at, remaining)
            if candidate <= hold_start:
                return candidate
            remaining -= calendar.business_time_between(at, hold_start)
        if hold_end is None:
            return None
        at = max(at, hold_end)
    return calendar.add_business_time(at, remaining)


# -- the `sla:` section ----------------------------------------------------------------------------


class Targets(_Section):
    """A target per urgency, and per type; a type's target never loosens its urgency's."""

    emergent: Duration | None = None
    urgent: Duration | None = None
    routine: Duration | None = None
    by_type: dict[str, Duration] = {}

    def for_task(self, type: str, urgency: str) -> list[Duration]:
        found = [getattr(self, urgency)] if urgency in ("emergent", "urgent", "routine") else []
        found.append(self.by_type.get(type))
        return [d for d in found if d is not None]


def _default_claim_targets() -> Targets:
    # Practice benchmarks: emergent within 5 minutes and urgent within 30, at any hour;
    # routine work within half a business day.
    return Targets.model_validate({"emergent": "5 minutes", "urgent": "30 minutes", "routine": "4 business hours"})


class Duty(_Section):
    """A wall-clock obligation that holds day and night, e.g. a critical lab value reaches a clinician."""

    id: str = Field(pattern=_CLOCK_ID, max_length=64)
    description: str = ""
    type: list[str] | None = None
    urgency: list[Urgency] | None = None
    within: Duration
    #: What meets the duty: a clinician acknowledging it (recording that they were told), a claim, or resolution.
    until: Fulfilment = "acknowledge"

    @field_validator("within")
    @classmethod
    def _wall_clock(cls, value: Duration) -> Duration:
        if value.business:
            raise ValueError("a duty runs at any hour; write it in minutes or hours, not business time")
        return value

    def applies_to(self, type: str, urgency: str) -> bool:
        return (self.type is None or type in self.type) and (self.urgency is None or urgency in self.urgency)


class ItemDeadline(_Section):
    """A deadline the item carries in its metadata, such as a payer's appeal or peer-to-peer date."""

    key: str = Field(pattern=_CLOCK_ID, max_length=64)
    name: str = Field(min_length=1)
    #: The time of day meant when the item gives only a date.
    time_of_day: time = time(17, 0)
    until: Fulfilment = "resolve"

    @field_validator("time_of_day", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int):
            # YAML 1.1 reads an unquoted 17:00 as the number 1020 (base 60).
            raise ValueError("write the time in quotes, e.g. '17:00'")
        return value


def _default_deadlines() -> list[ItemDeadline]:
    return [
        ItemDeadline(key="deadline", name="deadline given on the item"),
        ItemDeadline(key="p2p_due", name="peer-to-peer review date"),
    ]


class SlaSpec(_Section):
    """The `sla:` section of a rule pack."""

    claim: Targets = Field(default_factory=_default_claim_targets)
    resolve: Targets = Targets()
    duties: list[Duty] = []
    deadlines: list[ItemDeadline] = Field(default_factory=_default_deadlines)

    @model_validator(mode="after")
    def _unique_clocks(self) -> SlaSpec:
        seen = {"claim", "resolve"}
        for clock in [d.id for d in self.duties] + [d.key for d in self.deadlines]:
            if clock in seen:
                raise ValueError(f"clock name {clock!r} is used twice (claim and resolve are taken)")
            seen.add(clock)
        return self

    @property
    def clock_names(self) -> tuple[str, ...]:
        return ("claim", "resolve", *(d.id for d in self.duties), *(d.key for d in self.deadlines))


# -- a task's due times -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What the clocks need to know about one task; times after `now` are treated as not yet happened."""

    id: int
    type: str
    urgency: str
    created_at: datetime
    queue: str = ""
    first_claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    #: When a clinician recorded that they were told (critical results).
    acknowledged_at: datetime | None = None
    holds: tuple[Hold, ...] = ()
    #: The item's metadata; only the keys named by the pack's deadlines are read.
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware(self.created_at, "created_at")
        for name in ("first_claimed_at", "resolved_at", "acknowledged_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, name)

    def fulfilled_at(self, by: Fulfilment) -> datetime | None:
        if by == "claim":
            return self.first_claimed_at
        if by == "acknowledge":
            return self.acknowledged_at
        return self.resolved_at


ClockKind = Literal["claim", "resolve", "duty", "deadline"]


@dataclass(frozen=True, slots=True)
class Due:
    """One clock on one task: when it falls due and whether (and when) it was met."""

    clock: str  # "claim", "resolve", a duty id or an item deadline key
    kind: ClockKind
    name: str  # in plain words: "claim target", "critical lab to a clinician"
    at: datetime | None  # None while a hold has stopped the clock
    met_at: datetime | None
    target: Duration | None = None  # None for a deadline the item gave
    business: bool = False  # business-hours clocks stop while the task is on hold

    def met_by(self, now: datetime) -> bool:
        return self.met_at is not None and self.met_at <= now

    def breached(self, now: datetime) -> bool:
        """Due and not met by `now` (met late counts as breached too)."""
        if self.at is None:
            return False
        if self.met_at is not None and self.met_at <= now:
            return self.met_at > self.at
        return now >= self.at


@dataclass(frozen=True, slots=True)
class DueTimes:
    """Every clock running on one task."""

    claim: Due | None = None
    resolve: Due | None = None
    duties: tuple[Due, ...] = ()
    deadlines: tuple[Due, ...] = ()
    #: Metadata deadline keys whose value was neither a date nor a datetime.
    unreadable: tuple[str, ...] = ()
    #: Why the business-hours clocks are stopped, when an open hold stops them.
    paused_by: str | None = None

    @property
    def clocks(self) -> tuple[Due, ...]:
        return tuple(d for d in (self.claim, self.resolve, *self.duties, *self.deadlines) if d is not None)

    def clock(self, name: str) -> Due | None:
        return next((d for d in self.clocks if d.clock == name), None)

    def next_due(self, now: datetime) -> Due | None:
        """The earliest clock not yet met by `now` (it may already be overdue)."""
        waiting = [d for d in self.clocks if d.at is not None and not d.met_by(now)]
        return min(waiting, key=lambda d: (d.at, d.clock), default=None)


def _target_due(
    clock: Literal["claim", "resolve"],
    task: TaskFacts,
    targets: Targets,
    calendar: BusinessCalendar,
    holds: Sequence[Hold],
) -> Due | None:
    candidates = targets.for_task(task.type, task.urgency)
    if not candidates:
        return None
    met_at = task.first_claimed_at if clock == "claim" else task.resolved_at
    timed = [(target.after(task.created_at, calendar, holds), target) for target in candidates]
    running = [(at, target) for at, target in timed if at is not None]
    if running:
        # Whichever target falls first wins, so an emergent prior authorisation keeps its 5 minutes.
        at, target = min(running, key=lambda pair: pair[0])
        return Due(clock, clock, f"{clock} target", at, met_at, target, target.business)
    return Due(clock, clock, f"{clock} target", None, met_at, candidates[0], True)


def read_deadline(value: Any, calendar: BusinessCalendar, time_of_day: time) -> datetime | None:
    """An item's deadline as an aware instant: a date means `time_of_day` that day, practice time."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, datetime):
        # A time without an offset is read as the practice's local time, as payers write it.
        local = value if value.tzinfo is not None else value.replace(tzinfo=calendar.zone)
        return local.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time_of_day, tzinfo=calendar.zone).astimezone(UTC)
    return None


def due_times(
    task: TaskFacts, calendar: BusinessCalendar, spec: SlaSpec, holds: Sequence[Hold] | None = None
) -> DueTimes:
    """Every clock on a task: claim and resolve targets, duties and the item's own deadlines.

    `holds` (default: the task's own) stop business-hours targets only; wall-clock
    targets, duties and item deadlines run on, because a patient's danger does not
    wait for the payer.
    """
    held = tuple(task.holds if holds is None else holds)
    duties = tuple(
        Due(
            duty.id,
            "duty",
            duty.description or duty.id.replace("_", " "),
            wall_clock_after(task.created_at, duty.within.length(calendar)),
            task.fulfilled_at(duty.until),
            duty.within,
        )
        for duty in spec.duties
        if duty.applies_to(task.type, task.urgency)
    )
    deadlines: list[Due] = []
    unreadable: list[str] = []
    for wanted in spec.deadlines:
        if wanted.key not in task.metadata or task.metadata[wanted.key] in (None, ""):
            continue
        at = read_deadline(task.metadata[wanted.key], calendar, wanted.time_of_day)
        if at is None:
            unreadable.append(wanted.key)
            continue
        deadlines.append(Due(wanted.key, "deadline", wanted.name, at, task.fulfilled_at(wanted.until)))
    open_hold = next((h for h in sorted(held, key=lambda h: h.start) if h.end is None), None)
    return DueTimes(
        claim=_target_due("claim", task, spec.claim, calendar, held),
        resolve=_target_due("resolve", task, spec.resolve, calendar, held),
        duties=duties,
        deadlines=tuple(deadlines),
        unreadable=tuple(unreadable),
        paused_by=open_hold.reason if open_hold is not None else None,
    )


# -- plain language ---------------------------------------------------------------------------------

_VERBS: Mapping[str, str] = {"claim": "claimed", "acknowledge": "acknowledged", "resolve": "resolved"}


def _target_words(target: Duration) -> str:
    return f"within {target}" + ("" if target.business else ", day or night")


def describe_sla(spec: SlaSpec, calendar: BusinessCalendar | None = None) -> list[str]:
    """The SLA section as sentences, one per target, duty and deadline."""
    lines: list[str] = []
    for clock, targets in (("claim", spec.claim), ("resolve", spec.resolve)):
        verb = _VERBS[clock]
        for urgency in ("emergent", "urgent", "routine"):
            target = getattr(targets, urgency)
            if target is not None:
                lines.append(f"{urgency.capitalize()} items must be {verb} {_target_words(target)}.")
        for tag, target in targets.by_type.items():
            lines.append(
                f"{type_name(tag, plural=True).capitalize()} must be {verb} {_target_words(target)}"
                " (sooner if their urgency asks for less)."
            )
    for duty in spec.duties:
        lines.append(describe_duty(duty))
    for wanted in spec.deadlines:
        lines.append(
            f"When an item gives a {wanted.name} (`{wanted.key}`), the task must be {_VERBS[wanted.until]} by then;"
            f" a date alone means {wanted.time_of_day:%H:%M} that day, practice time."
        )
    uses_days = any(
        t is not None and t.business and t.unit == "day"
        for targets in (spec.claim, spec.resolve)
        for t in (targets.emergent, targets.urgent, targets.routine, *targets.by_type.values())
    )
    if uses_days and calendar is not None and calendar.spec.business_day_hours is None:
        # describe_calendar already says it when the pack sets the length itself.
        hours = calendar.business_day.total_seconds() / 3600
        lines.append(f"A business day counts as {hours:g} business hours.")
    lines.append(
        "A task on hold (waiting on the patient, the payer or a result) stops its business-hours targets until it"
        " comes off hold; wall-clock targets, duties and item deadlines keep running."
    )
    return lines


def describe_duty(duty: Duty) -> str:
    subject = _subject_plural(duty.type, duty.urgency)
    text = f"{subject} must be {_VERBS[duty.until]} within {duty.within}, at any hour"
    if duty.description:
        text += f" ({duty.description.rstrip('.')})"
    return text[0].upper() + text[1:] + "."


def _subject_plural(types: Sequence[str] | None, urgencies: Sequence[str] | None) -> str:
    nouns = " or ".join(type_name(t, plural=True) for t in types) if types else "items"
    if urgencies:
        return f"{' or '.join(urgencies)} {nouns}"
    return nouns
