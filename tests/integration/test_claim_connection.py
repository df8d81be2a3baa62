"""The claims keep one pool connection between calls, and give it back when anything fails."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from reactor.db.store import Store
from reactor.runtime.wiring import open_store


async def _claim_due(store: Store) -> None:
    await store.claim_due(limit=10, lease_seconds=60, max_attempts=5, paused=[])


async def _backend(store: Store) -> int | None:
    """The server process of the kept claiming connection (None: none kept)."""
    kept = store._claiming
    return None if kept is None else kept.info.backend_pid


def test_consecutive_claims_meet_the_same_server_process(database_url: str) -> None:
    async def scenario() -> tuple[list[int | None], int]:
        async with open_store(database_url) as store:
            seen = []
            for _ in range(3):
                await _claim_due(store)
                seen.append(await _backend(store))
            # other statements still borrow from the pool in turn, not the kept one
            pool = store.pool.get_stats()["pool_available"]
            return seen, pool

    seen, available = asyncio.run(scenario())
    assert seen[0] is not None and seen == [seen[0]] * 3
    assert available >= 1


def test_a_failed_claim_gives_the_connection_back(database_url: str) -> None:
    async def scenario() -> tuple[int | None, int | None]:
        async with open_store(database_url) as store:
            await _claim_due(store)
            kept = await _backend(store)
            with pytest.raises(psycopg.Error):
                await store.claim_due(limit="many", lease_seconds=60, max_attempts=5, paused=[])
            return kept, await _backend(store)

    kept, after = asyncio.run(scenario())
    assert kept is not None and after is None  # back in the pool, which checks it


def test_the_kept_connection_goes_back_after_its_time(database_url: str) -> None:
    async def scenario() -> int | None:
        async with open_store(database_url) as store:
            store.KEEP_CLAIMING_SECONDS = 0.0
            await _claim_due(store)
            return await _backend(store)

    assert asyncio.run(scenario()) is None


def test_release_returns_it_before_the_pool_closes(database_url: str) -> None:
    async def scenario() -> tuple[int | None, int | None]:
        async with open_store(database_url) as store:
            await _claim_due(store)
            before = await _backend(store)
            await store.release()
            return before, await _backend(store)

    before, after = asyncio.run(scenario())
    assert before is not None and after is None
