"""On PostgreSQL one instance runs the timers loop; when it dies another takes over."""

from __future__ import annotations

import time
from pathlib import Path

from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import LoadedPack
from careroute.scheduler import Scheduler
from careroute.store.repository import Store
from tests.conftest import T0


def test_one_leader_and_a_takeover_when_it_dies(pg_schema_url: str, starter_pack: LoadedPack) -> None:
    first = Scheduler(Dispatcher(Store.from_url(pg_schema_url), starter_pack, clock=SimulatedClock(T0)), None)
    second = Scheduler(Dispatcher(Store.from_url(pg_schema_url), starter_pack, clock=SimulatedClock(T0)), None)
    try:
        assert first.is_leader()
        assert not second.is_leader()  # the lock is held: this instance waits
        assert first.is_leader()  # and the leader keeps it
        first.stop()  # the leader's connection closes, as when its process dies
        # The server frees the lock when it has ended the closed session, a moment later on a busy host;
        # the standby asks again on every tick of its loop, as it does here.
        deadline = time.monotonic() + 10
        while not second.is_leader() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.is_leader()
    finally:
        first.stop()
        second.stop()


def test_on_sqlite_the_one_process_leads(tmp_path: Path, starter_pack: LoadedPack) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'one.db'}")
    assert Scheduler(Dispatcher(store, starter_pack, clock=SimulatedClock(T0)), None).is_leader()


def test_on_one_sqlite_file_one_worker_leads_and_another_takes_over(tmp_path: Path, starter_pack: LoadedPack) -> None:
    # Two worker processes of `careroute serve --workers 2` on one file: a lock on a file beside it elects one.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = Scheduler(Dispatcher(Store.from_url(url), starter_pack, clock=SimulatedClock(T0)), None)
    second = Scheduler(Dispatcher(Store.from_url(url), starter_pack, clock=SimulatedClock(T0)), None)
    try:
        assert first.is_leader()
        assert not second.is_leader()
        assert first.status()["role"] == "leader" and second.status()["role"] == "standby"
        first.stop()  # the file is closed, as when the process dies, and the lock with it
        assert second.is_leader()
    finally:
        first.stop()
        second.stop()
