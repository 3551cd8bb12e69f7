"""The patient hears back: an acknowledgement on the channel the item came in on (pure).

The text is the practice's template, filled with when a reply can be expected
(from the claim deadline, which the business calendar and SLA decide) and, when
a possible danger sign arrives while the practice is closed, the emergency line.
It never echoes what the patient wrote.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from careroute.model import Classification, InboundItem

PLACEHOLDERS = frozenset({"reply_by", "practice"})


def _check_template(value: str) -> str:
    for _, name, _, _ in string.Formatter().parse(value):
        if name is not None and name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {{reply_by}} or {{practice}}")
    return value


class AckChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    template: str = "Thank you, {practice} received your message. You can expect a reply by {reply_by}."
    #: For portal messages: the EHR's FHIR R4 base URL that takes a Communication back to the patient.
    fhir_endpoint: str | None = None

    _template = field_validator("template")(_check_template)


class Acknowledgements(BaseModel):
    """The `acknowledgements:` section of a rule pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    practice: str = Field(default="the practice", min_length=1)
    email: AckChannel = AckChannel()
    portal: AckChannel = AckChannel()
    #: Added when a possible danger sign arrives while the practice is closed.
    after_hours_danger: str = (
        "If this is an emergency, call 911 now. Out of hours, the on-call clinician is reached through "
        "the practice's main number."
    )


@dataclass(frozen=True)
class Acknowledgement:
    kind: str  # "email" or "fhir"
    target: str
    subject: str
    body: str


def reply_by_words(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B} at {local:%H:%M}"


def acknowledgement(
    item: InboundItem,
    classification: Classification,
    reply_by: datetime,
    open_now: bool,
    spec: Acknowledgements,
    zone: ZoneInfo,
) -> Acknowledgement | None:
    """What to send back for this item, or None (channel off, nobody to send it to)."""
    channel = spec.email if item.channel == "email" else spec.portal if item.channel == "portal" else None
    if channel is None or not channel.enabled:
        return None
    text = channel.template.format(reply_by=reply_by_words(reply_by, zone), practice=spec.practice)
    if classification.possible_danger and not open_now:
        text += " " + spec.after_hours_danger
    subject = f"{spec.practice}: we received your message"
    if item.channel == "email":
        sender = [addr for _, addr in getaddresses([str(item.metadata.get("from", ""))]) if "@" in addr]
        if not sender:
            return None
        return Acknowledgement("email", sender[0], subject, text)
    if not channel.fhir_endpoint:
        return None
    return Acknowledgement("fhir", channel.fhir_endpoint.rstrip("/") + "/Communication", subject, fhir_body(item, text))


def fhir_body(item: InboundItem, text: str) -> str:
    """A FHIR R4 Communication to the patient, answering the message it came in on (by reference, not content)."""
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"text": "acknowledgement"}],
        "payload": [{"contentString": text}],
    }
    if item.external_id.startswith("Communication/"):
        resource["inResponseTo"] = [{"reference": item.external_id.split("/_history/")[0]}]
    if item.patient.mrn:
        resource["recipient"] = [{"identifier": {"type": {"text": "MRN"}, "value": item.patient.mrn}}]
    return json.dumps(resource)
