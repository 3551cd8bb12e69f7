"""Online backup, restore and the retention purge, on both databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from careroute.dispatcher import Dispatcher
from careroute.store.backup import purge_content
from careroute.store.repository import Store
from careroute.store.tables import items, task_facts, tasks
from tests.conftest import make_item


def careroute(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "careroute.cli", *args], capture_output=True, text=True, timeout=120)


def count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(tasks)).scalar_one())


def test_a_backup_taken_while_running_restores_exactly(
    dispatcher: Dispatcher, store: Store, db_url: str, tmp_path: Path
) -> None:
    for i in range(5):
        dispatcher.intake(make_item(f"portal-{i}"))
    target = tmp_path / "careroute.backup"
    made = careroute("backup", str(target), "--db", db_url)
    assert made.returncode == 0, made.stderr
    for i in range(5, 8):
        dispatcher.intake(make_item(f"portal-{i}"))
    assert count(store) == 8
    refused = careroute("restore", str(target), "--db", db_url)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    store.engine.dispose()
    restored = careroute("restore", str(target), "--db", db_url, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert count(Store.from_url(db_url)) == 5
    assert careroute("audit", "verify", "--db", db_url).returncode == 0


def test_a_missing_backup_file_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    run = careroute("restore", str(tmp_path / "nope"), "--db", db_url, "--yes")
    assert run.returncode == 2 and "no such backup file" in run.stderr


def test_retention_purges_old_content_and_keeps_the_metrics(dispatcher: Dispatcher, store: Store) -> None:
    old = dispatcher.intake(make_item("portal-old")).task_id
    dispatcher.resolve(old, actor="luis")
    dispatcher.clock.now += timedelta(days=40)  # type: ignore[attr-defined]
    recent = dispatcher.intake(make_item("portal-new")).task_id
    dispatcher.resolve(recent, actor="luis")
    assert purge_content(store, dispatcher.clock() - timedelta(days=30)) == 1
    with store.read() as conn:
        rows = {r.task_id: r for r in conn.execute(select(items))}
        facts = conn.execute(select(func.count()).select_from(task_facts)).scalar_one()
    assert rows[old].body == "" and rows[old].patient == {} and rows[old].item_metadata == {"content_purged": True}
    assert rows[recent].body != ""
    assert facts == 2
    assert purge_content(store, dispatcher.clock() - timedelta(days=30)) == 0
