"""RFC 5322 mail → items: plain or stripped HTML body, attachments, PDF text; auto-replies dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from careroute.intake.contract import InboundItemIn
from careroute.intake.email import EmailError, html_to_text, parse_email
from careroute.model import Patient
from tests.unit.test_intake_fax_voicemail import tiny_pdf

ARRIVED = datetime(2026, 10, 5, 14, 30, 9, tzinfo=UTC)


def mail(body: str = "Are you doing walk-in flu shots on Saturdays this year?", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Leonora Parrish <lparrish@example.com>")
    msg["To"] = "office@sweetgumfm.example"
    msg["Subject"] = headers.pop("Subject", "flu shots")
    msg["Date"] = "Mon, 05 Oct 2026 10:30:09 -0400"
    msg["Message-ID"] = headers.pop("Message_ID", "<flu-001@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def test_a_plain_text_email() -> None:
    item = parse_email(mail().as_bytes(), received_at=ARRIVED)
    assert item is not None
    InboundItemIn.model_validate(item.to_dict())
    assert (item.channel, item.external_id, item.subject) == ("email", "flu-001@example.com", "flu shots")
    assert item.body == "Are you doing walk-in flu shots on Saturdays this year?"
    assert item.patient.name == "Leonora Parrish"
    assert item.metadata == {"from": "Leonora Parrish <lparrish@example.com>", "to": "office@sweetgumfm.example"}
    assert item.received_at == ARRIVED


def test_without_received_at_the_date_header_is_used_and_must_have_a_zone() -> None:
    item = parse_email(mail().as_bytes())
    assert item is not None and item.received_at.isoformat() == "2026-10-05T10:30:09-04:00"
    raw = mail().as_bytes().replace(b"Date: Mon, 05 Oct 2026 10:30:09 -0400\n", b"")
    with pytest.raises(EmailError, match="Date"):
        parse_email(raw)


def test_an_html_only_email_is_stripped_to_text() -> None:
    msg = mail()
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Hello,</p><p>I received statement "
        "#20611-4417 for &#36;212.00.</p><script>track()</script><div>Oksana</div></body></html>",
        subtype="html",
    )
    item = parse_email(msg.as_bytes(), received_at=ARRIVED)
    assert item is not None
    assert item.body == "Hello,\n\nI received statement #20611-4417 for $212.00.\n\nOksana"


def test_multipart_alternative_prefers_the_plain_part() -> None:
    msg = mail("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    item = parse_email(msg.as_bytes(), received_at=ARRIVED)
    assert item is not None and item.body == "plain words"


def test_a_fax_by_email_with_a_pdf_attachment_appends_its_text() -> None:
    msg = mail("Fax received from 478-555-0188 (9 pages).", Subject="Fax from OVMC CARE TRANS")
    msg.add_attachment(
        tiny_pdf(["DISCHARGE REFERRAL", None]), maintype="application", subtype="pdf", filename="fax-0042.pdf"
    )
    msg.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="logo.png")
    item = parse_email(msg.as_bytes(), received_at=ARRIVED)
    assert item is not None
    assert item.metadata["attachments"] == ["fax-0042.pdf", "logo.png"]
    assert item.body.startswith("Fax received from 478-555-0188")
    assert "--- attachment: fax-0042.pdf ---\nDISCHARGE REFERRAL" in item.body
    assert item.metadata["needs_ocr"] is True  # page 2 had no text layer


def test_an_unreadable_pdf_is_listed_not_fatal() -> None:
    msg = mail("see attached")
    msg.add_attachment(b"%PDF-1.4 broken", maintype="application", subtype="pdf", filename="scan.pdf")
    item = parse_email(msg.as_bytes(), received_at=ARRIVED)
    assert item is not None and item.metadata["unreadable_attachments"] == ["scan.pdf"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "auto_reply"},
        {"From": "Mail Delivery System <MAILER-DAEMON@mx.example.net>"},
    ],
)
def test_auto_replies_and_bounces_are_dropped(headers: dict[str, str]) -> None:
    assert parse_email(mail(**headers).as_bytes(), received_at=ARRIVED) is None


def test_a_null_envelope_sender_and_a_delivery_report_are_dropped() -> None:
    assert parse_email(mail().as_bytes(), received_at=ARRIVED, envelope_from="") is None
    report = mail()
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    assert parse_email(report.as_bytes(), received_at=ARRIVED) is None
    assert parse_email(mail(Auto_Submitted="no").as_bytes(), received_at=ARRIVED) is not None


def test_a_message_without_message_id_is_keyed_by_its_bytes() -> None:
    raw = mail().as_bytes().replace(b"Message-ID: <flu-001@example.com>\n", b"")
    first = parse_email(raw, received_at=ARRIVED)
    again = parse_email(raw, received_at=ARRIVED)
    assert first is not None and again is not None
    assert first.external_id.startswith("sha256:") and first.external_id == again.external_id


def test_a_known_sender_maps_to_the_patient() -> None:
    known = {"lparrish@example.com": Patient(mrn="FM100200", name="Leonora Parrish", dob="1950-02-03")}
    item = parse_email(mail().as_bytes(), received_at=ARRIVED, patient_for_sender=known.get)
    assert item is not None and item.patient.mrn == "FM100200"


def test_html_to_text_handles_entities_and_nesting() -> None:
    assert html_to_text("<ul><li>one &amp; two</li><li>three</li></ul>") == "one & two\n\nthree"


def test_an_overlong_message_id_is_hashed_to_fit_the_contract() -> None:
    item = parse_email(mail(Message_ID="<" + "x" * 300 + "@example.com>").as_bytes(), received_at=ARRIVED)
    assert item is not None and item.external_id.startswith("sha256:") and len(item.external_id) < 200
