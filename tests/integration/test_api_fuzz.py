"""Schemathesis against careroute's own OpenAPI schema: whatever a client sends, never a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from careroute.api import create_app
from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack
from careroute.store.repository import Store
from tests.conftest import DEMO, T0

_db = Path(tempfile.mkdtemp(prefix="careroute-fuzz-")) / "fuzz.db"
_store = Store.from_url(f"sqlite:///{_db}")
_store.migrate()
_dispatcher = Dispatcher(_store, load_pack(STARTER_PACK), clock=SimulatedClock(T0))
_dispatcher.load_pack()
app = create_app(_dispatcher, security=DEMO)

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text
