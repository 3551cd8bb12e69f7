"""A rule pack as a plain-English document, and the differences between two packs in the same words.

The practice's dispatch policy should be readable by the people who own it:
`careroute rules explain` renders the routing table, queues, capacity,
calendar, service levels and escalation rules; `careroute rules diff` says
what a change would change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import markdown

from careroute import escalation
from careroute.escalation import EscalationPolicy
from careroute.rules.loader import LoadedPack
from careroute.rules.schema import RouteRule, RouteWhen, RulePack, StaffSpec
from careroute.sla import type_name

DAYS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat", "sun": "Sun"}


def _join(words: Sequence[str], last: str = "or") -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def _types(tags: Sequence[str]) -> str:
    return _join([type_name(t, plural=True) for t in tags])


def describe_when(when: RouteWhen) -> str:
    """The conditions of a routing rule as a phrase: 'emergent or urgent items, except prior authorisations'."""
    parts: list[str] = []
    subject = _types(when.type) if when.type else "items"
    if when.urgency:
        subject = f"{_join(list(when.urgency))} {subject}"
    if when.channel:
        subject += f" arriving by {_join(list(when.channel))}"
    parts.append(subject)
    if when.possible_danger:
        parts.append("that mention a possible danger sign (even with doubt)")
    if when.confidence_below is not None:
        parts.append(f"that the classifier is less than {when.confidence_below:.0%} sure of")
    if when.after_hours is True:
        parts.append("while the practice is closed (nights, weekends, holidays)")
    elif when.after_hours is False:
        parts.append("while the practice is open")
    if when.type_not:
        parts.append(f"except {_types(when.type_not)}")
    return " ".join(parts)


def describe_route(rule: RouteRule, queue_names: Mapping[str, str]) -> str:
    when = describe_when(rule.when)
    text = f"{when[0].upper()}{when[1:]} go to {queue_names.get(rule.queue, rule.queue)}"
    if rule.skills:
        text += f", to people with {_join(rule.skills, 'and')}"
    return text + "."


def describe_shifts(person: StaffSpec) -> str:
    if not person.shifts:
        return "always on shift"
    return "; ".join(f"{'/'.join(DAYS[d] for d in s.days)} {s.hours}" for s in person.shifts)


def explain_pack(pack: LoadedPack) -> str:
    """The whole pack as Markdown."""
    spec = pack.spec
    names = pack.queue_names
    out = [f"# {spec.pack.name}", "", f"Rule pack version `{pack.version}` ({pack.source}).", ""]
    if spec.pack.description:
        out += [spec.pack.description, ""]
    out += ["## Queues", ""]
    for q in spec.queues:
        who = f" Worked by {_join(list(q.requires))} only." if q.requires else ""
        kind = " (clinical)" if q.clinical else ""
        out.append(f"- **{q.name}**{kind}: {q.description}{who}")
    out += ["", "## Where each kind of work goes", ""]
    for tag, t in spec.tags.items():
        extra = f", weighing {t.effort} units of a person's capacity" if t.effort != 1 else ""
        out.append(f"- {type_name(tag, plural=True).capitalize()} go to {names.get(t.queue, t.queue)}{extra}.")
    out += ["", "## Routing rules", "", "Read top to bottom; the first rule that fits an item decides its queue.", ""]
    for i, rule in enumerate(spec.routing, 1):
        out.append(
            f"{i}. **{rule.id}**: {describe_route(rule, names)}"
            + (f" _{rule.description}_" if rule.description else "")
        )
    if not spec.routing:
        out.append("No routing rules: every item goes to its type's queue.")
    if spec.pilot is not None:
        out += [
            "",
            f"**Pilot:** {spec.pilot.fraction:.0%} of items are routed automatically; the rest go to "
            f"{names.get(spec.pilot.manual_queue, spec.pilot.manual_queue)} for manual dispatch. Possible danger is "
            "always routed to a clinician at once.",
        ]
    out += ["", "## Staff and capacity", ""]
    out.append("Each person is pushed work until their capacity (in effort units) is full; the least loaded first.")
    out.append("")
    for p in spec.staff:
        limits = "".join(f"; at most {n} in {names.get(q, q)}" for q, n in p.queue_capacity.items())
        skills = f"; speaks/handles {_join(p.skills, 'and')}" if p.skills else ""
        out.append(
            f"- **{p.name}** ({p.credential}): {_join([names.get(q, q) for q in p.queues], 'and')}; "
            f"capacity {p.capacity}{limits}{skills}; {describe_shifts(p)}."
        )
    if spec.rosters:
        out += ["", "## Paging rosters", ""]
        for name, entries in spec.rosters.items():
            out.append(f"- {name}: pages go to {_join(entries, 'then')}, one step for each page not acknowledged.")
    if spec.reroute_reasons:
        out += ["", "## Reasons a task may be rerouted", ""]
        out += [f"- `{r.code}`: {r.label}" for r in spec.reroute_reasons]
    out += ["", escalation.explain(spec.escalation, pack.calendar, spec.sla, queue_names=names)]
    return "\n".join(out).rstrip() + "\n"


def explain_html(pack: LoadedPack) -> str:
    body = markdown.markdown(explain_pack(pack), extensions=["extra"])
    title = pack.spec.pack.name
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _policy(spec: RulePack) -> EscalationPolicy:
    return EscalationPolicy(calendar=spec.calendar, sla=spec.sla, escalation=spec.escalation)


def _diff_routes(old: RulePack, new: RulePack, names: Mapping[str, str]) -> Iterator[str]:
    before = {r.id: r for r in old.routing}
    after = {r.id: r for r in new.routing}
    for rid, rule in after.items():
        if rid not in before:
            yield f"New routing rule {rid}: {describe_route(rule, names)}"
        elif rule != before[rid]:
            was, now = describe_route(before[rid], names), describe_route(rule, names)
            yield f'Routing rule {rid} changes: was "{was}", now "{now}"'
    for rid in before:
        if rid not in after:
            yield f"Routing rule {rid} is removed: {describe_route(before[rid], names)}"
    if [r.id for r in old.routing if r.id in after] != [r.id for r in new.routing if r.id in before]:
        yield "The order of the routing rules changes: " + ", ".join(r.id for r in new.routing)


def diff_packs(old_pack: LoadedPack, new_pack: LoadedPack) -> list[str]:
    """What changes from one pack to another, one plain sentence each."""
    old, new = old_pack.spec, new_pack.spec
    names = {**old_pack.queue_names, **new_pack.queue_names}
    out: list[str] = []
    old_q, new_q = {q.id: q for q in old.queues}, {q.id: q for q in new.queues}
    out += [f"New queue {new_q[q].name}." for q in new_q if q not in old_q]
    out += [f"Queue {old_q[q].name} is removed." for q in old_q if q not in new_q]
    for q in new_q.keys() & old_q.keys():
        if new_q[q].requires != old_q[q].requires:
            out.append(f"{new_q[q].name} is now worked by {_join(list(new_q[q].requires)) or 'anyone who serves it'}.")
    for tag, t in new.tags.items():
        o = old.tags.get(tag)
        kind = type_name(tag, plural=True).capitalize()
        if o is not None and o.queue != t.queue:
            out.append(f"{kind} go to {names.get(t.queue, t.queue)} instead of {names.get(o.queue, o.queue)}.")
        if o is not None and o.effort != t.effort:
            out.append(f"{kind} weigh {t.effort} units instead of {o.effort}.")
    out += list(_diff_routes(old, new, names))
    old_s, new_s = {p.id: p for p in old.staff}, {p.id: p for p in new.staff}
    out += [f"New staff member {new_s[p].name} ({new_s[p].credential})." for p in new_s if p not in old_s]
    out += [f"{old_s[p].name} leaves the roster." for p in old_s if p not in new_s]
    for pid in new_s.keys() & old_s.keys():
        a, b = old_s[pid], new_s[pid]
        if a.capacity != b.capacity:
            out.append(f"{b.name}'s capacity changes from {a.capacity} to {b.capacity}.")
        if a.queues != b.queues:
            out.append(f"{b.name} now works {_join([names.get(q, q) for q in b.queues], 'and')}.")
        if a.shifts != b.shifts:
            out.append(f"{b.name}'s shifts change to {describe_shifts(b)}.")
    if old.pilot != new.pilot:
        out.append(
            f"Pilot: {'off' if new.pilot is None else f'{new.pilot.fraction:.0%} routed automatically'}"
            f" (was {'off' if old.pilot is None else f'{old.pilot.fraction:.0%}'})."
        )
    out += escalation.diff(_policy(old), _policy(new), queue_names=names)
    return out
