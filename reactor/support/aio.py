"""asyncio helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_abandoned: set[asyncio.Task[Any]] = set()


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not complain about it


async def bounded(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    """Await `coro` for at most `timeout` seconds, then raise TimeoutError.

    Unlike asyncio.wait_for, a timed-out operation is cancelled and left to finish
    in the background: psycopg's cancellation of a query on a hung connection can
    itself take seconds, and a probe must not wait for it.
    """
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    raise TimeoutError(f"no answer within {timeout}s")
