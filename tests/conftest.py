"""Shared fixtures: a real SQLite file and a real PostgreSQL, the starter pack, a real HTTP server.

Store-backed tests take the `db_url` fixture, which runs them once on SQLite
and once on PostgreSQL. PostgreSQL is skipped (and says so) only when no server
answers on 127.0.0.1:5432 and CAREROUTE_REQUIRE_POSTGRES is unset; CI sets it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from careroute.api.security import Security
from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.model import InboundItem, Patient
from careroute.rules import LoadedPack, load_pack
from careroute.store.engine import make_engine
from careroute.store.migrate import upgrade
from careroute.store.repository import Store
from careroute.store.tables import metadata

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
PG_URL = os.environ.get("CAREROUTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EDT = timezone(timedelta(hours=-4))
T0 = datetime(2026, 10, 5, 8, 0, tzinfo=EDT)
#: The quick start's open mode: most tests exercise dispatch, not sign-in (tests/integration/test_security.py does).
DEMO = Security(demo=True)


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def starter_pack() -> LoadedPack:
    return load_pack(STARTER_PACK)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    if not _postgres_answers():
        if os.environ.get("CAREROUTE_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (CAREROUTE_REQUIRE_POSTGRES) but none answers on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL answers on 127.0.0.1:5432: PostgreSQL run skipped")
    schema = f"careroute_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "careroute.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_schema_url")
    engine = make_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.from_url(db_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def dispatcher(store: Store, starter_pack: LoadedPack, clock: SimulatedClock) -> Dispatcher:
    d = Dispatcher(store, starter_pack, clock=clock)
    d.load_pack()
    return d


def patient_for(external_id: str) -> Patient:
    """A distinct patient per item, so that unrelated test items are never merged as duplicates."""
    return Patient(mrn=f"TS{zlib.crc32(external_id.encode()) % 10**6:06d}", name="Alice Test", dob="1970-01-01")


def make_item(
    external_id: str = "portal-1", *, channel: str = "portal", body: str | None = None, **kw: Any
) -> InboundItem:
    """A plain item; the default is a routine refill request."""
    return InboundItem(
        channel=channel,
        external_id=external_id,
        received_at=kw.pop("received_at", T0),
        body=body if body is not None else "Please send a refill of my atorvastatin 40 mg to the pharmacy.",
        patient=kw.pop("patient", patient_for(external_id)),
        subject=kw.pop("subject", None),
        metadata=kw.pop("metadata", {}),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """careroute's FastAPI app served by uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(dispatcher: Dispatcher) -> Iterator[LiveServer]:
    from careroute.api import create_app

    with LiveServer(create_app(dispatcher, security=DEMO)) as server:
        yield server


def run_in_own_loop(coro: Any) -> Any:
    """asyncio.run in a thread of its own: another test's tool (Playwright's sync API) may hold a loop here."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0] if out else None
