"""The store: every query of the pipeline (sql/queries/*.sql), one method each, over the pool.

Nothing else in the pipeline builds a cursor or knows a row factory. Each method is
one statement (or one short transaction) on a connection borrowed from the pool,
so the pool may be PgBouncer in transaction mode. The claims keep theirs between calls
(`_claimed`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reactor.db.statements import run
from reactor.domain.deliveries import Delivery, Outcome
from reactor.domain.receipts import Receipt

Row = dict[str, Any]


@dataclass(frozen=True)
class Taken:
    """What one take of outbox events returned."""

    events: int  # outbox rows taken
    left_pending: int  # deliveries made but left PENDING (due now) for the claim path
    next_reminder_at: datetime | None  # the soonest reminder it scheduled, if any
    rows: list[Row]  # deliveries claimed now (SENDING) and those SKIPPED or FAILED


@dataclass(frozen=True)
class OrphanChunk:
    """What one chunk of the sweep's walk over invoices found."""

    adopted: int  # invoices in review never notified, now in the outbox
    next_after: UUID | None  # where the next chunk starts; None: the walk reached the end


def outcome_params(outcomes: Sequence[Outcome]) -> dict[str, list[Any]]:
    """record_outcomes.sql's parameters: one entry per row (a digest's rows share one)."""
    rows = [(row, o) for o in outcomes for row in o.rows()]
    return {
        "ids": [row[0] for row, _ in rows],
        "tokens": [row[1] for row, _ in rows],
        "statuses": [o.status for _, o in rows],
        "message_ids": [o.message_id for _, o in rows],
        "errors": [o.error for _, o in rows],
        "retry_in": [o.retry_in for _, o in rows],
        "refunds": [o.refund for _, o in rows],
        "held": [o.held for _, o in rows],
        "digest_sizes": [o.digest_size for _, o in rows],
        "transports": [o.transport for _, o in rows],
        "trace_contexts": [o.trace_context for _, o in rows],
    }


async def _fetched(
    conn: AsyncConnection[Any], name: str, params: Mapping[str, Any] | None, **slots: str
) -> list[Row]:
    """A statement's rows as dicts (none for a statement that returns no rows)."""
    cursor = await run(conn, name, params, dict_row, **slots)
    # rownumber is None when the statement returned no rows to fetch
    return await cursor.fetchall() if cursor.rownumber is not None else []


class Store:
    """The pipeline's queries over one async connection pool."""

    # How long the claiming connection is kept before the pool gets it back (and may
    # recycle it, as it does the others after their lifetime).
    KEEP_CLAIMING_SECONDS = 60.0

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._claiming: AsyncConnection[Any] | None = None
        self._claiming_until = 0.0

    async def _claimed(self, name: str, params: Mapping[str, Any], **slots: str) -> list[Row]:
        """The rows of a claiming statement, on the connection the claims keep.

        The pool hands out its idle connections in turn, so an invoice arriving after a
        lull would meet the server process that has been idle (cold caches) longest;
        with one kept, every claim meets the same warm one. A statement that fails
        gives it back, and the pool checks it.
        """
        conn, self._claiming = self._claiming, None
        if conn is None:
            conn = await self.pool.getconn()
            self._claiming_until = time.monotonic() + self.KEEP_CLAIMING_SECONDS
        try:
            rows = await _fetched(conn, name, params, **slots)
        except BaseException:
            await self.pool.putconn(conn)
            raise
        if self._claiming is None and time.monotonic() < self._claiming_until:
            self._claiming = conn
        else:  # a concurrent claim kept its own, or this one's time is up
            await self.pool.putconn(conn)
        return rows

    async def release(self) -> None:
        """Give the kept claiming connection back to the pool (before the pool closes)."""
        conn, self._claiming = self._claiming, None
        if conn is not None:
            await self.pool.putconn(conn)

    async def _rows(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        **slots: str,
    ) -> list[Row]:
        async with self.pool.connection(timeout=timeout) as conn:
            return await _fetched(conn, name, params, **slots)

    async def _row(
        self, name: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Row:
        rows = await self._rows(name, params, timeout)
        return rows[0] if rows else {}

    async def _count(self, name: str, params: Mapping[str, Any]) -> int:
        """Rows a statement changed."""
        async with self.pool.connection() as conn:
            cursor = await run(conn, name, params)
            return cursor.rowcount

    # -- intake and claims ---------------------------------------------------

    async def invoice_columns(self) -> bool:
        """Whether the invoices table has every field as a column (invoice_columns.sql)."""
        return bool((await self._row("invoice_columns"))["direct"])

    async def take_events(self, fields: str, **params: Any) -> Taken:
        """Take outbox rows, make episodes and deliveries, claim the first (take_events.sql),
        reading the invoices' fields one of two ways (`fields`: invoice_fields/*.sql)."""
        rows = await self._claimed("take_events", params, invoice_fields=f"invoice_fields/{fields}")
        first = rows[0]
        return Taken(
            events=first["taken_events"],
            left_pending=first["left_pending"],
            next_reminder_at=first["next_reminder_at"],
            rows=[row for row in rows if row["id"] is not None],
        )

    async def claim_due(self, **params: Any) -> list[Row]:
        """Claim due retries and expired leases (claim_due.sql)."""
        return await self._claimed("claim_due", params)

    async def next_due(self, paused: Sequence[str]) -> datetime | None:
        """When the next row of a channel not paused here falls due (next_due.sql)."""
        due: datetime | None = (await self._row("next_due", {"paused": list(paused)}))["next_due"]
        return due

    async def announce_due(self) -> None:
        """Tell every running reactor that deliveries are due now (announce_due.sql)."""
        await self._rows("announce_due")

    # -- recording -----------------------------------------------------------

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> int:
        """Write outcomes (a digest's to each of its rows), fenced by claim token.

        Returns how many rows took them.
        """
        return await self._count("record_outcomes", outcome_params(outcomes))

    async def release_claims(self, deliveries: Sequence[Delivery]) -> int:
        """Give claimed, unsent rows back (release_claims.sql)."""
        return await self._count(
            "release_claims",
            {
                "ids": [row[0] for d in deliveries for row in d.rows()],
                "tokens": [row[1] for d in deliveries for row in d.rows()],
            },
        )

    # -- the sweep and retention ---------------------------------------------

    async def adopt_orphans(self, after: UUID, limit: int) -> OrphanChunk | None:
        """Queue the invoices in review never notified among the next `limit` invoices
        after `after` (sweep_orphans.sql); None when another sweep holds the lock."""
        async with self.pool.connection() as conn, conn.transaction():
            locked = await (await run(conn, "sweep_lock")).fetchone()
            if not locked or not locked[0]:
                return None
            cursor = await run(conn, "sweep_orphans", {"after": after, "limit": limit})
            adopted, scanned, last = await cursor.fetchone() or (0, 0, None)
            return OrphanChunk(int(adopted), None if scanned < limit else last)

    async def sweep_preview(self) -> Row:
        """What a sweep would find now, changing nothing (sweep_preview.sql)."""
        return await self._row("sweep_preview")

    async def prune_markers(self) -> Row:
        """Forget closed digest windows and day-old receipt event ids (prune_markers.sql)."""
        return await self._row("prune_markers")

    async def prune_batch(self, **params: Any) -> Row | None:
        """One retention batch under the sweep's lock; None when another replica holds it."""
        async with self.pool.connection() as conn, conn.transaction():
            locked = await (await run(conn, "sweep_lock")).fetchone()
            if not locked or not locked[0]:
                return None
            cursor = await run(conn, "prune_batch", params, dict_row)
            return await cursor.fetchone()

    # -- taking an invoice ----------------------------------------------------

    async def take_episode(self, delivery_id: int, take: bool, taken_by: str | None = None) -> Row:
        """Who has the delivery's review episode, taking it first when `take` and it is
        open and free, for `taken_by` or else the delivery's recipient (take_episode.sql);
        {} when the delivery does not exist."""
        params = {"delivery_id": delivery_id, "take": take, "taken_by": taken_by}
        return await self._row("take_episode", params)

    async def reply_code(self, delivery_id: int, phone: str) -> int | None:
        """The reply code an SMS delivery carries, chosen under the phone's lock
        (reply_code_lock.sql, assign_reply_code.sql); None when every code is held."""
        async with self.pool.connection() as conn, conn.transaction():
            await run(conn, "reply_code_lock", {"phone": phone})
            cursor = await run(conn, "assign_reply_code", {"delivery_id": delivery_id})
            row = await cursor.fetchone()
            return int(row[0]) if row and row[0] is not None else None

    async def sms_reply_target(self, phone: str, code: int) -> int | None:
        """The open delivery a phone's reply code names (sms_reply_target.sql)."""
        row = await self._row("sms_reply_target", {"phone": phone, "code": code})
        return int(row["id"]) if row else None

    async def sms_opt_out(self, phone: str, source: str) -> None:
        """No more SMS to this phone until START (sms_opt_out.sql)."""
        await self._count("sms_opt_out", {"phone": phone, "source": source})

    async def sms_opt_in(self, phone: str) -> int:
        """SMS may go to this phone again; 1 if it had opted out (sms_opt_in.sql)."""
        return await self._count("sms_opt_in", {"phone": phone})

    async def follow_ups(self, limit: int) -> list[Row]:
        """Take up to `limit` taken episodes to follow up, with the messages about them
        sent to others (follow_ups.sql)."""
        return await self._rows("follow_ups", {"limit": limit})

    # -- Slack's corrections ---------------------------------------------------

    async def slack_to_correct(self, limit: int) -> list[Row]:
        """Slack messages whose invoices have all left review (slack_to_correct.sql)."""
        return await self._rows("slack_to_correct", {"limit": limit})

    async def mark_corrected(self, message_ids: Sequence[str]) -> int:
        """Those messages are corrected, or cannot be (mark_corrected.sql)."""
        return await self._count("mark_corrected", {"message_ids": list(message_ids)})

    async def slack_to_note_taken(self, limit: int) -> list[Row]:
        """Slack messages of taken episodes not yet saying so (slack_to_note_taken.sql)."""
        return await self._rows("slack_to_note_taken", {"limit": limit})

    async def mark_taken_noted(self, message_ids: Sequence[str]) -> int:
        """Those messages now say who took the invoice (mark_taken_noted.sql)."""
        return await self._count("mark_taken_noted", {"message_ids": list(message_ids)})

    # -- probes and operators ------------------------------------------------

    async def ping(self, timeout: float | None = None) -> None:
        """One round trip (ping.sql)."""
        await self._rows("ping", timeout=timeout)

    async def subscription_state(self) -> Row | None:
        """Replica mode's subscription (subscription_state.sql); None when there is none."""
        return await self._row("subscription_state", timeout=5.0) or None

    async def backlog(self, timeout: float | None = None) -> Row:
        """Pending, sending and failed counts and the outbox backlog (backlog.sql)."""
        return await self._row("backlog", timeout=timeout)

    async def open_invoices(self, limit: int) -> list[Row]:
        """The oldest untaken invoices in review, and the counts (open_invoices.sql)."""
        return await self._rows("open_invoices", {"limit": limit})

    async def gather_digests(self, **params: Any) -> list[Row]:
        """Open digest windows for claimed rows and gather their recipients' due rows."""
        return await self._rows("gather_digests", params)

    async def record_receipts(self, receipts: Sequence[Receipt]) -> list[Row]:
        """Record delivery receipts, never backwards; the rows changed (record_receipts.sql)."""
        return await self._rows(
            "record_receipts",
            {
                "channels": [r.channel for r in receipts],
                "statuses": [r.status for r in receipts],
                "ranks": [r.rank for r in receipts],
                "message_ids": [r.message_id for r in receipts],
                "delivery_ids": [r.delivery_id for r in receipts],
                "errors": [r.error for r in receipts],
                "event_ids": [r.event_id for r in receipts],
            },
        )

    async def receipts_last_day(self, timeout: float | None = None) -> list[Row]:
        """Receipts of the last 24 hours by channel and status (receipts_last_day.sql)."""
        return await self._rows("receipts_last_day", timeout=timeout)

    # -- the console ---------------------------------------------------------------

    async def console_overview(self) -> list[Row]:
        """The last day's deliveries by channel and status (console_overview.sql)."""
        return await self._rows("console_overview")

    async def console_deliveries(self, **filters: Any) -> list[Row]:
        """A page of deliveries, newest first (console_deliveries.sql)."""
        return await self._rows("console_deliveries", filters)

    async def console_invoice(self, invoice_id: UUID) -> list[Row]:
        """An invoice's episodes and deliveries (console_invoice.sql)."""
        return await self._rows("console_invoice", {"invoice_id": invoice_id})

    async def console_failures(self) -> list[Row]:
        """FAILED deliveries grouped by channel and error (console_failures.sql)."""
        return await self._rows("console_failures")

    async def requeue(
        self,
        *,
        row_id: int | None = None,
        invoice_id: UUID | None = None,
        method: str | None = None,
        since: datetime | None = None,
        by_error: bool = False,
        error: str | None = None,
        dry_run: bool = False,
    ) -> int:
        """FAILED deliveries back to PENDING with fresh attempts; the count (requeue.sql)."""
        params = {
            "id": row_id,
            "invoice_id": invoice_id,
            "method": method,
            "since": since,
            "by_error": by_error,
            "error": error,
            "dry_run": dry_run,
        }
        return int((await self._row("requeue", params))["count"])

    async def channel_pauses(self) -> list[Row]:
        """The channels an operator paused (channel_pauses.sql)."""
        return await self._rows("channel_pauses")

    async def pause_channel(self, method: str, user: str) -> None:
        """Pause a channel for every reactor (pause_channel.sql), and tell them."""
        await self._count("pause_channel", {"method": method, "user": user})
        await self.announce_due()

    async def resume_channel(self, method: str) -> None:
        """Resume a paused channel (resume_channel.sql), and wake every reactor."""
        await self._count("resume_channel", {"method": method})
        await self.announce_due()

    async def waiting(self, timeout: float | None = None) -> list[Row]:
        """Deliveries waiting for a later moment, by why (waiting.sql)."""
        return await self._rows("waiting", timeout=timeout)

    async def invoice_facts(self, invoice_id: UUID) -> Row:
        """One invoice's fields as the rules read them, or {} (invoice_facts.sql)."""
        return await self._row("invoice_facts", {"invoice_id": invoice_id})

    async def status_by_channel(self) -> list[Row]:
        """Deliveries by channel and status (status_by_channel.sql)."""
        return await self._rows("status_by_channel")

    async def top_failures(self, limit: int) -> list[Row]:
        """The most frequent failure messages (top_failures.sql)."""
        return await self._rows("top_failures", {"limit": limit})
