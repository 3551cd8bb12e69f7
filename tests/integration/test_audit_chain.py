"""The event log is tamper-evident: `careroute audit verify` names an edited, a deleted and a moved row."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, select, update

from careroute.dispatcher import Dispatcher
from careroute.store.repository import Store
from careroute.store.tables import events
from tests.conftest import DEMO, make_item


def verify(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "careroute.cli", "audit", "verify", "--db", db_url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def some_history(dispatcher: Dispatcher) -> None:
    for i in range(3):
        task_id = dispatcher.intake(make_item(f"portal-{i}")).task_id
        dispatcher.claim(task_id, actor="luis")
        dispatcher.resolve(task_id, actor="luis")


def test_an_untouched_log_verifies(dispatcher: Dispatcher, db_url: str) -> None:
    some_history(dispatcher)
    run = verify(db_url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the event log is intact" in run.stdout


def test_an_edited_event_is_named(dispatcher: Dispatcher, store: Store, db_url: str) -> None:
    some_history(dispatcher)
    with store.write() as conn:
        victim = conn.execute(select(events.c.id).where(events.c.kind == "resolved").limit(1)).scalar_one()
        conn.execute(update(events).where(events.c.id == victim).values(actor="someone_else"))
    run = verify(db_url)
    assert run.returncode == 1
    assert f"event {victim}: its content does not match its hash: the event was edited" in run.stdout


def test_a_deleted_event_is_named_by_the_one_after_it(dispatcher: Dispatcher, store: Store, db_url: str) -> None:
    some_history(dispatcher)
    with store.write() as conn:
        ids = [r.id for r in conn.execute(select(events.c.id).order_by(events.c.id))]
        conn.execute(delete(events).where(events.c.id == ids[5]))
    run = verify(db_url)
    assert run.returncode == 1
    assert f"event {ids[6]}: does not follow the event before it" in run.stdout


def test_moved_events_are_named(dispatcher: Dispatcher, store: Store, db_url: str) -> None:
    some_history(dispatcher)
    with store.write() as conn:
        ids = [r.id for r in conn.execute(select(events.c.id).order_by(events.c.id))]
        a, b = ids[3], ids[4]
        # Swap two events' places in the log (their ids), keeping each one's content and hashes.
        conn.execute(update(events).where(events.c.id == a).values(id=-1))
        conn.execute(update(events).where(events.c.id == b).values(id=a))
        conn.execute(update(events).where(events.c.id == -1).values(id=b))
    run = verify(db_url)
    assert run.returncode == 1
    assert f"event {a}: does not follow" in run.stdout


def test_who_read_a_patients_messages_answers_in_one_query(dispatcher: Dispatcher, db_url: str) -> None:
    import httpx

    from careroute.api import create_app
    from tests.conftest import LiveServer

    task_id = dispatcher.intake(make_item("portal-read")).task_id
    other = dispatcher.intake(make_item("portal-other")).task_id
    with LiveServer(create_app(dispatcher, security=DEMO)) as server:
        httpx.get(f"{server.url}/v1/tasks/{task_id}", headers={"x-careroute-user": "rhea"})
        httpx.get(f"{server.url}/v1/tasks/{other}", headers={"x-careroute-user": "omar"})
        httpx.get(f"{server.url}/v1/metrics.csv", headers={"x-careroute-user": "pam"})
    mrn = make_item("portal-read").patient.mrn
    run = subprocess.run(
        [sys.executable, "-m", "careroute.cli", "audit", "access", "--mrn", str(mrn), "--db", db_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "rhea" in run.stdout and f"task {task_id}" in run.stdout and "omar" not in run.stdout
    with Store.from_url(db_url).read() as conn:
        from careroute.store.tables import access_log

        exports = list(conn.execute(select(access_log).where(access_log.c.action == "export")))
    assert [e.actor for e in exports] == ["pam"] and "metrics.csv" in exports[0].what
