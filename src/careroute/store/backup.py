"""Consistent online backups and restores of the store, and the retention purge of message content."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.engine import make_url

from careroute.store.engine import normalise_url
from careroute.store.repository import Store
from careroute.store.tables import items, patient_keys, tasks


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _sqlite_path(url: str) -> Path | None:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    return Path(database)


def _pg(url: str) -> tuple[str, str | None]:
    """A libpq connection string for the client tools, and the schema named by `options=-csearch_path=...`."""
    pg_url = make_url(normalise_url(url)).set(drivername="postgresql")
    options = str(pg_url.query.get("options") or "")
    schema = options.split("search_path=", 1)[1].split()[0] if "search_path=" in options else None
    return pg_url.set(query={}).render_as_string(hide_password=False), schema


def backup(url: str, target: Path) -> str:
    """Copy the live database to `target` without stopping the service; returns what was done."""
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"{path}: no such database file")
        target.parent.mkdir(parents=True, exist_ok=True)
        # SQLite's online backup copies a consistent snapshot while writers carry on (WAL mode).
        with sqlite3.connect(path) as source, sqlite3.connect(target) as dest:
            source.backup(dest)
        return f"SQLite backup of {path} written to {target}"
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed: install the PostgreSQL client tools")
    dsn, schema = _pg(url)
    result = subprocess.run(
        ["pg_dump", "--format=custom", "--file", str(target), *(["--schema", schema] if schema else []), dsn],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:300]}")
    return f"PostgreSQL backup written to {target} (pg_dump custom format; restore with `careroute restore`)"


def restore(url: str, source: Path) -> str:
    """Put a backup back in place of the database. Stop the service first."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    path = _sqlite_path(url)
    if path is not None:
        with sqlite3.connect(source) as check:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source}: not an intact SQLite database")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(path) as dest:
            src.backup(dest)
        return f"{path} restored from {source}"
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not installed: install the PostgreSQL client tools")
    dsn, _ = _pg(url)
    result = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", dsn, str(source)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:300]}")
    return f"PostgreSQL database restored from {source}"


def purge_content(store: Store, resolved_before: datetime) -> int:
    """Remove message content and patient fields of tasks resolved before a date; returns items purged.

    The events stay (they hold no message text), so the audit trail and the metrics are unchanged.
    """
    with store.write() as conn:
        done = select(tasks.c.id).where(tasks.c.status == "resolved", tasks.c.resolved_at < resolved_before)
        ids = [r.id for r in conn.execute(select(items.c.id).where(items.c.task_id.in_(done), items.c.body != ""))]
        if not ids:
            return 0
        conn.execute(delete(patient_keys).where(patient_keys.c.item_id.in_(ids)))
        conn.execute(
            update(items)
            .where(items.c.id.in_(ids))
            .values(body="", subject=None, patient={}, item_metadata={"content_purged": True}, reasons=[])
        )
        return len(ids)
