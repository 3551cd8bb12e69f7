"""RFC 5322 email → an InboundItem on the `email` channel (or None for auto-replies and bounces).

- external_id is the Message-ID without its angle brackets (hashed to `sha256:...` when longer
  than the contract's 200 characters). Mail without one gets `sha256:<digest of the raw
  bytes>`, so a resend of the very same bytes is still one item.
- subject is the Subject header; body is the text/plain part, else the HTML part with tags
  stripped (script/style dropped, block elements as line breaks).
- patient: the From display name as name; `patient_for_sender(address)` (optional, e.g. a
  lookup of known patient e-mail addresses) may supply a fuller Patient.
- attachments' file names go to metadata `attachments`. PDF attachments' text layers (pypdf,
  no OCR) are appended to the body under a `--- attachment: name ---` line, which is how
  fax-to-email gateways deliver faxes; a PDF without a text layer sets `needs_ocr: true`.
- Auto-replies, bounces and delivery reports are dropped (None): answering them would loop,
  and they are not work. Detected by `Auto-Submitted` (RFC 3834), `X-Autoreply`/`X-Autorespond`,
  `Precedence: auto_reply|junk`, `multipart/report` and a MAILER-DAEMON/postmaster sender.
- received_at is the caller's (when careroute received the mail) or else the Date header.
- body is capped at the contract's 200,000 characters (`body_truncated: true`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from careroute.intake.contract import in_range, storable
from careroute.intake.fax import DEFAULT_MAX_PAGES, MAX_BODY_CHARS, FaxError, pdf_text
from careroute.model import InboundItem, Patient

MAX_PDF_BYTES = 20 * 1024 * 1024
_AUTOMATED_SENDERS = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


class EmailError(ValueError):
    """A message careroute cannot take; says which header, never its content."""


class _TextExtractor(HTMLParser):
    """Visible text of an HTML body; block elements become line breaks."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML document, whitespace tidied."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(extractor.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _raw_header(message: EmailMessage, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def header(message: EmailMessage, name: str) -> str | None:
    """A header's value as text, or None when it is absent.

    The standard library's structured header parser raises IndexError, AttributeError and others on
    some malformed headers (an unclosed angle bracket, a group where a mailbox belongs); such a header
    is read as its raw text instead, so the message is still taken in."""
    try:
        value = message.get(name)
    except Exception:
        return _raw_header(message, name)
    return None if value is None else str(value)


def _headers(message: EmailMessage, name: str) -> list[str]:
    try:
        return [str(v) for v in message.get_all(name, [])]
    except Exception:  # see header()
        return [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]


def automated_reason(message: EmailMessage, envelope_from: str | None = None) -> str | None:
    """Why this message is an auto-reply or bounce, or None when a person sent it."""
    auto = (header(message, "Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return "auto-reply header"
    if (header(message, "Precedence") or "").strip().lower() in ("auto_reply", "junk"):
        return "precedence"
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    if envelope_from == "":
        return "null sender"  # MAIL FROM:<> is reserved for bounces (RFC 5321 4.5.5)
    senders = [addr for _, addr in getaddresses([header(message, "From") or ""])]
    if any(_AUTOMATED_SENDERS.match(addr) for addr in senders):
        return "mailer-daemon"
    return None


def _from_address(message: EmailMessage) -> tuple[str | None, str | None]:
    try:
        parsed = message.get("From")
        addresses: tuple[Address, ...] = getattr(parsed, "addresses", ())
        if addresses:
            first = addresses[0]
            return (first.display_name or None), (first.addr_spec or None)
    except Exception:  # see header(): fall back to the lenient parser on the raw text
        pass
    raw = header(message, "From")
    if raw is None:
        return None, None
    name, addr = next(iter(getaddresses([raw])), ("", ""))
    return name or None, addr or None


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        # An unknown charset: take the bytes as Latin-1 rather than lose the message.
        raw = part.get_payload(decode=True)
        content = raw.decode("latin-1") if isinstance(raw, bytes) else ""
    text = str(content)
    return html_to_text(text) if part.get_content_type() == "text/html" else text.strip()


def parse_email(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    envelope_from: str | None = None,
    envelope_to: list[str] | None = None,
    patient_for_sender: Callable[[str], Patient | None] | None = None,
    max_pdf_pages: int = DEFAULT_MAX_PAGES,
) -> InboundItem | None:
    """The item for one message, or None for an auto-reply/bounce. Raises EmailError."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default always builds EmailMessage
    if automated_reason(message, envelope_from) is not None:
        return None

    message_id = (header(message, "Message-ID") or "").strip().strip("<>").strip()
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(external_id) > 200:  # the contract's limit; a hash of it is as stable
        external_id = "sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()

    when = received_at
    if when is None:
        try:
            date_header = header(message, "Date")
            when = parsedate_to_datetime(date_header) if date_header else None
        except (TypeError, ValueError, OverflowError):
            when = None
        if when is None or when.utcoffset() is None or not in_range(when):
            raise EmailError("Date: missing or without a time zone, and no received_at given")

    name, address = _from_address(message)
    patient = patient_for_sender(address) if patient_for_sender and address else None
    patient = patient or Patient(name=name)

    body = _body(message)
    metadata: dict[str, Any] = {}
    sender = header(message, "From")
    if sender:
        metadata["from"] = sender
    to = envelope_to or [addr for _, addr in getaddresses(_headers(message, "To"))]
    if to:
        metadata["to"] = ", ".join(to)

    attachments: list[str] = []
    extracted: list[str] = []
    for part in message.iter_attachments():
        filename = part.get_filename() or part.get_content_type()
        attachments.append(filename)
        is_pdf = part.get_content_type() == "application/pdf" or filename.lower().endswith(".pdf")
        if not is_pdf:
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or len(data) > MAX_PDF_BYTES:
            metadata["needs_ocr"] = True
            continue
        try:
            text = pdf_text(data, max_pages=max_pdf_pages)
        except FaxError:
            metadata.setdefault("unreadable_attachments", []).append(filename)
            continue
        if text.needs_ocr:
            metadata["needs_ocr"] = True
        if text.text:
            extracted.append(f"--- attachment: {filename} ---\n{text.text}")
    if attachments:
        metadata["attachments"] = attachments
    if extracted:
        body = "\n\n".join([body, *extracted]) if body else "\n\n".join(extracted)

    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        metadata["body_truncated"] = True
    subject = (header(message, "Subject") or "").strip()[:2000] or None
    return storable(
        InboundItem(
            channel="email",
            external_id=external_id,
            received_at=when,
            body=body,
            patient=patient,
            subject=subject,
            metadata=metadata,
        )
    )
