"""Lab results: the lab's own flag first, then the critical-value table, sterile-site cultures,
and a report that says a critical result was called."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from careroute.model import InboundItem

from .compiled import LAB_CRITICAL_TEXT, Payload
from .context import ContextIndex
from .normalise import fold
from .phrases import Hit

_NUMBER = re.compile(r"(?<![\w.])[<>]?=?\s*(-?\d+(?:\.\d+)?)")
_NAME_SPLIT = re.compile(r"[^a-z0-9+^%]+")


@dataclass(frozen=True, slots=True)
class LabVerdict:
    urgent: bool
    rule_id: str
    reason: str
    confidence: float


def is_lab(item: InboundItem) -> bool:
    return item.channel == "lab"


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> tuple[str, ...]:
    return tuple(w.replace("+", "") for w in _NAME_SPLIT.split(fold(text)) if w.replace("+", ""))


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def _units(raw: object) -> str:
    text = fold(str(raw or "")).replace("μ", "u").replace(" ", "")
    return text


def _value(raw: object) -> float | None:
    match = _NUMBER.search(str(raw or ""))
    return float(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class _Table:
    """The critical-value table prepared once per rules object: names split into words and
    indexed by every word they contain, and the analyte found for each test name seen so far."""

    source: Sequence[Mapping[str, Any]]
    by_word: Mapping[str, tuple[tuple[int, frozenset[str]], ...]]
    not_if: tuple[tuple[tuple[str, ...], ...], ...]
    found: dict[tuple[str, ...], Mapping[str, Any] | None]


_TABLES: dict[int, _Table] = {}


def _table(source: Sequence[Mapping[str, Any]]) -> _Table:
    cached = _TABLES.get(id(source))
    if cached is None or cached.source is not source:
        by_word: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for index, entry in enumerate(source):
            for name in entry["names"]:
                words = frozenset(_words(name))
                for word in words:
                    by_word.setdefault(word, []).append((index, words))
        not_if = tuple(tuple(_words(x) for x in entry.get("not_if", ())) for entry in source)
        cached = _TABLES[id(source)] = _Table(source, {k: tuple(v) for k, v in by_word.items()}, not_if, {})
    return cached


def _analyte(test_words: tuple[str, ...], source: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The table entry whose name is in the test name (longest name wins, then table order),
    unless the test name says it is another test ("urine potassium").

    A name's words may come in any order and be split by commas or brackets: "Bilirubin, Total
    (Neonatal)" names the neonatal bilirubin, "Glucose, Plasma" the glucose.
    """
    table = _table(source)
    if test_words in table.found:
        return table.found[test_words]
    present = set(test_words)
    best: tuple[int, int] | None = None  # (-name length, entry index): smallest wins
    for word in present:
        for index, name in table.by_word.get(word, ()):
            key = (-len(name), index)
            excluded = any(_contains(test_words, x) for x in table.not_if[index])
            if (best is None or key < best) and present.issuperset(name) and not excluded:
                best = key
    result = source[best[1]] if best is not None else None
    if len(table.found) < 50_000:
        table.found[test_words] = result
    return result


def _limit_waived(entry: Mapping[str, Any], folded_text: str) -> bool:
    """The report says why the limit does not apply ("on maintenance hemodialysis" for a creatinine)."""
    return any(re.search(rf"\b{re.escape(fold(w))}\b", folded_text) for w in entry.get("not_when", ()))


def read_lab(
    item: InboundItem, hits: Sequence[Hit[Payload]], context: ContextIndex, labs: Mapping[str, Any]
) -> LabVerdict:
    meta = item.metadata
    flag = str(meta.get("abnormal_flag") or "").strip().upper()
    if flag and flag in {str(f).upper() for f in labs["urgent_flags"]}:
        return LabVerdict(True, f"lab.flag.{flag}", f"lab.flag.{flag}: the lab flagged a panic value ({flag})", 0.97)
    test = str(meta.get("test") or item.subject or "")
    test_words = _words(test)
    value_text = str(meta.get("value") or "")

    sterile = labs["sterile_sites"]
    if any(_contains(test_words, _words(name)) for name in sterile["names"]):
        result = " ".join(_words(f"{value_text} {item.body}"))
        # "gram negative rods" is growth and "no growth" is not: mask the negatives before looking
        # for organisms, and let an organism win over a negative word elsewhere in the report.
        result = result.replace("gram negative", "gram").replace("gram positive", "gram")
        masked = f" {result} "
        for phrase in sorted((" ".join(_words(w)) for w in sterile["negative"]), key=len, reverse=True):
            masked = masked.replace(f" {phrase} ", " | ")
        grew = any(_contains(tuple(masked.split()), _words(w)) for w in sterile["positive"])
        if not grew and "|" in masked:
            return LabVerdict(False, "lab.sterile_site.negative", "lab.sterile_site.negative: no growth", 0.9)
        if grew:
            return LabVerdict(
                True,
                "lab.sterile_site.positive",
                "lab.sterile_site.positive: a culture that should be sterile grew an organism",
                0.95,
            )

    entry = _analyte(test_words, labs["critical"])
    if entry is not None and _limit_waived(entry, fold(item.text)):
        entry = None
    value = _value(value_text)
    if value is not None and (past := _past_limit(entry, value, _units(meta.get("units")))) is not None:
        rule, limit = past
        side = "below" if rule.endswith(".low") else "above"
        return LabVerdict(True, rule, f"{rule}: {value:g} is at or {side} the critical limit {limit}", 0.95)

    for hit in hits:
        if hit.payload[0] == LAB_CRITICAL_TEXT and context.reading(hit.start, hit.end).counted:
            return LabVerdict(True, "lab.critical_text", "lab.critical_text: the report calls a critical result", 0.9)

    if flag:
        return LabVerdict(False, f"lab.flag.{flag}", f"lab.flag.{flag}: not a panic flag, value not past a limit", 0.93)
    return LabVerdict(False, "lab.routine", "lab.routine: no flag and no value past a critical limit", 0.85)


# ----------------------------------------------------------------------------- reports as text
# A result faxed or e-mailed by a lab (a hospital outreach lab, a health department) has no
# structured fields: each result is a line of a test name, a value and, most often, the
# reference range. Reading those lines lets the critical-value table judge a faxed INR as it
# judges one from the feed.

#: "INR ........ 6.8   (0.8 - 1.2)", "Potassium: 6.4 mmol/L H", "Result: 2 mcg/dL"
_RESULT_LINE = re.compile(
    r"^\s*(?P<name>[a-z][a-z0-9,/()+^'-]*(?: [a-z0-9,/()+^'-]+){0,4}?)(?P<sep>\s*(?:\.{2,}|:)\s*|\s+)"
    r"(?P<value>[<>]?\s?-?\d+(?:\.\d+)?)(?![\d/:.-])\s*(?P<units>[a-z%µμ*^0-9]+(?:/[a-z0-9]+)?)?",
)
#: a reference range right after the value: "(0.8 - 1.2)", "3.5-5.1", "ref 0.8-1.2", "(< 3.5)"
_RANGE = re.compile(
    r"^[^\n]{0,12}?(?:\(\s*|\s(?:ref\w*|normal|range)\W*)[<>]?\s*\d+(?:\.\d+)?\s*(?:(?:-|–|to)\s*\d+(?:\.\d+)?)?\s*\)?"
    r"|^\s+\d+(?:\.\d+)?\s*(?:-|–)\s*\d+(?:\.\d+)?\b"
)
_REFERENCE = re.compile(r"^[^\n]{0,20}\b(?:reference|ref)\b")
#: a lab flag after the value, bare or in brackets: "6.4 H", "6.8 (HH)", "116 [LL]", "7.9 *CRIT*"
_FLAG_AFTER = re.compile(r"^(?:\s+|\s*[(\[*])\s*(?:hh|ll|h|l|high|low|critical|crit|abnormal|a)\b")
_TEST_LABEL = re.compile(
    r"^\s*(?:test|test name|analyte|component|procedure)\s*:\s*(?P<name>[^\n:]{2,60}?)\s*(?:\s{2,}|$)"
)
_RESULT_LABEL = re.compile(r"^\s*(?:result|value|results)\s*:\s*")
#: Words a lab report says of itself; one result line needs one of them to be read as a report.
_REPORT_WORDS = re.compile(
    r"\b(?:lab|laboratory|collected|specimen|accession|result|results|reference|resulted|reported|ordering"
    r"|point-of-care|point of care|poc|coaguchek|fingerstick|goal range|target range|therapeutic range)\b"
)


#: A lab calling a critical result, as a call centre or the on-call note writes it down.
_CALLED_CRITICAL = re.compile(r"\b(?:critical|panic) (?:value|values|result|results|lab|call)\b")


@dataclass(frozen=True, slots=True)
class ReportedResult:
    """One result line of a lab report written as text. Holds a result value (PHI): never logged."""

    analyte: str | None  # the critical table's analyte, or None for a test the table does not know
    value: float
    units: str
    critical: str | None  # the rule id when past a critical limit


_SPACES = re.compile(r"\s{3,}")
#: words that may follow a value without being its units
_NOT_UNITS = frozenset({"goal", "target", "therapeutic", "normal", "range", "ref", "reference", "expected", "desired"})
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s+(?=[a-z])")
_AFTER_COLON = re.compile(r"(?<=[a-z0-9)]):\s+(?=[a-z])")


def read_report_lines(text: str, labs: Mapping[str, Any]) -> list[ReportedResult]:
    """The result lines of a lab report written as text, or [] when the text is not one.

    A line counts as a result when a test name and a value come with a reference range, a lab
    flag or units the critical table knows for that test; a bare "Result:" line takes the
    test name from a "Test:" line before it.
    """
    folded = fold(text)
    if not _REPORT_WORDS.search(folded):
        return []
    source = labs["critical"]
    called_critical = _CALLED_CRITICAL.search(folded) is not None
    out: list[ReportedResult] = []
    test_name: str | None = None
    seen: set[tuple[str | None, float, str]] = set()
    for line in _report_lines(folded):
        if (label := _TEST_LABEL.match(line)) is not None:
            test_name = label.group("name")
            rest = line[label.end() :]
            if (m := _RESULT_LABEL.search(rest)) is None:
                continue
            line = rest
        labelled = False  # the line says it is a result ("Result: ...")
        if (m := _RESULT_LABEL.match(line)) is not None and test_name:
            rest = line[m.end() :]
            # "Result: INR 8.2 (...)" names its test again; "Result: 2 mcg/dL" takes the Test: line's name
            line = rest if rest[:1].isalpha() else f"{test_name}: {rest}"
            labelled = True
        m = _RESULT_LINE.match(line)
        if m is None:
            continue
        name = m.group("name").strip(" ,.-")
        tail = line[m.end() :]
        entry = _analyte(_words(name), source) if name else None
        units = _units(m.group("units"))
        known_units = entry is not None and any(
            units in {_units(u) for u in lim["units"]} for lim in entry.get("limits", ())
        )
        if entry is not None and not known_units and units in _NOT_UNITS:
            units = ""  # "INR: 7.4   Goal range 2.0-3.0": the word after the value starts the range
            known_units = any("" in {_units(u) for u in lim["units"]} for lim in entry.get("limits", ()))
        ranged = bool(_RANGE.match(tail) or _REFERENCE.match(tail))
        if entry is None and not (ranged and m.group("sep").strip()):
            continue  # a test the table does not know is a result only as "NAME .... 71.4 sec (9.6 - 11.8)"
        # A unitless test (INR) said with its value in a note of a lab's critical call ("calling a critical
        # value ... INR 7.8.") is that call's result, though no range, flag or unit follows it.
        called = (
            called_critical
            and entry is not None
            and not known_units
            and any("" in {_units(u) for u in lim["units"]} for lim in entry.get("limits", ()))
        )
        if called:
            units = ""  # "INR 6.9 drawn this afternoon": the word after the value is no unit
        called = called or (called_critical and known_units and not units)
        if not (ranged or labelled or _FLAG_AFTER.match(tail) or (known_units and units) or called):
            continue
        value = _value(m.group("value"))
        if value is None:
            continue
        limit_entry = None if entry is None or _limit_waived(entry, folded) else entry
        past = _past_limit(limit_entry, value, units)
        key = (entry["analyte"] if entry else name, value, units)
        if key in seen:
            continue  # read both as a whole row and as one of its cells
        seen.add(key)
        out.append(ReportedResult(entry["analyte"] if entry else None, value, units, past[0] if past else None))
    return out


def _report_lines(folded: str) -> Iterator[str]:
    """Each line, and each part of a line that holds several results.

    A summary may put several results on one line, split by bars ("Potassium 5.3 mmol/L | Phosphorus 6.1
    mg/dL") or by runs of spaces ("collected 10:05:   Potassium 2.5 mmol/L (3.5-5.1)   Sodium 136"). A
    table's row is also spaced ("Glucose, serum    574    mg/dL    70-99"), so a spaced row is read whole
    as well as in parts."""
    for row in folded.splitlines():
        for part in row.split("|"):
            yield part
            cells = _SPACES.split(part)
            if len(cells) > 1:
                yield from cells
            # a visit note's sentence that starts with the result: "Visit 02/10 07:20. INR (CoaguChek): 7.4"
            sentences = _SENTENCE_END.split(part)
            if len(sentences) > 1:
                yield from sentences[1:]
            # a call note's result after its lead-in: "reporting result for ..., ordered by Dr. B: hemoglobin 6.1 g/dL"
            for lead in _AFTER_COLON.finditer(part):
                yield part[lead.end() :]


def _past_limit(entry: Mapping[str, Any] | None, value: float, units: str) -> tuple[str, Any] | None:
    """(rule id, the limit crossed) when `value` in `units` is at or past the entry's critical limit.

    The first limit whose units match decides; a missing unit matches the limit that accepts "".
    """
    if entry is None:
        return None
    for limit in entry.get("limits", ()):
        accepted = {_units(u) for u in limit["units"]}
        if units in accepted or (not units and "" in accepted):
            low, high = limit.get("low"), limit.get("high")
            if low is not None and value <= float(low):
                return f"lab.critical.{entry['analyte']}.low", low
            if high is not None and value >= float(high):
                return f"lab.critical.{entry['analyte']}.high", high
            return None
    return None
