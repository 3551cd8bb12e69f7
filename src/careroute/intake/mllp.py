"""An asyncio MLLP listener: HL7 v2 frames in, one ACK frame out per frame, items to `deliver`.

Framing is `0x0B <message> 0x1C 0x0D`. A connection may carry any number of frames; a frame
may arrive split over many reads and several frames in one read; bytes outside a frame
(line noise, a health-check probe) are dropped. Frames are handled in order, one at a time
per connection, because HL7's original-mode acknowledgement is strictly request/response.

Each message's items go to `deliver` (a coroutine function is awaited, a plain function runs
in a worker thread so a blocking database write does not stall other connections). The ACK
is `AA` only after every item of the message was delivered; if `deliver` raises, the ACK is
`AE` ("temporary failure, resend") and the connection stays open, so the sender retries and
nothing it sent is lost. A retry cannot make a second task: external_id is the sender's
control id and the dispatcher is idempotent on it.

A batch in one frame is answered by one frame holding a batch of ACKs, one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from careroute.intake.hl7v2 import Hl7Config, Hl7Result, ack_for, batch_ack, is_batch, process_batch, process_message
from careroute.model import InboundItem

log = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024

Deliver = Callable[[InboundItem], Any]


def frame(message: str, encoding: str = "utf-8") -> bytes:
    """Wrap one message (or batch) in MLLP framing."""
    return START_BLOCK + message.encode(encoding) + END_BLOCK


class FrameReader:
    """Incremental MLLP deframer: feed bytes as they arrive, take whole frames out. Pure, no I/O."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Complete frames found so far; raises ValueError when a frame outgrows the limit."""
        self._buffer += data
        frames: list[bytes] = []
        while True:
            start = self._buffer.find(START_BLOCK)
            if start < 0:
                self._buffer.clear()  # nothing but noise so far
                return frames
            if start > 0:
                del self._buffer[:start]
            end = self._buffer.find(END_BLOCK, 1)
            if end < 0:
                if len(self._buffer) > self.max_message_bytes + 1:
                    self._buffer.clear()
                    raise ValueError("MLLP frame exceeds the size limit")
                return frames
            body = bytes(self._buffer[1:end])
            del self._buffer[: end + len(END_BLOCK)]
            # A start byte inside a frame means the previous frame was cut off: keep the newest.
            restart = body.rfind(START_BLOCK)
            frames.append(body[restart + 1 :] if restart >= 0 else body)


def decode(payload: bytes) -> str:
    """HL7 is ASCII by default; UTF-8 is the common extension, and Latin-1 never fails."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


async def _call(deliver: Deliver, item: InboundItem) -> None:
    if inspect.iscoroutinefunction(deliver):
        await deliver(item)
        return
    result = await asyncio.to_thread(deliver, item)
    if inspect.isawaitable(result):
        await result


async def handle_frame(payload: bytes, deliver: Deliver, config: Hl7Config) -> str:
    """The reply to one frame: process each message, deliver its items, ACK each."""
    text = decode(payload)
    now = datetime.now(UTC)
    results: list[Hl7Result] = (
        process_batch(text, config=config, now=now)
        if is_batch(text)
        else [process_message(text, config=config, now=now)]
    )
    acks: list[str] = []
    for result in results:
        ack = result.ack
        try:
            for item in result.items:
                await _call(deliver, item)
        except Exception as exc:
            # Log the kind of failure and the control id only: the item itself is PHI.
            log.warning("HL7 delivery failed for control id %s: %s; AE sent", result.control_id, type(exc).__name__)
            ack = ack_for(
                result.raw, "AE", "temporary failure storing the message; resend", hl7_error=207, config=config, now=now
            )
        acks.append(ack)
    return batch_ack(acks, now=now, config=config) if is_batch(text) else acks[0]


def _connection_handler(
    deliver: Deliver, config: Hl7Config, max_message_bytes: int
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader(max_message_bytes)
        try:
            while data := await reader.read(65536):
                try:
                    payloads = frames.feed(data)
                except ValueError:
                    writer.write(frame(ack_for("", "AR", "message too large", hl7_error=207, config=config)))
                    await writer.drain()
                    break
                for payload in payloads:
                    writer.write(frame(await handle_frame(payload, deliver, config)))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sender went away; it will resend what it did not get an ACK for
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    return on_connection


async def start_mllp_server(
    host: str,
    port: int,
    deliver: Deliver,
    *,
    config: Hl7Config | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> asyncio.Server:
    """Listen for MLLP on host:port (0 picks a free port: read `server.sockets[0].getsockname()`)."""
    return await asyncio.start_server(
        _connection_handler(deliver, config or Hl7Config(), max_message_bytes), host, port
    )
