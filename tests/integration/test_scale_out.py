"""Several real `careroute serve` processes against one PostgreSQL schema, as a practice that outgrew one runs it.

Two instances on loopback ports, the first with two uvicorn workers (three
server processes in all), share one schema. Clients spread their requests over
every instance; the checks read the database itself. PostgreSQL only: on SQLite
one machine serves one file, and there is nothing to scale out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from careroute.config import STARTER_PACK
from careroute.model import Patient
from careroute.store.engine import make_engine
from careroute.store.tables import events, items, metadata, tasks
from tests.conftest import ROOT, free_port, make_item

# Short enough for a test: billing items nobody claimed for two seconds are escalated by the leader.
FAST_RULE = """  rules:
    - id: esc.test.scale_out
      description: A billing question nobody claimed within two seconds (short enough for a test).
      when: {queue: [billing], status: unclaimed}
      after: 2 seconds
      action: {do: notify, email: billing-lead@example.org}
"""
BILLING = "My statement shows a balance I thought insurance paid. Can billing look at it?"
SCHEDULING = "I need to reschedule my appointment next Tuesday, any morning works."


@dataclass
class Instance:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module", params=["postgresql"])
def cluster(pg_schema_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    """Two instances, the first with two workers, on one empty schema; stopped (process groups) at the end."""
    engine = make_engine(pg_schema_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    folder = tmp_path_factory.mktemp("scale_out")
    pack = folder / "pack.yaml"
    pack.write_text(STARTER_PACK.read_text().replace("  rules:\n", FAST_RULE, 1))
    env = {
        **os.environ,
        "CAREROUTE_DATABASE_URL": pg_schema_url,
        "CAREROUTE_RULES": str(pack),
        "CAREROUTE_DEMO": "1",
    }
    instances = []
    for name, workers in (("a", 2), ("b", 1)):
        port = free_port()
        log = folder / f"{name}.log"
        command = ["serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "careroute.cli", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
        instances.append(Instance(name, port, proc, log))
    try:
        deadline = time.monotonic() + 45
        for instance in instances:
            while not _healthy(instance):
                if instance.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"instance {instance.name} did not start: {instance.log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield instances
    finally:
        for instance in instances:
            if instance.proc.poll() is None:
                os.killpg(instance.proc.pid, signal.SIGTERM)
        for instance in instances:
            try:
                instance.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(instance.proc.pid, signal.SIGKILL)
                instance.proc.wait()


def _healthy(instance: Instance) -> bool:
    try:
        return httpx.get(f"{instance.url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _count(url: str, query: Any) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def _post_all(cluster: list[Instance], jobs: list[tuple[int, dict[str, Any]]], clients: int) -> list[dict[str, Any]]:
    """POST /v1/items for each (instance index, item) from `clients` concurrent clients; the JSON answers."""
    local = threading.local()

    def post(job: tuple[int, dict[str, Any]]) -> dict[str, Any]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        index, item = job
        response = local.client.post(f"{cluster[index % len(cluster)].url}/v1/items", json=item)
        assert response.status_code in (200, 201), response.text
        return {**response.json(), "external_id": item["external_id"], "status": response.status_code}

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(post, jobs))


def test_it_stores_every_item_once_when_clients_post_to_every_instance(
    cluster: list[Instance], pg_schema_url: str
) -> None:
    # 120 distinct items, each sent twice through two different instances (a sender's retry after a timeout).
    # Refills: luis's queue, so that zara and pam (scheduling) have room for the claims test whatever the hour.
    batch = [make_item(f"scale-{i}").to_dict() for i in range(120)]
    jobs = [(i, item) for i, item in enumerate(batch)] + [(i + 1, item) for i, item in enumerate(batch)]
    answers = _post_all(cluster, jobs, clients=12)
    by_item: dict[str, set[int]] = {}
    for a in answers:
        by_item.setdefault(a["external_id"], set()).add(a["task_id"])
    assert all(len(ids) == 1 for ids in by_item.values())  # both sends name the same task
    assert Counter(a["status"] for a in answers) == {201: 120, 200: 120}
    assert (
        _count(pg_schema_url, select(func.count()).select_from(items).where(items.c.external_id.like("scale-%"))) == 120
    )
    assert len({next(iter(ids)) for ids in by_item.values()}) == 120


def test_it_makes_one_task_of_one_request_sent_through_every_instance_at_once(
    cluster: list[Instance], pg_schema_url: str
) -> None:
    patient = Patient(mrn="SO424242", name="Nora Castellanos", dob="1971-03-09")
    now = datetime.now(UTC)
    same = [
        make_item(f"same-{i}", channel=("portal", "email")[i % 2], patient=patient, received_at=now).to_dict()
        for i in range(9)
    ]
    answers = _post_all(cluster, list(enumerate(same)), clients=9)
    assert {a["status"] for a in answers} == {201}  # each item is new; all join one request
    task_ids = {a["task_id"] for a in answers}
    assert len(task_ids) == 1
    task_id = task_ids.pop()
    assert _count(pg_schema_url, select(func.count()).select_from(items).where(items.c.task_id == task_id)) == 9
    created = select(func.count()).select_from(events).where(events.c.kind == "created", events.c.task_id == task_id)
    assert _count(pg_schema_url, created) == 1


def test_it_lets_exactly_one_claim_win_when_staff_claim_the_same_tasks_through_different_instances(
    cluster: list[Instance], pg_schema_url: str
) -> None:
    jobs = [(i, make_item(f"claim-{i}", body=SCHEDULING).to_dict()) for i in range(8)]
    task_ids = [a["task_id"] for a in _post_all(cluster, jobs, clients=4)]
    # Each task is claimed four times at once, by zara and by pam (both serve scheduling), through both instances.
    claims = [(task_id, who, n) for task_id in task_ids for n, who in enumerate(["zara", "pam", "zara", "pam"])]
    local = threading.local()

    def claim(job: tuple[int, str, int]) -> tuple[int, str, int]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        task_id, who, n = job
        url = f"{cluster[(task_id + n) % len(cluster)].url}/v1/tasks/{task_id}/claim"
        return task_id, who, local.client.post(url, json={"actor": who}).status_code

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(claim, claims))
    assert {status for _, _, status in results} <= {200, 409}
    winners = {task_id: [who for t, who, status in results if t == task_id and status == 200] for task_id in task_ids}
    assert all(len(w) == 1 for w in winners.values()), winners
    engine = make_engine(pg_schema_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(tasks.c.id, tasks.c.status, tasks.c.assignee).where(tasks.c.id.in_(task_ids)))
            assert {r.id: (r.status, r.assignee) for r in rows} == {t: ("claimed", w[0]) for t, w in winners.items()}
            claimed = conn.execute(
                select(events.c.task_id, func.count()).where(events.c.kind == "claimed", events.c.task_id.in_(task_ids))
                .group_by(events.c.task_id)
            )  # fmt: skip
            assert dict(claimed.all()) == dict.fromkeys(task_ids, 1)
    finally:
        engine.dispose()


def test_it_streams_an_event_appended_by_one_instance_to_the_pages_of_another(cluster: list[Instance]) -> None:
    writer, reader = cluster[0], cluster[1]
    seen: list[dict[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=30) as client, client.stream("GET", f"{reader.url}/events/stream") as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                if any(e["kind"] == "created" for e in seen):
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10)
    # By now the reader's stream listens (LISTEN/NOTIFY) and its safety-net poll is ten seconds apart:
    # an event that arrives within a few seconds was pushed, not polled.
    time.sleep(2.5)
    posted = time.monotonic()
    task_id = httpx.post(f"{writer.url}/v1/items", json=make_item("live-1").to_dict(), timeout=30).json()["task_id"]
    thread.join(timeout=8)
    assert not thread.is_alive(), "the event did not reach the other instance's stream"
    assert time.monotonic() - posted < 4
    assert any(e["kind"] == "created" and e["task_id"] == task_id for e in seen)


def _leaders(cluster: list[Instance], asks: int = 6) -> set[int]:
    """The pids that say they run the timers (several asks per instance: the two-worker one answers from either)."""
    pids = set()
    for instance in cluster:
        for _ in range(asks):
            try:
                timers = httpx.get(f"{instance.url}/healthz", timeout=2).json()["scheduler"]
            except httpx.HTTPError:
                continue
            if timers["role"] == "leader":
                pids.add(int(timers["pid"]))
    return pids


def _escalated(url: str, task_id: int) -> bool:
    timeline = httpx.get(f"{url}/v1/tasks/{task_id}", timeout=10).json()["events"]
    return any(e["kind"] == "escalated" and e["rule_ids"] == ["esc.test.scale_out"] for e in timeline)


def _wait(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_it_hands_the_timers_to_another_instance_when_the_leader_is_killed(
    cluster: list[Instance], pg_schema_url: str
) -> None:
    assert _wait(lambda: len(_leaders(cluster)) == 1, 10), "no single leader"
    (leader,) = _leaders(cluster)
    first = httpx.post(
        f"{cluster[1].url}/v1/items",
        json=make_item("esc-before", body=BILLING, received_at=datetime.now(UTC)).to_dict(),
    ).json()["task_id"]
    assert _wait(lambda: _escalated(cluster[0].url, first), 10), "the leader did not fire the timer"

    os.kill(leader, signal.SIGKILL)  # no goodbye: its connection drops and PostgreSQL frees the lock
    survivors = [i for i in cluster if i.proc.pid != leader]
    assert _wait(lambda: bool(_leaders(survivors) - {leader}), 10), "nobody took over the timers"
    leaders = _leaders(survivors)
    assert len(leaders) == 1, leaders
    second = httpx.post(
        f"{survivors[0].url}/v1/items",
        json=make_item("esc-after", body=BILLING, received_at=datetime.now(UTC)).to_dict(),
    ).json()["task_id"]
    assert _wait(lambda: _escalated(survivors[-1].url, second), 10), "the new leader did not fire the timer"
    time.sleep(1.0)  # a few more passes: each rule fires once per task, whoever leads
    fired = select(func.count()).select_from(events).where(events.c.kind == "escalated", events.c.task_id == second)
    assert _count(pg_schema_url, fired) == 1, [i.log.read_text()[-1500:] for i in cluster]
