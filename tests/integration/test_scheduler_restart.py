"""The timers survive a crash: a real server process is killed with SIGKILL and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from careroute.config import STARTER_PACK
from tests.conftest import ROOT, free_port, make_item

FAST_RULE = """  rules:
    - id: esc.test.fast
      description: A refill nobody claimed within two seconds (a rule short enough for a test).
      when: {type: [medication_refill], status: unclaimed}
      after: 2 seconds
      action: {do: notify, email: refills-lead@example.org}
"""


class Server:
    def __init__(self, db_url: str, pack: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CAREROUTE_DATABASE_URL": db_url, "CAREROUTE_RULES": str(pack), "CAREROUTE_DEMO": "1"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "careroute.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.kill()  # never leave a half-started server holding the leader lock for later tests
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    pack = tmp_path / "pack.yaml"
    pack.write_text(STARTER_PACK.read_text().replace("  rules:\n", FAST_RULE, 1))
    s = Server(db_url, pack)
    s.start()
    yield s
    s.stop()


def fast_firings(server: Server, task_id: int) -> list[dict[str, Any]]:
    events = httpx.get(f"{server.url}/v1/tasks/{task_id}", timeout=5).json()["events"]
    return [e for e in events if e["kind"] == "escalated" and e["rule_ids"] == ["esc.test.fast"]]


def wait_for_firing(server: Server, task_id: int, seconds: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = fast_firings(server, task_id)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not escalate")


@pytest.mark.slow
def test_no_double_firing_after_sigkill_and_a_timer_due_while_down_fires_once_at_start(server: Server) -> None:
    now = datetime.now(UTC)
    a = httpx.post(f"{server.url}/v1/items", json=make_item("portal-a", received_at=now).to_dict()).json()
    first = wait_for_firing(server, a["task_id"])
    assert first["data"]["late_seconds"] < 1.0  # the loop fires within a second of the deadline
    b = httpx.post(f"{server.url}/v1/items", json=make_item("portal-b", received_at=now).to_dict()).json()
    server.kill()  # before b's timer comes due
    time.sleep(2.5)
    server.start()
    late = wait_for_firing(server, b["task_id"])
    assert late["data"]["late_seconds"] > 0.4  # it was due while the server was down
    time.sleep(1.5)  # several scheduler passes
    assert len(fast_firings(server, a["task_id"])) == 1
    assert len(fast_firings(server, b["task_id"])) == 1
