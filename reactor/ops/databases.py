"""Which database a command uses: DATABASE_URL at the current schema, or the embedded one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from reactor.db.embedded import (
    DataFolderError,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    bin_dir,
    default_data_dir,
)
from reactor.db.embedded_sharing import AlreadyRunning, shared_server
from reactor.db.revisions import HEAD_REVISION, schema_is_current
from reactor.settings.service import DatabaseSettings

EXIT_CONFIG = 2  # a bad setting, or a database that cannot be reached
EXIT_FAILED = 1


def say(line: str) -> None:
    print(f"reactor: {line}", file=sys.stderr, flush=True)


@contextmanager
def database(
    settings: DatabaseSettings, *, serving: bool = False, migrate: bool = True
) -> Iterator[str]:
    """The database URL: DATABASE_URL at the current schema, or the embedded server.

    The embedded server is the reactor's own: it is migrated here for every command
    (unless `migrate` is false: `reactor migrate` and Alembic do it themselves), and
    shared with the commands already using it (see `shared_server`). `serving` marks
    `reactor run`: it holds the data folder's run lock, so that a second `reactor run`
    on the same folder refuses instead of sharing it.
    """
    if settings.database_url:
        yield settings.database_url
        return
    data_dir = settings.reactor_data_dir or default_data_dir()
    server = EmbeddedPostgres(data_dir, say=say)
    try:
        with shared_server(server, run_lock=serving) as running:
            say(f"embedded PostgreSQL data folder: {running.data_dir}")
            say(f"connect with: {bin_dir() / 'psql'} {running.url}")
            if migrate:
                from reactor.db import migrations

                migrations.upgrade(running.url)
            yield running.url
    except (DataFolderError, AlreadyRunning) as error:
        say(str(error))
        raise SystemExit(EXIT_CONFIG) from None
    except EmbeddedPostgresError as error:
        say(f"embedded PostgreSQL: {error}")
        raise SystemExit(EXIT_FAILED) from None


def require_current_schema(settings: DatabaseSettings, database_url: str) -> str:
    """The schema's revision; stop with one line when DATABASE_URL's is not the latest."""
    if not settings.database_url:
        return HEAD_REVISION  # the embedded server was migrated on start
    current, found, head = schema_is_current(database_url)
    if not current:
        say(
            f"DATABASE_URL: schema is at revision {found or 'none'}, this reactor needs {head}; "
            "run `reactor migrate` first"
        )
        raise SystemExit(EXIT_CONFIG)
    return head
