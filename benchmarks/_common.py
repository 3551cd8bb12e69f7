"""Helpers shared by the benchmark scripts: items to feed, servers to start, a machine line."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "samples" / "sample_queue.jsonl"
DEMO = ROOT / "src" / "careroute" / "demo" / "items.jsonl"
PG_URL = os.environ.get("CAREROUTE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def base_items() -> list[dict[str, Any]]:
    if SAMPLE.is_file():
        return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    from datetime import UTC, datetime

    from careroute.demo import demo_items

    return [i.to_dict() for i in demo_items(datetime.now(UTC))]


def synthetic_items(n: int, prefix: str = "bench") -> Iterator[dict[str, Any]]:
    """n distinct items cycled from the sample week, each a new (channel, external_id), a week apart per cycle
    so that duplicate detection sees realistic history and not one giant cluster."""
    from datetime import datetime

    base = base_items()
    for i in range(n):
        src = dict(base[i % len(base)])
        cycle = i // len(base)
        received = datetime.fromisoformat(src["received_at"]) + timedelta(days=7 * cycle)
        src["received_at"] = received.isoformat()
        src["external_id"] = f"{prefix}-{i}"
        patient = dict(src.get("patient") or {})
        if cycle and patient.get("mrn"):
            patient["mrn"] = f"{patient['mrn']}-{cycle}"
        src["patient"] = patient
        yield src


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"server exited: {err}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def fresh_pg_schema(prefix: str = "bench") -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL schema for one benchmark run: its URL, and a function that drops it."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop
