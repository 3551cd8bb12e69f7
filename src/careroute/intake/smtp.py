"""Inbound SMTP (aiosmtpd) on the application's own event loop: mail → InboundItem → `deliver`.

- RCPT TO an address outside `allowed_recipients` → `550 5.1.1`: careroute is not an open relay
  and a wrong address should bounce at the sender, not vanish.
- DATA: the message is parsed (careroute.intake.email) and delivered before the reply. `250`
  means it is durable; if `deliver` raises, `451 4.3.0` (temporary) makes the sending server
  keep the mail and retry, so nothing accepted is lost. A retry is the same Message-ID, and the
  dispatcher is idempotent on it.
- Auto-replies and bounces are answered `250` and dropped (not delivered).
- A message that cannot be parsed at all → `554 5.6.0` (permanent: a retry cannot help).

The listener has no STARTTLS or AUTH: run it on a trusted network behind the practice's mail
relay (which does TLS and spam filtering), the way fax and lab gateways are usually deployed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from careroute.intake.email import EmailError, parse_email
from careroute.model import InboundItem, Patient

log = logging.getLogger(__name__)

Deliver = Callable[[InboundItem], Any]
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class SmtpIntakeHandler:
    """aiosmtpd handler: RCPT checks the recipient, DATA parses and delivers."""

    def __init__(
        self,
        deliver: Deliver,
        allowed_recipients: Iterable[str],
        *,
        patient_for_sender: Callable[[str], Patient | None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.deliver = deliver
        self.allowed_recipients = frozenset(a.strip().lower() for a in allowed_recipients)
        self.patient_for_sender = patient_for_sender
        self.clock = clock

    def __repr__(self) -> str:
        return f"SmtpIntakeHandler(allowed_recipients={sorted(self.allowed_recipients)!r})"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.strip().lower() not in self.allowed_recipients:
            return "550 5.1.1 Recipient address rejected: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content or "").encode()
        try:
            item = parse_email(
                raw,
                received_at=self.clock(),
                # aiosmtpd keeps MAIL FROM:<> as "<>"; the null sender marks a bounce.
                envelope_from="" if (envelope.mail_from or "").strip() in ("", "<>") else envelope.mail_from,
                envelope_to=list(envelope.rcpt_tos),
                patient_for_sender=self.patient_for_sender,
            )
        except (EmailError, ValueError, LookupError):
            log.warning("SMTP message rejected: unparsable (%d bytes)", len(raw))
            return "554 5.6.0 Message could not be parsed"
        if item is None:
            return "250 OK: automatic reply ignored"
        try:
            if inspect.iscoroutinefunction(self.deliver):
                await self.deliver(item)
            else:
                result = await asyncio.to_thread(self.deliver, item)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            # The id is the sender's Message-ID, not content; the item itself is PHI and stays out of logs.
            log.warning("SMTP delivery failed (%s); 451 sent so the sender retries", type(exc).__name__)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        return "250 OK: queued"


async def start_smtp_server(
    host: str,
    port: int,
    deliver: Deliver,
    allowed_recipients: Iterable[str],
    *,
    patient_for_sender: Callable[[str], Patient | None] | None = None,
    hostname: str | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> asyncio.Server:
    """Listen for SMTP on host:port in the running loop (0 picks a free port; see server.sockets)."""
    handler = SmtpIntakeHandler(deliver, allowed_recipients, patient_for_sender=patient_for_sender)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(handler, data_size_limit=max_message_bytes, hostname=hostname, loop=loop, enable_SMTPUTF8=True)

    return await loop.create_server(protocol, host, port)
