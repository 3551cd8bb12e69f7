"""The InboundItem contract of ../shared/taxonomy.md as a validating schema.

Shared by the HTTP API and `careroute replay`, so a bad item is described the
same way everywhere: by field path and rule, never by echoing its (PHI) value.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from careroute.model import InboundItem, Patient

ChannelName = Literal["portal", "voicemail", "fax", "email", "phone", "lab", "ehr"]
MAX_EXTERNAL_ID = 200
MAX_SUBJECT, MAX_BODY = 2_000, 200_000
MAX_MRN, MAX_NAME, MAX_PHONE = 64, 200, 40
#: How deep metadata may nest; real metadata is one or two levels.
MAX_DEPTH = 32
T = TypeVar("T")

# What no database column can hold: PostgreSQL refuses NUL in text and JSON, and an unpaired
# surrogate is not UTF-8 at all. Both turn up in real feeds (a NUL from a PDF's text layer, a
# header byte the mail parser kept as a surrogate escape, "\ud83d" cut off an emoji), and an item
# that cannot be stored must be refused with a 4xx or cleaned by its adapter, never a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Times outside these years are a sender's mistake, and near the ends of datetime's range the
# conversion to UTC and the deadline arithmetic overflow.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def storable_text(value: str) -> str:
    """value as a database can keep it: NUL characters dropped, unpaired surrogates as U+FFFD."""
    if not _UNSTORABLE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def storable_id(value: str) -> str:
    """A source's message id as an external_id: cleaned, and hashed when longer than the contract allows
    (the hash of the same id is the same, so a resend is still one item)."""
    cleaned = storable_text(value)
    if cleaned and len(cleaned) <= MAX_EXTERNAL_ID:
        return cleaned
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def storable_json(value: Any, depth: int = 0) -> Any:
    """A metadata value as a database can keep it: text cleaned, non-finite numbers (not JSON) as None,
    anything nested deeper than the contract allows as None."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {storable_text(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth + 1) for v in value]
    return value


def in_range(value: datetime) -> bool:
    """Whether a time is one careroute can store and compute deadlines from."""
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def storable(item: InboundItem) -> InboundItem:
    """An adapter's item as the contract takes it: every text storable and within its length (a longer
    body is cut and flagged `body_truncated`, as the fax and mail adapters do). Its time must already
    be in range: only the adapter knows what to use instead."""
    p = item.patient

    def opt(value: str | None, limit: int) -> str | None:
        return storable_text(value)[:limit] if value is not None else None

    metadata = storable_json(dict(item.metadata))
    body = storable_text(item.body)
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY]
        metadata["body_truncated"] = True
    return replace(
        item,
        external_id=storable_id(item.external_id),
        body=body,
        subject=opt(item.subject, MAX_SUBJECT),
        patient=Patient(
            mrn=opt(p.mrn, MAX_MRN), name=opt(p.name, MAX_NAME), dob=opt(p.dob, 10), phone=opt(p.phone, MAX_PHONE)
        ),
        metadata=metadata,
    )


def _unstorable_in(value: Any) -> str | None:
    """What keeps a decoded JSON value out of the store, or None. A loop, not recursion: a sender's
    metadata nested a thousand deep must get a 422, not exhaust the stack."""
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, str):
            if _UNSTORABLE.search(current):
                return "contains a NUL character or an unpaired surrogate, which cannot be stored"
        elif isinstance(current, float):
            if not math.isfinite(current):
                return "contains a non-finite number (NaN or Infinity), which JSON cannot carry"
        elif isinstance(current, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            children = [x for kv in current.items() for x in kv] if isinstance(current, Mapping) else current
            stack.extend((child, depth + 1) for child in children)
    return None


def _check_storable(value: T) -> T:
    problem = _unstorable_in(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mrn: str | None = Field(default=None, max_length=MAX_MRN)
    name: str | None = Field(default=None, max_length=MAX_NAME)
    dob: str | None = Field(default=None, description="YYYY-MM-DD")
    phone: str | None = Field(default=None, max_length=MAX_PHONE)

    @field_validator("mrn", "name", "phone")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return _check_storable(value)

    @field_validator("dob")
    @classmethod
    def _dob_is_a_date(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD") from None
        return value


class InboundItemIn(BaseModel):
    """One inbound item, as any source sends it."""

    model_config = ConfigDict(extra="forbid")

    channel: ChannelName
    external_id: str = Field(min_length=1, max_length=MAX_EXTERNAL_ID)
    received_at: datetime = Field(description="ISO 8601 with a UTC offset")
    patient: PatientIn = Field(default_factory=PatientIn)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    body: str = Field(max_length=MAX_BODY)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("received_at")
    @classmethod
    def _has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-10-05T08:15:44-04:00")
        if not in_range(value):
            raise ValueError(f"must be a time in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
        return value

    @field_validator("external_id", "subject", "body", "metadata")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _check_storable(value)

    def to_item(self) -> InboundItem:
        p = self.patient
        return InboundItem(
            channel=self.channel,
            external_id=self.external_id,
            received_at=self.received_at,
            body=self.body,
            patient=Patient(mrn=p.mrn or None, name=p.name or None, dob=p.dob or None, phone=p.phone or None),
            subject=self.subject,
            metadata=self.metadata,
        )


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def describe(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[dict[str, str]]:
    """Field path and message for each problem; the offending value is never echoed (it may be PHI)."""
    return [{"field": field_path(prefix + tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]


def parse_item(data: Any) -> InboundItem:
    """Validate one decoded JSON value; raises pydantic.ValidationError."""
    return InboundItemIn.model_validate(data).to_item()
