"""Editing a rule pack from the pages' forms: pure functions over the pack's data.

Each edit takes the pack as plain data (what its YAML loads to) and one posted
form, and returns the new data with the problems found, each naming the field
in the pack's own terms (``staff[2].capacity``, ``routing[4].queue``). Nothing
here touches the store: the shell keeps drafts as YAML text and saves an edit
only when it has no problems.

The YAML stays the file format. A form edit writes the data back with
``dump``, which keeps every field but not the file's comments; the "edit as
text" view keeps whatever is typed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError

from careroute.calendar import WEEKDAYS as DAY_NAMES
from careroute.model import TAGS
from careroute.rules.loader import ClassifierLoader, LoadedPack, PackError, load_pack_text
from careroute.rules.schema import Loc, RulePack, cross_check

PackData = dict[str, Any]

CREDENTIALS = ("coordinator", "MA", "LPN", "RN", "NP", "PA", "MD", "DO")
URGENCIES = ("emergent", "urgent", "routine")
ESCALATION_STATUSES = ("unclaimed", "unresolved", "unacknowledged")
ACTIONS = ("notify", "page", "reassign", "raise_urgency")
#: The practice's own keyword rule of a tag; curated rules keep their lexicon ids.
PRACTICE_KEYWORD = "practice.{tag}"
MANUAL_QUEUE = {
    "id": "manual_dispatch",
    "name": "Manual dispatch",
    "description": "Pilot: items outside the automatic share, dispatched by a person.",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an edit: the pack field (or form field) and a sentence; never a message's text."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Edit:
    """The outcome of one form edit: the new data, what is wrong with it, and what changed (for the audit)."""

    data: PackData
    problems: tuple[Problem, ...] = ()
    changed: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


class DraftError(ValueError):
    """Draft text that is not a YAML mapping at all."""


def parse(text: str) -> PackData:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise DraftError(f"{where}{getattr(exc, 'problem', None) or 'not valid YAML'}") from None
    if not isinstance(data, dict):
        raise DraftError("a rule pack is a mapping with pack, queues, tags, routing, staff")
    return data


def dump(data: Mapping[str, Any]) -> str:
    """The pack data as YAML, sections in the order they were written."""
    header = "# Written by careroute's rule editor; published versions live in careroute's store.\n"
    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=110)


# -- validation ------------------------------------------------------------------------------------


def field_name(loc: Loc) -> str:
    """('staff', 2, 'capacity') -> 'staff[2].capacity'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(pack)"


_CLASSIFIER_PROBLEM = re.compile(r"^(classifier[\w.\[\]]*): (.*)$", re.S)


def check(data: Mapping[str, Any], classifier_loader: ClassifierLoader | None = None) -> list[Problem]:
    """Every problem of the pack data, each naming its field (empty: the pack loads)."""
    try:
        spec = RulePack.model_validate(dict(data))
    except ValidationError as exc:
        return [Problem(field_name(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
    problems = [Problem(field_name(loc), msg) for loc, msg in cross_check(spec)]
    if problems:
        return problems
    try:
        load_pack_text(dump(data), source="draft", classifier_loader=classifier_loader)
    except PackError as exc:
        out = []
        for line in exc.problems:
            # "draft, line 12, classifier: classifier.keywords[0].phrases[1]: ..." -> the innermost field.
            message = line.split(": ", 1)[1] if ": " in line else line
            found = _CLASSIFIER_PROBLEM.match(message)
            out.append(Problem(found.group(1), found.group(2)) if found else Problem("classifier", message))
        return out
    return []


def load(data: Mapping[str, Any], source: str, classifier_loader: ClassifierLoader | None = None) -> LoadedPack:
    """The loaded pack of valid data (raises PackError otherwise)."""
    return load_pack_text(dump(data), source=source, classifier_loader=classifier_loader)


# -- reading form values ---------------------------------------------------------------------------


def words(value: str | None) -> list[str]:
    """'a, b c' -> ['a', 'b', 'c']: lists are typed comma- or space-separated."""
    return [w for w in re.split(r"[,\s]+", value or "") if w]


def lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _number(form: Mapping[str, str], name: str, where: str, kind: Callable[[str], Any], problems: list[Problem]) -> Any:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        problems.append(Problem(where, "a whole number" if kind is int else "a number"))
        return None


def _index(form: Mapping[str, str], items: list[Any], where: str, problems: list[Problem]) -> int | None:
    """The list position a form edits ('new' or blank: None)."""
    raw = (form.get("index") or "new").strip()
    if raw == "new":
        return None
    if raw.isdigit() and int(raw) < len(items):
        return int(raw)
    problems.append(Problem(where, "no such entry: reload the page"))
    return None


def _set_or_drop(target: dict[str, Any], key: str, value: Any) -> None:
    if value in (None, "", [], {}):
        target.pop(key, None)
    else:
        target[key] = value


def _tristate(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip())


def _finish(
    old: Mapping[str, Any],
    new: PackData,
    problems: list[Problem],
    changed: Iterable[str],
    classifier_loader: ClassifierLoader | None,
) -> Edit:
    if problems:
        return Edit(new, tuple(problems), tuple(changed))
    if new == old:
        return Edit(new, (), ())
    if classifier_loader is None and new.get("classifier") == old.get("classifier"):
        # The classifier section is as it was (and was valid): skip compiling it, the slow part of a check.
        classifier_loader = _unchanged_classifier
    return Edit(new, tuple(check(new, classifier_loader)), tuple(changed))


def _unchanged_classifier(_section: dict[str, Any]) -> None:
    return None


# -- the sections ----------------------------------------------------------------------------------


def keywords_of(data: Mapping[str, Any], tag: str) -> dict[str, Any] | None:
    """The practice's own keyword rule of a tag, if the pack has one."""
    rule_id = PRACTICE_KEYWORD.format(tag=tag)
    for rule in (data.get("classifier") or {}).get("keywords") or []:
        if isinstance(rule, dict) and rule.get("id") == rule_id:
            return rule
    return None


def edit_keywords(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """The practice's phrases for one tag (one per line); no phrases removes the practice's rule."""
    new = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    tag = (form.get("tag") or "").strip()
    if tag not in TAGS:
        return Edit(new, (Problem("tag", "choose one of the taxonomy's tags"),))
    classifier = dict(new.get("classifier") or {})
    rules = [
        r for r in classifier.get("keywords") or [] if not (isinstance(r, dict) and r.get("id") == f"practice.{tag}")
    ]
    position = next(
        (
            i
            for i, r in enumerate(classifier.get("keywords") or [])
            if isinstance(r, dict) and r.get("id") == f"practice.{tag}"
        ),
        len(rules),
    )
    phrases = list(dict.fromkeys(lines(form.get("phrases"))))
    weight = _number(form, "weight", f"classifier.keywords[{position}].weight", float, problems)
    if phrases:
        rule: dict[str, Any] = {"id": PRACTICE_KEYWORD.format(tag=tag), "tag": tag, "phrases": phrases}
        if weight is not None:
            rule["weight"] = weight
        if form.get("count_negated"):
            rule["negatable"] = False
        rules.insert(position, rule)
    classifier["keywords"] = rules
    if not rules:
        classifier.pop("keywords")
    new["classifier"] = classifier
    return _finish(data, new, problems, [f"classifier.keywords ({tag})"], loader)


def edit_route(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """One routing rule: save (new or existing), delete, or move it up or down the table."""
    new = copy.deepcopy(dict(data))
    routing: list[dict[str, Any]] = [dict(r) for r in new.get("routing") or []]
    problems: list[Problem] = []
    index = _index(form, routing, "routing", problems)
    action = form.get("action", "save")
    if problems:
        return Edit(new, tuple(problems))
    if index is not None and action == "delete":
        gone = routing.pop(index)
        new["routing"] = routing
        return _finish(data, new, [], [f"routing: removed {gone.get('id')}"], loader)
    if index is not None and action in ("up", "down"):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(routing):
            routing[index], routing[other] = routing[other], routing[index]
        new["routing"] = routing
        return _finish(
            data,
            new,
            [],
            [f"routing: order of {routing[other if 0 <= other < len(routing) else index].get('id')}"],
            loader,
        )
    at = len(routing) if index is None else index
    rule = {} if index is None else dict(routing[index])
    where = f"routing[{at}]"
    if index is None:
        rule["id"] = (form.get("id") or "").strip()
    rule["description"] = (form.get("description") or "").strip()
    rule["queue"] = (form.get("queue") or "").strip()
    when: dict[str, Any] = {}
    for key in ("type", "type_not", "urgency", "channel"):
        _set_or_drop(when, key, words(form.get(f"when_{key}")))
    for key in ("possible_danger", "after_hours"):
        _set_or_drop(when, key, _tristate(form.get(f"when_{key}")))
    _set_or_drop(
        when,
        "confidence_below",
        _number(form, "when_confidence_below", f"{where}.when.confidence_below", float, problems),
    )
    rule["when"] = when
    _set_or_drop(rule, "skills", words(form.get("skills")))
    if not rule["description"]:
        rule.pop("description")
    if index is None:
        routing.append(rule)
    else:
        routing[index] = rule
    new["routing"] = routing
    return _finish(data, new, problems, [f"routing: {rule.get('id')}"], loader)


def edit_queue(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """One queue: its name, description, whether it is clinical and the credentials it requires."""
    new = copy.deepcopy(dict(data))
    queues: list[dict[str, Any]] = [dict(q) for q in new.get("queues") or []]
    problems: list[Problem] = []
    index = _index(form, queues, "queues", problems)
    if problems:
        return Edit(new, tuple(problems))
    queue: dict[str, Any] = {"id": (form.get("id") or "").strip()} if index is None else dict(queues[index])
    queue["name"] = (form.get("name") or "").strip()
    _set_or_drop(queue, "description", (form.get("description") or "").strip())
    _set_or_drop(queue, "clinical", True if form.get("clinical") else None)
    _set_or_drop(queue, "requires", [c for c in CREDENTIALS if form.get(f"requires_{c}")])
    if index is None:
        queues.append(queue)
    else:
        queues[index] = queue
    new["queues"] = queues
    return _finish(data, new, problems, [f"queues: {queue.get('id')}"], loader)


_SHIFT = re.compile(r"^(?P<days>[a-z ,]+?)\s+(?P<hours>\d\d:\d\d-\d\d:\d\d)$")


def parse_shifts(text: str | None, where: str, problems: list[Problem]) -> list[dict[str, Any]]:
    """'mon tue wed 08:00-17:00' per line -> shift entries."""
    out = []
    for n, line in enumerate(lines(text)):
        found = _SHIFT.match(line.lower())
        if not found:
            problems.append(Problem(f"{where}[{n}]", "write days then hours, e.g. 'mon tue wed 08:00-17:00'"))
            continue
        out.append({"days": words(found.group("days")), "hours": found.group("hours")})
    return out


def shifts_text(shifts: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(f"{' '.join(s.get('days') or [])} {s.get('hours', '')}" for s in shifts)


def parse_pairs(text: str | None, where: str, problems: list[Problem], sep: str = ":") -> dict[str, str]:
    """'key: value' per line (or 'key=value' in one line, comma-separated, with sep '=')."""
    out: dict[str, str] = {}
    parts = lines(text) if sep == ":" else [p for p in re.split(r"[,\n]", text or "") if p.strip()]
    for n, part in enumerate(parts):
        key, found, value = part.partition(sep)
        if not found or not key.strip() or not value.strip():
            problems.append(Problem(f"{where}[{n}]", f"write 'name{sep} value'"))
            continue
        out[key.strip()] = value.strip()
    return out


def edit_staff(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """One staff member: credential, queues, capacity thresholds and weekly shifts (or remove them)."""
    new = copy.deepcopy(dict(data))
    staff: list[dict[str, Any]] = [dict(p) for p in new.get("staff") or []]
    problems: list[Problem] = []
    index = _index(form, staff, "staff", problems)
    if problems:
        return Edit(new, tuple(problems))
    if index is not None and form.get("action") == "delete":
        gone = staff.pop(index)
        new["staff"] = staff
        return _finish(data, new, [], [f"staff: removed {gone.get('id')}"], loader)
    at = len(staff) if index is None else index
    where = f"staff[{at}]"
    person: dict[str, Any] = {"id": (form.get("id") or "").strip()} if index is None else dict(staff[index])
    person["name"] = (form.get("name") or "").strip()
    person["credential"] = (form.get("credential") or "").strip()
    _set_or_drop(person, "email", (form.get("email") or "").strip())
    person["queues"] = words(form.get("queues"))
    _set_or_drop(person, "skills", words(form.get("skills")))
    capacity = _number(form, "capacity", f"{where}.capacity", int, problems)
    _set_or_drop(person, "capacity", capacity)
    limits: dict[str, int] = {}
    for queue, raw in parse_pairs(form.get("queue_capacity"), f"{where}.queue_capacity", problems, "=").items():
        if raw.isdigit():
            limits[queue] = int(raw)
        else:
            problems.append(Problem(f"{where}.queue_capacity.{queue}", "a whole number"))
    _set_or_drop(person, "queue_capacity", limits)
    _set_or_drop(person, "shifts", parse_shifts(form.get("shifts"), f"{where}.shifts", problems))
    if index is None:
        staff.append(person)
    else:
        staff[index] = person
    new["staff"] = staff
    return _finish(data, new, problems, [f"staff: {person.get('id')}"], loader)


def _date_lines(text: str | None, where: str, problems: list[Problem]) -> list[tuple[date, str]]:
    out = []
    for n, line in enumerate(lines(text)):
        head, _, rest = line.partition(" ")
        try:
            out.append((date.fromisoformat(head), rest.strip()))
        except ValueError:
            problems.append(Problem(f"{where}[{n}]", "start with a date, YYYY-MM-DD"))
    return out


def edit_calendar(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """Time zone, weekly hours, holidays, closures and special hours."""
    new = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    calendar = dict(new.get("calendar") or {})
    calendar["timezone"] = (form.get("timezone") or "").strip()
    hours: dict[str, list[str]] = {}
    for day in DAY_NAMES:
        spans = words(form.get(f"hours_{day}"))
        if spans:
            hours[day] = spans
    calendar["hours"] = hours
    calendar["us_federal_holidays"] = bool(form.get("us_federal_holidays"))
    closures = {}
    for when, name in _date_lines(form.get("closures"), "calendar.closures", problems):
        closures[when] = name or "closed"
    calendar["closures"] = closures
    special: dict[date, list[str]] = {}
    for when, text in _date_lines(form.get("special_hours"), "calendar.special_hours", problems):
        special[when] = [] if text.lower() in ("", "closed") else words(text)
    calendar["special_hours"] = special
    new["calendar"] = calendar
    return _finish(data, new, problems, ["calendar"], loader)


def edit_sla(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """Claim targets per urgency and per type, resolve targets per type (durations as the practice says them)."""
    new = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    sla = dict(new.get("sla") or {})
    claim: dict[str, Any] = {}
    for urgency in URGENCIES:
        _set_or_drop(claim, urgency, (form.get(f"claim_{urgency}") or "").strip())
    _set_or_drop(claim, "by_type", parse_pairs(form.get("claim_by_type"), "sla.claim.by_type", problems))
    resolve: dict[str, Any] = dict(sla.get("resolve") or {})
    _set_or_drop(resolve, "by_type", parse_pairs(form.get("resolve_by_type"), "sla.resolve.by_type", problems))
    sla["claim"] = claim
    _set_or_drop(sla, "resolve", resolve)
    new["sla"] = sla
    return _finish(data, new, problems, ["sla"], loader)


def after_text(after: Any) -> str:
    if isinstance(after, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in after.items())
    return "" if after is None else str(after)


def _after(text: str) -> Any:
    """'2 business hours' or 'sla: claim' or 'sla: p2p_due, before_due: 4 hours'."""
    if text.startswith("sla:"):
        return dict(parse_pairs(text.replace(",", "\n"), "after", []))
    return text


def edit_escalation(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """One escalation rule: when, after how long, what to do (and whom to tell), how often to repeat."""
    new = copy.deepcopy(dict(data))
    escalation = dict(new.get("escalation") or {})
    rules: list[dict[str, Any]] = [dict(r) for r in escalation.get("rules") or []]
    problems: list[Problem] = []
    index = _index(form, rules, "escalation.rules", problems)
    if problems:
        return Edit(new, tuple(problems))
    if index is not None and form.get("action") == "delete":
        gone = rules.pop(index)
        escalation["rules"] = rules
        new["escalation"] = escalation
        return _finish(data, new, [], [f"escalation: removed {gone.get('id')}"], loader)
    at = len(rules) if index is None else index
    where = f"escalation.rules[{at}]"
    rule: dict[str, Any] = {"id": (form.get("id") or "").strip()} if index is None else dict(rules[index])
    _set_or_drop(rule, "description", (form.get("description") or "").strip())
    when: dict[str, Any] = {}
    for key in ("type", "urgency", "queue"):
        _set_or_drop(when, key, words(form.get(f"when_{key}")))
    when["status"] = (form.get("when_status") or "unclaimed").strip()
    rule["when"] = when
    rule["after"] = _after((form.get("after") or "").strip())
    do = (form.get("action_do") or "").strip()
    action: dict[str, Any] = {"do": do}
    target = (form.get("action_target") or "").strip()
    slot: str | None = {"notify": "role", "page": "roster", "reassign": "queue", "raise_urgency": "to"}.get(do)
    if slot == "role" and "@" in target:
        slot = "email"
    elif slot == "role" and target.startswith("http"):
        slot = "webhook"
    if slot is not None and target:
        action[slot] = target
    rule["action"] = action
    _set_or_drop(rule, "repeat_every", (form.get("repeat_every") or "").strip())
    _set_or_drop(rule, "max_times", _number(form, "max_times", f"{where}.max_times", int, problems))
    if index is None:
        rules.append(rule)
    else:
        rules[index] = rule
    escalation["rules"] = rules
    new["escalation"] = escalation
    return _finish(data, new, problems, [f"escalation: {rule.get('id')}"], loader)


def edit_role(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """A notification target (an escalation role): who it is and where alerts go."""
    new = copy.deepcopy(dict(data))
    escalation = dict(new.get("escalation") or {})
    roles = {k: dict(v) for k, v in (escalation.get("roles") or {}).items()}
    name = (form.get("role") or "").strip()
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        return Edit(new, (Problem("escalation.roles", "a role name is lower-case letters, digits and _"),))
    if form.get("action") == "delete":
        roles.pop(name, None)
    else:
        role = roles.get(name, {})
        role["title"] = (form.get("title") or "").strip()
        for key in ("person", "email", "webhook"):
            _set_or_drop(role, key, (form.get(key) or "").strip())
        roles[name] = role
    escalation["roles"] = roles
    new["escalation"] = escalation
    return _finish(data, new, [], [f"escalation.roles: {name}"], loader)


def edit_pilot(data: Mapping[str, Any], form: Mapping[str, str], loader: ClassifierLoader | None = None) -> Edit:
    """The pilot's automatic share in percent (blank or 100 with 'off' ends the pilot)."""
    new = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    percent = _number(form, "fraction", "pilot.fraction", float, problems)
    if problems:
        return Edit(new, tuple(problems))
    if percent is None:
        new.pop("pilot", None)
        return _finish(data, new, [], ["pilot: off"], loader)
    if not 0 <= percent <= 100:
        return Edit(new, (Problem("pilot.fraction", "a percentage from 0 to 100"),))
    pilot = dict(new.get("pilot") or {})
    pilot["fraction"] = round(percent / 100, 4)
    manual = pilot.get("manual_queue", MANUAL_QUEUE["id"])
    if manual not in {q.get("id") for q in new.get("queues") or [] if isinstance(q, dict)}:
        # The manual arm needs somewhere to wait: add the queue rather than refuse the change.
        new["queues"] = [*(new.get("queues") or []), dict(MANUAL_QUEUE, id=manual)]
    new["pilot"] = pilot
    return _finish(data, new, [], [f"pilot: {percent:g}%"], loader)


SECTIONS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str], ClassifierLoader | None], Edit]] = {
    "keywords": edit_keywords,
    "route": edit_route,
    "queue": edit_queue,
    "staff": edit_staff,
    "calendar": edit_calendar,
    "sla": edit_sla,
    "escalation": edit_escalation,
    "role": edit_role,
    "pilot": edit_pilot,
}


def edit(
    data: Mapping[str, Any], section: str, form: Mapping[str, str], loader: ClassifierLoader | None = None
) -> Edit:
    """Apply one section's form to the pack data."""
    edit_section = SECTIONS.get(section)
    if edit_section is None:
        return Edit(dict(data), (Problem("section", "no such section"),))
    return edit_section(data, form, loader)


def edit_text(text: str, loader: ClassifierLoader | None = None) -> tuple[PackData | None, list[Problem]]:
    """The 'edit as text' view: the whole pack as YAML, checked like any edit."""
    try:
        data = parse(text)
    except DraftError as exc:
        return None, [Problem("text", str(exc))]
    return data, check(data, loader)


def _phrases_by_tag(classifier: Mapping[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in classifier.get("keywords") or []:
        if isinstance(rule, Mapping):
            out.setdefault(str(rule.get("tag")), set()).update(str(p) for p in rule.get("phrases") or [])
    return out


def describe_changes(old: RulePack, new: RulePack) -> list[str]:
    """What `rules diff` does not say: the practice's own phrases per tag and queues turning clinical or not."""
    from careroute.sla import type_name

    out: list[str] = []
    before, after = _phrases_by_tag(old.classifier), _phrases_by_tag(new.classifier)
    for tag in sorted(before.keys() | after.keys()):
        added, removed = after.get(tag, set()) - before.get(tag, set()), before.get(tag, set()) - after.get(tag, set())
        kind = type_name(tag, plural=True).capitalize() if tag in TAGS else tag
        if added:
            out.append(f"{kind} are also recognised by: {', '.join(repr(p) for p in sorted(added))}.")
        if removed:
            out.append(f"{kind} are no longer recognised by: {', '.join(repr(p) for p in sorted(removed))}.")
    old_q = {q.id: q for q in old.queues}
    for q in new.queues:
        was = old_q.get(q.id)
        if was is not None and was.clinical != q.clinical:
            out.append(f"{q.name} is {'now' if q.clinical else 'no longer'} a clinical queue.")
    return out
