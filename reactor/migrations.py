"""Apply and inspect the Alembic migrations."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from reactor.db import current_revision, libpq_url
from reactor.resources import alembic_dir


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our scripts and at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str:
    """The newest migration this installation knows."""
    head = ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
    assert head is not None
    return head


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (same as `alembic upgrade head`)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)


def schema_is_current(database_url: str) -> tuple[bool, str | None, str]:
    """(is the database at head?, its revision, the head revision)."""
    with psycopg.connect(libpq_url(database_url), connect_timeout=10) as connection:
        found = current_revision(connection)
    head = head_revision()
    return found == head, found, head
