"""The schema's revisions without Alembic: the newest one, and whether a database is at it.

Every command checks the database's revision before it starts; importing Alembic for that
cost each one about 0.3 s of CPU. `HEAD_REVISION` moves with each new migration
(tests/integration/test_migrations.py checks it against Alembic's own head).
"""

from __future__ import annotations

from reactor.db.connections import connect, current_revision

HEAD_REVISION = "0017"


class MigrationError(Exception):
    """A migration could not run; the message says why in one line."""


def schema_is_current(database_url: str) -> tuple[bool, str | None, str]:
    """(is the database at the newest revision?, its revision, the newest revision)."""
    with connect(database_url) as connection:
        found = current_revision(connection)
    return found == HEAD_REVISION, found, HEAD_REVISION
