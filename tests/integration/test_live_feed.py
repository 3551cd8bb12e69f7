"""The live views' feed: a committed write wakes the streams of its own process at once on either database,
and on PostgreSQL those of another instance too (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import threading
import time

from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import LoadedPack
from careroute.store.repository import Store
from tests.conftest import T0, make_item, run_in_own_loop


def _wait_for_wake(store: Store, write: threading.Thread, timeout: float) -> tuple[bool, float]:
    """Whether the feed moved within `timeout` after `write` started, and how long it took."""

    async def waiting() -> tuple[bool, float]:
        seen = store.feed.version
        started = time.monotonic()
        write.start()
        while time.monotonic() - started < timeout:
            if await store.feed.wait(seen, timeout - (time.monotonic() - started)) != seen:
                return True, time.monotonic() - started
        return False, timeout

    result: tuple[bool, float] = run_in_own_loop(waiting())
    write.join()
    return result


def test_it_wakes_this_processs_streams_when_a_write_commits(dispatcher: Dispatcher) -> None:
    write = threading.Thread(target=lambda: dispatcher.intake(make_item("portal-1")))
    woke, seconds = _wait_for_wake(dispatcher.store, write, timeout=5)
    assert woke and seconds < 2


def test_it_does_not_wake_for_a_write_without_events(dispatcher: Dispatcher) -> None:
    def nothing() -> None:
        with dispatcher.store.write() as conn:
            conn.exec_driver_sql("SELECT 1")

    woke, _ = _wait_for_wake(dispatcher.store, threading.Thread(target=nothing), timeout=0.5)
    assert not woke


def test_it_wakes_another_instances_streams_on_postgresql(pg_schema_url: str, starter_pack: LoadedPack) -> None:
    writer = Dispatcher(Store.from_url(pg_schema_url), starter_pack, clock=SimulatedClock(T0))
    writer.load_pack()
    reader = Store.from_url(pg_schema_url)  # another instance: it shares nothing with the writer but the database
    reader.feed.subscribe()
    try:
        deadline = time.monotonic() + 10
        while not reader.feed.listening and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.feed.listening
        write = threading.Thread(target=lambda: writer.intake(make_item("portal-feed-1")))
        woke, seconds = _wait_for_wake(reader, write, timeout=5)
        assert woke and seconds < 2
    finally:
        reader.feed.unsubscribe()
        reader.feed.close()
        reader.engine.dispose()
        writer.store.engine.dispose()


def test_a_stream_waiting_on_the_feed_gives_up_after_its_timeout(dispatcher: Dispatcher) -> None:
    async def waiting() -> float:
        started = time.monotonic()
        await dispatcher.store.feed.wait(dispatcher.store.feed.version, 0.2)
        return time.monotonic() - started

    assert 0.15 < run_in_own_loop(waiting()) < 1.5
    assert asyncio.iscoroutinefunction(dispatcher.store.feed.wait)
