"""Alembic environment: runs the migrations on DATABASE_URL (or the URL passed in)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from reactor.db import sqlalchemy_url

# Our own version table: the upstream service may use Alembic in the same schema.
VERSION_TABLE = "reactor_alembic_version"


def run_migrations_online() -> None:
    """Apply migrations in one transaction on a direct connection."""
    url = context.config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL: required to run migrations")
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            version_table=VERSION_TABLE,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
