"""Prior-authorisation updates: always prior_auth_pending; urgent only when something is due today.

"Today" is the day the update was received, in the offset it was received with (the clinic's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from careroute.model import InboundItem

from .compiled import PA_GAP, PA_GAP_NOW, PA_TODAY, Payload
from .context import ContextIndex
from .normalise import ReadText, fold
from .phrases import Hit

_DEADLINE_KEYS = (
    "deadline",
    "due",
    "due_date",
    "due_at",
    "respond_by",
    "response_due",
    "appeal_deadline",
    "p2p_deadline",
    "peer_to_peer_at",
    "peer_to_peer_date",
    "p2p_at",
    "p2p_date",
)
_SERVICE_KEYS = (
    "service_date",
    "date_of_service",
    "appointment",
    "appointment_date",
    "scheduled_for",
    "scheduled_date",
)
_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_PERIOD_FROM = frozenset({"of", "from", "after", "since"})
_PERIOD_WORDS = frozenset({"within", "days", "day", "weeks", "week", "calendar", "business", "hours"})
#: Done, not due: "submitted by clinic staff 03/10", "reviewed by the plan today". The "by" after one of
#: these names who did it, not a deadline.
_DONE_BY = frozenset(
    {"submitted", "received", "sent", "faxed", "signed", "reviewed", "approved", "denied", "completed", "initiated"}
    | {"entered", "created", "processed", "dated", "requested", "updated", "started", "uploaded", "returned"}
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REACH = 6  # words between a due word and "today" (or a date)


@dataclass(frozen=True, slots=True)
class PriorAuthVerdict:
    urgent: bool
    status: str
    rule_id: str
    reason: str


def is_prior_auth(item: InboundItem) -> bool:
    """An ePA/payer status update: the EHR channel with a payer or a status in metadata."""
    meta = item.metadata
    return item.channel == "ehr" and bool(meta.get("payer") or meta.get("status") or meta.get("pa_status"))


def canonical_status(raw: object, statuses: Mapping[str, Sequence[str]]) -> str:
    text = fold(str(raw or "")).replace("_", " ").replace("-", " ").strip()
    for canonical, names in statuses.items():
        if text in {fold(str(n)).replace("_", " ") for n in names}:
            return canonical
    return text or "unknown"


def _day(raw: object, received: datetime) -> date | None:
    """The calendar day of a metadata date or datetime, in the offset the item was received with."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(received.tzinfo).date()


def _dates_in_text(read: ReadText, received: datetime) -> list[tuple[int, date]]:
    """Dates written in the text, by word index: 2/16, 02/16/2027, 2027-02-16, February 16."""
    words = read.words
    out: list[tuple[int, date]] = []
    n = len(words)
    for i, w in enumerate(words):
        try:
            if "/" in w and w[:1].isdigit():
                parts = [int(p) for p in w.split("/") if p.isdigit()]
                if len(parts) in (2, 3) and 1 <= parts[0] <= 12 and 1 <= parts[1] <= 31:
                    year = received.year if len(parts) == 2 else (parts[2] + 2000 if parts[2] < 100 else parts[2])
                    out.append((i, date(year, parts[0], parts[1])))
            elif w in _MONTHS and i + 1 < n and words[i + 1].isdigit() and 1 <= int(words[i + 1]) <= 31:
                out.append((i, date(received.year, _MONTHS[w], int(words[i + 1]))))
            elif len(w) == 4 and w.isdigit() and i + 2 < n and words[i + 1].isdigit() and words[i + 2].isdigit():
                out.append((i, date(int(w), int(words[i + 1]), int(words[i + 2]))))
        except ValueError:
            continue
    return out


# Weekday names a payer writes after a time of day ("close of business Thursday"); not "sat" or "sun",
# which are ordinary words.
_WEEKDAYS = {
    name: n
    for n, names in enumerate(
        (
            ("monday", "mon", "lunes"),
            ("tuesday", "tue", "tues", "martes"),
            ("wednesday", "wed", "miercoles"),
            ("thursday", "thu", "thur", "thurs", "jueves"),
            ("friday", "fri", "viernes"),
            ("saturday", "sabado"),
            ("sunday", "domingo"),
        )
    )
    for name in names
}


_NEGATIONS = frozenset({"not", "no", "nothing", "never"})
#: "respond no later than today" is a due time: "no" there is not a negation.
_NOT_NEGATING = frozenset({"later", "less", "more"})


def _negated(words: Sequence[str], sentence: Sequence[int], start: int) -> bool:
    """A negation a few words before the time, in its sentence: "not due today", "no action is required today"."""
    for k in range(max(0, start - 5), start):
        if (
            words[k] in _NEGATIONS
            and sentence[k] == sentence[start]
            and (k + 1 >= start or words[k + 1] not in _NOT_NEGATING)
        ):
            return True
    return False


def read_prior_auth(
    item: InboundItem,
    read: ReadText,
    hits: Sequence[Hit[Payload]],
    context: ContextIndex,
    spec: Mapping[str, Any],
) -> PriorAuthVerdict:
    meta = item.metadata
    status = canonical_status(meta.get("status") or meta.get("pa_status"), spec["statuses"])
    today = item.received_at.date()
    if status in spec["settled"]:
        return PriorAuthVerdict(False, status, f"pa.status.{status}", f"pa.status.{status}: nothing due from us")
    for key in _DEADLINE_KEYS:
        due = _day(meta.get(key), item.received_at)
        if due is not None and due <= today:
            rule = "pa.due_today.deadline"
            return PriorAuthVerdict(True, status, rule, f"{rule}: metadata.{key} falls on the day received or earlier")
    for key in _SERVICE_KEYS:
        if _day(meta.get(key), item.received_at) == today:
            rule = "pa.due_today.service"
            return PriorAuthVerdict(True, status, rule, f"{rule}: the service is scheduled for the day received")

    due_words = {fold(w) for w in spec["due_words"]}
    words, sentence = read.words, read.sentence

    def near_due_word(start: int, end: int) -> bool:
        lo, hi = max(0, start - _REACH), min(len(words), end + _REACH)
        return any(
            words[k] in due_words
            and sentence[k] == sentence[start]
            and not (words[k] == "by" and k > 0 and words[k - 1] in _DONE_BY)
            for k in range(lo, hi)
        )

    dates = _dates_in_text(read, item.received_at)

    def another_day(end: int) -> bool:
        """A time of day that names its day, and not today's: "by end of business Friday 11/12"."""
        ahead = range(end, min(len(words), end + 3))
        if any(i in ahead and day != today for i, day in dates):
            return True
        return any(words[k] in _WEEKDAYS and _WEEKDAYS[words[k]] != today.weekday() for k in ahead)

    for hit in hits:
        kind = hit.payload[0]
        if (
            kind == PA_TODAY
            and near_due_word(hit.start, hit.end)
            and not _negated(words, sentence, hit.start)
            and not another_day(hit.end)
        ):
            rule = "pa.due_today.text"
            return PriorAuthVerdict(True, status, rule, f"{rule}: {read.quote(hit.start, hit.end)!r} is a due time")
    def starts_a_period(i: int) -> bool:
        """"Respond within 14 calendar days of 02/15/2028": the date the period runs from, not the due date."""
        return i > 0 and words[i - 1] in _PERIOD_FROM and any(w in _PERIOD_WORDS for w in words[max(0, i - 5) : i])

    for i, day in dates:
        if day == today and near_due_word(i, i + 1) and not starts_a_period(i):
            rule = "pa.due_today.date"
            return PriorAuthVerdict(True, status, rule, f"{rule}: a due date in the text is the day received")
    for hit in hits:
        if hit.payload[0] == PA_GAP_NOW and context.reading(hit.start, hit.end).category is None:
            rule = "pa.due_today.gap"
            quote = read.quote(hit.start, hit.end)
            return PriorAuthVerdict(True, status, rule, f"{rule}: the patient is out within a day ({quote!r})")
    gap = any(hit.payload[0] == PA_GAP for hit in hits)
    reason = f"pa.status.{status}: nothing due on the day received"
    if gap:
        reason += " (a gap in therapy is mentioned, with no due date today)"
    return PriorAuthVerdict(False, status, f"pa.status.{status}", reason)
