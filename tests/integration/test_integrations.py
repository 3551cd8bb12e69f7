"""Every door other systems use, with a real client over a real socket on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from careroute.api import create_app
from careroute.api.integrations import Listeners, Sources, load_sources
from careroute.dispatcher import Dispatcher
from careroute.intake.mllp import frame
from careroute.intake.signatures import sign_request
from tests.conftest import DEMO, LiveServer, free_port, make_item
from tests.unit.test_intake_fax_voicemail import tiny_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
SECRET = "ehr-integration-secret-2026-0001"


@pytest.fixture
def open_server(dispatcher: Dispatcher) -> Iterator[LiveServer]:
    with LiveServer(create_app(dispatcher, security=DEMO)) as server:
        yield server


def tasks(url: str) -> list[dict]:  # type: ignore[type-arg]
    return httpx.get(f"{url}/v1/tasks").json()["tasks"]  # type: ignore[no-any-return]


def test_fhir_communication_becomes_one_task_and_a_retry_makes_none(open_server: LiveServer) -> None:
    body = (FIXTURES / "fhir" / "communication.json").read_bytes()
    r = httpx.post(
        f"{open_server.url}/fhir/r4/Communication", content=body, headers={"content-type": "application/fhir+json"}
    )
    assert r.status_code == 200 and r.json()["resourceType"] == "OperationOutcome"
    again = httpx.post(f"{open_server.url}/fhir/r4", content=body)
    assert again.status_code == 200
    [task] = tasks(open_server.url)
    assert task["channel"] == "portal"


def test_a_fhir_bundle_of_lab_results_and_a_prior_auth_response(open_server: LiveServer) -> None:
    for name in ("diagnostic_report_bundle.json", "claim_response_pas.json"):
        r = httpx.post(f"{open_server.url}/fhir/r4", content=(FIXTURES / "fhir" / name).read_bytes())
        assert r.status_code == 200, r.text
    types = {t["type"] for t in tasks(open_server.url)}
    assert "prior_auth_pending" in types and types & {"lab_result_urgent", "lab_result_routine"}


def test_invalid_fhir_is_a_422_operation_outcome_naming_the_path(open_server: LiveServer) -> None:
    bad = {"resourceType": "Communication", "id": "c1", "status": "completed", "payload": [{"contentFoo": "x"}]}
    r = httpx.post(f"{open_server.url}/fhir/r4", json=bad)
    assert r.status_code == 422
    issue = r.json()["issue"][0]
    assert issue["expression"][0].startswith("Communication.payload")
    assert tasks(open_server.url) == []


def test_hl7_over_http_acks_aa_and_stores_a_critical_potassium(open_server: LiveServer) -> None:
    message = (FIXTURES / "hl7" / "oru_potassium_hh.hl7").read_bytes()
    r = httpx.post(f"{open_server.url}/hl7/v2", content=message, headers={"content-type": "x-application/hl7-v2+er7"})
    assert r.status_code == 200 and "MSA|AA|" in r.text
    [task] = tasks(open_server.url)
    assert task["type"] == "lab_result_urgent" and task["queue"] in ("clinical_triage", "on_call")
    nonsense = httpx.post(f"{open_server.url}/hl7/v2", content=b"this is not HL7")
    assert "MSA|AR|" in nonsense.text


def test_voicemail_twilio_form_and_fax_multipart(open_server: LiveServer) -> None:
    form = {
        "CallSid": "CA0001",
        "From": "+14785550142",
        "TranscriptionText": "hi this is a refill request for my lisinopril ten milligrams please",
        "TranscriptionStatus": "completed",
    }
    r = httpx.post(f"{open_server.url}/voicemail", data=form)
    assert r.status_code == 200, r.text
    pdf = tiny_pdf(["REFERRAL for cardiology consult. Patient: ROWE, QUENTIN DOB 02/02/1966. Records enclosed."])
    r = httpx.post(
        f"{open_server.url}/fax",
        data={"fax_id": "FX-77", "from_number": "478-555-0100"},
        files={"file": ("fax.pdf", pdf)},
    )
    assert r.status_code == 200, r.text
    channels = sorted(t["channel"] for t in tasks(open_server.url))
    assert channels == ["fax", "voicemail"]
    missing = httpx.post(f"{open_server.url}/fax", data={"fax_id": "FX-78"}, files={"other": ("x.pdf", pdf)})
    assert missing.status_code == 422 and missing.json()["problems"][0]["field"] == "file"


def test_a_scanned_fax_without_text_is_kept_and_goes_to_review(open_server: LiveServer) -> None:
    r = httpx.post(f"{open_server.url}/fax", data={"fax_id": "FX-79"}, files={"file": ("scan.pdf", tiny_pdf([None]))})
    assert r.status_code == 200
    assert r.json()["results"][0]["decision"]["queue"] == "review"


@pytest.fixture
def signed_server(dispatcher: Dispatcher, tmp_path: Path) -> Iterator[LiveServer]:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  ehr:\n    hmac_secrets: ['{SECRET}']\n")
    with LiveServer(create_app(dispatcher, security=DEMO, sources=load_sources(path))) as server:
        yield server


def test_signed_webhooks_accept_the_right_signature_once(signed_server: LiveServer, dispatcher: Dispatcher) -> None:
    body = json.dumps(make_item("portal-sig").to_dict()).encode()
    url = f"{signed_server.url}/webhooks/ehr"
    unsigned = httpx.post(url, content=body)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["message"]
    headers = sign_request(SECRET.encode(), body, dispatcher.clock())
    wrong = httpx.post(url, content=body.replace(b"portal-sig", b"portal-xxx"), headers=headers)
    assert wrong.status_code == 401 and "mismatch" in wrong.json()["message"]
    ok = httpx.post(url, content=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["results"][0]["created"] is True
    replayed = httpx.post(url, content=body, headers=headers)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["message"]
    assert httpx.post(f"{signed_server.url}/webhooks/portal", content=body, headers=headers).status_code == 401


def test_a_bad_sources_file_is_named(tmp_path: Path) -> None:
    from careroute.api.integrations import SourcesError

    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  ehr: {}\n")
    with pytest.raises(SourcesError, match=r"sources\.ehr: give hmac_secrets or tokens_sha256"):
        load_sources(path)
    assert load_sources(None) == Sources(None)


def _mllp_exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while not data.endswith(b"\x1c\r"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_the_mllp_listener_starts_with_the_server(dispatcher: Dispatcher) -> None:
    port = free_port()
    app = create_app(dispatcher, security=DEMO, listeners=Listeners(mllp_port=port))
    with LiveServer(app, lifespan="on") as server:
        message = (FIXTURES / "hl7" / "oru_potassium_hh.hl7").read_text()
        reply = _mllp_exchange(port, frame(message))
        assert reply.startswith(b"\x0b") and b"MSA|AA|" in reply
        again = _mllp_exchange(port, frame(message))  # the sender's retry
        assert b"MSA|AA|" in again
        assert len(tasks(server.url)) == 1
        bad = _mllp_exchange(port, frame("MSH|garbage"))
        assert b"MSA|AR|" in bad
