"""The timers loop: escalations, shift changes and alert delivery, run beside the API.

Every pass is safe to run on several instances at once (what fired is read in
the same transaction that records new firings), so leadership is only about
not doing the work twice: on PostgreSQL one instance holds a session advisory
lock and runs the loop; if it dies its connection closes, the lock is freed
and another instance takes over within one poll. On a SQLite file the worker
processes of one `careroute serve --workers N` elect one the same way, with an
exclusive lock on a file beside the database that the kernel frees when the
holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection

from careroute.dispatcher import Dispatcher
from careroute.notify import Notifier

log = logging.getLogger("careroute.scheduler")

LEADER_LOCK = 7346202
#: A leader whose machine vanished (no FIN ever comes) is noticed by PostgreSQL's keepalives within
#: about idle + interval x count seconds, and its advisory lock freed for another instance.
LEADER_KEEPALIVES = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"


class Scheduler:
    def __init__(
        self,
        dispatcher: Dispatcher,
        notifier: Notifier | None,
        *,
        escalate_every: float = 0.25,
        tick_every: float = 15.0,
        deliver_every: float = 1.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.notifier = notifier
        self.escalate_every = escalate_every
        self.tick_every = tick_every
        self.deliver_every = deliver_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._leader_conn: Connection | None = None
        self._lock_file: IO[bytes] | None = None
        self.passes = 0
        #: Whether this process ran the timers at its last pass, and since when (for /healthz and operators).
        self.leading = False
        self.leading_since: datetime | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="careroute-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._leader_conn is not None:
            # Close the database connection itself (not back to the pool, which would keep the
            # session's advisory lock): the next instance can take over at once.
            self._leader_conn.invalidate()
            self._leader_conn.close()
            self._leader_conn = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the lock
            self._lock_file = None
        self._lead(False)

    def status(self) -> dict[str, Any]:
        """What /healthz says about the timers: this process leads or stands by, and since when."""
        return {
            "role": "leader" if self.leading else "standby",
            "pid": os.getpid(),
            "since": self.leading_since.isoformat() if self.leading_since else None,
        }

    def _lead(self, leading: bool) -> bool:
        if leading and not self.leading:
            self.leading_since = datetime.now(UTC)
            log.warning("this process (pid %s) now runs the scheduler", os.getpid())
        elif not leading:
            self.leading_since = None
        self.leading = leading
        return leading

    def is_leader(self) -> bool:
        store = self.dispatcher.store
        if store.dialect == "sqlite":
            return self._lead(self._sqlite_leader())
        if store.dialect != "postgresql":
            return self._lead(True)
        if self._leader_conn is not None:
            try:
                self._leader_conn.exec_driver_sql("SELECT 1")
                return self._lead(True)
            except Exception:  # the connection died: take part in the election again
                with contextlib.suppress(Exception):
                    self._leader_conn.invalidate()
                self._leader_conn = None
        conn = store.engine.connect()
        try:
            # Keyed by schema as well: advisory locks are database-wide, and two deployments (or test runs)
            # in two schemas of one database must each elect their own leader.
            got = conn.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({LEADER_LOCK}, hashtext(current_schema()))"
            ).scalar()
            if got:
                conn.exec_driver_sql(LEADER_KEEPALIVES)
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._leader_conn = conn
            return self._lead(True)
        conn.close()
        return self._lead(False)

    def _sqlite_leader(self) -> bool:
        if self._lock_file is not None:
            return True
        database = self.dispatcher.store.engine.url.database
        if not database or database == ":memory:":
            return True  # an in-memory database lives in this one process
        path = Path(f"{database}.scheduler-lock")
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def run_once(self) -> dict[str, Any]:
        """One pass of every duty; used by the loop and by tests."""
        fired = self.dispatcher.escalate()
        sent = self.notifier.deliver_due() if self.notifier is not None else 0
        self.passes += 1
        return {"escalated": len(fired), "sent": sent}

    def _run(self) -> None:
        next_tick = next_deliver = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self.is_leader():
                    self._guard("escalate", self.dispatcher.escalate)
                    if started >= next_tick:
                        self._guard("tick", self.dispatcher.tick)
                        next_tick = started + self.tick_every
                    if self.notifier is not None and started >= next_deliver:
                        self._guard("deliver", self.notifier.deliver_due)
                        next_deliver = started + self.deliver_every
                    self.passes += 1
            except Exception as exc:  # never let one bad pass stop the timers
                self._lead(False)  # the election itself failed (the database is away): not leading now
                log.error("scheduler pass failed: %s", type(exc).__name__)
            self._stop.wait(max(0.0, self.escalate_every - (time.monotonic() - started)))

    @staticmethod
    def _guard(name: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:
            # Only the class name: database errors can carry values.
            log.error("scheduler %s failed: %s", name, type(exc).__name__)
