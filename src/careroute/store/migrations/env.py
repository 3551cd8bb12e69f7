"""Alembic environment: the engine comes from careroute's own configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from careroute.config import Settings
from careroute.store.engine import make_engine
from careroute.store.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
