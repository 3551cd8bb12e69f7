"""Schemathesis against careroute's own OpenAPI schema, and the integration doors with bodies in their own
formats, on SQLite and PostgreSQL: whatever a client sends, never a 5xx."""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careroute.access import SCOPES
from careroute.api import create_app
from careroute.api.security import Security
from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack
from careroute.store import accounts
from careroute.store.repository import Store
from tests.conftest import DEMO, ROOT, T0
from tests.unit.test_intake_fuzz import (
    FAX_KEYS,
    FHIR_SAMPLES,
    VOICEMAIL_KEYS,
    _mutate,
    damaged_pdf,
    json_value,
    mutated_hl7,
    voicemail_payload,
)

with warnings.catch_warnings():
    # Starlette's test client would like httpx2; httpx is what careroute and schemathesis use.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


_db = Path(tempfile.mkdtemp(prefix="careroute-fuzz-")) / "fuzz.db"
_store = Store.from_url(f"sqlite:///{_db}")
_store.migrate()
_dispatcher = Dispatcher(_store, load_pack(STARTER_PACK), clock=SimulatedClock(T0))
_dispatcher.load_pack()
# As served for real (not demo mode): every call carries a token that may do everything, so the fuzzing
# reaches past the door into each route.
app = create_app(_dispatcher, security=Security())
_token = accounts.create_token(_store, "fuzzing", list(SCOPES), "test", T0)[1]
AUTH = {"authorization": f"Bearer {_token}"}

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text


# -- what the schema cannot say ------------------------------------------------------------------
# The integration doors read their raw body (HL7 text, FHIR JSON, form fields, a PDF upload), so the
# schema has no request body for them and schemathesis sends them none. Here they get bodies in their
# own formats, damaged, on both databases: PostgreSQL refuses values SQLite keeps (a NUL in text, an
# over-long id), so a 5xx can hide on one of them only.

INTEGRATION_DOORS = {"/webhooks/{source}", "/fhir/r4", "/fhir/r4/{resource_type}", "/hl7/v2", "/voicemail", "/fax"}


def test_the_schema_lists_every_api_operation_so_each_is_fuzzed() -> None:
    from fastapi.routing import APIRoute

    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    served = {
        (m, r.path) for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema for m in r.methods or ()
    }
    assert served <= documented
    assert {("POST", p) for p in INTEGRATION_DOORS} <= documented
    api = {p for _, p in served if p.startswith(("/v1/", "/metrics", "/healthz")) or p in INTEGRATION_DOORS}
    assert len(api) >= 25  # the JSON API and the doors, not the pages (which are not in the schema)


@pytest.fixture
def door_client(db_url: str) -> Iterator[TestClient]:
    store = Store.from_url(db_url)
    dispatcher = Dispatcher(store, load_pack(STARTER_PACK), clock=SimulatedClock(T0))
    dispatcher.load_pack()
    with TestClient(create_app(dispatcher, security=DEMO), raise_server_exceptions=False) as client:
        yield client
    store.engine.dispose()


EXAMPLE_ITEM = json.loads((ROOT / "examples" / "item.json").read_text())


class _Draws:
    """Lets the fuzz module's `_mutate` (written for st.data()) draw inside a composite strategy."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw


@st.composite
def door_request(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A request to one of the doors (or /v1/items, whose checks the webhook shares): path and httpx arguments."""
    door = draw(st.sampled_from(["items", "webhook", "fhir", "hl7", "voicemail", "voicemail_form", "fax", "fax_pdf"]))
    if door in ("items", "webhook"):
        body = _mutate(EXAMPLE_ITEM, _Draws(draw))
        path = "/v1/items" if door == "items" else f"/webhooks/{draw(st.sampled_from(['portal', 'ehr', 'x' * 80]))}"
        return path, {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}
    if door == "fhir":
        body = _mutate(draw(st.sampled_from(FHIR_SAMPLES)), _Draws(draw))
        return "/fhir/r4", {"content": json.dumps(body).encode(), "headers": {"content-type": "application/fhir+json"}}
    if door == "hl7":
        return "/hl7/v2", {"content": draw(mutated_hl7()).encode("utf-8", "surrogatepass")}
    if door == "voicemail":
        return "/voicemail", {"content": json.dumps(draw(voicemail_payload)).encode()}
    if door == "voicemail_form":
        return "/voicemail", {"data": draw(st.dictionaries(st.sampled_from(VOICEMAIL_KEYS), st.text(max_size=20)))}
    if door == "fax":
        fields = draw(st.dictionaries(st.sampled_from(FAX_KEYS), json_value, max_size=6))
        return "/fax", {"content": json.dumps(fields).encode(), "headers": {"content-type": "application/json"}}
    upload = ("fax.pdf", draw(damaged_pdf()), "application/pdf")
    return "/fax", {"data": {"fax_id": draw(st.text(min_size=1, max_size=12))}, "files": {"file": upload}}


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(request=door_request())
def test_the_integration_doors_never_answer_with_a_server_error(
    door_client: TestClient, request: tuple[str, dict[str, Any]]
) -> None:
    path, kwargs = request
    response = door_client.post(path, **kwargs)
    assert response.status_code < 500, f"POST {path}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "field",
    [{"body": "call me back\u0000"}, {"external_id": "portal-\u0000"}, {"metadata": {"pages": "\u0000"}},
     {"patient": {"phone": "478\u0000"}}, {"received_at": "0001-01-01T00:00:00+05:00"}],
)  # fmt: skip
def test_an_item_postgresql_could_not_store_is_a_422_on_both_databases(
    door_client: TestClient, field: dict[str, Any]
) -> None:
    # PostgreSQL refused these with a DataError: a 500 there, while SQLite stored them.
    response = door_client.post("/v1/items", json={**EXAMPLE_ITEM, **field})
    assert response.status_code == 422, response.text[:300]
    assert "\x00" not in response.text


def test_metadata_nested_hundreds_deep_is_a_422(door_client: TestClient) -> None:
    # The contract's storability check recursed and ran out of stack: a 500.
    nested = json.loads("[" * 600 + "]" * 600)
    response = door_client.post("/v1/items", json={**EXAMPLE_ITEM, "metadata": {"x": nested}})
    assert response.status_code == 422, response.text[:300]


DEEP = "[" * 5000 + "]" * 5000


def test_a_fhir_body_nested_thousands_deep_is_a_422(door_client: TestClient) -> None:
    # json.loads raised RecursionError, which the FHIR adapter did not turn into a FhirError: a 500.
    response = door_client.post("/fhir/r4", content=DEEP, headers={"content-type": "application/fhir+json"})
    assert response.status_code == 422, response.text[:300]


@pytest.mark.parametrize("path", ["/webhooks/portal", "/voicemail", "/fax"])
def test_a_json_door_body_nested_thousands_deep_is_a_422(door_client: TestClient, path: str) -> None:
    # json.loads raised RecursionError, which the doors did not catch: a 500 (found by fuzzing).
    response = door_client.post(path, content=DEEP, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text[:300]
