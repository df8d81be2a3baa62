"""Apply and inspect the Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from reactor.db.connections import DatabaseUnreachable, unreachable_reason
from reactor.db.revisions import MigrationError
from reactor.support.resources import alembic_dir


def alembic_config(database_url: str, lock_timeout_seconds: float = 5.0) -> Config:
    """An Alembic config pointing at our scripts and at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["lock_timeout_seconds"] = lock_timeout_seconds
    return config


@contextmanager
def _explained(lock_timeout_seconds: float) -> Iterator[None]:
    """Turn the database's refusals into one line each."""
    try:
        yield
    except DBAPIError as error:
        cause = error.orig
        if isinstance(cause, psycopg.errors.LockNotAvailable):
            raise MigrationError(
                f"a table (invoices, most likely) stayed locked by another transaction for "
                f"more than {lock_timeout_seconds:g} s (MIGRATE_LOCK_TIMEOUT_SECONDS); the "
                "migration stopped rather than hold up its writers; try again once that "
                "transaction ends (see pg_stat_activity)"
            ) from None
        if isinstance(cause, psycopg.OperationalError) and not isinstance(
            cause, psycopg.errors.QueryCanceled
        ):
            raise DatabaseUnreachable(unreachable_reason(cause)) from None
        first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else repr(cause)
        raise MigrationError(f"the database refused a migration: {first_line}") from None


def head_revision() -> str:
    """The newest migration this installation knows."""
    head = ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
    assert head is not None
    return head


def upgrade(database_url: str, revision: str = "head", lock_timeout_seconds: float = 5.0) -> None:
    """Apply migrations up to `revision` (same as `alembic upgrade head`)."""
    with _explained(lock_timeout_seconds):
        command.upgrade(alembic_config(database_url, lock_timeout_seconds), revision)


def downgrade(database_url: str, revision: str = "base", lock_timeout_seconds: float = 5.0) -> None:
    """Revert migrations down to `revision`."""
    with _explained(lock_timeout_seconds):
        command.downgrade(alembic_config(database_url, lock_timeout_seconds), revision)
