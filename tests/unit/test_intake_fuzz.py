"""Property tests: whatever arrives, each intake adapter answers with its own clear error or with items the
store can keep (they pass the InboundItem contract: no NUL or unpaired surrogate, ids within 200 characters,
times in range, finite numbers), never with a crash: HL7 v2 (an ACK), FHIR (FhirError), email (EmailError or
None), voicemail (VoicemailError), fax callbacks and PDFs (FaxError), MLLP framing.

The examples found by these properties are kept below as plain regression tests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careroute.intake.contract import InboundItemIn
from careroute.intake.email import EmailError, parse_email
from careroute.intake.fax import FaxError, fax_item, parse_fax_callback
from careroute.intake.fhir import FhirError, items_from_fhir
from careroute.intake.hl7v2 import process_batch
from careroute.intake.mllp import FrameReader
from careroute.intake.voicemail import VoicemailError, parse_voicemail
from careroute.model import InboundItem
from tests.unit.test_intake_fax_voicemail import tiny_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
ARRIVED = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
HL7_SAMPLES = [p.read_text() for p in sorted((FIXTURES / "hl7").glob("*.hl7"))]
FHIR_SAMPLES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "fhir").glob("*.json"))]
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def assert_storable(item: InboundItem) -> None:
    """The item passes the contract the API holds senders to, so the store (SQLite or PostgreSQL) takes it."""
    InboundItemIn.model_validate(item.to_dict())
    item.received_at.astimezone(UTC)


hl7_chars = st.sampled_from(list("|^~\\&\r\n MSHPIDOBXRU0123456789ABC.+-")) | st.characters()


@st.composite
def mutated_hl7(draw: st.DrawFn) -> str:
    """A real message with a few characters replaced, inserted or cut: close enough to reach deep code."""
    text = draw(st.sampled_from(HL7_SAMPLES))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["replace", "insert", "cut"]))
        piece = draw(st.text(hl7_chars, max_size=4))
        if action == "replace":
            text = text[:at] + piece + text[at + len(piece) :]
        elif action == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
    return text


@FAST
@given(st.one_of(mutated_hl7(), st.text(hl7_chars, max_size=300)))
def test_hl7_always_answers_with_an_ack(raw: str) -> None:
    for result in process_batch(raw, now=ARRIVED):
        assert result.code in ("AA", "AE", "AR")
        sep = result.ack[3]  # the ACK answers in the sender's own separators
        assert f"\rMSA{sep}{result.code}" in result.ack
        if result.code != "AA":
            assert result.items == []
        for item in result.items:
            assert_storable(item)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=8))


def _mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        copy = dict(value)
        if depth < 6 and data.draw(st.booleans()):
            copy[key] = _mutate(value[key], data, depth + 1)
        elif data.draw(st.booleans()):
            del copy[key]
        else:
            copy[key] = data.draw(json_leaf)
        return copy
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        copy_list = list(value)
        copy_list[index] = _mutate(value[index], data, depth + 1)
        return copy_list
    return data.draw(json_leaf)


@FAST
@given(st.data())
def test_fhir_raises_only_fhir_error(data: st.DataObject) -> None:
    payload = _mutate(data.draw(st.sampled_from(FHIR_SAMPLES)), data)
    try:
        found = items_from_fhir(json.dumps(payload), received_at=ARRIVED)
    except FhirError:
        return
    for item in found:
        assert item.external_id and item.received_at.utcoffset() is not None
        assert_storable(item)


@FAST
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_the_frame_reader_never_crashes(chunks: list[bytes]) -> None:
    reader = FrameReader(max_message_bytes=1000)
    for chunk in chunks:
        for payload in reader.feed(chunk):
            assert b"\x1c\x0d" not in payload


# Values that have broken parsers before: huge and non-finite numbers, times at the ends of the
# calendar, ids longer than the contract's 200 characters, NUL and unpaired surrogates.
awkward = st.sampled_from(
    [
        "inf", "nan", "-1", "1e400", 10**400, float("inf"), "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00", "2026-10-05T08:00:00Z", "x" * 250, "a\x00b", "\ud800", "",
    ]
)  # fmt: skip
json_value = st.one_of(json_leaf, st.integers(), awkward, st.text(st.characters(codec=None), max_size=6))

VOICEMAIL_KEYS = [
    "call_id", "CallSid", "from", "From", "to", "To", "recorded_at", "duration", "RecordingDuration",
    "transcription", "TranscriptionText", "TranscriptionStatus", "caller_name", "CallerName",
    "recording_url", "RecordingUrl",
]  # fmt: skip
voicemail_payload = st.dictionaries(
    st.sampled_from(VOICEMAIL_KEYS),
    json_value | st.dictionaries(st.sampled_from(["text", "confidence"]), json_value),
    max_size=8,
)


@FAST
@given(voicemail_payload)
def test_voicemail_raises_only_voicemail_error(payload: dict[str, Any]) -> None:
    try:
        item = parse_voicemail(payload, received_at=ARRIVED)
    except VoicemailError:
        return
    assert_storable(item)


FAX_KEYS = ["fax_id", "from", "to", "received_at", "pages", "csid", "text", "pdf_base64"]
PDF = tiny_pdf(["RE: referral to cardiology", None, "Page three: daily weights."])


@FAST
@given(st.dictionaries(st.sampled_from(FAX_KEYS), json_value, max_size=8))
def test_fax_callbacks_raise_only_fax_error(payload: dict[str, Any]) -> None:
    try:
        item = parse_fax_callback(payload, received_at=ARRIVED)
    except FaxError:
        return
    assert_storable(item)


@st.composite
def damaged_pdf(draw: st.DrawFn) -> bytes:
    """A real fax PDF with a few bytes changed, inserted or cut: the shapes a bad transmission makes."""
    data = bytearray(PDF)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "insert", "cut"]))
        if action == "replace":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(max_size=6))
        else:
            del data[at : at + draw(st.integers(1, 30))]
    return bytes(data)


@FAST
@given(damaged_pdf())
def test_a_damaged_fax_pdf_raises_only_fax_error(pdf: bytes) -> None:
    try:
        item = fax_item(fax_id="fx-fuzz", received_at=ARRIVED, pdf=pdf)
    except FaxError:
        return
    assert_storable(item)


HEADER_NAMES = [
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Content-Type", b"Content-Transfer-Encoding",
    b"Content-Disposition", b"Auto-Submitted", b"Precedence", b"MIME-Version", b"X-Autoreply",
]  # fmt: skip
header_value = st.one_of(
    st.binary(max_size=40),
    st.text(alphabet='<>@"(),;:\\=?*\' \tabc.é/-_0123456789', max_size=40).map(str.encode),
    st.sampled_from(
        [
            b"multipart/mixed; boundary=XX", b"text/html; charset=bogus", b"text/plain; charset=utf-7",
            b"application/pdf; name=a.pdf", b'attachment; filename="x.pdf"', b"base64", b"quoted-printable",
            b"=?utf-8?b?AAAA?=", b"=?x?q?a?=", b"Mon, 05 Oct 0001 10:30:09 -0400", b"undisclosed:;", b"a <",
            b"<@>",
        ]
    ),
)  # fmt: skip
headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=8)


def _mime(head: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in head) + b"\r\n" + body


mime_part = st.builds(_mime, st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=4),
    st.one_of(st.binary(max_size=80), st.just(PDF), st.just(base64.b64encode(PDF))))  # fmt: skip


@FAST
@given(headers, st.lists(mime_part, max_size=3), st.binary(max_size=100), st.booleans())
def test_email_raises_only_email_error(
    head: list[tuple[bytes, bytes]], parts: list[bytes], body: bytes, with_arrival: bool
) -> None:
    if parts:
        head = [*head, (b"Content-Type", b"multipart/mixed; boundary=XX")]
        body = b"".join(b"--XX\r\n" + p + b"\r\n" for p in parts) + b"--XX--\r\n"
    try:
        item = parse_email(_mime(head, body), received_at=ARRIVED if with_arrival else None)
    except EmailError:
        return
    if item is not None:
        assert_storable(item)


# -- what the properties found, kept as plain examples -------------------------------------------


@pytest.mark.parametrize("duration", ["inf", "nan", 10**400, "1e400"])
def test_a_voicemail_with_an_impossible_duration_is_refused_by_name(duration: object) -> None:
    # float("inf") went on to round() and 10**400 to float(): OverflowError, a 500 at /voicemail.
    with pytest.raises(VoicemailError, match=r"^duration: "):
        parse_voicemail({"call_id": "CA1", "duration": duration}, received_at=ARRIVED)


def test_a_pdf_whose_trailer_is_not_a_dictionary_is_a_fax_error() -> None:
    # pypdf raised AttributeError ('NameObject' object has no attribute 'items'), which went through.
    broken = PDF.replace(b"trailer\n<< ", b"trailer\n", 1)
    with pytest.raises(FaxError, match=r"^pdf: "):
        fax_item(fax_id="fx-1", received_at=ARRIVED, pdf=broken)


@pytest.mark.parametrize(
    ("sender", "message_id"), [("Leonora Parrish <", "<flu-001@example.com>"), ("Leonora <lp@example.com>", "<@>")]
)
def test_a_mail_with_a_header_the_standard_parser_chokes_on_is_still_taken_in(sender: str, message_id: str) -> None:
    # email.headerregistry raised IndexError on these headers: the mail was lost with a 500-like crash.
    raw = (
        f"From: {sender}\r\nTo: office@sweetgumfm.example\r\nSubject: flu shots\r\n"
        f"Date: Mon, 05 Oct 2026 10:30:09 -0400\r\nMessage-ID: {message_id}\r\n\r\n"
        "Are you doing walk-in flu shots on Saturdays this year?\r\n"
    ).encode()
    item = parse_email(raw, received_at=ARRIVED)
    assert item is not None and item.body.startswith("Are you doing walk-in flu shots")
    assert_storable(item)


def test_adapters_clean_what_no_database_can_store() -> None:
    # PostgreSQL refused a NUL in text (DataError, a 500); a call id over 200 characters overflowed the column.
    item = parse_voicemail(
        {"call_id": "CA" + "9" * 300, "TranscriptionText": "call me\x00 back \ud800", "From": "+1478555\x000142"},
        received_at=ARRIVED,
    )
    assert_storable(item)
    assert item.body == "call me back \ufffd" and item.patient.phone == "+14785550142"
    assert item.external_id.startswith("sha256:")
    again = parse_voicemail({"call_id": "CA" + "9" * 300}, received_at=ARRIVED)
    assert again.external_id == item.external_id  # the sender's retry is still one item


def test_a_time_at_the_end_of_the_calendar_falls_back_to_the_arrival_time() -> None:
    # 0001-01-01T00:00+05:00 cannot be converted to UTC (OverflowError when stored).
    item = parse_voicemail({"call_id": "CA2", "recorded_at": "0001-01-01T00:00:00+05:00"}, received_at=ARRIVED)
    assert item.received_at == ARRIVED
