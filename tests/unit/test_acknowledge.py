"""What the patient hears back: on their channel, with a reply-by time, never echoing their words."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from careroute.acknowledge import AckChannel, Acknowledgements, acknowledgement
from careroute.model import Classification, InboundItem, Patient

NY = ZoneInfo("America/New_York")
AT = datetime(2026, 10, 9, 18, 30, tzinfo=timezone(timedelta(hours=-4)))  # Friday evening
REPLY_BY = datetime(2026, 10, 13, 12, 0, tzinfo=UTC)  # Tuesday 08:00 in New York
SECRET = "my chest hurts and I feel faint"
SPEC = Acknowledgements(
    practice="Sweetgum Family Medicine",
    email=AckChannel(enabled=True),
    portal=AckChannel(enabled=True, fhir_endpoint="https://ehr.example.org/fhir/r4/"),
)


def c(danger: bool = False) -> Classification:
    return Classification("clinical_urgent" if danger else "medication_refill", "routine", 0.9, possible_danger=danger)


def email(meta_from: str = "Ingrid Vasquez <ingrid@example.net>") -> InboundItem:
    return InboundItem("email", "<m1@example.net>", AT, SECRET, subject=SECRET, metadata={"from": meta_from})


def test_an_email_is_answered_to_its_sender_with_the_reply_by_time_and_not_the_message() -> None:
    ack = acknowledgement(email(), c(), REPLY_BY, True, SPEC, NY)
    assert ack is not None and (ack.kind, ack.target) == ("email", "ingrid@example.net")
    assert "Tuesday 13 October at 08:00" in ack.body and "Sweetgum Family Medicine" in ack.body
    assert SECRET not in ack.body and SECRET not in ack.subject
    assert "911" not in ack.body


def test_a_danger_sign_after_hours_adds_the_emergency_line() -> None:
    ack = acknowledgement(email(), c(danger=True), REPLY_BY, False, SPEC, NY)
    assert ack is not None and "call 911" in ack.body
    open_hours = acknowledgement(email(), c(danger=True), REPLY_BY, True, SPEC, NY)
    assert open_hours is not None and "911" not in open_hours.body


def test_a_portal_message_gets_a_fhir_communication_in_response() -> None:
    item = InboundItem("portal", "Communication/c-77/_history/2", AT, SECRET, patient=Patient(mrn="FM000077"))
    ack = acknowledgement(item, c(), REPLY_BY, True, SPEC, NY)
    assert ack is not None and ack.kind == "fhir" and ack.target == "https://ehr.example.org/fhir/r4/Communication"
    assert '"inResponseTo": [{"reference": "Communication/c-77"}]' in ack.body and SECRET not in ack.body
    assert '"value": "FM000077"' in ack.body


def test_nothing_is_sent_when_the_channel_is_off_or_there_is_nobody_to_send_to() -> None:
    assert acknowledgement(email(), c(), REPLY_BY, True, Acknowledgements(), NY) is None
    assert acknowledgement(email(meta_from="no address here"), c(), REPLY_BY, True, SPEC, NY) is None
    vm = InboundItem("voicemail", "vm-1", AT, SECRET)
    assert acknowledgement(vm, c(), REPLY_BY, True, SPEC, NY) is None
    no_endpoint = Acknowledgements(portal=AckChannel(enabled=True))
    assert acknowledgement(InboundItem("portal", "p-1", AT, SECRET), c(), REPLY_BY, True, no_endpoint, NY) is None


def test_an_unknown_placeholder_in_a_template_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder \{body\}"):
        AckChannel(template="We got: {body}")
