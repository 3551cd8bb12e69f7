"""Fax and voicemail callbacks → items; fax text from the PDF text layer, scanned pages flagged for OCR."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from careroute.intake.contract import InboundItemIn
from careroute.intake.fax import FaxError, fax_item, parse_fax_callback, pdf_text
from careroute.intake.voicemail import VoicemailError, parse_voicemail

ARRIVED = datetime(2026, 10, 6, 14, 0, tzinfo=UTC)


def tiny_pdf(pages: list[str | None]) -> bytes:
    """A minimal PDF: each page shows its lines of text in Helvetica, or has no text layer when None."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids: list[str] = []
    for page in pages:
        content = b""
        if page is not None:
            ops = ["BT /F1 11 Tf 14 TL 72 720 Td"]
            for line in page.splitlines():
                escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops.append(f"({escaped}) Tj T*")
            ops.append("ET")
            content = "\n".join(ops).encode("latin-1")
        else:
            content = b"0 0 1 rg 72 72 200 200 re f"  # a drawing, like a scanned image: no text
        page_no, content_no = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_no} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_no} 0 R "
            f"/Resources << /Font << /F1 {len(pages) * 2 + 3} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


REFERRAL = (
    "OVMC CARE TRANSITIONS - DISCHARGE REFERRAL\nRE: Hospital discharge - TCM referral\nPatient: Ingrid M. Solberg"
)


def test_pdf_text_reads_the_text_layer_and_lists_pages_without_one() -> None:
    text = pdf_text(tiny_pdf([REFERRAL, None, "Page three: daily weights."]))
    assert "Ingrid M. Solberg" in text.text and "daily weights" in text.text
    assert (text.pages, text.pages_without_text, text.needs_ocr) == (3, (2,), True)
    assert "Solberg" not in repr(text)


def test_a_fax_callback_with_a_pdf() -> None:
    payload = {
        "fax_id": "fx-20261006-0042",
        "from": "478-555-0188",
        "to": "478-555-0100",
        "received_at": "2026-10-06T10:05:52-04:00",
        "csid": "OVMC CARE TRANS",
        "pdf_base64": base64.b64encode(tiny_pdf([REFERRAL])).decode(),
    }
    item = parse_fax_callback(payload, received_at=ARRIVED)
    InboundItemIn.model_validate(item.to_dict())
    assert (item.channel, item.external_id, item.subject) == (
        "fax",
        "fx-20261006-0042",
        "Hospital discharge - TCM referral",
    )
    assert item.received_at.isoformat() == "2026-10-06T10:05:52-04:00"
    assert "DISCHARGE REFERRAL" in item.body
    assert item.metadata == {
        "pages": 1,
        "from_number": "478-555-0188",
        "to_number": "478-555-0100",
        "csid": "OVMC CARE TRANS",
    }


def test_a_scanned_fax_without_a_text_layer_still_arrives_flagged_for_ocr() -> None:
    item = fax_item(fax_id="fx-scan", received_at=ARRIVED, pdf=tiny_pdf([None, None]), from_number="478-555-0102")
    assert item.body == ""
    assert item.metadata["needs_ocr"] is True and item.metadata["pages_without_text"] == [1, 2]
    assert item.received_at == ARRIVED


def test_a_fax_callback_with_text_and_pages() -> None:
    item = parse_fax_callback({"fax_id": 991, "text": "Refill request: metformin", "pages": 1}, received_at=ARRIVED)
    assert (item.external_id, item.body, item.metadata) == ("991", "Refill request: metformin", {"pages": 1})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "fax_id"),
        ({"fax_id": "f", "pdf_base64": "%%%not-base64"}, "pdf_base64"),
        ({"fax_id": "f", "pdf_base64": base64.b64encode(b"not a pdf, patient Jane Roe").decode()}, "pdf"),
        ({"fax_id": "f", "pages": "three"}, "pages"),
        ({"fax_id": "f", "text": 5}, "text"),
    ],
)
def test_bad_fax_callbacks_name_the_field_never_the_content(payload: dict[str, object], field: str) -> None:
    with pytest.raises(FaxError) as exc:
        parse_fax_callback(payload, received_at=ARRIVED)
    assert str(exc.value).startswith(field) and "Jane" not in str(exc.value)


def test_a_voicemail_transcription_callback() -> None:
    payload = {
        "call_id": "CA-7f3e",
        "from": "(478) 555-0187",
        "to": "478-555-0100",
        "recorded_at": "2026-10-05T07:10:03-04:00",
        "duration": 44,
        "transcription": {"text": "hola buenos días habla rosa quintero", "confidence": 0.72},
        "caller_name": "QUINTERO R",
    }
    item = parse_voicemail(payload, received_at=ARRIVED)
    InboundItemIn.model_validate(item.to_dict())
    assert (item.channel, item.external_id, item.patient.phone) == ("voicemail", "CA-7f3e", "(478) 555-0187")
    assert item.received_at.isoformat() == "2026-10-05T07:10:03-04:00"
    assert item.body.startswith("hola buenos días")
    assert item.metadata == {
        "duration_s": 44,
        "transcription_confidence": 0.72,
        "caller_id_name": "QUINTERO R",
        "to": "478-555-0100",
    }


def test_twilio_style_form_fields_and_a_failed_transcription() -> None:
    form = {
        "CallSid": "CA1234567890abcdef",
        "From": "+14785550129",
        "To": "+14785550100",
        "TranscriptionText": "",
        "TranscriptionStatus": "failed",
        "RecordingUrl": "https://phone.example/recordings/RE1",
        "RecordingDuration": "18",
        "CallerName": "OSEI N",
    }
    item = parse_voicemail(form, received_at=ARRIVED)
    assert (item.external_id, item.patient.phone, item.body, item.received_at) == (
        "CA1234567890abcdef",
        "+14785550129",
        "",
        ARRIVED,
    )
    assert item.metadata["transcription_failed"] is True and item.metadata["duration_s"] == 18
    assert item.metadata["recording_url"].endswith("RE1")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"from": "1"}, "call_id"),
        ({"call_id": "c", "transcription": "text"}, "transcription"),
        ({"call_id": "c", "transcription": {"text": "x", "confidence": 7}}, "transcription.confidence"),
        ({"call_id": "c", "duration": "long"}, "duration"),
    ],
)
def test_bad_voicemail_callbacks_name_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(VoicemailError) as exc:
        parse_voicemail(payload, received_at=ARRIVED)
    assert str(exc.value).split(":")[0] == field
