"""The SMTP listener with a real smtplib client on loopback: accept, reject 550, 451 on failure, drop bounces."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from careroute.intake.smtp import start_smtp_server
from careroute.model import InboundItem
from tests.conftest import run_in_own_loop
from tests.unit.test_intake_fax_voicemail import tiny_pdf

OFFICE = "office@sweetgumfm.example"


def message(message_id: str = "<bill-002@example.com>", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Oksana Ptak <oksana.ptak@example.com>"
    msg["To"] = OFFICE
    msg["Subject"] = "Bill for my July physical"
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("I received statement #20611-4417 for $212.00. I think this was billed wrong.")
    return msg


def with_server(
    deliver: Callable[[InboundItem], Any],
    client: Callable[[smtplib.SMTP], object],
    recipients: tuple[str, ...] = (OFFICE,),
) -> None:
    """Serve SMTP on the test's event loop and run the blocking smtplib client in a thread."""

    async def main() -> None:
        server = await start_smtp_server("127.0.0.1", 0, deliver, recipients, hostname="careroute.test")
        port = server.sockets[0].getsockname()[1]

        def session() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                client(smtp)

        try:
            await asyncio.to_thread(session)
        finally:
            server.close()
            await server.wait_closed()

    run_in_own_loop(main())


def test_it_accepts_mail_for_the_office_and_delivers_it() -> None:
    delivered: list[InboundItem] = []
    with_server(delivered.append, lambda smtp: smtp.send_message(message()))
    [item] = delivered
    assert (item.channel, item.external_id, item.subject) == (
        "email",
        "bill-002@example.com",
        "Bill for my July physical",
    )
    assert item.patient.name == "Oksana Ptak" and "statement #20611-4417" in item.body
    assert item.metadata["to"] == OFFICE


def test_recipient_matching_ignores_case_and_other_addresses_get_550() -> None:
    delivered: list[InboundItem] = []

    def client(smtp: smtplib.SMTP) -> None:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.send_message(message(), to_addrs=["someone@elsewhere.example"])
        assert exc.value.recipients["someone@elsewhere.example"][0] == 550
        smtp.send_message(message("<ok@example.com>"), to_addrs=["Office@SweetgumFM.example"])

    with_server(delivered.append, client)
    assert [i.external_id for i in delivered] == ["ok@example.com"]


def test_a_failing_deliver_answers_451_and_the_retry_is_accepted() -> None:
    delivered: list[InboundItem] = []
    failures = [OSError("disk full")]

    async def deliver(item: InboundItem) -> None:
        if failures:
            raise failures.pop()
        delivered.append(item)

    def client(smtp: smtplib.SMTP) -> None:
        with pytest.raises(smtplib.SMTPDataError) as exc:
            smtp.send_message(message())
        assert exc.value.smtp_code == 451
        smtp.rset()
        smtp.send_message(message())  # the sending server's retry

    with_server(deliver, client)
    assert [i.external_id for i in delivered] == ["bill-002@example.com"]


def test_auto_replies_are_accepted_but_not_delivered() -> None:
    delivered: list[InboundItem] = []

    def client(smtp: smtplib.SMTP) -> None:
        smtp.send_message(message("<ooo@example.com>", Auto_Submitted="auto-replied"))
        smtp.send_message(message("<bounce@example.com>"), from_addr="")

    with_server(delivered.append, client)
    assert delivered == []


def test_a_faxed_pdf_by_email_arrives_with_its_text() -> None:
    delivered: list[InboundItem] = []
    msg = message("<fax-77@efax.example>")
    msg.add_attachment(
        tiny_pdf(["PRIOR AUTHORIZATION REQUEST FORM"]), maintype="application", subtype="pdf", filename="fax77.pdf"
    )
    with_server(delivered.append, lambda smtp: smtp.send_message(msg))
    [item] = delivered
    assert "PRIOR AUTHORIZATION REQUEST FORM" in item.body and item.metadata["attachments"] == ["fax77.pdf"]
