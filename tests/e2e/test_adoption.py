"""Adopting a database the old services left behind, and migrating next to live upstream writes.

The first test builds, with SQL, what the upstream matching service (its `invoices` and
its own `alembic_version`) and the old Celery notify service (its `notifications`
history) leave in a database, runs `reactor migrate` as a real process, and checks that
the history is kept and counted, that already-notified invoices are not notified again,
that new work is, and that the downgrade puts back exactly what was there.

The second checks that `reactor migrate` gives up, with one line and no change, instead
of making upstream writes queue behind its lock request on `invoices` while another
session holds a lock on it; and that unreachable databases are reported in one line.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from reactor.db import migrations
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAIL,
    PHONE,
    ReactorProcess,
    delivered,
    free_port,
    invoice_of,
    query,
    run_cli,
    scalar,
    service_env,
    wait_until,
)

OLD_RECIPIENT = "old-controller@example.org"
LEGACY_ERROR = "550 5.1.1 <old-controller@example.org>: mailbox unavailable"
MASKED_LEGACY_ERROR = "550 5.1.1 <o***@example.org>: mailbox unavailable"
UPSTREAM_REVISION = "3f2a9c1b7d4e"

UPSTREAM_INVOICES = """
CREATE TABLE invoices (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id      varchar       NOT NULL UNIQUE,
    invoice_number  varchar(64),
    vendor_name     text,
    total_amount    numeric(12,2),
    currency        varchar(3),
    matched_status  varchar(20)   NOT NULL DEFAULT 'NEEDS_REVIEW'
                    CHECK (matched_status IN ('AUTO_APPROVED', 'NEEDS_REVIEW')),
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now()
)
"""

UPSTREAM_ALEMBIC = f"""
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version (version_num) VALUES ('{UPSTREAM_REVISION}')
"""

# The old Celery service's table, as SQLAlchemy created it (index=True on invoice_id).
LEGACY_NOTIFICATIONS = """
CREATE TABLE notifications (
    id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id     uuid          NOT NULL,
    method         varchar(10)   NOT NULL,
    recipient      varchar(255)  NOT NULL,
    sent_at        timestamptz,
    status         varchar(10)   NOT NULL CHECK (status IN ('SENT', 'FAILED')),
    error_message  text,
    UNIQUE (invoice_id, method, recipient)
);
CREATE INDEX ix_notifications_invoice_id ON notifications (invoice_id)
"""

# The old service's documented operator queries.
OLD_STATUS_QUERY = "SELECT status, COUNT(*) FROM notifications GROUP BY status"
OLD_FAILURES_QUERY = (
    "SELECT error_message, COUNT(*) FROM notifications WHERE status = 'FAILED' "
    "GROUP BY error_message"
)

OUR_TRIGGERS = (
    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'invoices'::regclass AND NOT tgisinternal"
)
OUR_FUNCTIONS = (
    "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = 'public' AND p.proname LIKE 'reactor%'"
)


# -- helpers -------------------------------------------------------------------------------


def table_definition(url: str, table: str) -> dict[str, list[tuple]]:
    """Columns (with types and defaults), constraints and indexes of a public table."""
    relation = (
        "(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = %s)"
    )
    return {
        "columns": query(
            url,
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
            "numeric_scale, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ),
        "constraints": query(
            url,
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = {relation} ORDER BY conname",
            (table,),
        ),
        "indexes": query(
            url,
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND tablename = %s ORDER BY indexname",
            (table,),
        ),
    }


def columns_and_constraints(url: str, table: str) -> dict[str, list[tuple]]:
    """The part of a table's definition the migration must never change (not its indexes)."""
    definition = table_definition(url, table)
    return {"columns": definition["columns"], "constraints": definition["constraints"]}


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """The rows of a query as dicts."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute(sql, params).fetchall()


def public_tables(url: str) -> set[str]:
    """Names of the tables in the public schema."""
    return {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def our_version_rows(url: str) -> list[tuple]:
    """Rows of the reactor's Alembic version table (none when the table does not exist)."""
    if scalar(url, "SELECT to_regclass('reactor_alembic_version') IS NULL"):
        return []
    return query(url, "SELECT version_num FROM reactor_alembic_version")


def requests_about(invoice: str, sendgrid: FakeSendGrid, twilio: FakeTwilio) -> list[str]:
    """Recipients of every request (accepted or not) the fakes received about `invoice`."""
    return [
        str(r.recipient)
        for fake in (sendgrid, twilio)
        for r in fake.requests
        if invoice_of(r) == invoice
    ]


def reached_both(invoice: str, sendgrid: FakeSendGrid, twilio: FakeTwilio) -> bool:
    """True once the email and the phone recipient both accepted a message about `invoice`."""
    got = delivered(sendgrid, twilio)
    return got[(EMAIL, invoice)] >= 1 and got[(PHONE, invoice)] >= 1


def sent_rows_of(url: str, invoice: str) -> int:
    """SENT notifications rows of one invoice."""
    return int(
        scalar(
            url,
            "SELECT count(*) FROM notifications WHERE invoice_id = %s AND status = 'SENT'",
            (invoice,),
        )
    )


def build_legacy_database(url: str) -> tuple[str, str, str]:
    """The upstream invoices and alembic_version and the old service's notifications.

    Returns the ids of invoice A (in review, already notified), B (in review, never
    notified) and C (auto-approved, notified in the past, one failed delivery).
    """
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    query(url, UPSTREAM_INVOICES)
    query(url, UPSTREAM_ALEMBIC)
    query(url, LEGACY_NOTIFICATIONS)
    query(
        url,
        "INSERT INTO invoices (id, request_id, invoice_number, vendor_name, total_amount, "
        "currency, matched_status) VALUES "
        "(%s, 'req-a', 'INV-A', 'Acme Ltd', 1250.00, 'USD', 'NEEDS_REVIEW'), "
        "(%s, 'req-b', 'INV-B', 'Globex', 99.50, 'EUR', 'NEEDS_REVIEW'), "
        "(%s, 'req-c', 'INV-C', 'Initech', 10.00, 'USD', 'AUTO_APPROVED')",
        (a, b, c),
    )
    query(
        url,
        "INSERT INTO notifications (invoice_id, method, recipient, sent_at, status, error_message) "
        "VALUES "
        "(%(a)s, 'email', %(email)s, now() - interval '1 day', 'SENT', NULL), "
        "(%(a)s, 'sms', %(phone)s, now() - interval '1 day', 'SENT', NULL), "
        "(%(c)s, 'email', %(email)s, now() - interval '3 days', 'SENT', NULL), "
        "(%(c)s, 'sms', %(phone)s, now() - interval '3 days', 'SENT', NULL), "
        "(%(c)s, 'email', %(old)s, NULL, 'FAILED', %(error)s)",
        {
            "a": a,
            "c": c,
            "email": EMAIL,
            "phone": PHONE,
            "old": OLD_RECIPIENT,
            "error": LEGACY_ERROR,
        },
    )
    return a, b, c


def assert_one_line_no_traceback(stderr: str) -> str:
    """The single line a failing command wrote to stderr."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    return lines[0]


# -- test 1: a database built like the old service's ------------------------------------------


def test_migrate_a_database_built_like_the_old_services(
    empty_database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    """History kept and counted, no re-notification, new work sent, exact downgrade."""
    url = empty_database_url
    a, b, c = build_legacy_database(url)
    assert scalar(url, "SELECT count(*) FROM notifications") == 5
    invoices_before = table_definition(url, "invoices")
    alembic_before = query(url, "SELECT version_num FROM alembic_version ORDER BY 1")
    legacy_definition = table_definition(url, "notifications")
    legacy_rows = rows(url, "SELECT * FROM notifications ORDER BY id")
    # (PostgreSQL 18 also lists NOT NULL constraints; they are compared too.)
    assert {(name, kind) for name, kind, _ in legacy_definition["constraints"] if kind != "n"} == {
        ("notifications_pkey", "p"),
        ("notifications_invoice_id_method_recipient_key", "u"),
        ("notifications_status_check", "c"),
    }
    assert [name for name, _ in legacy_definition["indexes"]] == [
        "ix_notifications_invoice_id",
        "notifications_invoice_id_method_recipient_key",
        "notifications_pkey",
    ]

    migrated = run_cli(["migrate"], {"DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    assert "Traceback" not in migrated.stderr, migrated.stderr

    # The old history is kept, and the old service's queries still run and count it.
    assert dict(query(url, OLD_STATUS_QUERY)) == {"SENT": 4, "FAILED": 1}
    # The copy is masked like every error text we store; the old table keeps its own.
    assert query(url, OLD_FAILURES_QUERY) == [(MASKED_LEGACY_ERROR, 1)]
    history_of_a = rows(url, "SELECT * FROM notifications WHERE invoice_id = %s ORDER BY id", (a,))
    assert sorted((r["method"], r["recipient"], r["status"]) for r in history_of_a) == [
        ("email", EMAIL, "SENT"),
        ("sms", PHONE, "SENT"),
    ]
    # Upstream's things are untouched.
    assert query(url, "SELECT version_num FROM alembic_version ORDER BY 1") == alembic_before
    assert columns_and_constraints(url, "invoices") == {
        "columns": invoices_before["columns"],
        "constraints": invoices_before["constraints"],
    }

    env = {**service_env(url, sendgrid, twilio, f"{EMAIL},{PHONE}"), "LOG_LEVEL": "INFO"}
    reactor = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        # B was never notified: the start-up sweep adopts it.
        wait_until(lambda: reached_both(b, sendgrid, twilio), timeout=30, what="B delivered")
        wait_until(lambda: sent_rows_of(url, b) == 2, what="B's rows SENT")
        # A was notified by the old service: neither the start-up sweep nor another one
        # sends it again (an adopted A would have been taken in the same statement as B).
        sweep = run_cli(["sweep"], env)
        assert sweep.returncode == 0, sweep.stdout + sweep.stderr
        assert "Traceback" not in sweep.stderr, sweep.stderr
        assert requests_about(a, sendgrid, twilio) == []
        assert requests_about(c, sendgrid, twilio) == []
        assert (
            rows(url, "SELECT * FROM notifications WHERE invoice_id = %s ORDER BY id", (a,))
            == history_of_a
        )

        # A leaves review and comes back: a new episode, notified.
        query(url, "UPDATE invoices SET matched_status = 'AUTO_APPROVED' WHERE id = %s", (a,))
        query(url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s", (a,))
        wait_until(lambda: reached_both(a, sendgrid, twilio), what="A's re-entry delivered")
        wait_until(lambda: sent_rows_of(url, a) == 4, what="A's new rows SENT")

        # An INSERT that relies on the column default (NEEDS_REVIEW) is a transition too.
        [(new,)] = query(
            url,
            "INSERT INTO invoices (request_id, vendor_name, total_amount) "
            "VALUES ('req-new', 'Default Co', 10) RETURNING id::text",
        )
        wait_until(lambda: reached_both(new, sendgrid, twilio), what="default INSERT delivered")
        wait_until(lambda: sent_rows_of(url, new) == 2, what="default INSERT's rows SENT")

        expected = Counter({(r, i): 1 for r in (EMAIL, PHONE) for i in (a, b, new)})
        assert delivered(sendgrid, twilio) == expected
        assert len(sendgrid.requests) + len(twilio.requests) == 6
    finally:
        status = reactor.stop()
    assert status == 0, reactor.output()

    invoice_rows = rows(url, "SELECT * FROM invoices ORDER BY request_id")
    assert [r["request_id"] for r in invoice_rows] == ["req-a", "req-b", "req-c", "req-new"]

    migrations.downgrade(url)

    # The old service's table is back exactly as it was: definition, names and rows.
    assert table_definition(url, "notifications") == legacy_definition
    assert rows(url, "SELECT * FROM notifications ORDER BY id") == legacy_rows
    # Upstream's invoices keep their definition (our index is gone too) and their rows.
    assert table_definition(url, "invoices") == invoices_before
    assert rows(url, "SELECT * FROM invoices ORDER BY request_id") == invoice_rows
    assert query(url, OUR_TRIGGERS) == []
    assert query(url, "SELECT version_num FROM alembic_version ORDER BY 1") == alembic_before
    # Nothing of ours is left (Alembic keeps its own version table, emptied).
    assert public_tables(url) - {"reactor_alembic_version"} == {
        "invoices",
        "alembic_version",
        "notifications",
    }
    assert our_version_rows(url) == []
    assert query(url, OUR_FUNCTIONS) == []


# -- test 2: migrating while upstream holds a lock on invoices ------------------------------


def _locks_waited_on_invoices(observer: psycopg.Connection) -> int:
    """Lock requests on invoices that are queued (not granted)."""
    row = observer.execute(
        "SELECT count(*) FROM pg_locks WHERE relation = 'invoices'::regclass AND NOT granted"
    ).fetchone()
    return int(row[0]) if row else 0


def _holds_row_exclusive(observer: psycopg.Connection, pid: int) -> bool:
    """Whether backend `pid` holds RowExclusiveLock on invoices."""
    row = observer.execute(
        "SELECT count(*) FROM pg_locks WHERE pid = %s AND relation = 'invoices'::regclass "
        "AND mode = 'RowExclusiveLock' AND granted",
        (pid,),
    ).fetchone()
    return bool(row and row[0])


def _insert_as_session_c(url: str) -> tuple[BaseException | None, float]:
    """Session C: an upstream INSERT willing to wait 20 s for its lock; (error, seconds)."""
    started = time.monotonic()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(
                "INSERT INTO invoices (request_id, vendor_name, total_amount, matched_status) "
                "VALUES ('req-session-c', 'Session C', 5, 'AUTO_APPROVED')"
            )
    except psycopg.Error as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


def test_migrate_while_another_session_holds_a_lock_on_invoices(empty_database_url: str) -> None:
    """The migration gives up its lock request (one line, no change) instead of blocking writes."""
    url = empty_database_url
    query(url, UPSTREAM_INVOICES)
    query(
        url,
        "INSERT INTO invoices (request_id, vendor_name, total_amount, matched_status) "
        "VALUES ('req-1', 'Acme Ltd', 1250.00, 'AUTO_APPROVED')",
    )
    invoices_before = table_definition(url, "invoices")
    env = {"DATABASE_URL": url, "MIGRATE_LOCK_TIMEOUT_SECONDS": "1"}

    with (
        psycopg.connect(url, autocommit=True) as observer,
        psycopg.connect(url) as session_a,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        try:
            session_a.execute("UPDATE invoices SET vendor_name = vendor_name")  # stays open
            a_pid = session_a.info.backend_pid
            assert _holds_row_exclusive(observer, a_pid)
            future = pool.submit(run_cli, ["migrate"], env, 180)
            # Until the migration queues for its lock on invoices (or has already given up).
            wait_until(
                lambda: _locks_waited_on_invoices(observer) > 0 or future.done(),
                timeout=60,
                what="migrate to request a lock on invoices",
            )
            c_error, c_seconds = _insert_as_session_c(url)
            a_still_open = session_a.info.transaction_status == TransactionStatus.INTRANS
            a_still_locks = _holds_row_exclusive(observer, a_pid)
            assert c_error is None, (
                f"session C's INSERT waited behind the migration's lock request and failed "
                f"after {c_seconds:.1f}s: {c_error}"
            )
            assert a_still_open and a_still_locks, "session A ended before C's INSERT finished"
            migrated = future.result(timeout=120)  # while A still holds its lock
            assert _holds_row_exclusive(observer, a_pid)
        finally:
            session_a.rollback()

    assert migrated.returncode != 0, migrated.stdout + migrated.stderr
    line = assert_one_line_no_traceback(migrated.stderr)
    assert "invoices" in line and "lock" in line.lower(), line
    # Nothing changed: no table, trigger, index, function or revision of ours.
    assert public_tables(url) - {"reactor_alembic_version"} == {"invoices"}
    assert our_version_rows(url) == []
    assert query(url, OUR_TRIGGERS) == []
    assert query(url, OUR_FUNCTIONS) == []
    assert table_definition(url, "invoices") == invoices_before
    assert scalar(url, "SELECT count(*) FROM invoices WHERE request_id = 'req-session-c'") == 1

    again = run_cli(["migrate"], {"DATABASE_URL": url})
    assert again.returncode == 0, again.stderr
    assert len(query(url, OUR_TRIGGERS)) == 2
    assert our_version_rows(url) == [(migrations.head_revision(),)]


COMMANDS = [["migrate"], ["status"], ["run"], ["sweep"], ["retry", "--all"], ["prune"]]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_unreachable_database_is_one_line_and_exit_2(command: list[str]) -> None:
    """No server at DATABASE_URL: exit 2, one line naming DATABASE_URL, no traceback."""
    password = "s3cret-pw-value"
    url = f"postgresql://reactor:{password}@127.0.0.1:{free_port()}/invoices"
    env = {"DATABASE_URL": url, "NOTIFICATION_RECIPIENTS": EMAIL}
    result = run_cli(command, env, timeout=60)
    line = assert_one_line_no_traceback(result.stderr)
    assert result.returncode == 2, f"exit {result.returncode}: {line}"
    assert "DATABASE_URL" in line, line
    assert password not in result.stderr + result.stdout
