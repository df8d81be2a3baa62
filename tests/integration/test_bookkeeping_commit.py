"""The reactor's own commits skip the WAL-flush wait by default, never through a pooler."""

from __future__ import annotations

import asyncio

import pytest

from reactor.runtime.wiring import build_service
from reactor.settings.service import Settings, load_settings
from tests.helpers import query, scalar


def _synchronous_commit(settings: Settings, url: str) -> str:
    async def show() -> str:
        service = build_service(settings, url, None)
        async with service.pool, service.pool.connection() as conn:
            row = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        return str(row[0]) if row else ""

    return asyncio.run(show())


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "off"),
        ({"database_synchronous_commit": "on"}, "on"),
        # LISTENER_DATABASE_URL says DATABASE_URL is a pooler: no startup options there
        ({"listener_database_url": "LISTENER"}, "on"),
    ],
)
def test_the_pool_commits_as_configured(
    database_url: str, extra: dict[str, str], expected: str
) -> None:
    # The test server runs with synchronous_commit off; this database says on, as
    # production servers do, so that only the reactor's own option can turn it off.
    database = scalar(database_url, "SELECT current_database()")
    query(database_url, f"ALTER DATABASE {database} SET synchronous_commit = on")
    values = {k: (database_url if v == "LISTENER" else v) for k, v in extra.items()}
    settings = load_settings(
        Settings,
        _env_file=None,
        database_url=database_url,
        notification_recipients="ap@example.com",
        **values,
    )
    assert _synchronous_commit(settings, database_url) == expected


def test_a_bad_value_is_refused_with_the_setting_named() -> None:
    from reactor.settings.service import ConfigError

    with pytest.raises(ConfigError, match=r"^DATABASE_SYNCHRONOUS_COMMIT:"):
        load_settings(
            Settings,
            _env_file=None,
            notification_recipients="a@example.com",
            database_synchronous_commit="sometimes",
        )
