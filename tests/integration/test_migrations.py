"""Migrations from empty, on SQLite and PostgreSQL, give exactly the declared schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from careroute.store.engine import make_engine
from careroute.store.migrate import downgrade, upgrade
from careroute.store.tables import metadata


def test_it_migrates_from_empty_to_the_declared_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert {t.name for t in metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    engine.dispose()
