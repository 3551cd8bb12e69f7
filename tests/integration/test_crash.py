"""Nothing acknowledged is lost, nothing is taken in twice: a load generator posts items while the
server process is killed with SIGKILL several times and started again on the same database.

Afterwards every item that got a 2xx is stored exactly once, with the task it was acknowledged with;
every item that did not get one is sent again and, whether or not the killed server had already
committed it, ends up stored exactly once too. The store is read directly, not through the API.

The default size keeps the suite quick; `CAREROUTE_CRASH_ITEMS=20000` runs the full version, and
`benchmarks/crash.py` runs that on both databases and prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from careroute import audit
from careroute.config import STARTER_PACK
from careroute.store.engine import is_sqlite
from careroute.store.repository import Store
from careroute.store.tables import items as items_table
from careroute.store.tables import tasks as tasks_table
from tests.conftest import SAMPLES
from tests.integration.test_scheduler_restart import Server

DEFAULT_ITEMS = 1_000
DEFAULT_KILLS = 3
CLIENTS = 6
PREFIX = "crash"


class DemoServer(Server):
    """`careroute serve` in a subprocess, open without sign-in (demo mode) as every test server is."""

    def __init__(self, db_url: str, pack: Path = STARTER_PACK) -> None:
        super().__init__(db_url, pack)
        self.env["CAREROUTE_DEMO"] = "1"


def crash_items(n: int, run: str) -> list[dict[str, Any]]:
    """n distinct items, (portal or the sample's own channel, a fresh external_id), received now.

    The bodies cycle through the sample week, so classification, identity extraction and
    duplicate detection (merges included) all run as they do in a practice."""
    sample_file = SAMPLES / "sample_queue.jsonl"
    if sample_file.is_file():
        base = [json.loads(line) for line in sample_file.read_text().splitlines() if line.strip()]
    else:  # the shared samples are not shipped with the package: a refill request will do
        base = [{"channel": "portal", "body": "Please send a refill of my atorvastatin 40 mg.", "patient": {}}]
    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        src = base[i % len(base)]
        out.append(
            {
                "channel": src["channel"],
                "external_id": f"{PREFIX}-{run}-{i}",
                "received_at": now,
                # A patient of its own (an MRN never seen before), so that items are not all merged into
                # the first few tasks as the same request: most of a practice's items are distinct.
                "patient": {**(src.get("patient") or {}), "mrn": f"CR{run}{i:06d}"},
                "subject": src.get("subject"),
                "body": src["body"],
                "metadata": src.get("metadata") or {},
            }
        )
    return out


@dataclass
class CrashReport:
    database: str
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    #: of the unacknowledged: already stored when sent again (committed, the reply lost to the kill)
    resent_already_stored: int = 0
    #: of the unacknowledged: stored only when sent again
    resent_new: int = 0
    found: int = 0
    duplicates: int = 0
    #: acknowledged items stored under another task than the one they were acknowledged with
    wrong_task: int = 0
    missing: int = 0
    kills: int = 0
    merged: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    chain_breaks: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items())) or "none"
        return [
            f"{self.database}: {self.kills} SIGKILLs in {self.seconds:.0f} s",
            f"  sent            {self.sent:>7,}",
            f"  acknowledged    {self.acknowledged:>7,}  (2xx during the run)",
            f"  not acknowledged{self.unacknowledged:>7,}  (failed requests: {failures})",
            f"    sent again: already stored {self.resent_already_stored:,}, stored now {self.resent_new:,}",
            f"  found           {self.found:>7,}  (distinct external ids in the store)",
            f"  duplicates      {self.duplicates:>7,}",
            f"  missing         {self.missing:>7,}",
            f"  wrong task      {self.wrong_task:>7,}",
            f"  merged          {self.merged:>7,}  (joined another item's task as the same request)",
            f"  event chain     {'intact' if not self.chain_breaks else f'{self.chain_breaks} breaks'}",
        ]

    @property
    def ok(self) -> bool:
        return (
            self.found == self.sent
            and not self.duplicates
            and not self.missing
            and not self.wrong_task
            and not self.chain_breaks
            and not any(k.startswith(("4", "5")) for k in self.failures)
        )


class CrashRun:
    """Client threads post items; the main thread kills and restarts the server at random moments."""

    def __init__(self, server: Server, items: list[dict[str, Any]], *, clients: int, seed: int) -> None:
        self.server = server
        self.items = items
        self.clients = clients
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.next_index = 0
        self.done = 0
        self.up = threading.Event()
        self.acked: dict[int, int] = {}  # item index -> task id in the 2xx
        self.failed: dict[int, str] = {}  # item index -> what happened instead
        self.failures: Counter[str] = Counter()

    def _take(self) -> int | None:
        with self.lock:
            if self.next_index >= len(self.items):
                return None
            self.next_index += 1
            return self.next_index - 1

    def _client(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=30) as http:
            while (index := self._take()) is not None:
                self.up.wait()
                try:
                    r = http.post("/v1/items", json=self.items[index])
                    outcome = str(r.status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                with self.lock:
                    if outcome in ("200", "201"):
                        self.acked[index] = int(r.json()["task_id"])
                    else:
                        self.failed[index] = outcome
                        self.failures[outcome] += 1
                    self.done += 1

    def run(self, kills: int) -> int:
        """Post every item once, killing the server `kills` times; returns the kills made."""
        n = len(self.items)
        points = sorted(self.rng.uniform(0.08, 0.92) * n for _ in range(kills))
        self.up.set()
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for t in threads:
            t.start()
        made = 0
        for point in points:
            while self.done < point and any(t.is_alive() for t in threads):
                time.sleep(0.005)
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(self.rng.uniform(0, 0.05))  # a moment inside a request, not at a round count
            self.up.clear()
            self.server.kill()
            made += 1
            time.sleep(self.rng.uniform(0, 0.5))
            self.server.start()
            self.up.set()
        for t in threads:
            t.join()
        return made


def run_crash_test(
    db_url: str, *, n_items: int, kills: int, clients: int = CLIENTS, seed: int | None = None
) -> CrashReport:
    """The whole experiment on a migrated database; the server is started and stopped here."""
    seed = seed if seed is not None else random.randrange(2**32)
    run = f"{seed:08x}"
    items = crash_items(n_items, run)
    report = CrashReport(database="SQLite" if is_sqlite(db_url) else "PostgreSQL")
    server = DemoServer(db_url)
    started = time.monotonic()
    server.start()
    try:
        crash = CrashRun(server, items, clients=clients, seed=seed)
        report.kills = crash.run(kills)
        report.sent = len(items)
        report.acknowledged = len(crash.acked)
        report.unacknowledged = len(crash.failed)
        report.failures = crash.failures
        # Send again what got no 2xx, as a sender would; the idempotency key makes it safe.
        resent_task: dict[int, int] = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for index in sorted(crash.failed):
                r = http.post("/v1/items", json=items[index])
                assert r.status_code in (200, 201), f"resend of item {index}: {r.status_code}"
                resent_task[index] = int(r.json()["task_id"])
                if r.status_code == 200:
                    report.resent_already_stored += 1
                else:
                    report.resent_new += 1
            # And some that did get one: the same task comes back, nothing new is made.
            for index in crash.rng.sample(sorted(crash.acked), min(100, len(crash.acked))):
                r = http.post("/v1/items", json=items[index])
                assert r.status_code == 200, f"second send of acknowledged item {index}: {r.status_code}"
                assert int(r.json()["task_id"]) == crash.acked[index]
    finally:
        server.stop()
    report.seconds = time.monotonic() - started
    check_store(db_url, run, {**crash.acked, **resent_task}, report, n_items)
    return report


def check_store(db_url: str, run: str, expected_task: dict[int, int], report: CrashReport, n_items: int) -> None:
    """Read the store itself: each external id once, under the task it was acknowledged with."""
    prefix = f"{PREFIX}-{run}-"
    store = Store.from_url(db_url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(items_table.c.external_id, items_table.c.task_id).where(
                    items_table.c.external_id.like(f"{prefix}%")
                )
            ).all()
            task_keys = conn.execute(
                select(tasks_table.c.external_id, func.count())
                .where(tasks_table.c.external_id.like(f"{prefix}%"))
                .group_by(tasks_table.c.external_id)
            ).all()
            task_ids = set(conn.execute(select(tasks_table.c.id)).scalars())
            if is_sqlite(db_url):
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        per_id = Counter(r.external_id for r in rows)
        stored_task = {int(r.external_id.removeprefix(prefix)): int(r.task_id) for r in rows}
        report.found = len(per_id)
        report.duplicates = sum(c - 1 for c in per_id.values()) + sum(c - 1 for _, c in task_keys)
        report.missing = sum(1 for i in range(n_items) if i not in stored_task)
        report.wrong_task = sum(1 for i, t in expected_task.items() if stored_task.get(i) != t or t not in task_ids)
        report.merged = len(per_id) - len(task_keys)
        with store.read() as conn:
            report.chain_breaks = sum(1 for _ in audit.verify(store.events_in_order(conn)))
    finally:
        store.engine.dispose()


@pytest.mark.slow
def test_every_acknowledged_item_survives_sigkill_once_and_the_rest_can_be_sent_again(db_url: str) -> None:
    n_items = int(os.environ.get("CAREROUTE_CRASH_ITEMS", DEFAULT_ITEMS))
    kills = int(os.environ.get("CAREROUTE_CRASH_KILLS", DEFAULT_KILLS))
    seed = int(os.environ["CAREROUTE_CRASH_SEED"]) if "CAREROUTE_CRASH_SEED" in os.environ else None
    report = run_crash_test(db_url, n_items=n_items, kills=kills, seed=seed)
    print("\n" + "\n".join(report.lines()))
    assert report.kills == kills
    assert report.acknowledged > 0 and report.sent == n_items
    assert report.ok, "\n".join(report.lines())
