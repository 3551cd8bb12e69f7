"""The timers loop: escalations, shift changes and alert delivery, run beside the API.

Every pass is safe to run on several instances at once (what fired is read in
the same transaction that records new firings), so leadership is only about
not doing the work twice: on PostgreSQL one instance holds a session advisory
lock and runs the loop; if it dies its connection closes, the lock is freed
and another instance takes over within one poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from careroute.dispatcher import Dispatcher
from careroute.notify import Notifier

log = logging.getLogger("careroute.scheduler")

LEADER_LOCK = 7346202


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
        self.passes = 0

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

    def is_leader(self) -> bool:
        store = self.dispatcher.store
        if store.dialect != "postgresql":
            return True
        if self._leader_conn is not None:
            try:
                self._leader_conn.exec_driver_sql("SELECT 1")
                return True
            except Exception:  # the connection died: take part in the election again
                self._leader_conn = None
        conn = store.engine.connect()
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LEADER_LOCK})").scalar()
        conn.commit()
        if got:
            self._leader_conn = conn
            log.info("this instance now runs the scheduler")
            return True
        conn.close()
        return False

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
                log.error("scheduler pass failed: %s", type(exc).__name__)
            self._stop.wait(max(0.0, self.escalate_every - (time.monotonic() - started)))

    @staticmethod
    def _guard(name: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:
            # Only the class name: database errors can carry values.
            log.error("scheduler %s failed: %s", name, type(exc).__name__)
