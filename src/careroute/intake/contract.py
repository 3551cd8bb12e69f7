"""The InboundItem contract of ../shared/taxonomy.md as a validating schema.

Shared by the HTTP API and `careroute replay`, so a bad item is described the
same way everywhere: by field path and rule, never by echoing its (PHI) value.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from careroute.model import InboundItem, Patient

ChannelName = Literal["portal", "voicemail", "fax", "email", "phone", "lab", "ehr"]


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mrn: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    dob: str | None = Field(default=None, description="YYYY-MM-DD")
    phone: str | None = Field(default=None, max_length=40)

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
    external_id: str = Field(min_length=1, max_length=200)
    received_at: datetime = Field(description="ISO 8601 with a UTC offset")
    patient: PatientIn = Field(default_factory=PatientIn)
    subject: str | None = Field(default=None, max_length=2_000)
    body: str = Field(max_length=200_000)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("received_at")
    @classmethod
    def _has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-10-05T08:15:44-04:00")
        return value

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
