"""The scoreboard as the shell serves it: a summary row kept per task, the API, CSV, Prometheus, what-if."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from careroute import metrics
from careroute.dispatcher import Dispatcher
from careroute.store.repository import Store, facts_from_row
from careroute.store.tables import task_facts
from tests.conftest import DEMO, ROOT, SAMPLES, LiveServer, make_item


def test_the_summary_row_always_equals_the_fold_of_the_events(dispatcher: Dispatcher, store: Store) -> None:
    a = dispatcher.intake(make_item("portal-1")).task_id
    b = dispatcher.intake(make_item("portal-2", body="Can I get a copy of my records for my new doctor?")).task_id
    dispatcher.claim(a, actor="luis")
    dispatcher.clock.now += timedelta(minutes=20)  # type: ignore[attr-defined]
    dispatcher.reroute(a, "records", "records request", actor="luis", reason_code="wrong_type")
    dispatcher.resolve(a, actor="yusuf")
    dispatcher.reopen(a, actor="pam", reason="the patient wrote back")
    dispatcher.hold(b, "waiting on the patient", actor="yusuf")
    with store.read() as conn:
        rows = {r.task_id: facts_from_row(r) for r in conn.execute(select(task_facts))}
    for task_id in (a, b):
        _, _, events = dispatcher.task_with_timeline(task_id)
        assert rows[task_id] == metrics.fold(events)
    assert rows[a].reroutes == 1 and rows[a].reopens == 1 and rows[a].first_claim_at is not None


@pytest.fixture
def http(dispatcher: Dispatcher) -> httpx.Client:
    from careroute.api import create_app

    app = create_app(dispatcher, security=DEMO)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client  # type: ignore[misc]


def test_metrics_api_csv_and_prometheus(http: httpx.Client, dispatcher: Dispatcher) -> None:
    secret = "Zebulon Quartermaine"
    payload = make_item("portal-9").to_dict()
    payload["patient"]["name"] = secret
    task_id = http.post("/v1/items", json=payload).json()["task_id"]
    dispatcher.clock.now += timedelta(minutes=12)  # type: ignore[attr-defined]
    http.post(f"/v1/tasks/{task_id}/claim", json={"actor": "luis"})
    body = http.get("/v1/metrics", params={"weeks": 1, "by": "queue"}).json()
    overall = next(r for r in body["rows"] if r["dimension"] == "all")
    assert overall["tasks"] == 1
    assert any(r["dimension"] == "queue" and r["value"] == "refills" for r in body["rows"])
    assert http.get("/v1/metrics", params={"by": "colour"}).status_code == 422
    csv = http.get("/v1/metrics.csv", params={"weeks": 1})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines()[0].startswith("period,")
    prom = http.get("/metrics").text
    assert 'careroute_tasks{queue="refills",status="claimed"} 1.0' in prom
    assert "careroute_queue_oldest_waiting_seconds" in prom and secret not in prom


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not beside this checkout")
def test_simulate_prints_the_four_metrics_and_the_difference_one_rule_makes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from careroute.config import STARTER_PACK

    changed = tmp_path / "changed.yaml"
    text = STARTER_PACK.read_text()
    rule = "    - id: esc.routine.unclaimed\n      when: {urgency: [routine], status: unclaimed}\n      after: "
    assert rule + "4 business hours" in text
    changed.write_text(text.replace(rule + "4 business hours", rule + "30 minutes"))
    run = subprocess.run(
        [
            sys.executable, "-m", "careroute.cli", "simulate",
            "--items", str(SAMPLES / "sample_queue.jsonl"),
            "--staff", str(ROOT / "examples" / "roster_six_people.yaml"),
            "--compare", str(changed),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    runs, changes = run.stdout.split("what changes:")
    for figure in ("queue age all", "reroute rate", "first-contact resolution", "escalation rate"):
        assert runs.count(figure) == 2
    assert "escalation rate" in changes and "higher in B" in changes
