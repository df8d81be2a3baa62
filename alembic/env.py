"""Alembic environment: runs the migrations on DATABASE_URL (or the URL passed in).

Run by hand (`alembic upgrade head`) with no DATABASE_URL, it migrates the embedded
server in REACTOR_DATA_DIR, as `reactor migrate` does.
"""

from __future__ import annotations

import sys
from typing import Any

from alembic import context
from sqlalchemy import create_engine, event, pool

from reactor.db.connections import sqlalchemy_url
from reactor.support.resources import sql

# Our own version table: the upstream service may use Alembic in the same schema.
VERSION_TABLE = "reactor_alembic_version"
DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0


def run_migrations_online() -> None:
    """Apply migrations, one transaction each, on the URL given or the configured database."""
    url = context.config.attributes.get("database_url")
    if url:
        _migrate(url)
        return
    from reactor.ops.databases import database
    from reactor.settings.service import ConfigError, DatabaseSettings, load_settings

    try:
        settings = load_settings(DatabaseSettings)
    except ConfigError as error:
        print(f"reactor: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    with database(settings, migrate=False) as configured:
        _migrate(settings.listener_database_url or configured)


def _migrate(url: str) -> None:
    """Apply migrations on `url`, never waiting long for a lock."""
    attributes = context.config.attributes
    lock_timeout = attributes.get("lock_timeout_seconds", DEFAULT_LOCK_TIMEOUT_SECONDS)
    engine = create_engine(
        sqlalchemy_url(url),
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 10, "prepare_threshold": None},
    )

    @event.listens_for(engine, "connect")
    def _bounded_lock_waits(dbapi_connection: Any, _: Any) -> None:
        # DDL on the upstream invoices table queues behind any long transaction on
        # it, and every upstream write then queues behind the DDL: give up instead.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(sql("queries/set_lock_timeout"), {"ms": int(lock_timeout * 1000)})
        dbapi_connection.commit()

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
