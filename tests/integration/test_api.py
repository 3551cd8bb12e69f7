"""The JSON API over a real HTTP server on loopback."""

import json
from typing import Any

import httpx
import pytest

from careroute.dispatcher import Dispatcher
from tests.conftest import LiveServer, make_item

SECRET = "Zebulon Quartermaine"  # stands in for PHI: it must never come back in an error


def item(external_id: str = "portal-1", **overrides: Any) -> dict[str, Any]:
    data = make_item(external_id).to_dict()
    data.update(overrides)
    return data


@pytest.fixture
def http(live_server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client  # type: ignore[misc]


def test_it_creates_a_task_visible_in_the_task_list(http: httpx.Client) -> None:
    r = http.post("/v1/items", json=item())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True and body["decision"]["external_id"] == "portal-1"
    tasks = http.get("/v1/tasks").json()["tasks"]
    assert [t["id"] for t in tasks] == [body["task_id"]]
    detail = http.get(f"/v1/tasks/{body['task_id']}").json()
    assert [e["kind"] for e in detail["events"]] == ["created", "classified", "routed", "assigned"]
    assert detail["items"][0]["external_id"] == "portal-1"


def test_a_repeated_item_returns_the_existing_task_with_200(http: httpx.Client) -> None:
    first = http.post("/v1/items", json=item()).json()
    r = http.post("/v1/items", json=item())
    assert r.status_code == 200 and r.json()["task_id"] == first["task_id"] and r.json()["created"] is False


def test_pagination_walks_every_task_once(http: httpx.Client) -> None:
    r = http.post("/v1/items:batch", json=[item(f"p-{i}") for i in range(7)])
    assert r.status_code == 200
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/v1/tasks", params=params).json()
        seen += [t["external_id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"p-{i}" for i in range(7)]


def test_filters_narrow_the_list(http: httpx.Client) -> None:
    batch = {"items": [item("a"), item("b"), item("c", body="Can I get a copy of my records?")]}
    ids = [r["task_id"] for r in http.post("/v1/items:batch", json=batch).json()["results"]]
    http.post(f"/v1/tasks/{ids[0]}/claim", json={"actor": "luis"})
    claimed = http.get("/v1/tasks", params={"status": "claimed"}).json()["tasks"]
    assert [t["id"] for t in claimed] == [ids[0]]
    assert [t["id"] for t in http.get("/v1/tasks", params={"assignee": "luis"}).json()["tasks"]] == ids[:2]
    assert [t["id"] for t in http.get("/v1/tasks", params={"queue": "refills"}).json()["tasks"]] == ids[:2]
    assert http.get("/v1/tasks", params={"status": "nonsense"}).status_code == 422


def test_commands_over_http_and_their_refusals(http: httpx.Client) -> None:
    task_id = http.post("/v1/items", json=item()).json()["task_id"]
    r = http.post(f"/v1/tasks/{task_id}/assign", json={"actor": "pam", "staff": "luis"})
    assert r.status_code == 409 and "already with luis" in r.json()["message"]
    assert http.post(f"/v1/tasks/{task_id}/claim", json={"actor": "luis"}).json()["status"] == "claimed"
    r = http.post(f"/v1/tasks/{task_id}/reroute", json={"actor": "luis", "to_queue": "records", "reason": "records"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "reason_code"
    body = {"actor": "luis", "to_queue": "records", "reason_code": "wrong_type", "reason": "records request"}
    assert http.post(f"/v1/tasks/{task_id}/reroute", json=body).json()["queue"] == "records"
    r = http.post(f"/v1/tasks/{task_id}/claim", json={"actor": "luis"})
    assert r.status_code == 409 and "may not take" in r.json()["message"]  # luis does not serve records
    assert http.post(f"/v1/tasks/{task_id}/resolve", json={"actor": "yusuf"}).json()["status"] == "resolved"
    r = http.post(f"/v1/tasks/{task_id}/claim", json={"actor": "yusuf"})
    assert r.status_code == 409 and "reopen" in r.json()["message"]
    assert http.post(f"/v1/tasks/{task_id}/reopen", json={"actor": "pam"}).json()["status"] in {"open", "assigned"}
    assert http.post("/v1/tasks/424242/claim", json={"actor": "luis"}).status_code == 404
    r = http.post(f"/v1/tasks/{task_id}/claim", json={"actor": "stranger"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "staff"


def test_queues_show_depth_and_oldest_age(http: httpx.Client, dispatcher: Dispatcher) -> None:
    http.post("/v1/items", json=item())
    dispatcher.clock.now = dispatcher.clock.now.replace(hour=9)  # type: ignore[attr-defined]
    queues = {q["id"]: q for q in http.get("/v1/queues").json()["queues"]}
    assert set(queues) == set(dispatcher.pack.queue_ids)
    busy = [q for q in queues.values() if q["depth"]]
    assert len(busy) == 1 and busy[0]["waiting"] == 1 and busy[0]["oldest_age_seconds"] == 3600


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (item(channel="pigeon"), "channel"),
        ({k: v for k, v in item().items() if k != "body"}, "body"),
        (item(received_at="2026-10-05T08:00:00"), "received_at"),
        (item(patient={"name": SECRET, "dob": "05/10/1970"}), "patient.dob"),
        (item(external_id=""), "external_id"),
        (item(favourite_colour="blue"), "favourite_colour"),
    ],
)
def test_bad_items_get_a_422_naming_the_field_and_never_the_value(
    http: httpx.Client, payload: dict[str, Any], field: str
) -> None:
    payload = {**payload, "body": f"my name is {SECRET}"} if "body" in payload else payload
    r = http.post("/v1/items", json=payload)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/json")
    assert field in [p["field"] for p in r.json()["problems"]]
    assert SECRET not in r.text and "Traceback" not in r.text
    assert http.get("/v1/tasks").json()["tasks"] == []


def test_malformed_json_is_a_422_not_a_stack_trace(http: httpx.Client) -> None:
    r = http.post("/v1/items", content=b'{"channel": "portal", ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"][0]["message"] == "request body is not valid JSON"


def test_an_oversized_payload_is_a_413(http: httpx.Client) -> None:
    r = http.post("/v1/items", json=item(body="x" * 1_100_000))
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # Without a Content-Length (chunked upload) the limit still holds.
    r = http.post(
        "/v1/items",
        content=iter([json.dumps(item(body="y" * 600_000)).encode()[:700_000]] * 2),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert http.get("/v1/tasks").json()["tasks"] == []


def test_a_batch_with_one_bad_item_stores_nothing_and_names_it(http: httpx.Client) -> None:
    r = http.post("/v1/items:batch", json=[item("ok-1"), item("bad", channel="pigeon")])
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "items[1].channel"
    assert http.get("/v1/tasks").json()["tasks"] == []
    too_many = http.post("/v1/items:batch", json=[item(f"n-{i}", body="") for i in range(1001)])
    assert too_many.status_code == 413


def test_a_forged_cursor_is_a_400(http: httpx.Client) -> None:
    r = http.get("/v1/tasks", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["problems"][0]["field"] == "cursor"


def test_openapi_and_health(http: httpx.Client) -> None:
    assert "/v1/items" in http.get("/openapi.json").json()["paths"]
    assert http.get("/healthz").json()["status"] == "ok"


def test_hold_release_acknowledge_due_times_and_the_outbox_over_http(http: httpx.Client) -> None:
    task_id = http.post("/v1/items", json=item()).json()["task_id"]
    detail = http.get(f"/v1/tasks/{task_id}").json()
    clocks = {d["clock"]: d for d in detail["due"]}
    assert clocks["claim"]["due_at"] is not None and clocks["claim"]["breached"] is False
    r = http.post(f"/v1/tasks/{task_id}/hold", json={"actor": "luis", "reason": "waiting on the pharmacy"})
    assert r.status_code == 200 and r.json()["on_hold"] is True
    assert {d["clock"]: d for d in http.get(f"/v1/tasks/{task_id}").json()["due"]}["claim"]["paused"] is True
    assert http.post(f"/v1/tasks/{task_id}/hold", json={"actor": "luis", "reason": "again"}).status_code == 409
    assert http.post(f"/v1/tasks/{task_id}/release", json={"actor": "luis"}).json()["on_hold"] is False
    acked = http.post(f"/v1/tasks/{task_id}/acknowledge", json={"actor": "rhea"}).json()
    assert acked["acknowledged_at"] is not None
    assert http.get("/v1/notifications").json() == {"notifications": []}


def test_ids_too_big_to_exist_are_a_422_not_a_database_error(http: httpx.Client) -> None:
    # Found by schemathesis: a 20-digit id overflowed SQLite's integer and came back as a 500.
    assert http.get("/v1/tasks/99999999999999999999").status_code == 422
    assert http.post("/v1/tasks/2147483648/claim", json={"actor": "luis"}).status_code == 422
    assert http.post("/v1/items/0/unmerge", json={"actor": "luis", "reason": "x"}).status_code == 422
    import base64

    huge = base64.urlsafe_b64encode(b"t:99999999999999999999").decode().rstrip("=")
    assert http.get("/v1/tasks", params={"cursor": huge}).status_code == 400
