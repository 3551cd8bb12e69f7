"""Live changes for the pages: Server-Sent Events read off the event log.

Each stream reads the events with an id above the last it sent, on the
primary key (one indexed range read, whatever the size of the log), whenever the
store's feed says events were appended: at once for writes of this process, and
on PostgreSQL for writes of any instance (LISTEN/NOTIFY, see store/feed.py). It
also reads on a slow poll, the safety net for writers the feed cannot hear
(another process on the same SQLite file, a listener reconnecting). It sends ids,
kinds, queues and assignees, never message text, and pages fetch what they show
through their own fragments. A stream ends when its client goes, and after
`LIFETIME_SECONDS` in any case (the browser reconnects with Last-Event-ID and
loses nothing), so a server never holds a connection forever.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import bindparam, select

from careroute.dispatcher import Dispatcher
from careroute.store.tables import events
from careroute.web.data import latest_event_id

#: The safety-net poll while nothing wakes a stream; slower when a PostgreSQL listener hears every instance.
POLL_SECONDS = 1.0
LISTENING_POLL_SECONDS = 10.0
#: Reads of one stream are at least this far apart, so a burst of intake costs each page a few reads a second.
MIN_GAP_SECONDS = 0.2
#: Short, because a server that is stopping waits for open responses: a stream ends within this anyway.
LIFETIME_SECONDS = 55.0
HEARTBEAT_SECONDS = 15.0
BATCH = 200
#: More live pages than a practice has staff at screens means something is wrong; refuse rather than pile up.
MAX_STREAMS = 200


@dataclass
class Streams:
    """Open streams, so that the cap holds and tests can see a stream end when its client leaves."""

    active: int = 0
    opened: int = 0


def _start(request: Request, after: int | None) -> int | None:
    # A reconnecting browser says where it stopped; that wins over the page's first position.
    header = request.headers.get("last-event-id", "")
    if header.isdigit():
        return int(header)
    return after if after is not None and after >= 0 else None


def router(dispatcher: Dispatcher, streams: Streams) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    query = (
        select(events.c.id, events.c.task_id, events.c.kind, events.c.queue, events.c.assignee, events.c.actor)
        .where(events.c.id > bindparam("after"))
        .order_by(events.c.id)
        .limit(BATCH)
    )

    def fetch(after: int) -> list[dict[str, object]]:
        with dispatcher.store.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query, {"after": after})]

    @r.get("/events/stream")
    async def stream(request: Request, after: int | None = None) -> Response:
        """Events after `after` (or Last-Event-ID) as they are appended: id, task, kind, queue, assignee, actor."""
        if streams.active >= MAX_STREAMS:
            return JSONResponse(
                {"error": "busy", "message": "too many live views are open; try again shortly"},
                status_code=503,
                headers={"retry-after": "5"},
            )
        start = _start(request, after)
        if start is None:
            start = await anyio.to_thread.run_sync(latest_event_id, dispatcher)

        feed = dispatcher.store.feed

        async def body() -> AsyncIterator[str]:
            streams.active += 1
            streams.opened += 1
            feed.subscribe()
            last = start
            try:
                yield "retry: 2000\n: live\n\n"
                ends = time.monotonic() + LIFETIME_SECONDS
                beat = time.monotonic() + HEARTBEAT_SECONDS
                while time.monotonic() < ends:
                    if await request.is_disconnected():
                        return
                    # Taken before the read: a wake that comes while reading makes the next wait return at once.
                    seen = feed.version
                    read_at = time.monotonic()
                    rows = await anyio.to_thread.run_sync(fetch, last)
                    for row in rows:
                        last = int(str(row["id"]))
                        yield f"id: {last}\ndata: {json.dumps(row, separators=(',', ':'))}\n\n"
                    if len(rows) == BATCH:
                        continue  # a burst: catch up before waiting
                    if time.monotonic() >= beat:
                        # A comment line: keeps proxies from closing an idle stream and finds a gone client.
                        yield ": keep-alive\n\n"
                        beat = time.monotonic() + HEARTBEAT_SECONDS
                    poll = LISTENING_POLL_SECONDS if feed.listening else POLL_SECONDS
                    while feed.version == seen and time.monotonic() - read_at < poll and time.monotonic() < ends:
                        # In slices of a second, so that a client that left is noticed soon.
                        await feed.wait(seen, min(1.0, poll - (time.monotonic() - read_at)))
                        if await request.is_disconnected():
                            return
                    await anyio.sleep(max(0.0, MIN_GAP_SECONDS - (time.monotonic() - read_at)))
            finally:
                feed.unsubscribe()
                streams.active -= 1

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return r
