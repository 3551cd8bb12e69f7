"""Merge at intake and unmerge, through the HTTP API on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from careroute.dispatcher import Dispatcher
from careroute.intake.contract import parse_item
from tests.conftest import T0, LiveServer


def portal(external_id: str, hours: float = 0, **patient: str) -> dict[str, Any]:
    return {
        "channel": "portal",
        "external_id": external_id,
        "received_at": (T0 + timedelta(hours=hours)).isoformat(),
        "patient": {"mrn": "FM500100", "name": "Ingrid Vasquez", "dob": "1958-07-19", **patient},
        "subject": "refill",
        "body": "Could you please send a refill of my metformin 500 mg to Riverside Pharmacy? Two days left.",
    }


def voicemail(external_id: str, hours: float) -> dict[str, Any]:
    return {
        "channel": "voicemail",
        "external_id": external_id,
        "received_at": (T0 + timedelta(hours=hours)).isoformat(),
        "patient": {"phone": "478-555-0177"},
        "body": "hi this is ingrid vasquez date of birth july nineteenth nineteen fifty eight calling about my "
        "metformin refill, the pharmacy still has not got it. thank you",
    }


@pytest.fixture
def http(live_server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client  # type: ignore[misc]


def test_the_same_refill_by_voicemail_joins_the_portal_task_and_can_be_unmerged(
    http: httpx.Client, dispatcher: Dispatcher
) -> None:
    first = http.post("/v1/items", json=portal("portal-7001")).json()
    second = http.post("/v1/items", json=voicemail("vm-7001", hours=5)).json()
    assert second["task_id"] == first["task_id"]
    assert second["decision"]["duplicate_of"] == "portal-7001"
    detail = http.get(f"/v1/tasks/{first['task_id']}").json()
    assert detail["item_count"] == 2 and [i["channel"] for i in detail["items"]] == ["portal", "voicemail"]
    merged = next(e for e in detail["events"] if e["kind"] == "merged")
    assert merged["data"]["channel"] == "voicemail" and merged["data"]["score"] > 0
    assert len(http.get("/v1/tasks").json()["tasks"]) == 1  # one request, one task

    vm_item = detail["items"][1]["id"]
    r = http.post(f"/v1/items/{vm_item}/unmerge", json={"actor": "luis", "reason": " "})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "reason"
    r = http.post(f"/v1/items/{vm_item}/unmerge", json={"actor": "luis", "reason": "a different prescription"})
    assert r.status_code == 200
    new_task = r.json()
    assert new_task["id"] != first["task_id"] and new_task["external_id"] == "vm-7001"
    old = http.get(f"/v1/tasks/{first['task_id']}").json()
    assert old["item_count"] == 1 and any(e["kind"] == "unmerged" for e in old["events"])
    original = old["items"][0]["id"]
    refused = http.post(f"/v1/items/{original}/unmerge", json={"actor": "luis", "reason": "no"})
    assert refused.status_code == 409 and "original" in refused.json()["message"]


def test_a_different_patient_with_the_same_name_is_not_merged(http: httpx.Client) -> None:
    first = http.post("/v1/items", json=portal("portal-7101")).json()
    other = http.post("/v1/items", json=portal("portal-7102", hours=1, mrn="FM500999", dob="1971-02-03")).json()
    assert other["task_id"] != first["task_id"] and other["decision"]["duplicate_of"] is None


def test_the_same_request_after_resolution_opens_a_linked_task(http: httpx.Client) -> None:
    first = http.post("/v1/items", json=portal("portal-7201")).json()
    http.post(f"/v1/tasks/{first['task_id']}/resolve", json={"actor": "luis"})
    again = http.post("/v1/items", json=voicemail("vm-7201", hours=20)).json()
    assert again["task_id"] != first["task_id"] and again["decision"]["duplicate_of"] == "portal-7201"
    follow = http.get(f"/v1/tasks/{again['task_id']}").json()
    assert follow["follows_task_id"] == first["task_id"]
    old = http.get(f"/v1/tasks/{first['task_id']}").json()
    assert any(e["kind"] == "followed_up" for e in old["events"])


def test_a_busy_shared_telephone_does_not_hide_a_patients_own_earlier_item(dispatcher: Dispatcher) -> None:
    """A care home's desk phone on hundreds of residents' items must not push a patient's own request out
    of the candidates duplicate detection compares (each identity key brings its newest items, not the
    newest over all keys together)."""
    desk = {"mrn": "FM500100", "name": "Ingrid Vasquez", "phone": "478-555-0190"}
    first = dispatcher.intake(parse_item({**portal("portal-desk-0"), "patient": desk}))
    residents = [
        parse_item(
            {
                **portal(f"portal-desk-{n}", hours=n / 60),
                "patient": {"mrn": f"FM6{n:05d}", "name": f"Resident Number{n}", "phone": desk["phone"]},
                "body": "Please send a refill of my lisinopril 10 mg to the pharmacy.",
            }
        )
        for n in range(1, 231)
    ]
    created = dispatcher.intake_batch(residents)
    assert all(r.created and not r.merged for r in created)  # different patients behind one phone

    again = dispatcher.intake(parse_item({**portal("portal-desk-again", hours=5), "patient": desk}))
    assert again.merged and again.task_id == first.task_id
    assert again.decision.duplicate_of == "portal-desk-0"
