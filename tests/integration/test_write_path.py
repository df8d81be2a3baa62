"""What the reactor leaves on the upstream's write path: a trigger that trusts no
search_path, no index of ours on invoices' status (so status UPDATEs stay HOT), the
sweep's chunked walk that replaced that index, and few btree entries per delivery row."""

from __future__ import annotations

import asyncio
import re
import uuid

import psycopg
import pytest

from reactor.pipeline import sweep
from reactor.runtime.wiring import open_store
from reactor.support.resources import sql
from tests.helpers import ROOT, insert_invoices, query, scalar, wait_until


def test_the_trigger_resolves_no_name_through_the_writers_search_path(database_url: str) -> None:
    (invoice,) = insert_invoices(database_url, 1)
    schema = scalar(database_url, "SELECT current_schema()")
    query(
        database_url,
        "CREATE SCHEMA decoy; CREATE TABLE decoy.review_events (invoice_ids uuid[]);"
        " CREATE FUNCTION decoy.pg_notify(text, text) RETURNS void LANGUAGE sql"
        " AS 'SELECT 1/0'",
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A writer whose search_path puts look-alikes first, even before pg_catalog.
        conn.execute("SET search_path = decoy, pg_catalog, pg_temp")
        conn.execute(
            psycopg.sql.SQL(
                "UPDATE {}.invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
            ).format(psycopg.sql.Identifier(schema)),
            (invoice,),
        )
    assert query(database_url, "SELECT unnest(invoice_ids)::text FROM review_events") == [
        (invoice,)
    ]
    assert scalar(database_url, "SELECT count(*) FROM decoy.review_events") == 0
    config = scalar(
        database_url,
        "SELECT proconfig FROM pg_proc WHERE proname = 'reactor_invoice_entered_review'",
    )
    assert config is None  # no SET clause: nothing saved and restored on every call


def test_no_index_of_ours_names_the_status_and_status_updates_stay_hot(database_url: str) -> None:
    indexes = query(
        database_url,
        "SELECT indexrelid::regclass::text FROM pg_index"
        " WHERE indrelid = 'invoices'::regclass"
        "   AND (pg_get_indexdef(indexrelid) LIKE '%%matched_status%%')",
    )
    assert indexes == []
    invoices = insert_invoices(database_url, 20)
    before = scalar(
        database_url, "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'invoices'"
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        for invoice in invoices:
            conn.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s", (invoice,)
            )
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # the flush happens at this statement's end

    def hot_updates() -> int:
        return int(
            scalar(
                database_url,
                "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'invoices'",
            )
        ) - int(before)

    # With an index naming the status (0002's, until 0011) none of them would be HOT.
    wait_until(lambda: hot_updates() >= 15, what="most of the 20 status updates counted as HOT")


def test_a_delivery_row_version_enters_two_btrees_beside_the_partial_ones(
    database_url: str,
) -> None:
    """Each btree a row version enters is WAL flushed with the upstream's commits.

    The outcome's UPDATE is not HOT (status is in partial-index predicates), so every
    row version enters each full btree: only the primary key and the unique key,
    which leads with the (growing) episode id; created_at is a BRIN summary.
    """
    full_btrees = query(
        database_url,
        "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam"
        " WHERE x.indrelid = 'notifications'::regclass AND a.amname = 'btree'"
        "   AND x.indpred IS NULL ORDER BY 1",
    )
    assert [name for name, _ in full_btrees] == ["notifications_once", "notifications_pkey"]
    assert "(episode_id, step, method, recipient)" in full_btrees[0][1]
    created = scalar(
        database_url,
        "SELECT a.amname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
        " JOIN pg_am a ON a.oid = c.relam WHERE x.indrelid = 'notifications'::regclass"
        "   AND pg_get_indexdef(x.indexrelid) LIKE '%%(created_at)%%'",
    )
    assert created == "brin"


def test_the_sweep_walks_the_table_a_chunk_at_a_time_and_adopts_each_orphan_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "ORPHAN_CHUNK", 3)
    # Written with the triggers off: invoices in review that nobody was told about.
    query(database_url, "ALTER TABLE invoices DISABLE TRIGGER USER")
    orphans = sorted(insert_invoices(database_url, 7, status="NEEDS_REVIEW"))
    insert_invoices(database_url, 4)  # and some not in review
    query(database_url, "ALTER TABLE invoices ENABLE TRIGGER USER")

    async def walk() -> list[tuple[int, object]]:
        async with open_store(database_url) as store:
            one = await sweep.adopt_orphans(store, whole_table=False)
            rest = await sweep.adopt_orphans(store, one[1])
            again = await sweep.adopt_orphans(store)
            return [one, rest, again]

    (first, after), (rest, end), (again, _) = asyncio.run(walk())
    assert first <= 3 and after != sweep.FIRST_KEY  # one chunk of 3 of the 11 invoices
    assert first + rest == 7 and end == sweep.FIRST_KEY
    assert again == 0  # already waiting in the outbox: not queued twice
    queued = query(database_url, "SELECT unnest(invoice_ids)::text FROM review_events ORDER BY 1")
    assert [row[0] for row in queued] == orphans


def test_an_invoices_deliveries_are_found_through_its_episodes_by_index(
    database_url: str,
) -> None:
    """No index on notifications.invoice_id (0016, 0017): the console's invoice page and
    the operators' query go through the invoice's episodes and the episode-led key."""
    operators = (ROOT / "docs" / "operator-queries.md").read_text()
    (documented,) = [
        block.split(";")[0]
        for block in operators.split("\n\n")
        if "who was told about one invoice" in block
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # only a missing index leaves a seq scan
        for text, params in (
            (sql("queries/console_invoice"), {"invoice_id": str(uuid.uuid4())}),
            (documented, None),
        ):
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + text, params))
            assert re.search(r"Index Scan (using|on) review_episodes_invoice_idx", plan), plan
            assert "using notifications_once on notifications" in plan, plan
