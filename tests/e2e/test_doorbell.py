"""The wake-up protocol: the trigger sends a NOTIFY only to a reactor that waits for one,
and a reactor that goes to sleep never leaves a committed row behind."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import psycopg

from reactor.pipeline.doorbell import WAKE_UP_LOCK, Arming, Doorbell
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import EMAILS, PHONES, ReactorProcess, query, scalar, wait_until

IN_REVIEW_50 = (
    "INSERT INTO invoices (id, matched_status) "
    "SELECT gen_random_uuid(), 'NEEDS_REVIEW' FROM generate_series(1, 50)"
)


def _notifies_until_one(listener: psycopg.Connection) -> list[psycopg.Notify]:
    """Every notification up to and including the first one (queued in commit order)."""
    first = wait_until(lambda: list(listener.notifies(timeout=0.2)), what="a notify")
    return first + list(listener.notifies(timeout=0))


def test_without_a_waiting_reactor_writers_send_no_notify(database_url: str) -> None:
    with (
        psycopg.connect(database_url, autocommit=True) as listener,
        psycopg.connect(database_url, autocommit=True) as reactor,
    ):
        listener.execute("LISTEN invoice_review")
        query(database_url, IN_REVIEW_50)  # nobody holds the wake-up lock
        # One outbox row per invoice, written in the invoices' own transaction.
        assert scalar(database_url, "SELECT count(*) FROM review_events") == 50
        assert scalar(database_url, "SELECT max(cardinality(invoice_ids)) FROM review_events") == 1

        reactor.execute("SELECT pg_advisory_lock(%s)", (WAKE_UP_LOCK,))  # now one waits
        query(database_url, IN_REVIEW_50)
        # Had the first transaction notified, its NOTIFY would arrive before this one's.
        assert [n.payload for n in _notifies_until_one(listener)] == [""]


def test_a_waiting_reactor_gets_one_notify_per_transaction(database_url: str) -> None:
    with (
        psycopg.connect(database_url, autocommit=True) as listener,
        psycopg.connect(database_url, autocommit=True) as reactor,
    ):
        listener.execute("LISTEN invoice_review")
        reactor.execute("SELECT pg_advisory_lock(%s)", (WAKE_UP_LOCK,))
        query(database_url, IN_REVIEW_50)
        assert len(_notifies_until_one(listener)) == 1
        query(database_url, "UPDATE invoices SET updated_at = now()")  # not a transition
        query(database_url, IN_REVIEW_50)
        assert len(_notifies_until_one(listener)) == 1


def test_arming_waits_for_a_writer_that_committed_without_a_notify(database_url: str) -> None:
    """A writer that skipped its NOTIFY holds the lock until it commits: arming waits."""
    bell = Doorbell(database_url)

    async def arm() -> Arming:
        return await bell.arm()

    with psycopg.connect(database_url) as writer:
        writer.execute(IN_REVIEW_50)  # in flight: took the lock shared, sends no NOTIFY
        assert asyncio.run(arm()) is Arming.NOT_NOW  # waited ARM_WAIT_MS for it, in vain
        writer.commit()

    async def arm_then_read() -> tuple[Arming, int]:
        arming = await bell.arm()
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cursor = await conn.execute("SELECT count(*) FROM review_events")
            row = await cursor.fetchone()
        await bell.close()
        return arming, row[0] if row else 0

    # Once the writer committed, the lock is ours, and the last read sees its rows.
    assert asyncio.run(arm_then_read()) == (Arming.ARMED, 50)


def test_a_second_reactor_knows_the_first_one_holds_the_lock(database_url: str) -> None:
    async def both() -> tuple[Arming, Arming, Arming]:
        first, second = Doorbell(database_url), Doorbell(database_url)
        try:
            armed = await first.arm()
            elsewhere = await second.arm()
            await first.disarm()
            return armed, elsewhere, await second.arm()
        finally:
            await first.close()
            await second.close()

    assert asyncio.run(both()) == (Arming.ARMED, Arming.ELSEWHERE, Arming.ARMED)


def test_many_writers_beside_a_running_reactor_each_invoice_delivered_once(
    reactor: ReactorProcess, database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    """Eight writers moving invoices into review one transaction at a time, as a matcher
    does: the reactor switches between sleeping (NOTIFY) and reading the outbox (busy),
    and no invoice waits for the sweep."""
    per_writer = 40

    def write() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for _ in range(per_writer):
                invoice = uuid.uuid4()
                conn.execute(
                    "INSERT INTO invoices (id, matched_status) VALUES (%s, 'MATCHED')",
                    (invoice,),
                )
                conn.execute(
                    "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
                    (invoice,),
                )

    writers = [threading.Thread(target=write) for _ in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    total = 8 * per_writer
    sendgrid.wait_for(total * len(EMAILS), timeout=60)
    twilio.wait_for(total * len(PHONES), timeout=60)
    counts = Counter(sendgrid.accepted_recipients() + twilio.accepted_recipients())
    assert counts == {r: total for r in (*EMAILS, *PHONES)}
    assert scalar(database_url, "SELECT count(*) FROM review_events") == 0
    # Idle again: it holds the wake-up lock, so the next invoice is told at once.
    wait_until(
        lambda: (
            scalar(
                database_url,
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' "
                "AND a.application_name = 'invoice-reactor doorbell'",
            )
            == 1
        ),
        what="the reactor holds the wake-up lock when idle",
    )
