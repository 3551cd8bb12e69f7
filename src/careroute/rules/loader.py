"""Load a rule pack from YAML, validate it, and give it a content-hash version.

A bad pack fails with one message per problem naming the file, the line and
the field path, e.g. ``primary_care.yaml, line 41, routing[2].queue: unknown
queue 'billng'``. Pack text may contain example patient phrases but never PHI,
so echoing a field path is safe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from careroute.calendar import BusinessCalendar
from careroute.rules.schema import Loc, RulePack, cross_check


class PackError(ValueError):
    """A rule pack that cannot be used; `problems` lists each as 'file, line N, field: message'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"rule pack {source} is not valid:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class LoadedPack:
    """A validated pack, its version (content hash) and the classifier rules built from it."""

    spec: RulePack
    version: str
    source: str
    text: str
    classifier_rules: Any = field(repr=False, default=None)
    calendar: BusinessCalendar = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "calendar", BusinessCalendar(self.spec.calendar))

    @property
    def queue_ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.spec.queues)

    @property
    def queue_names(self) -> dict[str, str]:
        return {q.id: q.name for q in self.spec.queues}


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest YAML node that the pydantic location reaches."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _problem(source: str, root: yaml.Node | None, loc: Loc, message: str) -> str:
    line = _line_of(root, loc)
    where = f"{source}, line {line}" if line else source
    return f"{where}, {_format_loc(loc)}: {message}"


def _version(data: Any, extra: Iterable[str]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode())
    for part in extra:
        digest.update(part.encode())
    return digest.hexdigest()[:12]


ClassifierLoader = Callable[[dict[str, Any]], Any]


def _classifier_loader_for(base_dir: Path | None) -> ClassifierLoader:
    def load(section: dict[str, Any]) -> Any:
        from careroute.classify import ClassifierRules

        # A relative `model:` path is read from the pack's own folder, not the working directory.
        return ClassifierRules.from_mapping(section, base_dir=base_dir)

    return load


def load_pack_text(
    text: str,
    source: str = "<pack>",
    classifier_loader: ClassifierLoader | None = None,
    base_dir: Path | None = None,
) -> LoadedPack:
    """Validate pack text; raise PackError naming every problem found."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "not valid YAML"
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and (mark is None or start.line != mark.line):
            reason += f" ({context}, which starts on line {start.line + 1})"
        raise PackError(source, [f"{source}{line}: {reason}"]) from None
    if not isinstance(data, dict):
        raise PackError(source, [f"{source}: a rule pack is a mapping with pack, queues, tags, routing, staff"])
    try:
        spec = RulePack.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(source, root, tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        raise PackError(source, problems) from None
    problems = [_problem(source, root, loc, msg) for loc, msg in cross_check(spec)]
    if problems:
        raise PackError(source, problems)
    loader = classifier_loader or _classifier_loader_for(base_dir)
    try:
        classifier_rules = loader(dict(spec.classifier))
    except ValueError as exc:
        raise PackError(source, [_problem(source, root, ("classifier",), str(exc))]) from None
    fingerprint = getattr(classifier_rules, "fingerprint", None)
    extra = [fingerprint()] if callable(fingerprint) else []
    return LoadedPack(
        spec=spec,
        version=_version(spec.model_dump(mode="json"), extra),
        source=source,
        text=text,
        classifier_rules=classifier_rules,
    )


def load_pack(path: str | Path, classifier_loader: ClassifierLoader | None = None) -> LoadedPack:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError(str(path), [f"{path}: cannot read ({exc.strerror})"]) from None
    return load_pack_text(text, source=path.name, classifier_loader=classifier_loader, base_dir=path.parent)
