"""Preview a draft pack on real history: the same items through the live pack and the draft, side by side.

Pure: the shell reads the items (and what the event log recorded about them)
and passes them in; this module classifies and routes them with each pack,
runs both through the what-if simulation (careroute.simulate, on the pack's own
roster, escalation rules and simulated clock), and compares the two runs item
by item. No I/O, no logging; message text never leaves the items.

What a preview says:

- how many items change type, urgency, queue or (simulated) assignee, with examples;
- each pack's predicted queue age, reroute rate and escalation rate (a task staff
  moved in real life is moved again in the simulation unless the pack now sends it
  there first);
- every emergent or urgent item (or one with a possible danger sign) that the live
  pack sends to a clinical queue and the draft would send to a non-clinical one:
  these block publishing unless a clinical admin overrides, with a reason.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from careroute.dispatcher import pack_classifier
from careroute.metrics import Metrics
from careroute.model import HIGH_URGENCIES, Classification, InboundItem
from careroute.routing import choose_queue
from careroute.rules.loader import LoadedPack
from careroute.simulate import (
    Arrival,
    HandlingTime,
    PackEscalations,
    report,
    requirements_from_pack,
    roster_from_pack,
    simulate,
)
from careroute.whatif import DEFAULT_HANDLING

#: Examples kept per preview: enough to judge a change, few enough to read.
EXAMPLES = 40
#: How long after the last item the simulated staff keep working.
HORIZON = timedelta(days=1)

Progress = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One real item of the replayed period, with what the event log recorded about it."""

    task_id: int
    item: InboundItem
    #: The classification recorded when it arrived, and the pack version that made it.
    recorded: Classification | None = None
    recorded_version: str | None = None
    #: The queue staff finally moved it to, when they rerouted it (None: they did not).
    staff_queue: str | None = None


@dataclass(frozen=True, slots=True)
class Decided:
    """What one pack decides for one item."""

    type: str
    urgency: str
    queue: str
    rule_id: str
    possible_danger: bool
    effort: int
    skills: tuple[str, ...]
    pilot_arm: str | None


def _no_progress(_stage: str, _share: float) -> None:
    return None


def classifications(
    history: Sequence[HistoryItem],
    pack: LoadedPack,
    progress: Progress = _no_progress,
    *,
    reuse: Sequence[Classification | None] | None = None,
) -> tuple[list[Classification], int]:
    """Each item's classification under `pack`, and how many were taken from the record instead of recomputed.

    Classification is deterministic: an item the event log says was classified by this
    very pack version (or given in `reuse`) is not classified again.
    """
    classify = pack_classifier(pack)
    out: list[Classification] = []
    reused = 0
    total = len(history) or 1
    for n, h in enumerate(history):
        known = reuse[n] if reuse is not None else (h.recorded if h.recorded_version == pack.version else None)
        if known is not None:
            out.append(known)
            reused += 1
        else:
            out.append(classify(h.item))
        if n % 250 == 0:
            progress("classify", n / total)
    return out, reused


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    fingerprint_a, fingerprint_b = getattr(a, "fingerprint", None), getattr(b, "fingerprint", None)
    return bool(callable(fingerprint_a) and callable(fingerprint_b) and fingerprint_a() == fingerprint_b())


def keyword_filter(live: LoadedPack, draft: LoadedPack) -> Callable[[InboundItem], bool] | None:
    """When the draft's classifier differs from the live one only in keyword rules, a test of whether an
    item can be classified differently: its words meet a changed phrase, or read differently. None when
    anything else in the classifier differs (then every item is classified again).

    Sound because an item's classification is a function of its normalised words and the phrase hits
    on them: a phrase that is not found in the words adds or removes no hit, and the other phrases'
    hits do not depend on it.
    """
    from careroute.classify.compiled import KEYWORD
    from careroute.classify.normalise import fold
    from careroute.classify.phrases import PhraseMatcher, compile_phrase, expand_phrase

    a, b = live.classifier_rules, draft.classifier_rules
    if a is None or b is None:
        return None
    same_rest = (
        a.danger == b.danger
        and a.review_below == b.review_below
        and a.model_weight == b.model_weight
        and a.urgency_net_cutoff == b.urgency_net_cutoff
        and a.refill_net_cutoff == b.refill_net_cutoff
        and a.disabled == b.disabled
        and (a.lexicon is b.lexicon or a.lexicon == b.lexicon)
        and _same(a.model, b.model)
        and _same(a.urgency_net, b.urgency_net)
        and _same(a.refill_net, b.refill_net)
    )
    if not same_rest:
        return None
    before, after = {r.id: r for r in a.keywords}, {r.id: r for r in b.keywords}
    changed = [
        rule
        for rule_id in before.keys() | after.keys()
        if before.get(rule_id) != after.get(rule_id)
        for rule in (before.get(rule_id), after.get(rule_id))
        if rule is not None
    ]
    entries = [
        ((KEYWORD, n), compile_phrase(expanded, fold))
        for n, rule in enumerate(changed)
        for phrase in rule.phrases
        for expanded in expand_phrase(phrase)
    ]
    matcher = PhraseMatcher(entries)
    live_reader, draft_reader = a.compiled.normaliser, b.compiled.normaliser
    # New phrase words become "known" words, which the spelling net leaves alone: a word may then read otherwise.
    same_reading = live_reader._noise == draft_reader._noise

    def affected(item: InboundItem) -> bool:
        text = item.text
        read = draft_reader.read(text)
        if not same_reading and live_reader.read(text) != read:
            return True
        return bool(matcher.scan(read.words, read.sentence))

    return affected


def _unaffected(
    history: Sequence[HistoryItem], live: LoadedPack, draft: LoadedPack, progress: Callable[[float], None]
) -> list[Classification | None] | None:
    """The live classifications a keyword-only draft cannot change (None where the draft must classify)."""
    affected = keyword_filter(live, draft)
    if affected is None:
        return None
    out: list[Classification | None] = []
    total = len(history) or 1
    for n, h in enumerate(history):
        known = h.recorded if h.recorded_version == live.version else None
        out.append(known if known is not None and not affected(h.item) else None)
        if n % 250 == 0:
            progress(n / total)
    return out


def decide(history: Sequence[HistoryItem], found: Sequence[Classification], pack: LoadedPack) -> list[Decided]:
    """Route each classified item with the pack's routing table, at the time it arrived."""
    spec = pack.spec
    is_open = pack.calendar.is_open
    out = []
    for h, c in zip(history, found, strict=True):
        choice = choose_queue(h.item, c, spec, open_now=is_open(h.item.received_at))
        effort = spec.tags[c.type].effort if c.type in spec.tags else 1
        out.append(
            Decided(
                c.type,
                c.urgency,
                choice.queue,
                choice.rule_id,
                c.possible_danger,
                effort,
                choice.skills,
                choice.pilot_arm,
            )
        )
    return out


@dataclass(frozen=True)
class Run:
    """One pack's simulated week: who each item was first pushed to, and the four metrics."""

    assignees: list[str | None]
    metrics: Metrics


def run(history: Sequence[HistoryItem], decided: Sequence[Decided], pack: LoadedPack, *, seed: int = 0) -> Run:
    """The items through the pack's roster on the simulated clock."""
    spec = pack.spec
    queues = set(pack.queue_ids)
    arrivals = [
        Arrival(
            at=h.item.received_at,
            type=d.type,
            urgency=d.urgency,
            queue=d.queue,
            channel=h.item.channel,
            external_id=str(n),
            rule_id=d.rule_id,
            effort=d.effort,
            skills=d.skills,
            correct_queue=h.staff_queue if h.staff_queue in queues else None,
            pilot_arm=d.pilot_arm,
        )
        for n, (h, d) in enumerate(zip(history, decided, strict=True))
    ]
    assignees: list[str | None] = [None] * len(arrivals)
    if not arrivals:
        return Run(assignees, report([], targets=spec.metrics))
    handling = {t: HandlingTime(timedelta(minutes=m), timedelta(minutes=p)) for t, (m, p) in DEFAULT_HANDLING.items()}
    events = simulate(
        arrivals,
        roster_from_pack(spec),
        handling,
        zone=pack.calendar.zone,
        seed=seed,
        until=max(a.at for a in arrivals) + HORIZON,
        requirements=requirements_from_pack(spec),
        escalations=PackEscalations(spec.escalation, pack.calendar, spec.sla),
        pack_version=pack.version,
    )
    index: dict[int, int] = {}
    for e in events:
        if e.kind == "created":
            index[e.task_id] = int(e.data["external_id"])
        elif e.kind == "assigned" and e.assignee is not None:
            n = index[e.task_id]
            if assignees[n] is None:
                assignees[n] = e.assignee
    return Run(assignees, report(events, targets=spec.metrics))


# -- the comparison (pure over decisions) ------------------------------------------------------------


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def metrics_summary(m: Metrics) -> dict[str, Any]:
    """The figures a preview shows for one side, as plain JSON."""
    return {
        "tasks": m.tasks,
        "queue_age": {k: {"median": _minutes(s.median), "p90": _minutes(s.p90)} for k, s in m.queue_age.items()},
        "still_waiting": m.still_waiting.tasks,
        "reroute_rate": m.reroute_rate.value,
        "escalation_rate": m.escalation_rate.value,
    }


def _serious(d: Decided) -> bool:
    return d.urgency in HIGH_URGENCIES or d.possible_danger


def compare(
    history: Sequence[HistoryItem],
    live: Sequence[Decided],
    draft: Sequence[Decided],
    live_assignees: Sequence[str | None],
    draft_assignees: Sequence[str | None],
    live_clinical: frozenset[str],
    draft_clinical: frozenset[str],
) -> dict[str, Any]:
    """Item by item: what changes, with examples, and which items would leave a clinician's queue."""
    changed: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    blocking: list[dict[str, Any]] = []
    blocking_count = 0
    moves: Counter[tuple[str, str]] = Counter()
    for n, h in enumerate(history):
        a, b = live[n], draft[n]
        changes: dict[str, list[str | None]] = {}
        for name, x, y in (
            ("type", a.type, b.type),
            ("urgency", a.urgency, b.urgency),
            ("queue", a.queue, b.queue),
            ("assignee", live_assignees[n], draft_assignees[n]),
        ):
            if x != y:
                changes[name] = [x, y]
                changed[name] += 1
        if not changes:
            continue
        changed["any"] += 1
        if a.queue != b.queue:
            moves[(a.queue, b.queue)] += 1
        row = {
            "task_id": h.task_id,
            "channel": h.item.channel,
            "received_at": h.item.received_at.isoformat(),
            "changes": changes,
        }
        leaves = (_serious(a) or _serious(b)) and a.queue in live_clinical and b.queue not in draft_clinical
        if leaves:
            blocking_count += 1
            if len(blocking) < EXAMPLES:
                blocking.append({**row, "urgency": max((a.urgency, b.urgency), key=_rank)})
        # Examples: what the admin changed first (type, urgency, queue), assignee-only changes after.
        if len(examples) < EXAMPLES and (set(changes) != {"assignee"} or changed["any"] <= EXAMPLES // 2):
            examples.append(row)
    return {
        "items": len(history),
        "changed": {k: changed.get(k, 0) for k in ("any", "type", "urgency", "queue", "assignee")},
        "examples": examples,
        "blocking": blocking,
        "blocking_count": blocking_count,
        "moves": [[f, t, c] for (f, t), c in moves.most_common(12)],
    }


def _rank(urgency: str) -> int:
    return {"emergent": 2, "urgent": 1}.get(urgency, 0)


def _same_simulation(live: LoadedPack, draft: LoadedPack) -> bool:
    """True when everything the simulation reads besides the arrivals is the same in both packs."""
    a, b = live.spec, draft.spec
    return (a.staff, a.queues, a.tags, a.escalation, a.sla, a.calendar, a.metrics) == (
        b.staff,
        b.queues,
        b.tags,
        b.escalation,
        b.sla,
        b.calendar,
        b.metrics,
    )


Side = tuple[list[Decided], Run]


def preview(
    history: Sequence[HistoryItem],
    live: LoadedPack,
    draft: LoadedPack,
    progress: Progress = _no_progress,
    *,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
    parallel: bool = True,
) -> dict[str, Any]:
    """The whole preview: both packs over the history, simulated and compared, as plain JSON.

    With `parallel`, the live pack's side runs in a forked child process while this one runs the
    draft's (the two are independent); without fork, or for a small history, they run in turn.
    """
    started = clock()
    same_classifier = _fingerprint(live) == _fingerprint(draft)

    def live_side() -> Side:
        found, _ = classifications(history, live, lambda _s, x: progress("Classifying with the live pack", x))
        decided = decide(history, found, live)
        progress("Simulating the live pack's week", 0.0)
        return decided, run(history, decided, live, seed=seed)

    def draft_side() -> Side:
        reuse = _unaffected(history, live, draft, lambda x: progress("Reading the week with the draft", x))
        found, _ = classifications(history, draft, lambda _s, x: progress("Classifying with the draft", x), reuse=reuse)
        decided = decide(history, found, draft)
        progress("Simulating the draft's week", 0.0)
        return decided, run(history, decided, draft, seed=seed)

    live_reused = sum(1 for h in history if h.recorded is not None and h.recorded_version == live.version)
    if same_classifier:
        # The draft classifies as the live pack does: classify once, route twice.
        found, _ = classifications(history, live, lambda _s, x: progress("Classifying with the live pack", x))
        live_decided, draft_decided = decide(history, found, live), decide(history, found, draft)
        if live_decided == draft_decided and _same_simulation(live, draft):
            progress("Simulating the live pack's week", 0.0)
            live_run = draft_run = run(history, live_decided, live, seed=seed)
        else:
            live_run, draft_run = in_parallel(
                lambda: run(history, live_decided, live, seed=seed),
                lambda: run(history, draft_decided, draft, seed=seed),
                enabled=parallel and len(history) >= PARALLEL_FROM,
            )
    else:
        (live_decided, live_run), (draft_decided, draft_run) = in_parallel(
            live_side, draft_side, enabled=parallel and len(history) >= PARALLEL_FROM
        )
    progress("Comparing", 0.0)
    out = compare(
        history,
        live_decided,
        draft_decided,
        live_run.assignees,
        draft_run.assignees,
        frozenset(q.id for q in live.spec.queues if q.clinical),
        frozenset(q.id for q in draft.spec.queues if q.clinical),
    )
    out["metrics"] = {"live": metrics_summary(live_run.metrics), "draft": metrics_summary(draft_run.metrics)}
    out["reused"] = {"live": live_reused, "draft_classifier_unchanged": same_classifier}
    out["seconds"] = round(clock() - started, 2)
    return out


#: Below this many items, a second process costs more than it saves.
PARALLEL_FROM = 2_000

A = TypeVar("A")
B = TypeVar("B")


def in_parallel(first: Callable[[], A], second: Callable[[], B], *, enabled: bool = True) -> tuple[A, B]:
    """`first` in a forked child process while this process runs `second`; in turn when that is not possible.

    Both are pure computations: the child only computes and sends its result back
    through a pipe (it touches no connection, file or lock it inherited), and exits
    with os._exit, as multiprocessing's forked children do.
    """
    if not enabled or "fork" not in multiprocessing.get_all_start_methods():
        return first(), second()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        try:
            send.send(("ok", first()))
        except BaseException as exc:  # the parent falls back to running it itself
            send.send(("failed", type(exc).__name__))
        finally:
            send.close()

    process = context.Process(target=child, daemon=True)
    try:
        process.start()
    except OSError:
        return first(), second()
    send.close()
    try:
        mine = second()
        try:
            status, theirs = receive.recv()
        except EOFError:
            status, theirs = "failed", None
    finally:
        receive.close()
        process.join(timeout=5)
    if status != "ok":
        return first(), mine
    return theirs, mine


def _fingerprint(pack: LoadedPack) -> str | None:
    rules = pack.classifier_rules
    fingerprint = getattr(rules, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else None
