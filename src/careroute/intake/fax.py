"""Fax callbacks (eFax-style JSON) and fax PDFs → InboundItems on the `fax` channel.

Callback shape:

    {"fax_id": "...", "from": "478-555-0188", "to": "...", "received_at": "2026-10-06T10:05:52-04:00",
     "pages": 9, "csid": "OVMC CARE TRANS", "text": "..."}      # or "pdf_base64": "<PDF>"

The text comes from the PDF's text layer with pypdf; there is no OCR. A scanned fax with no
text layer still becomes an item, so nothing is lost: its body is empty and metadata says
`needs_ocr: true` with the pages that had no text (`pages_without_text`), which routes it to
a person who opens the PDF. A fax where only some pages have text gets that text and the
same two keys. Subject is the cover sheet's "RE:" / "Subject:" line when there is one.

external_id is the fax service's `fax_id`. received_at is the callback's `received_at` when it
has an offset, else the caller's `received_at` (when the callback arrived).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pypdf import PdfReader

from careroute.intake.contract import in_range, storable
from careroute.model import InboundItem

#: The InboundItem contract's body limit (intake/contract.py); longer text is cut and flagged.
MAX_BODY_CHARS = 200_000
#: Pages read from one PDF: a 300-page fax is a records dump, and text past this adds nothing to triage.
DEFAULT_MAX_PAGES = 50
_SUBJECT_LINE = re.compile(r"^\s*(?:RE|Re|SUBJECT|Subject|Regarding)\s*[:\-]\s*(.+?)\s*$", re.MULTILINE)


class FaxError(ValueError):
    """A callback careroute cannot take; names the field, never its value."""


@dataclass(frozen=True, slots=True)
class PdfText:
    """A PDF's text layer: the text, how many pages, which (1-based) pages had none."""

    text: str = field(repr=False)  # PHI
    pages: int
    pages_without_text: tuple[int, ...]

    @property
    def needs_ocr(self) -> bool:
        return bool(self.pages_without_text)


def pdf_text(data: bytes, *, max_pages: int = DEFAULT_MAX_PAGES) -> PdfText:
    """Text of a PDF's text layer, page by page; raises FaxError if it is not a readable PDF."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Most fax PDFs "encrypted" with an empty user password open this way.
            reader.decrypt("")
        pages = reader.pages
        count = len(pages)
        texts: list[str] = []
        empty: list[int] = []
        for number, page in enumerate(pages, start=1):
            if number > max_pages:
                break
            text = (page.extract_text() or "").strip()
            if text:
                texts.append(text)
            else:
                empty.append(number)
    except Exception:
        # pypdf raises many kinds on a damaged file (PyPdfError, ValueError, KeyError, but also
        # AttributeError, IndexError, RecursionError, ... from deep in its object model): any of them
        # means the same to the sender. The message could quote content, so it is dropped.
        raise FaxError("pdf: not a readable PDF") from None
    return PdfText("\n\n".join(texts), count, tuple(empty))


def subject_line(text: str) -> str | None:
    """The cover sheet's RE:/Subject: line, if the first page has one."""
    match = _SUBJECT_LINE.search(text[:3000])
    return match.group(1)[:200] if match else None


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None and in_range(parsed) else None


def fax_item(
    *,
    fax_id: str,
    received_at: datetime,
    text: str | None = None,
    pdf: bytes | None = None,
    from_number: str | None = None,
    to_number: str | None = None,
    csid: str | None = None,
    pages: int | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> InboundItem:
    """One fax as an item, from its text or its PDF (a multipart upload goes through here too)."""
    if not fax_id:
        raise FaxError("fax_id: required")
    metadata: dict[str, Any] = {}
    body = (text or "").strip()
    if pdf is not None and not body:
        extracted = pdf_text(pdf, max_pages=max_pages)
        body = extracted.text
        pages = pages or extracted.pages
        if extracted.needs_ocr:
            metadata["needs_ocr"] = True
            metadata["pages_without_text"] = list(extracted.pages_without_text)
        if extracted.pages > max_pages:
            metadata["pages_read"] = max_pages
    elif not body:
        metadata["needs_ocr"] = True  # neither text nor a PDF: someone has to look at the original
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        metadata["body_truncated"] = True
    for key, value in (("pages", pages), ("from_number", from_number), ("to_number", to_number), ("csid", csid)):
        if value not in (None, ""):
            metadata[key] = value
    return storable(
        InboundItem(
            channel="fax",
            external_id=fax_id,
            received_at=received_at,
            body=body,
            subject=subject_line(body),
            metadata=metadata,
        )
    )


def parse_fax_callback(payload: Mapping[str, Any], *, received_at: datetime) -> InboundItem:
    """A fax service's JSON callback as an item; raises FaxError naming the bad field."""
    fax_id = payload.get("fax_id")
    if not isinstance(fax_id, str | int) or isinstance(fax_id, bool) or not str(fax_id):
        raise FaxError("fax_id: required (a string)")
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        raise FaxError("text: must be a string")
    pdf: bytes | None = None
    if payload.get("pdf_base64") is not None:
        encoded = payload["pdf_base64"]
        if not isinstance(encoded, str):
            raise FaxError("pdf_base64: must be a base64 string")
        try:
            pdf = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise FaxError("pdf_base64: not valid base64") from None
    pages = payload.get("pages")
    if pages is not None and (not isinstance(pages, int) or isinstance(pages, bool) or pages < 0):
        raise FaxError("pages: must be a whole number")

    def _str(key: str) -> str | None:
        value = payload.get(key)
        return str(value) if value not in (None, "") else None

    return fax_item(
        fax_id=str(fax_id),
        received_at=_aware(payload.get("received_at")) or received_at,
        text=text,
        pdf=pdf,
        from_number=_str("from"),
        to_number=_str("to"),
        csid=_str("csid"),
        pages=pages,
    )
