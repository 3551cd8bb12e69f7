"""Alert delivery against a real SMTP server and a real HTTP receiver on loopback: retry, backoff, dead letters."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.intake.signatures import ReplayCache, SourceCredentials, verify_signature
from careroute.notify import BACKOFF, Notifier, NotifySettings
from careroute.rules import load_pack_text
from careroute.store.repository import Store
from careroute.store.tables import notifications
from tests.conftest import free_port
from tests.integration.test_escalation_flow import at, prior_auth

SECRET = b"alert-webhook-secret-0123456789"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append((dict(self.headers), body))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[type[Receiver], str]]:
    handler = type("R", (Receiver,), {"answers": [], "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()


def escalated_prior_auth(store: Store, webhook: str | None = None) -> tuple[Dispatcher, SimulatedClock]:
    text = STARTER_PACK.read_text()
    if webhook:
        text = text.replace(
            "      email: authorizations-lead@example.org",
            f"      email: authorizations-lead@example.org\n      webhook: {webhook}",
        )
    clock = SimulatedClock(at(2026, 10, 6, 9))
    d = Dispatcher(store, load_pack_text(text), clock=clock)
    d.load_pack()
    d.intake(prior_auth("pa-501", clock.now))
    clock.now = at(2026, 10, 6, 11)
    assert [f.rule_id for f in d.escalate()] == ["esc.prior_auth.unclaimed"]
    return d, clock


def statuses(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return {r.target: r.status for r in conn.execute(select(notifications))}


def test_emails_reach_a_real_smtp_server_without_the_message_text(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _, clock = escalated_prior_auth(store)
    notifier = Notifier(store, NotifySettings(smtp_host="127.0.0.1", smtp_port=port), clock)
    assert notifier.deliver_due() == 2
    assert set(statuses(store).values()) == {"sent"}
    assert sorted(m["To"] for m in inbox.messages) == ["authorizations-lead@example.org", "wendy@example.org"]
    text = inbox.messages[0].get_payload()
    assert "/tasks/1" in text and "prior_auth_pending" in text
    assert "Ozempic" not in text and "Quentin" not in text  # a task link, not the patient's story
    assert notifier.deliver_due() == 0  # sent once


def test_a_failing_webhook_is_retried_with_backoff_then_delivered_signed(
    store: Store, receiver: tuple[type[Receiver], str]
) -> None:
    handler, url = receiver
    handler.answers = [500]
    _, clock = escalated_prior_auth(store, webhook=url)
    notifier = Notifier(store, NotifySettings(webhook_secret=SECRET), clock)
    notifier.deliver_due()
    assert statuses(store)[url] == "pending"  # the 500 is retried, not lost
    clock.now += BACKOFF[0] - timedelta(seconds=1)
    notifier.deliver_due()
    assert len(handler.received) == 1  # not before its backoff
    clock.now += timedelta(seconds=1)
    notifier.deliver_due()
    assert statuses(store)[url] == "sent" and len(handler.received) == 2
    headers, body = handler.received[-1]
    creds = SourceCredentials(source="careroute", hmac_secrets=(SECRET,))
    verify_signature(creds, headers, body, clock.now, ReplayCache())  # raises if the signature is wrong


def test_a_final_failure_becomes_a_dead_letter(store: Store) -> None:
    _, clock = escalated_prior_auth(store)
    closed_port = free_port()  # nothing listens here
    notifier = Notifier(store, NotifySettings(smtp_host="127.0.0.1", smtp_port=closed_port, timeout_seconds=1), clock)
    for wait in (timedelta(0), *BACKOFF):
        clock.now += wait
        notifier.deliver_due()
    assert set(statuses(store).values()) == {"dead"}
    with store.read() as conn:
        row = conn.execute(select(notifications)).first()
    assert row is not None and row.attempts == len(BACKOFF) + 1 and "SMTP" in row.last_error


def test_without_an_smtp_server_configured_email_alerts_say_so(store: Store) -> None:
    _, clock = escalated_prior_auth(store)
    Notifier(store, NotifySettings(), clock).deliver_due()
    with store.read() as conn:
        errors = {r.last_error for r in conn.execute(select(notifications))}
    assert errors == {"no SMTP server configured (CAREROUTE_SMTP_HOST)"}


def test_the_patient_hears_back_by_email_and_through_the_ehr(
    store: Store, smtp: tuple[Inbox, int], receiver: tuple[type[Receiver], str]
) -> None:
    from careroute.model import InboundItem

    inbox, port = smtp
    handler, url = receiver
    text = (
        STARTER_PACK.read_text()
        .replace("  email:\n    enabled: false", "  email:\n    enabled: true")
        .replace(
            "  portal:\n    enabled: false\n    fhir_endpoint: null",
            f"  portal:\n    enabled: true\n    fhir_endpoint: {url}",
        )
    )
    clock = SimulatedClock(at(2026, 10, 9, 18, 30))  # Friday evening: closed
    d = Dispatcher(store, load_pack_text(text), clock=clock)
    d.load_pack()
    words = "I have crushing chest pain"
    d.intake(InboundItem("email", "<x1@example.net>", clock.now, words, metadata={"from": "Q Rowe <q@example.net>"}))
    d.intake(InboundItem("portal", "Communication/c9", clock.now, "please refill my lisinopril"))
    Notifier(store, NotifySettings(smtp_host="127.0.0.1", smtp_port=port), clock).deliver_due()
    [mail] = inbox.messages
    assert mail["To"] == "q@example.net" and "call 911" in mail.get_payload() and words not in mail.get_payload()
    [(headers, body)] = handler.received
    assert headers["content-type"] == "application/fhir+json" and b'"resourceType": "Communication"' in body
    # Four business hours for a routine refill: Monday is Columbus Day, so Tuesday 08:00-12:00.
    assert b"Monday 12 October" not in body and b"Tuesday 13 October at 12:00" in body
