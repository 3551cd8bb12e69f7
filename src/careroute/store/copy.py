"""Copy a whole store into an empty PostgreSQL database: the move from one SQLite file to several instances.

Every row of every table is copied as it is, ids included, in one transaction
on the target: the copy is whole or absent, and an interrupted copy can simply
be run again. Events keep their ids and hashes, so the tamper-evident chain is
the same chain; it is verified on the target before the commit, and each id
sequence is moved past the copied ids so that the next task, item or event
continues the numbering. The source is only read, inside one read transaction
(a consistent snapshot); stop careroute first, or writes made during the copy
stay behind in the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from careroute import audit
from careroute.store.engine import make_engine, normalise_url
from careroute.store.migrate import alembic_config, upgrade
from careroute.store.tables import events, metadata

#: Rows read and written at a time: large enough for PostgreSQL's multi-row inserts, small enough for memory.
BATCH = 2_000

#: Progress: (table name, rows copied so far, rows of the table, rows copied of all tables, rows of all tables).
Progress = Callable[[str, int, int, int, int], None]


class CopyError(Exception):
    """A copy that cannot be done; the message says why and what to do (never a row's content)."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    events: int = 0
    last_hash: str = audit.GENESIS

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _open(url: str, role: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if not database or database == ":memory:":
            raise CopyError(f"{role}: an in-memory database holds nothing to copy; name a SQLite file")
        if role == "--from" and not Path(database).is_file():
            # Opening a missing file would create an empty one: say so instead.
            raise CopyError(f"--from: no such SQLite file: {database}")
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        first_line = str(exc.orig).strip().splitlines()[0][:200] if exc.orig is not None else type(exc).__name__
        raise CopyError(f"{role}: cannot open the database: {first_line}") from None
    return engine


def _head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _tables() -> list[Table]:
    return list(metadata.sorted_tables)  # parents before children, so foreign keys hold row by row


def _check_source(engine: Engine) -> None:
    with engine.connect() as conn:
        current = _revision(conn)
        head = _head(engine)
        if current != head:
            raise CopyError(
                f"--from: the database is at schema {current or 'empty'}, not {head}: "
                "run `careroute migrate --db SOURCE` on it first"
            )
        known = {t.name for t in _tables()} | {"alembic_version"}
        unknown = sorted(set(inspect(conn).get_table_names()) - known)
    if unknown:
        raise CopyError(f"--from: tables this version of careroute does not know: {', '.join(unknown)}; not copied")


def _check_target_empty(conn: Connection) -> None:
    held = []
    for table in _tables():
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if n:
            held.append(f"{table.name} ({n:,})")
    if held:
        raise CopyError(
            "--to: the database already holds data: " + ", ".join(held[:6]) + (", ..." if len(held) > 6 else "")
            + "; migrate-store copies into an empty database only: create a new database or schema and name it"
        )  # fmt: skip


def _advance_sequences(conn: Connection) -> None:
    """Move each id sequence past the copied ids, so the next row continues the numbering."""
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({column.name}), 1), "
                f"MAX({column.name}) IS NOT NULL) FROM {table.name}"
            ),
            {"table": table.name, "column": column.name},
        )


def _verify_chain(conn: Connection) -> tuple[int, str]:
    """Walk the copied event log; a break stops the copy (it would be a copy that lost or changed something)."""
    count, last = 0, audit.GENESIS

    def in_order() -> Iterator[dict[str, Any]]:
        nonlocal count, last
        after = 0
        while True:
            batch = list(conn.execute(select(events).where(events.c.id > after).order_by(events.c.id).limit(10_000)))
            if not batch:
                return
            for r in batch:
                row = dict(r._mapping)
                count, last = count + 1, str(row["hash"])
                yield row
            after = int(batch[-1].id)

    first = next(iter(audit.verify(in_order())), None)
    if first is not None:
        raise CopyError(
            f"the copied event log does not verify (event {first.event_id} {first.problem}); nothing was written. "
            "Check the source with `careroute audit verify --db SOURCE`"
        )
    return count, last


def copy_store(source_url: str, target_url: str, progress: Progress | None = None) -> CopyReport:
    """Copy every table of the store at `source_url` into the empty PostgreSQL database at `target_url`."""
    if normalise_url(source_url) == normalise_url(target_url):
        raise CopyError("--from and --to name the same database")
    if not normalise_url(target_url).startswith("postgresql"):
        raise CopyError("--to: name a PostgreSQL database (postgresql://user@host/db); the source may be a SQLite file")
    source = _open(source_url, "--from")
    target = _open(target_url, "--to")
    try:
        _check_source(source)
        with target.connect() as conn:
            revision = _revision(conn)
        if revision is None:
            upgrade(target)  # committed on its own: a copy that fails later leaves an empty, migrated target
        elif revision != _head(target):
            raise CopyError(
                f"--to: the database is at schema {revision}, not {_head(target)}: name an empty database or schema"
            )
        report = CopyReport()
        with source.connect() as src, target.begin() as dst:
            src = src.execution_options(careroute_readonly=True)
            with src.begin():
                _check_target_empty(dst)
                counts = {t.name: src.execute(select(func.count()).select_from(t)).scalar_one() for t in _tables()}
                total, done = sum(counts.values()), 0
                for table in _tables():
                    copied = 0
                    if progress is not None:
                        progress(table.name, 0, counts[table.name], done, total)
                    order = list(table.primary_key.columns) or list(table.columns)
                    result = src.execute(select(table).order_by(*order))
                    for chunk in result.partitions(BATCH):
                        rows = [dict(r._mapping) for r in chunk]
                        try:
                            dst.execute(insert(table), rows)
                        except DBAPIError as exc:
                            # The class and table only: a row's values may be a patient's words.
                            raise CopyError(
                                f"a row of {table.name} could not be written to the target "
                                f"({type(exc.orig).__name__}); nothing was written"
                            ) from None
                        copied += len(rows)
                        done += len(rows)
                        if progress is not None:
                            progress(table.name, copied, counts[table.name], done, total)
                    report.rows[table.name] = copied
            _advance_sequences(dst)
            report.events, report.last_hash = _verify_chain(dst)
        return report
    finally:
        source.dispose()
        target.dispose()
