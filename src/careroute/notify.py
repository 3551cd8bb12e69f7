"""Outbound alerts: deliver the notification outbox by SMTP and signed webhook, with retry and backoff.

Escalation writes a notification row in the same transaction as its event;
delivery happens here, after commit, so a slow or broken mail server never
holds up intake or the escalation pass. A row is leased before it is sent
(a conditional update), so two instances never send it twice; a final
failure stays in the table as a dead letter, visible in the API.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import Row

from careroute.intake.signatures import sign_request
from careroute.store.repository import Store

log = logging.getLogger("careroute.notify")

#: Waits before each retry; after the last one the notification is a dead letter.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class NotifySettings:
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "careroute@localhost"
    webhook_secret: bytes | None = None
    timeout_seconds: float = 10.0


class DeliveryError(Exception):
    """One attempt failed; the message says why without the notification's content."""


class Notifier:
    def __init__(self, store: Store, settings: NotifySettings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def deliver_due(self, limit: int = 50) -> int:
        """Send every notification whose time has come; returns how many were sent."""
        now = self.clock()
        with self.store.read() as conn:
            due = self.store.notifications_due(conn, now, limit)
        sent = 0
        for row in due:
            with self.store.write() as conn:
                if not self.store.lease_notification(conn, row, now + LEASE):
                    continue  # another instance has it
            try:
                self._send(row)
            except DeliveryError as exc:
                self._failed(row, str(exc))
                continue
            with self.store.write() as conn:
                self.store.finish_notification(
                    conn, row.id, {"status": "sent", "sent_at": self.clock(), "last_error": None}
                )
            sent += 1
        return sent

    def _failed(self, row: Row[Any], error: str) -> None:
        attempt = row.attempts + 1
        now = self.clock()
        values: dict[str, Any] = {"last_error": error[:500]}
        if attempt > len(BACKOFF):
            values["status"] = "dead"
            log.warning("notification %s for task %s is a dead letter after %s attempts", row.id, row.task_id, attempt)
        else:
            values["next_attempt_at"] = now + BACKOFF[attempt - 1]
        with self.store.write() as conn:
            self.store.finish_notification(conn, row.id, values)

    def _send(self, row: Row[Any]) -> None:
        if row.kind == "email":
            self._email(row)
        elif row.kind == "webhook":
            self._webhook(row)
        elif row.kind == "fhir":
            self._fhir(row)
        else:
            raise DeliveryError(f"unknown notification kind {row.kind!r}")

    def _email(self, row: Row[Any]) -> None:
        s = self.settings
        if not s.smtp_host:
            raise DeliveryError("no SMTP server configured (CAREROUTE_SMTP_HOST)")
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = row.target
        message["Subject"] = row.subject
        message.set_content(row.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}") from None

    def _fhir(self, row: Row[Any]) -> None:
        """A FHIR resource (the body, already JSON) POSTed to the EHR's endpoint."""
        try:
            response = httpx.post(
                row.target,
                content=row.body.encode(),
                headers={"content-type": "application/fhir+json"},
                timeout=self.settings.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"FHIR {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"FHIR endpoint answered {response.status_code}")

    def _webhook(self, row: Row[Any]) -> None:
        body = json.dumps(
            {"task_id": row.task_id, "rule_id": row.rule_id, "subject": row.subject, "text": row.body}
        ).encode()
        headers = {"content-type": "application/json"}
        if self.settings.webhook_secret:
            headers.update(sign_request(self.settings.webhook_secret, body, self.clock()))
        try:
            response = httpx.post(row.target, content=body, headers=headers, timeout=self.settings.timeout_seconds)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"webhook answered {response.status_code}")
