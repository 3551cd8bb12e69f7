"""Word that events were appended, for the live views: from this process, and on PostgreSQL from every instance.

A write transaction that appends events marks itself (`mark`); once it has
committed, the store wakes this process's waiting streams at once (SQLite and
PostgreSQL alike). On PostgreSQL the same transaction also sends a NOTIFY, which
PostgreSQL delivers only at commit, so a LISTEN connection in another instance
never wakes its streams before the events can be read.

A wake carries no data: a stream that wakes reads the events after its last id
itself, so a lost, late or doubled wake loses or repeats nothing, and streams
keep a slow poll as the safety net (other processes on one SQLite file, a
listener reconnecting). The listener runs only while some stream waits, so an
instance that serves only the API holds no extra connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine

log = logging.getLogger("careroute.feed")

CHANNEL = "careroute_events"
_MARK = "careroute_events_appended"
#: How long the listener stays connected after the last stream has gone (a page reload reconnects at once).
LINGER_SECONDS = 10.0


class EventFeed:
    """A counter that moves when events are appended, and a way for async streams to wait for it to move."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._version = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._subscribers = 0
        self._last_subscriber = 0.0
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        #: True while a LISTEN connection is up: wakes from other instances arrive, streams may poll slowly.
        self.listening = False

    # -- the writing side ---------------------------------------------------------

    def mark(self, conn: Connection) -> bool:
        """Note that this write transaction appends events; True the first time, when a NOTIFY is due.

        The store sends the NOTIFY (PostgreSQL) in the statement that reads the chain's last hash, so
        the wake costs no round trip of its own inside the transaction that holds the chain's lock.
        """
        if conn.info.get(_MARK):
            return False
        conn.info[_MARK] = True
        return True

    @staticmethod
    def take_mark(conn: Connection) -> bool:
        """Whether this transaction appended events; clears the mark (it lives on the pooled connection)."""
        return bool(conn.info.pop(_MARK, False))

    def wake(self) -> None:
        """Events were committed: every waiting stream reads what is new."""
        with self._lock:
            self._version += 1
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that stream's event loop has closed
                loop.call_soon_threadsafe(_resolve, future)

    # -- the reading side ---------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    async def wait(self, seen: int, timeout: float) -> int:
        """Return when the version differs from `seen` (at once if it already does) or after `timeout`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._version != seen:
                return self._version
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
        return self._version

    def subscribe(self) -> None:
        """A stream opened: on PostgreSQL make sure this process listens."""
        with self._lock:
            self._subscribers += 1
            if not self.postgres:
                return
            self._stop.clear()  # a listener on its way out after close() stays on
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(target=self._listen, name="careroute-listen", daemon=True)
            self._listener.start()

    def unsubscribe(self) -> None:
        with self._lock:
            self._subscribers -= 1
            self._last_subscriber = time.monotonic()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening (tests, shutdown); the next stream starts it again."""
        self._stop.set()
        listener = self._listener
        if listener is not None:
            listener.join(timeout)

    def _idle(self) -> bool:
        with self._lock:
            return self._subscribers <= 0 and time.monotonic() - self._last_subscriber > LINGER_SECONDS

    def _retire(self) -> bool:
        """Whether the listener should end; decided under the lock so that a stream opening now is not missed."""
        with self._lock:
            idle = self._subscribers <= 0 and time.monotonic() - self._last_subscriber > LINGER_SECONDS
            if self._stop.is_set() or idle:
                if self._listener is threading.current_thread():
                    self._listener = None
                return True
            return False

    def _listen(self) -> None:
        backoff = 0.5
        while not self._retire():
            raw: Any = None
            try:
                # A connection of its own, taken out of the pool for good: it sits in LISTEN for as long
                # as streams wait, and must never be handed to a request.
                raw = self.engine.raw_connection()
                raw.detach()
                pg = raw.dbapi_connection  # psycopg 3: the driver's own connection
                pg.rollback()
                pg.autocommit = True
                pg.execute(f"LISTEN {CHANNEL}")
                self.listening = True
                backoff = 0.5
                self.wake()  # anything appended while no one listened is read now
                while not self._stop.is_set() and not self._idle():
                    for _ in pg.notifies(timeout=1.0):
                        self.wake()
            except Exception as exc:  # the database went away: streams poll until the listener is back
                log.warning("live updates: listener connection lost (%s); retrying", type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.listening = False
                if raw is not None:
                    with contextlib.suppress(Exception):  # already broken; nothing to release
                        raw.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
