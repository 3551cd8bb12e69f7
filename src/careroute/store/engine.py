"""Engines for SQLite (the embedded default) and PostgreSQL (by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url == ":memory:":
        return "sqlite://"
    if "://" not in url:  # a bare path names a SQLite file
        return f"sqlite:///{url}"
    return url


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """An engine with the settings careroute relies on.

    SQLite: WAL so readers never block the writer; `BEGIN IMMEDIATE` for writes
    so that two writers queue on the busy timeout instead of failing with
    "database is locked" when a read transaction tries to upgrade; FULL sync so
    an accepted item survives a power cut, not only a crash.
    """
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True)

    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "isolation_level": None}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        path = url.removeprefix("sqlite:///")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: SQL errors must never carry message bodies or patient fields into logs.
    engine = create_engine(url, hide_parameters=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("careroute_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
