"""The MLLP listener over real loopback sockets: framing, partial reads, noise, batches, ACK codes, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from careroute.intake.mllp import FrameReader, frame, start_mllp_server
from careroute.model import InboundItem
from tests.conftest import run_in_own_loop

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "hl7"
ORU = (FIXTURES / "oru_potassium_hh.hl7").read_text()
ADT = (FIXTURES / "adt_a01.hl7").read_text()
REF = (FIXTURES / "ref_i12.hl7").read_text()
TIMEOUT = 5


def msa(ack_frame: bytes) -> list[str]:
    assert ack_frame.startswith(b"\x0b") and ack_frame.endswith(b"\x1c\x0d")
    segments = ack_frame[1:-2].decode().split("\r")
    return next(s for s in segments if s.startswith("MSA")).split("|")


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\x1c\x0d"), TIMEOUT)


def run(
    scenario: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    deliver: Callable[[InboundItem], Any],
) -> None:
    async def main() -> None:
        server = await start_mllp_server("127.0.0.1", 0, deliver)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await scenario(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()
            server.close()
            await server.wait_closed()

    run_in_own_loop(main())


def test_it_acks_a_message_after_delivering_its_item() -> None:
    delivered: list[InboundItem] = []

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(ORU))
        await writer.drain()
        assert msa(await read_frame(reader))[1:3] == ["AA", "PRL000417"]
        assert [i.metadata["abnormal_flag"] for i in delivered] == ["HH"]

    run(scenario, delivered.append)  # a plain function: run in a worker thread


def test_a_message_split_over_three_writes_and_two_in_one_write() -> None:
    delivered: list[InboundItem] = []

    async def deliver(item: InboundItem) -> None:
        delivered.append(item)

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = frame(ORU)
        for chunk in (data[:1], data[1:40], data[40:]):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.02)
        assert msa(await read_frame(reader))[1] == "AA"
        writer.write(frame(REF) + frame(ADT))
        await writer.drain()
        first, second = msa(await read_frame(reader)), msa(await read_frame(reader))
        assert (first[1:3], second[1:3]) == (["AA", "OVMCREF0042"], ["AA", "ADT0001"])
        assert [i.channel for i in delivered] == ["lab", "ehr"]  # the ADT made no item

    run(scenario, deliver)


def test_noise_between_frames_is_ignored_and_malformed_gets_ar_on_a_usable_connection() -> None:
    delivered: list[InboundItem] = []

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET / HTTP/1.0\r\n\r\n" + frame("hello, not HL7") + b"\r\n\x00junk" + frame(ORU))
        await writer.drain()
        bad, good = msa(await read_frame(reader)), msa(await read_frame(reader))
        assert bad[1] == "AR" and bad[3].startswith("MSH")
        assert good[1:3] == ["AA", "PRL000417"]
        assert len(delivered) == 1

    run(scenario, delivered.append)


def test_a_failing_deliver_gets_ae_and_the_retry_is_accepted() -> None:
    delivered: list[InboundItem] = []
    failures = [RuntimeError("database is locked")]

    def deliver(item: InboundItem) -> None:
        if failures:
            raise failures.pop()
        delivered.append(item)

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(ORU))
        await writer.drain()
        first = msa(await read_frame(reader))
        assert first[1:3] == ["AE", "PRL000417"] and "resend" in first[3]
        writer.write(frame(ORU))  # the sender's retry, on the same connection
        await writer.drain()
        assert msa(await read_frame(reader))[1] == "AA"
        assert [i.external_id for i in delivered] == ["PIEDMONT REF LAB:PRL000417"]

    run(scenario, deliver)


def test_a_batch_in_one_frame_gets_one_frame_of_acks() -> None:
    delivered: list[InboundItem] = []

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame((FIXTURES / "batch_three.hl7").read_text()))
        await writer.drain()
        reply = (await read_frame(reader))[1:-2].decode().split("\r")
        assert reply[0].startswith("BHS") and reply[-2] == "BTS|3"
        assert [s.split("|")[1] for s in reply if s.startswith("MSA")] == ["AA", "AE", "AA"]
        assert len(delivered) == 1

    run(scenario, delivered.append)


def test_several_connections_are_served_at_once() -> None:
    delivered: list[InboundItem] = []

    async def main() -> None:
        server = await start_mllp_server("127.0.0.1", 0, delivered.append)
        port = server.sockets[0].getsockname()[1]

        async def client(n: int) -> str:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(frame(ORU.replace("PRL000417", f"PRL9{n:05d}")))
            await writer.drain()
            code = msa(await read_frame(reader))[1]
            writer.close()
            await writer.wait_closed()
            return code

        try:
            assert await asyncio.gather(*(client(n) for n in range(5))) == ["AA"] * 5
        finally:
            server.close()
            await server.wait_closed()

    run_in_own_loop(main())
    assert len({i.external_id for i in delivered}) == 5


def test_the_frame_reader_keeps_partial_frames_and_drops_cut_off_ones() -> None:
    reader = FrameReader(max_message_bytes=100)
    assert reader.feed(b"noise\x0bMSH|par") == []
    assert reader.feed(b"t\x1c") == []
    assert reader.feed(b"\x0d\x0bcut off\x0bMSH|whole\x1c\x0d") == [b"MSH|part", b"MSH|whole"]
    with pytest.raises(ValueError, match="size limit"):
        reader.feed(b"\x0b" + b"x" * 200)
