"""Retention: old delivery records (personal data) deleted in small batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from reactor.support import metrics

if TYPE_CHECKING:
    from reactor.db.store import Store

BATCH_SIZE = 500
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class PruneReport:
    """What a retention pass deleted (or, in a dry run, would delete)."""

    episodes: int = 0
    notifications: int = 0
    skipped_batches: int = 0  # another replica held the sweep's lock


async def prune(
    store: Store,
    older_than_days: int,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> PruneReport:
    """Delete episodes (and their deliveries) older than the cutoff, batch by batch.

    Never an invoice still in review, never a PENDING or SENDING row. Each batch is
    its own short transaction under the sweep's advisory lock, so no lock is held
    for long and replicas never prune at the same time.
    """
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    report = PruneReport()
    after_at, after_id = _BEGINNING, 0
    while True:
        row = await store.prune_batch(
            cutoff=cutoff,
            after_at=after_at,
            after_id=after_id,
            batch=batch_size,
            dry_run=dry_run,
        )
        if row is None:  # another replica holds the sweep's lock
            report.skipped_batches += 1
            break
        report.episodes += row["episodes"]
        report.notifications += row["notifications"]
        if not dry_run:
            metrics.PRUNED.labels("episodes").inc(row["episodes"])
            metrics.PRUNED.labels("notifications").inc(row["notifications"])
        if row["scanned"] < batch_size:
            break
        after_at, after_id = row["last_at"], row["last_id"]
    if not dry_run:
        await store.prune_markers()
    return report
