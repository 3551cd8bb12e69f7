"""`careroute migrate-store`: a real SQLite store copied into a real PostgreSQL schema, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from careroute.cli import main
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.model import Patient
from careroute.rules import LoadedPack
from careroute.store.engine import make_engine
from careroute.store.repository import Store
from careroute.store.tables import events, items, metadata, tasks
from tests.conftest import PG_URL, ROOT, T0, make_item


def careroute(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "careroute.cli", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def careroute_here(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """The same command in this process: the refusals need no start-up of their own."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return Run(code, out, err)


@pytest.fixture
def empty_pg(pg_schema_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL schema (no tables at all) of its own; dropped afterwards."""
    del pg_schema_url  # asked for its check: PostgreSQL answers, or the test is skipped (failed in CI)
    schema = f"careroute_copy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path, starter_pack: LoadedPack) -> Iterator[Path]:
    """A SQLite store that has lived a little: intake, a merged duplicate, a claim, reroute, resolve, escalations."""
    path = tmp_path / "careroute.db"
    path.write_bytes(sqlite_template.read_bytes())
    clock = SimulatedClock(T0)
    store = Store.from_url(f"sqlite:///{path}")
    d = Dispatcher(store, starter_pack, clock=clock)
    d.load_pack()
    ids = [d.intake(make_item(f"portal-{i}")).task_id for i in range(30)]
    nora = Patient(mrn="MS100200", name="Nora Castellanos", dob="1971-03-09")
    d.intake(make_item("portal-nora", patient=nora))
    d.intake(make_item("voicemail-nora", channel="voicemail", patient=nora))  # the same request: merged
    d.claim(ids[0], "luis")
    d.resolve(ids[0], "luis", "sent to the pharmacy")
    d.reroute(ids[1], "records", "asked for records, not a refill", "luis", reason_code=_code(d))
    clock.now += timedelta(days=3)
    d.escalate()
    store.engine.dispose()
    yield path


def _code(d: Dispatcher) -> str | None:
    return sorted(d.reroute_codes)[0] if d.reroute_codes else None


def _rows(url: str, table: Any) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            order = list(table.primary_key.columns) or list(table.columns)
            return [dict(r._mapping) for r in conn.execute(select(table).order_by(*order))]
    finally:
        engine.dispose()


def test_it_copies_every_row_with_its_id_and_the_chain_verifies_on_postgresql(
    sqlite_store: Path, empty_pg: str, starter_pack: LoadedPack
) -> None:
    source = f"sqlite:///{sqlite_store}"
    run = careroute("migrate-store", "--from", str(sqlite_store), "--to", empty_pg)
    assert run.returncode == 0, run.stderr
    assert "the event chain verifies" in run.stdout
    assert "events:" in run.stderr  # progress, one line per table when stderr is not a terminal
    for table in metadata.sorted_tables:
        assert _rows(empty_pg, table) == _rows(source, table), table.name
    assert len(_rows(empty_pg, events)) > 100

    verify = careroute("audit", "verify", "--db", empty_pg)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout

    # The numbering goes on where the SQLite file stopped, and new events chain onto the copied ones.
    store = Store.from_url(empty_pg)
    try:
        d = Dispatcher(store, starter_pack, clock=SimulatedClock(T0 + timedelta(days=4)))
        d.load_pack()
        with store.read() as conn:
            top = {t: conn.execute(select(func.max(t.c.id))).scalar_one() for t in (tasks, items, events)}
        new = d.intake(make_item("portal-after-the-move"))
        assert new.task_id == top[tasks] + 1
        with store.read() as conn:
            assert (
                conn.execute(select(func.min(events.c.id)).where(events.c.task_id == new.task_id)).scalar_one()
                > top[events]
            )
            assert conn.execute(select(func.max(items.c.id))).scalar_one() == top[items] + 1
    finally:
        store.engine.dispose()
    assert careroute("audit", "verify", "--db", empty_pg).returncode == 0


def test_it_refuses_a_target_that_already_holds_data(
    sqlite_store: Path, empty_pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert careroute_here(capsys, "migrate-store", "--from", str(sqlite_store), "--to", empty_pg).returncode == 0
    again = careroute_here(capsys, "migrate-store", "--from", str(sqlite_store), "--to", empty_pg)
    assert again.returncode == 2
    assert "already holds data" in again.stderr and "tasks (" in again.stderr
    assert "Traceback" not in again.stderr


def test_it_says_plainly_what_is_wrong_with_the_command(
    tmp_path: Path, sqlite_store: Path, empty_pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = careroute_here(capsys, "migrate-store", "--from", str(tmp_path / "nowhere.db"), "--to", empty_pg)
    assert missing.returncode == 2 and "no such SQLite file" in missing.stderr
    assert not (tmp_path / "nowhere.db").exists()  # asking never creates an empty source
    to_sqlite = careroute_here(capsys, "migrate-store", "--from", str(sqlite_store), "--to", str(tmp_path / "other.db"))
    assert to_sqlite.returncode == 2 and "name a PostgreSQL database" in to_sqlite.stderr
    unreachable = careroute_here(
        capsys, "migrate-store", "--from", str(sqlite_store), "--to", "postgresql://postgres@127.0.0.1:1/test"
    )
    assert unreachable.returncode == 2 and "--to: cannot open the database" in unreachable.stderr
    for run in (missing, to_sqlite, unreachable):
        assert "Traceback" not in run.stderr
