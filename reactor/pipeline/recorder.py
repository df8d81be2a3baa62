"""The recorder: outcomes written back to their rows, fenced by claim token.

Only the claim that leased a row may record its outcome (or give it back): a late
answer from a process whose lease expired changes nothing. A batch the database
refuses for a reason retrying cannot fix is written row by row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg
import structlog

from reactor.db.store import Store
from reactor.domain.deliveries import Delivery, Outcome
from reactor.domain.enums import Status
from reactor.pipeline import spans
from reactor.support import tracing

log = structlog.get_logger("reactor.recorder")

# The database is up but refuses what we wrote (bad data, a constraint): retrying the
# same batch would never succeed, so its rows are written one by one instead. Anything
# else (a connection lost, a bug in our SQL) is retried: the stall shows in readiness.
REJECTED_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


class Recorder:
    """Writes outcomes and releases through the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def write(self, outcomes: Sequence[Outcome], releases: Sequence[Delivery]) -> None:
        """Record outcomes and releases; a batch the database refuses goes row by row."""
        if outcomes:
            started = time.time_ns()
            try:
                await self._record(outcomes)
            except REJECTED_ERRORS as error:
                log.warning(
                    "database refused a batch of outcomes; recording them one by one",
                    error=type(error).__name__,
                    count=len(outcomes),
                )
                for outcome in outcomes:
                    await self._record_alone(outcome)
            if tracing.enabled:
                spans.recorded(list(outcomes), started)
        if releases:
            await self._store.release_claims(releases)

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        # Counted in rows: a digest's outcome is written to each of its rows.
        rows = sum(len(outcome.rows()) for outcome in outcomes)
        fenced = rows - await self._store.record_outcomes(outcomes)
        if fenced:
            log.warning(
                "outcomes not recorded: their lease had expired and another claim owns the rows",
                count=fenced,
            )

    async def _record_alone(self, outcome: Outcome) -> None:
        """Record one outcome; if the database refuses it, the row is FAILED with why."""
        try:
            await self._record([outcome])
        except REJECTED_ERRORS as error:
            reason = (
                f"the database refused this delivery's outcome "
                f"({outcome.status}, {type(error).__name__})"
            )
            log.error(reason, delivery_id=outcome.delivery_id, outcome=outcome.status)
            await self._record(
                [
                    Outcome(
                        outcome.delivery_id,
                        outcome.claim_token,
                        Status.FAILED,
                        error=reason,
                        digest=outcome.digest,
                    )
                ]
            )
