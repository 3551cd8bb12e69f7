"""Phone-system voicemail transcription callbacks → InboundItems on the `voicemail` channel.

Two shapes are accepted (decoded JSON or form fields as a mapping):

- JSON: `{"call_id", "from", "to", "recorded_at", "duration", "transcription": {"text",
  "confidence"}, "caller_name"}`;
- Twilio-style form fields: `CallSid`, `From`, `To`, `TranscriptionText`, `TranscriptionStatus`,
  `RecordingUrl`, `RecordingDuration`, `CallerName`.

patient.phone is the caller's number (`from`); the name and date of birth are usually only
spoken in the transcript, which the dedup step reads. metadata carries `duration_s`,
`transcription_confidence`, `caller_id_name`, `to` and `recording_url`.

A voicemail whose transcription failed or is empty is still an item (body empty, metadata
`transcription_failed: true`): a caller who left a message must get a call back.

external_id is the call id (CallSid), so the phone system's retries are one item.
received_at is `recorded_at` when it has an offset, else the caller's `received_at`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from careroute.intake.contract import in_range, storable
from careroute.model import InboundItem, Patient


class VoicemailError(ValueError):
    """A callback careroute cannot take; names the field, never its value."""


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None and in_range(parsed) else None


def _number(value: Any, name: str, *, integer: bool = False) -> float | int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise VoicemailError(f"{name}: must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer too large for a float
        raise VoicemailError(f"{name}: must be a number") from None
    if not math.isfinite(number) or number < 0:  # "inf" and "nan" parse as floats
        raise VoicemailError(f"{name}: must be a finite, non-negative number")
    return round(number) if integer else number


def _str(payload: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return None


def parse_voicemail(payload: Mapping[str, Any], *, received_at: datetime) -> InboundItem:
    """One transcription callback as an item; raises VoicemailError naming the bad field."""
    call_id = _str(payload, "call_id", "CallSid")
    if not call_id:
        raise VoicemailError("call_id: required")
    transcription = payload.get("transcription")
    if transcription is not None and not isinstance(transcription, Mapping):
        raise VoicemailError("transcription: must be an object")
    transcription = transcription or {}
    text = transcription.get("text") if "text" in transcription else payload.get("TranscriptionText")
    if text is not None and not isinstance(text, str):
        raise VoicemailError("transcription.text: must be a string")
    body = (text or "").strip()
    confidence = _number(transcription.get("confidence"), "transcription.confidence")
    if confidence is not None and confidence > 1:
        raise VoicemailError("transcription.confidence: must be between 0 and 1")

    metadata: dict[str, Any] = {}
    duration = _number(payload.get("duration", payload.get("RecordingDuration")), "duration", integer=True)
    for key, value in (
        ("duration_s", duration),
        ("transcription_confidence", confidence),
        ("caller_id_name", _str(payload, "caller_name", "CallerName")),
        ("to", _str(payload, "to", "To")),
        ("recording_url", _str(payload, "recording_url", "RecordingUrl")),
    ):
        if value is not None:
            metadata[key] = value
    status = _str(payload, "TranscriptionStatus")
    if not body or (status is not None and status.lower() != "completed"):
        metadata["transcription_failed"] = True

    return storable(
        InboundItem(
            channel="voicemail",
            external_id=call_id,
            received_at=_aware(payload.get("recorded_at")) or received_at,
            body=body,
            patient=Patient(phone=_str(payload, "from", "From")),
            metadata=metadata,
        )
    )
