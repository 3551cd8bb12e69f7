"""Escalation rules as data, and the pure decision of which are due now.

A rule reads like the practice's own policy: "if a prior authorisation update
is not claimed within 2 business hours, notify the authorisation supervisor".
`due_escalations` decides, for a clock value `now`, which rules have crossed
their deadline on which tasks; it is deterministic and idempotent, so the
scheduler can call it as often as it likes and a restart never fires a rule
twice (the shell passes what already fired). `explain` and `diff` render the
same rules as plain English for the people who own them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from careroute.calendar import WEEKDAYS, BusinessCalendar, CalendarSpec, describe_calendar
from careroute.sla import (
    Due,
    DueTimes,
    Duration,
    SlaSpec,
    TaskFacts,
    Urgency,
    describe_duty,
    describe_sla,
    due_times,
    type_name,
)

Identifier = Field(pattern=r"^[a-z][a-z0-9_.\-]*$", min_length=1, max_length=64)
Status = Literal["unclaimed", "unacknowledged", "claimed", "unresolved"]
URGENCY_STEPS: tuple[str, ...] = ("routine", "urgent", "emergent")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(_Section):
    """Someone escalations are addressed to by role, so the rule survives a change of staff."""

    title: str = Field(min_length=1)  # "authorisation supervisor"
    person: str | None = None  # "Wendy Park"
    email: str | None = None
    webhook: str | None = None
    #: For roles that differ per queue ("the supervisor of the task's queue"): queue id → person.
    by_queue: dict[str, str] = {}


class Notify(_Section):
    do: Literal["notify"]
    role: str | None = None
    person: str | None = None
    email: str | None = None
    webhook: str | None = None

    @model_validator(mode="after")
    def _one_recipient(self) -> Notify:
        given = [name for name in ("role", "person", "email", "webhook") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("notify needs exactly one of: role, person, email, webhook")
        return self


class Reassign(_Section):
    do: Literal["reassign"]
    queue: str = Identifier


class RaiseUrgency(_Section):
    do: Literal["raise_urgency"]
    #: None raises one step: routine to urgent, urgent to emergent.
    to: Urgency | None = None


class Page(_Section):
    do: Literal["page"]
    roster: str = "on_call"


Action = Annotated[Notify | Reassign | RaiseUrgency | Page, Field(discriminator="do")]


class EscalationWhen(_Section):
    type: list[str] | None = None
    urgency: list[Urgency] | None = None
    queue: list[str] | None = None
    #: unclaimed: nobody has claimed it; claimed: claimed but not resolved; unresolved: either;
    #: unacknowledged: no clinician has recorded being told (critical results).
    status: Status = "unclaimed"


class After(_Section):
    """When a rule's deadline falls: a time after the status began, an SLA breach, or a warning before one."""

    elapsed: Duration | None = None
    #: A clock of the task: claim, resolve, a duty id or an item deadline key; the rule falls due when it breaches.
    sla: str | None = None
    #: With `sla`: fall due this long before the clock does (a pre-breach warning).
    before_due: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"elapsed": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_timer(self) -> After:
        if (self.elapsed is None) == (self.sla is None):
            raise ValueError("after needs either a duration ('2 business hours') or sla: <clock>, not both")
        if self.before_due is not None:
            if self.sla is None:
                raise ValueError("before_due needs sla: to name the clock it warns about (claim, resolve, ...)")
            if self.before_due.business:
                raise ValueError("before_due is counted on the wall clock; write it in minutes or hours")
        return self


class EscalationRule(_Section):
    id: str = Identifier
    description: str = ""
    when: EscalationWhen = EscalationWhen()
    after: After
    action: Action
    repeat_every: Duration | None = None
    #: How many times the rule fires per task in all; None repeats until the condition clears.
    max_times: int | None = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _repeat_makes_sense(self) -> EscalationRule:
        if self.repeat_every is not None and self.max_times == 1:
            raise ValueError("repeat_every needs max_times above 1 (or null to repeat until the task moves on)")
        if self.repeat_every is None and self.max_times != 1:
            raise ValueError("a rule that fires more than once needs repeat_every")
        return self


class EscalationSpec(_Section):
    """The `escalation:` section of a rule pack: who is who, and the rules."""

    roles: dict[str, RoleSpec] = {}
    rules: list[EscalationRule] = []


class EscalationPolicy(_Section):
    """The three pack sections that time and escalate work, validated together."""

    calendar: CalendarSpec = CalendarSpec()
    sla: SlaSpec = SlaSpec()
    escalation: EscalationSpec = EscalationSpec()


Loc = tuple[str | int, ...]


def cross_check(policy: EscalationPolicy, queue_ids: Iterable[str], tags: Iterable[str]) -> Iterator[tuple[Loc, str]]:
    """References the schema alone cannot check: queues, tags, roles and clocks named must exist."""
    queues, known_tags, clocks = set(queue_ids), set(tags), set(policy.sla.clock_names)
    for section, targets in (("claim", policy.sla.claim), ("resolve", policy.sla.resolve)):
        for tag in targets.by_type:
            if tag not in known_tags:
                yield ("sla", section, "by_type", tag), f"{tag!r} is not a taxonomy tag"
    for i, duty in enumerate(policy.sla.duties):
        for j, tag in enumerate(duty.type or []):
            if tag not in known_tags:
                yield ("sla", "duties", i, "type", j), f"{tag!r} is not a taxonomy tag"
    for name, role in policy.escalation.roles.items():
        for queue in role.by_queue:
            if queue not in queues:
                yield ("escalation", "roles", name, "by_queue", queue), f"unknown queue {queue!r}"
    seen: set[str] = set()
    for i, rule in enumerate(policy.escalation.rules):
        at: Loc = ("escalation", "rules", i)
        if rule.id in seen:
            yield (*at, "id"), f"rule id {rule.id!r} appears twice"
        seen.add(rule.id)
        for j, tag in enumerate(rule.when.type or []):
            if tag not in known_tags:
                yield (*at, "when", "type", j), f"{tag!r} is not a taxonomy tag"
        for j, queue in enumerate(rule.when.queue or []):
            if queue not in queues:
                yield (*at, "when", "queue", j), f"unknown queue {queue!r}"
        if rule.after.sla is not None and rule.after.sla not in clocks:
            yield (*at, "after", "sla"), f"unknown clock {rule.after.sla!r} (one of: {', '.join(sorted(clocks))})"
        action = rule.action
        if isinstance(action, Reassign) and action.queue not in queues:
            yield (*at, "action", "queue"), f"unknown queue {action.queue!r}"
        if isinstance(action, Notify) and action.role is not None and action.role not in policy.escalation.roles:
            yield (*at, "action", "role"), f"unknown role {action.role!r}; add it under escalation.roles"


# -- which rules are due ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fired:
    """What the event log says a rule already did on a task."""

    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class EscalationDue:
    """One rule that is due on one task now: what to do, which deadline was crossed, and why."""

    task_id: int
    rule_id: str
    action: Notify | Reassign | RaiseUrgency | Page
    deadline: datetime
    firing: int  # 1 for the first time this rule fires on this task, 2 for the first repeat, ...
    timer: str  # the timer in words: "within 2 business hours", "by the claim target (5 minutes)"
    reason: str  # one plain sentence for the event log and the notification; no PHI


def _rules_of(
    rules: EscalationSpec | Sequence[EscalationRule],
) -> tuple[Sequence[EscalationRule], Mapping[str, RoleSpec]]:
    if isinstance(rules, EscalationSpec):
        return rules.rules, rules.roles
    return rules, {}


def _before_or_at(value: datetime | None, now: datetime) -> bool:
    return value is not None and value <= now


def condition_holds(task: TaskFacts, when: EscalationWhen, now: datetime) -> bool:
    """Whether a rule's conditions hold for a task as of `now` (facts stamped later have not happened yet)."""
    if task.created_at > now:
        return False
    if when.type is not None and task.type not in when.type:
        return False
    if when.urgency is not None and task.urgency not in when.urgency:
        return False
    if when.queue is not None and task.queue not in when.queue:
        return False
    if _before_or_at(task.resolved_at, now):
        return False
    claimed = _before_or_at(task.first_claimed_at, now)
    if when.status == "unclaimed":
        return not claimed
    if when.status == "claimed":
        return claimed
    if when.status == "unacknowledged":
        return not _before_or_at(task.acknowledged_at, now)
    return True


def _first_deadline(
    task: TaskFacts, rule: EscalationRule, calendar: BusinessCalendar, due: DueTimes, now: datetime
) -> tuple[datetime, str] | None:
    """When a rule first falls due on a task, and its timer in words; None if it cannot fall due."""
    after = rule.after
    if after.elapsed is not None:
        # The timer starts when the watched status began: a claim for "claimed but not resolved".
        start = task.first_claimed_at if rule.when.status == "claimed" else task.created_at
        if start is None:
            return None
        at = after.elapsed.after(start, calendar, task.holds)
        return (at, f"within {after.elapsed}") if at is not None else None
    assert after.sla is not None
    clock = due.clock(after.sla)
    if clock is None or clock.at is None or clock.met_by(now):
        return None
    if after.before_due is not None:
        return after.before_due.before(clock.at, calendar), f"{after.before_due} before {_clock_phrase(clock)}"
    return clock.at, f"by {_clock_phrase(clock)}"


def _clock_phrase(clock: Due) -> str:
    if clock.kind in ("claim", "resolve"):
        return f"the {clock.kind} target ({clock.target})"
    if clock.kind == "duty":
        return f"the {clock.clock} duty ({clock.target})"
    return f"the {clock.name}"


def _next_firing(
    task: TaskFacts,
    rule: EscalationRule,
    calendar: BusinessCalendar,
    due: DueTimes,
    now: datetime,
    fired: Fired | None,
) -> tuple[datetime, int, str] | None:
    if not condition_holds(task, rule.when, now):
        return None
    count = fired.count if fired is not None else 0
    if rule.max_times is not None and count >= rule.max_times:
        return None
    first = _first_deadline(task, rule, calendar, due, now)
    if first is None:
        return None
    at, timer = first
    if fired is not None and count > 0:
        if rule.repeat_every is None:
            return None
        # Repeats count from the last firing, so a scheduler that was down catches up with one alert, not many.
        repeat = rule.repeat_every.after(fired.last_at, calendar)
        assert repeat is not None
        at = max(at, repeat)
    return at, count + 1, timer


def due_escalations(
    tasks: Iterable[TaskFacts],
    rules: EscalationSpec | Sequence[EscalationRule],
    calendar: BusinessCalendar,
    now: datetime,
    already_fired: Mapping[tuple[int, str], Fired],
    *,
    sla: SlaSpec | None = None,
) -> list[EscalationDue]:
    """Every (task, rule) whose deadline is at or before `now`, at most one firing each, in deadline order.

    Pure and idempotent: with the same facts and the same record of what already
    fired, the answer is the same, and a rule that has fired `max_times` (or is
    waiting out `repeat_every`) is not due.
    """
    rule_list, roles = _rules_of(rules)
    spec = sla if sla is not None else SlaSpec()
    found: list[EscalationDue] = []
    for task in tasks:
        due = due_times(task, calendar, spec)
        for rule in rule_list:
            nxt = _next_firing(task, rule, calendar, due, now, already_fired.get((task.id, rule.id)))
            if nxt is None or nxt[0] > now:
                continue
            at, firing, timer = nxt
            reason = _reason(task, rule, at, firing, timer, calendar, roles)
            found.append(EscalationDue(task.id, rule.id, rule.action, at, firing, timer, reason))
    found.sort(key=lambda d: (d.deadline, d.task_id, d.rule_id))
    return found


def next_escalation_at(
    task: TaskFacts,
    rules: EscalationSpec | Sequence[EscalationRule],
    calendar: BusinessCalendar,
    now: datetime,
    already_fired: Mapping[tuple[int, str], Fired],
    *,
    sla: SlaSpec | None = None,
) -> datetime | None:
    """The earliest time any rule could fire on this task as it stands now: the timer to persist and index."""
    rule_list, _ = _rules_of(rules)
    due = due_times(task, calendar, sla if sla is not None else SlaSpec())
    times = [
        nxt[0]
        for rule in rule_list
        if (nxt := _next_firing(task, rule, calendar, due, now, already_fired.get((task.id, rule.id)))) is not None
    ]
    return min(times, default=None)


_STATUS_SHORT: Mapping[str, str] = {
    "unclaimed": "not claimed",
    "unacknowledged": "not acknowledged",
    "claimed": "claimed but not resolved",
    "unresolved": "not resolved",
}


def _when_words(at: datetime, calendar: BusinessCalendar) -> str:
    local = at.astimezone(calendar.zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _reason(
    task: TaskFacts,
    rule: EscalationRule,
    at: datetime,
    firing: int,
    timer: str,
    calendar: BusinessCalendar,
    roles: Mapping[str, RoleSpec],
) -> str:
    text = f"{task.type} {_STATUS_SHORT[rule.when.status]} {timer} (due {_when_words(at, calendar)})"
    text += f" → {_action_short(rule.action, roles, task.queue)}"
    if firing > 1:
        text += f" (repeat {firing}" + (f" of {rule.max_times})" if rule.max_times else ")")
    return text


def _action_short(action: Notify | Reassign | RaiseUrgency | Page, roles: Mapping[str, RoleSpec], queue: str) -> str:
    if isinstance(action, Notify):
        if action.role is not None:
            role = roles.get(action.role)
            return role.title if role is not None else action.role.replace("_", " ")
        return action.person or action.email or "webhook"
    if isinstance(action, Reassign):
        return f"{action.queue} queue"
    if isinstance(action, RaiseUrgency):
        return f"urgency raised to {action.to}" if action.to else "urgency raised one step"
    return "page on-call" if action.roster == "on_call" else f"page {action.roster.replace('_', ' ')}"


def raised_urgency(current: str, action: RaiseUrgency) -> str:
    """The urgency after a raise_urgency action; it never lowers one."""
    target = action.to
    if target is None:
        i = URGENCY_STEPS.index(current) if current in URGENCY_STEPS else 0
        return URGENCY_STEPS[min(i + 1, len(URGENCY_STEPS) - 1)]
    if current in URGENCY_STEPS and URGENCY_STEPS.index(current) > URGENCY_STEPS.index(target):
        return current
    return target


# -- plain language ---------------------------------------------------------------------------------


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _queue_name(queue: str, queue_names: Mapping[str, str]) -> str:
    return queue_names.get(queue, queue.replace("_", " ").capitalize())


def _subject(when: EscalationWhen, queue_names: Mapping[str, str]) -> str:
    noun = " or ".join(type_name(t) for t in when.type) if when.type else "item"
    if when.urgency:
        noun = f"{' or '.join(when.urgency)} {noun}"
    text = _article(noun)
    if when.queue:
        text += f" in the {' or '.join(_queue_name(q, queue_names) for q in when.queue)} queue"
    return text


_STATUS_WORDS: Mapping[str, str] = {
    "unclaimed": "is not claimed",
    "unacknowledged": "is not acknowledged",
    "claimed": "is claimed but not resolved",
    "unresolved": "is not resolved",
}


def _clock_words(clock: str, when: EscalationWhen, sla: SlaSpec | None) -> str:
    """The clock a rule watches, as a noun phrase: "its claim target (5 minutes)"."""
    if clock in ("claim", "resolve"):
        text = f"its {clock} target"
        if sla is not None:
            targets = sla.claim if clock == "claim" else sla.resolve
            target = None
            if when.type and len(when.type) == 1:
                target = targets.by_type.get(when.type[0])
            if target is None and when.urgency and len(when.urgency) == 1:
                target = getattr(targets, when.urgency[0])
            if target is not None:
                text += f" ({target})"
        return text
    if sla is not None:
        for duty in sla.duties:
            if duty.id == clock:
                return f"its duty time ({duty.within}, at any hour)"
        for wanted in sla.deadlines:
            if wanted.key == clock:
                return f"the {wanted.name} the item gives"
    return f"its {clock.replace('_', ' ')} time"


def _timer_words(rule: EscalationRule, sla: SlaSpec | None) -> str:
    after = rule.after
    if after.elapsed is not None:
        text = f"within {after.elapsed}"
        return text + " of being claimed" if rule.when.status == "claimed" else text
    assert after.sla is not None
    clock = _clock_words(after.sla, rule.when, sla)
    if after.before_due is not None:
        return f"{after.before_due} before {clock}"
    return f"by {clock}"


def _action_words(
    action: Notify | Reassign | RaiseUrgency | Page, roles: Mapping[str, RoleSpec], queue_names: Mapping[str, str]
) -> str:
    if isinstance(action, Notify):
        if action.role is not None:
            role = roles.get(action.role)
            if role is None:
                return f"notify the {action.role.replace('_', ' ')}"
            text = f"notify the {role.title}"
            if role.by_queue:
                people = "; ".join(f"{_queue_name(q, queue_names)}: {p}" for q, p in role.by_queue.items())
                text += f" of the task's queue ({people})"
            elif role.person:
                text += f" ({role.person})"
            if role.email:
                text += " by email"
            elif role.webhook:
                text += " by signed webhook"
            return text
        if action.person is not None:
            return f"notify {action.person}"
        if action.email is not None:
            return f"email {action.email}"
        return f"send a signed webhook to {action.webhook}"
    if isinstance(action, Reassign):
        return f"move it to the {_queue_name(action.queue, queue_names)} queue"
    if isinstance(action, RaiseUrgency):
        if action.to is None:
            return "raise its urgency one step (routine to urgent, urgent to emergent)"
        return f"raise its urgency to {action.to}"
    if action.roster == "on_call":
        return "page the on-call clinician"
    return f"page the {action.roster.replace('_', ' ')} roster"


_UNTIL: Mapping[str, str] = {
    "unclaimed": "it is claimed",
    "unacknowledged": "it is acknowledged",
    "claimed": "it is resolved",
    "unresolved": "it is resolved",
}


def explain_rule(
    rule: EscalationRule,
    roles: Mapping[str, RoleSpec] | None = None,
    sla: SlaSpec | None = None,
    queue_names: Mapping[str, str] | None = None,
) -> str:
    """One rule as one English sentence: "If a ... is not claimed within 2 business hours, notify ..."."""
    names = queue_names or {}
    status = _STATUS_WORDS[rule.when.status]
    if rule.after.before_due is not None:
        status = status.replace("is ", "is still ", 1)
    text = (
        f"If {_subject(rule.when, names)} {status} {_timer_words(rule, sla)}, "
        f"{_action_words(rule.action, roles or {}, names)}"
    )
    if rule.repeat_every is not None:
        text += f", and again every {rule.repeat_every}"
        text += f", up to {rule.max_times} times in all" if rule.max_times else f" until {_UNTIL[rule.when.status]}"
    return text + "."


def _calendar_spec(calendar: BusinessCalendar | CalendarSpec) -> CalendarSpec:
    return calendar.spec if isinstance(calendar, BusinessCalendar) else calendar


def explain(
    rules: EscalationSpec,
    calendar: BusinessCalendar | CalendarSpec,
    sla: SlaSpec,
    *,
    queue_names: Mapping[str, str] | None = None,
) -> str:
    """The calendar, SLAs and escalation rules as a plain-English document (Markdown)."""
    business = calendar if isinstance(calendar, BusinessCalendar) else BusinessCalendar(calendar)
    out = ["## Business hours", "", describe_calendar(business.spec), "", "## Service levels", ""]
    out += [f"- {line}" for line in describe_sla(sla, business)]
    out += ["", "## Escalation rules", ""]
    if not rules.rules:
        out.append("No escalation rules: nothing is escalated automatically.")
    for rule in rules.rules:
        line = f"- **{rule.id}**: {explain_rule(rule, rules.roles, sla, queue_names)}"
        if rule.description:
            line += f" _{rule.description.rstrip('.')}._"
        out.append(line)
    return "\n".join(out) + "\n"


# -- differences between two policies ---------------------------------------------------------------


def _diff_calendar(old: CalendarSpec, new: CalendarSpec) -> Iterator[str]:
    if old.timezone != new.timezone:
        yield f"The practice's time zone changes from {old.timezone} to {new.timezone}."
    for weekday in WEEKDAYS:
        before, after = old.hours.get(weekday, []), new.hours.get(weekday, [])
        if before != after:
            yield f"{weekday.capitalize()} hours change from {_hours_words(before)} to {_hours_words(after)}."
    if old.us_federal_holidays != new.us_federal_holidays:
        yield (
            "The practice now closes on US federal holidays."
            if new.us_federal_holidays
            else ("The practice no longer closes on US federal holidays.")
        )
    elif new.us_federal_holidays and old.observed != new.observed:
        yield (
            "Weekend holidays are now observed on the nearest weekday."
            if new.observed
            else "Weekend holidays are no longer observed on a weekday."
        )
    for day in sorted(set(old.closures) | set(new.closures)):
        why = new.closures.get(day) or old.closures.get(day) or ""
        label = f"{day.isoformat()}" + (f" ({why})" if why else "")
        if day not in old.closures:
            yield f"New closure: {label}."
        elif day not in new.closures:
            yield f"No longer closed on {label}."
    for day in sorted(set(old.special_hours) | set(new.special_hours)):
        if day not in old.special_hours:
            yield f"New special hours on {day.isoformat()}: {_hours_words(new.special_hours[day])}."
        elif day not in new.special_hours:
            yield f"Special hours on {day.isoformat()} removed (were {_hours_words(old.special_hours[day])})."
        elif old.special_hours[day] != new.special_hours[day]:
            was, now = _hours_words(old.special_hours[day]), _hours_words(new.special_hours[day])
            yield f"Special hours on {day.isoformat()} change from {was} to {now}."
    if old.business_day_hours != new.business_day_hours:
        yield f"A business day now counts as {_business_day_words(new)} (was {_business_day_words(old)})."


def _business_day_words(spec: CalendarSpec) -> str:
    return f"{BusinessCalendar(spec).business_day.total_seconds() / 3600:g} business hours"


def _hours_words(intervals: Sequence[str]) -> str:
    return " and ".join(i.replace("-", "–") for i in intervals) if intervals else "closed"


def _diff_targets(verb: str, old: Any, new: Any) -> Iterator[str]:
    for urgency in ("emergent", "urgent", "routine"):
        yield from _diff_target(f"{urgency.capitalize()} items", verb, getattr(old, urgency), getattr(new, urgency))
    for tag in sorted(set(old.by_type) | set(new.by_type)):
        who = type_name(tag, plural=True).capitalize()
        yield from _diff_target(who, verb, old.by_type.get(tag), new.by_type.get(tag))


def _diff_target(who: str, verb: str, old: Duration | None, new: Duration | None) -> Iterator[str]:
    if old == new:
        return
    if old is None:
        yield f"New target: {who} must be {verb} within {new}."
    elif new is None:
        yield f"{who} no longer have a target to be {verb} (was {old})."
    else:
        yield f"{who} must now be {verb} within {new} (was {old})."


def _diff_sla(old: SlaSpec, new: SlaSpec) -> Iterator[str]:
    yield from _diff_targets("claimed", old.claim, new.claim)
    yield from _diff_targets("resolved", old.resolve, new.resolve)
    old_duties, new_duties = {d.id: d for d in old.duties}, {d.id: d for d in new.duties}
    for duty_id in sorted(set(old_duties) | set(new_duties)):
        before, after = old_duties.get(duty_id), new_duties.get(duty_id)
        if after is None and before is not None:
            yield f"Duty {duty_id} removed (it said: {describe_duty(before)})"
        elif before is None and after is not None:
            yield f"New duty {duty_id}: {describe_duty(after)}"
        elif before != after and after is not None and before is not None:
            was, now = describe_duty(before), describe_duty(after)
            yield f"Duty {duty_id} changes: was \u201c{was}\u201d; now \u201c{now}\u201d"
    old_keys, new_keys = {d.key: d for d in old.deadlines}, {d.key: d for d in new.deadlines}
    for key in sorted(set(old_keys) | set(new_keys)):
        if key not in old_keys:
            yield f"Items' {new_keys[key].name} (`{key}`) now sets a deadline."
        elif key not in new_keys:
            yield f"Items' {old_keys[key].name} (`{key}`) no longer sets a deadline."
        elif old_keys[key] != new_keys[key]:
            yield f"The item deadline `{key}` changes how it is read ({new_keys[key].name})."


def _diff_roles(old: Mapping[str, RoleSpec], new: Mapping[str, RoleSpec]) -> Iterator[str]:
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None and after is not None:
            yield f"New role: {after.title}" + (f" ({after.person})." if after.person else ".")
        elif after is None and before is not None:
            yield f"Role removed: {before.title}."
        elif before is not None and after is not None and before != after:
            if before.person != after.person:
                yield f"The {after.title} is now {after.person or 'nobody'} (was {before.person or 'nobody'})."
            if (before.email, before.webhook, before.by_queue, before.title) != (
                after.email,
                after.webhook,
                after.by_queue,
                after.title,
            ):
                yield f"The {after.title}'s contact details change."


def diff(old: EscalationPolicy, new: EscalationPolicy, *, queue_names: Mapping[str, str] | None = None) -> list[str]:
    """What changes from `old` to `new`, one plain sentence per difference (empty when they mean the same)."""
    lines = list(_diff_calendar(old.calendar, new.calendar))
    lines += _diff_sla(old.sla, new.sla)
    lines += _diff_roles(old.escalation.roles, new.escalation.roles)
    old_rules = {r.id: r for r in old.escalation.rules}
    new_rules = {r.id: r for r in new.escalation.rules}

    def say(rule: EscalationRule, policy: EscalationPolicy) -> str:
        return explain_rule(rule, policy.escalation.roles, policy.sla, queue_names)

    for rule in new.escalation.rules:
        before = old_rules.get(rule.id)
        if before is None:
            lines.append(f"New rule {rule.id}: {say(rule, new)}")
        elif before != rule:
            was, now = say(before, old), say(rule, new)
            if was != now:
                lines.append(f"Rule {rule.id} changes: was \u201c{was}\u201d; now \u201c{now}\u201d")
            else:
                lines.append(f"Rule {rule.id} changes its description to \u201c{rule.description}\u201d.")
    for rule in old.escalation.rules:
        if rule.id not in new_rules:
            lines.append(f"Rule {rule.id} removed (it said: {say(rule, old)})")
    return lines
