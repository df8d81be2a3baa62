"""The migration on a fresh database and on one where upstream owns `invoices`."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from reactor.db import migrations, revisions
from tests.helpers import query, scalar

UPSTREAM_INVOICES = """
CREATE TABLE invoices (
    id uuid PRIMARY KEY,
    request_id varchar NOT NULL UNIQUE,
    invoice_number varchar(64),
    vendor_name text,
    total_amount numeric(12,2),
    currency varchar(3) NOT NULL DEFAULT 'EUR',
    matched_status varchar(20) NOT NULL
        CHECK (matched_status IN ('PENDING', 'MATCHED', 'NEEDS_REVIEW', 'APPROVED')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

COLUMNS = (
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_name = 'invoices' ORDER BY ordinal_position"
)


def _tables(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_fresh_database_gets_invoices_outbox_and_trigger(empty_database_url: str) -> None:
    url = empty_database_url
    migrations.upgrade(url)
    assert {"invoices", "review_events", "review_episodes", "notifications"} <= _tables(url)
    invoice = str(uuid.uuid4())
    query(
        url,
        "INSERT INTO invoices (id, vendor_name, total_amount, matched_status) "
        "VALUES (%s, 'Acme', 12.5, 'NEEDS_REVIEW')",
        (invoice,),
    )
    assert query(url, "SELECT unnest(invoice_ids)::text FROM review_events") == [(invoice,)]
    assert revisions.schema_is_current(url)[0]
    assert migrations.head_revision() == revisions.HEAD_REVISION  # moved with each migration

    migrations.downgrade(url)
    assert _tables(url) == {"reactor_alembic_version"}
    migrations.upgrade(url)  # and back again
    assert {"invoices", "review_events", "review_episodes", "notifications"} <= _tables(url)


def test_upstream_table_keeps_its_columns_and_survives_downgrade(empty_database_url: str) -> None:
    url = empty_database_url
    query(url, UPSTREAM_INVOICES)
    before = query(url, COLUMNS)
    migrations.upgrade(url)
    assert query(url, COLUMNS) == before

    invoice = str(uuid.uuid4())
    query(
        url,
        "INSERT INTO invoices (id, request_id, vendor_name, matched_status) "
        "VALUES (%s, 'req-1', 'Initech', 'PENDING')",
        (invoice,),
    )
    query(url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
    assert scalar(url, "SELECT count(*) FROM review_events") == 1
    with pytest.raises(psycopg.errors.CheckViolation):
        query(url, "UPDATE invoices SET matched_status = 'BOGUS'")

    migrations.downgrade(url)
    assert "invoices" in _tables(url)
    assert query(url, COLUMNS) == before
    assert scalar(url, "SELECT count(*) FROM invoices") == 1
    triggers = query(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    assert triggers == []


def test_trigger_works_for_a_role_without_rights_on_our_tables(database_url: str) -> None:
    role = f"upstream_{uuid.uuid4().hex[:8]}"
    query(database_url, f"CREATE ROLE {role}; GRANT SELECT, INSERT, UPDATE ON invoices TO {role}")
    try:
        query(
            database_url,
            f"SET ROLE {role}; INSERT INTO invoices (id, matched_status) "
            "VALUES (gen_random_uuid(), 'NEEDS_REVIEW'); RESET ROLE",
        )
        assert scalar(database_url, "SELECT count(*) FROM review_events") == 1
    finally:
        query(database_url, f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_an_interrupted_0017_is_finished_by_the_next_migrate(empty_database_url: str) -> None:
    """CREATE UNIQUE INDEX CONCURRENTLY that fails leaves an invalid index behind."""
    url = empty_database_url
    migrations.upgrade(url, "0016")
    invoice, stray = str(uuid.uuid4()), str(uuid.uuid4())
    query(url, "INSERT INTO invoices (id, matched_status) VALUES (%s, 'MATCHED')", (invoice,))
    episode = scalar(
        url,
        "INSERT INTO review_episodes (invoice_id, source, entered_at)"
        " VALUES (%s, 'trigger', now()) RETURNING id",
        (invoice,),
    )
    row = (
        "INSERT INTO notifications (invoice_id, episode_id, method, recipient, status)"
        " VALUES (%s, %s, 'sms', '+14155552671', 'SENT')"
    )
    query(url, row, (invoice, episode))
    query(url, row, (stray, episode))  # one episode, two invoices: the new key refuses it
    with pytest.raises(Exception, match="could not create unique index"):
        migrations.upgrade(url)
    assert scalar(url, "SELECT version_num FROM reactor_alembic_version") == "0016"
    assert query(
        url,
        "SELECT indisvalid FROM pg_index"
        " WHERE indexrelid = to_regclass('notifications_once_by_episode')",
    ) == [(False,)]

    query(url, "DELETE FROM notifications WHERE invoice_id = %s", (stray,))
    migrations.upgrade(url)
    assert revisions.schema_is_current(url)[0]
    definition = scalar(url, "SELECT pg_get_indexdef('notifications_once'::regclass)")
    assert "(episode_id, step, method, recipient)" in str(definition)
    assert scalar(url, "SELECT count(*) FROM notifications") == 1
    assert scalar(url, "SELECT to_regclass('notifications_once_by_episode')") is None
    migrations.downgrade(url, "0016")  # and back: the key led by the invoice again
    definition = scalar(url, "SELECT pg_get_indexdef('notifications_once'::regclass)")
    assert "(invoice_id, episode_id, step, method, recipient)" in str(definition)
