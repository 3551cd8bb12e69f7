"""Property tests: whatever arrives, the HL7 and FHIR parsers answer with an ACK or a FhirError, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careroute.intake.fhir import FhirError, items_from_fhir
from careroute.intake.hl7v2 import process_batch
from careroute.intake.mllp import FrameReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
ARRIVED = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
HL7_SAMPLES = [p.read_text() for p in sorted((FIXTURES / "hl7").glob("*.hl7"))]
FHIR_SAMPLES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "fhir").glob("*.json"))]
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

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


@FAST
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_the_frame_reader_never_crashes(chunks: list[bytes]) -> None:
    reader = FrameReader(max_message_bytes=1000)
    for chunk in chunks:
        for payload in reader.feed(chunk):
            assert b"\x1c\x0d" not in payload
