"""Which routing rule misfires: staff reroutes traced back to the rule that made the first choice (pure).

Every `rerouted` event names, in its rule ids, the routing rule that chose the
task's original queue. Grouping staff reroutes by that rule shows where the
practice's written policy sends work to the wrong desk, how much waiting it
costs, what the staff said when they moved it, and what to change.

Definitions
-----------

Reroute. A `rerouted` event written by a person. Moves careroute makes itself
(actor `careroute`) are not corrections of routing; in a pilot, the first move
of a task out of the manual dispatch queue is the manual dispatch decision, not
a correction. Rule: the first id in the event's rule ids (else the task's
routing rule).

Time lost. For each reroute, the time the task had spent in the queue it was
moved out of: since its creation for the first reroute, since the previous
reroute for a later one. Harm = the number of reroutes times their average time
lost, i.e. the total time lost; rules are listed by harm, most first.

Share. Tasks of the rule moved (at least once) from one queue to another, over
all tasks the rule routed (tasks created in the range of facts given).

Rising. The rule's reroute rate (tasks of the rule created in a week that were
rerouted, over tasks of the rule created that week) rose by at least
`rising_points` from the week before the reported week to the reported week,
with at least `min_reroutes` rerouted tasks in the reported week.

Words. Free-text reasons are staff text and may name a patient: only
lower-cased alphabetic words of three letters or more outside a stop list are
counted, numbers never, and a word or two-word phrase is shown only when at
least two different reroutes use it. Each is counted once per reason.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from careroute.metrics import (
    MANUAL_DISPATCH_RULE,
    SYSTEM_ACTOR,
    EventLike,
    TaskFacts,
    period_labeller,
    period_start,
)

#: Reason codes that say the task went to the right kind of desk for the wrong other reason.
NOT_A_TYPE_CORRECTION = frozenset({"wrong_site", "patient_request", "duplicate"})
_WORD = re.compile(r"[a-z]+")
_STOP_WORDS = """
the and for this that with was are not but has have had from into its it's they them their our you your his
her him she who what which when where why how all any can could should would will just also than then there
here been being were did does done per via out off one two too very more most some such only other about after
before over under again please task tasks queue queues sent send moved move belongs belong wrong right needs
need
"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True, slots=True)
class Move:
    from_queue: str
    to_queue: str
    reroutes: int
    tasks: int


@dataclass(frozen=True, slots=True)
class WeekRate:
    week: date
    routed: int
    rerouted: int

    @property
    def rate(self) -> float | None:
        return self.rerouted / self.routed if self.routed else None


@dataclass(frozen=True, slots=True)
class RuleMisfires:
    """The staff reroutes of tasks one routing rule placed."""

    rule_id: str
    routed: int  # tasks the rule routed
    rerouted: int  # of those, tasks moved by staff at least once
    reroutes: int  # reroute events
    moves: tuple[Move, ...]  # from -> to, most reroutes first
    reason_codes: tuple[tuple[str, int], ...]
    words: tuple[tuple[str, int], ...]  # word or phrase, reasons that use it
    reasons_with_text: int
    examples: tuple[int, ...]  # task ids
    time_lost: timedelta  # total: the harm
    weekly: tuple[WeekRate, ...]
    rising: bool
    suggestion: str

    @property
    def harm(self) -> timedelta:
        return self.time_lost

    @property
    def mean_time_lost(self) -> timedelta:
        return self.time_lost / self.reroutes if self.reroutes else timedelta(0)

    @property
    def share(self) -> float:
        return self.rerouted / self.routed if self.routed else 0.0


@dataclass(frozen=True, slots=True)
class StaffReroute:
    task_id: int
    rule_id: str
    from_queue: str
    to_queue: str
    at: datetime
    lost: timedelta
    code: str | None
    words: frozenset[str]


def reason_terms(text: str | None) -> frozenset[str]:
    """The words and adjacent-word phrases of a free-text reason that may be counted (see Words above)."""
    if not text:
        return frozenset()
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOP]
    return frozenset(words) | {f"{a} {b}" for a, b in pairwise(words)}


def staff_reroutes(events: Iterable[EventLike], facts: Mapping[int, TaskFacts]) -> list[StaffReroute]:
    """Reroutes by people, with the rule they correct and the time lost (see the definitions)."""
    by_task: dict[int, list[EventLike]] = defaultdict(list)
    for e in events:
        if e.kind == "rerouted" and e.task_id in facts:
            by_task[e.task_id].append(e)
    out: list[StaffReroute] = []
    for task_id, moves in by_task.items():
        f = facts[task_id]
        since, queue = f.created_at, f.initial_queue
        dispatched = False
        for e in sorted(moves, key=lambda m: m.at):
            to = e.queue or ""
            frm = str(e.data.get("from_queue") or queue)
            lost = e.at - since
            since, queue = e.at, to
            if e.actor == SYSTEM_ACTOR:
                continue
            if f.route_rule == MANUAL_DISPATCH_RULE and not dispatched:
                dispatched = True
                continue
            rule = e.rule_ids[0] if e.rule_ids else f.route_rule
            code = e.data.get("reason_code")
            out.append(
                StaffReroute(task_id, rule, frm, to, e.at, lost, str(code) if code else None, reason_terms(e.reason))
            )
    return out


def _weekly(tasks: Sequence[TaskFacts], rerouted: set[int], zone: ZoneInfo) -> dict[date, tuple[int, int]]:
    week_of = period_labeller(zone)
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for f in tasks:
        w = weeks[week_of(f.created_at)]
        w[0] += 1
        w[1] += f.task_id in rerouted
    return {k: (v[0], v[1]) for k, v in weeks.items()}


def _percent(x: float) -> str:
    return f"{round(100 * x)}%"


def queue_types(tag_queues: Mapping[str, str]) -> dict[str, str]:
    """queue -> the one type whose default queue it is (queues that several types share are left out)."""
    found: dict[str, list[str]] = defaultdict(list)
    for tag, queue in tag_queues.items():
        found[queue].append(tag)
    return {q: tags[0] for q, tags in found.items() if len(tags) == 1}


def _advice(rule: str, move: Move, code: str | None, phrase: str | None, tag_queues: Mapping[str, str]) -> str:
    target = queue_types(tag_queues).get(move.to_queue)
    example = f" (such as '{phrase}')" if phrase else ""
    if code == "needs_clinician":
        return f"consider a danger or urgency keyword{example} so these reach {move.to_queue} first time"
    if code == "not_clinical":
        return f"consider narrowing {rule}: these tasks did not need a clinician"
    if rule.startswith("tag."):
        source = rule.removeprefix("tag.")
        if target is not None and target != source:
            return f"consider a {target} keyword{example} before the {source} one"
        return f"consider which {source} keywords catch work that belongs in {move.to_queue}"
    return f"consider narrowing {rule}'s conditions, or a rule before it that sends such tasks to {move.to_queue}"


def _suggestion(
    rule: str,
    routed: int,
    moves: Sequence[Move],
    reroutes: Sequence[StaffReroute],
    words: Sequence[tuple[str, int]],
    with_text: int,
    codes: Counter[str],
    tag_queues: Mapping[str, str],
    min_reroutes: int,
) -> str:
    top = moves[0]
    head = f"rule {rule} sends {_percent(top.tasks / routed) if routed else 'some'} of its tasks from {top.from_queue} "
    head += f"to {top.to_queue}"
    if len(reroutes) < min_reroutes:
        return f"{head}; {len(reroutes)} reroute(s) are too few to suggest a change yet"
    phrases = [w for w in words if " " in w[0]] or list(words)
    phrase = phrases[0][0] if phrases else None
    code = codes.most_common(1)[0][0] if codes else None
    if phrase is not None:
        evidence = f"{phrases[0][1]} of {with_text} reroute reasons say '{phrase}'"
    elif code is not None:
        evidence = f"{codes[code]} of {len(reroutes)} reroutes give the reason {code}"
    else:
        evidence = f"{top.reroutes} of {len(reroutes)} reroutes go that way"
    return f"{head}; {evidence}: {_advice(rule, top, code, phrase, tag_queues)}"


def misfire_report(
    reroutes: Iterable[EventLike],
    facts: Iterable[TaskFacts],
    *,
    zone: ZoneInfo,
    now: datetime,
    tag_queues: Mapping[str, str],
    week: date | None = None,
    rising_points: float = 0.05,
    min_reroutes: int = 3,
    examples: int = 5,
) -> list[RuleMisfires]:
    """Staff reroutes grouped by the routing rule they correct, most harmful first.

    `facts` are the tasks in the range looked at (they give each rule's number
    of routed tasks); `reroutes` their `rerouted` events (other kinds are
    ignored). `week` is the Monday of the week judged for "rising" (default:
    the last full week before `now`).
    """
    tasks = {f.task_id: f for f in facts}
    found = staff_reroutes(reroutes, tasks)
    judged = week if week is not None else period_start(now, zone) - timedelta(days=7)
    before = judged - timedelta(days=7)
    routed_by_rule: dict[str, list[TaskFacts]] = defaultdict(list)
    for f in tasks.values():
        routed_by_rule[f.route_rule].append(f)
    by_rule: dict[str, list[StaffReroute]] = defaultdict(list)
    for r in found:
        by_rule[r.rule_id].append(r)
    out: list[RuleMisfires] = []
    for rule, items in by_rule.items():
        routed = routed_by_rule.get(rule, [])
        pairs: dict[tuple[str, str], list[StaffReroute]] = defaultdict(list)
        for r in items:
            pairs[(r.from_queue, r.to_queue)].append(r)
        moves = sorted(
            (Move(a, b, len(rs), len({r.task_id for r in rs})) for (a, b), rs in pairs.items()),
            key=lambda m: (-m.reroutes, m.from_queue, m.to_queue),
        )
        codes = Counter(r.code for r in items if r.code)
        texts = [r.words for r in items if r.words]
        counted = Counter(w for words in texts for w in words)
        words = sorted(((w, n) for w, n in counted.items() if n >= 2), key=lambda wn: (-wn[1], -len(wn[0]), wn[0]))
        rerouted = {r.task_id for r in items}
        weekly = _weekly(routed, rerouted, zone)
        series = tuple(WeekRate(w, n, k) for w, (n, k) in sorted(weekly.items()))
        now_rate = WeekRate(judged, *weekly.get(judged, (0, 0)))
        then_rate = WeekRate(before, *weekly.get(before, (0, 0)))
        rising = (
            now_rate.rerouted >= min_reroutes
            and now_rate.rate is not None
            and now_rate.rate - (then_rate.rate or 0.0) >= rising_points
        )
        suggestion = _suggestion(rule, len(routed), moves, items, words, len(texts), codes, tag_queues, min_reroutes)
        if rising:
            suggestion += (
                f". Its reroute rate rose from {_percent(then_rate.rate or 0.0)} to {_percent(now_rate.rate or 0.0)}"
                f" in the week of {judged.isoformat()}"
            )
        out.append(
            RuleMisfires(
                rule_id=rule,
                routed=len(routed),
                rerouted=len(rerouted),
                reroutes=len(items),
                moves=tuple(moves),
                reason_codes=tuple(sorted(codes.items(), key=lambda c: (-c[1], c[0]))),
                words=tuple(words[:10]),
                reasons_with_text=len(texts),
                examples=tuple(sorted(rerouted)[:examples]),
                time_lost=sum((r.lost for r in items), timedelta(0)),
                weekly=series,
                rising=rising,
                suggestion=suggestion,
            )
        )
    out.sort(key=lambda m: (-m.time_lost, -m.reroutes, m.rule_id))
    return out


# -- labels for retraining ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorrectedLabel:
    """A type the staff's reroute implies for a task's first item (for `careroute learn --from-reroutes`)."""

    item_id: int
    task_id: int
    classified_as: str
    corrected_type: str


def corrected_labels(events: Iterable[EventLike], tag_queues: Mapping[str, str]) -> list[CorrectedLabel]:
    """(item, corrected type) pairs from tasks whose staff reroute stuck.

    A task gives a label when a person moved it (for a reason that is about the
    kind of work: not wrong_site, patient_request or duplicate), it was last
    resolved in the queue it was last moved to, exactly one type has that
    queue as its default, and that type differs from the classifier's. Events
    are those of the tasks concerned, in log order.
    """
    types = queue_types(tag_queues)
    item: dict[int, int] = {}
    classified: dict[int, str] = {}
    moved_to: dict[int, str] = {}
    resolved_in: dict[int, str | None] = {}
    for e in events:
        t = e.task_id
        if e.kind == "created" and e.data.get("item_id") is not None:
            item[t] = int(e.data["item_id"])
        elif e.kind == "classified" and t not in classified:
            classified[t] = str(e.data.get("type", ""))
        elif e.kind == "rerouted" and e.actor != SYSTEM_ACTOR:
            if e.data.get("reason_code") in NOT_A_TYPE_CORRECTION:
                moved_to.pop(t, None)
            else:
                moved_to[t] = e.queue or ""
            resolved_in.pop(t, None)
        elif e.kind == "resolved":
            resolved_in[t] = e.queue
        elif e.kind == "reopened":
            resolved_in.pop(t, None)
    out = []
    for t, queue in sorted(moved_to.items()):
        corrected = types.get(queue)
        if corrected is None or t not in item or resolved_in.get(t) != queue or classified.get(t) == corrected:
            continue
        out.append(CorrectedLabel(item[t], t, classified.get(t, ""), corrected))
    return out
