"""The service through a real PgBouncer in transaction mode (the Debian package).

DATABASE_URL goes through `pgbouncer` (`pool_mode = transaction`, a pool smaller
than the reactor's, so backends are shared between clients); LISTENER_DATABASE_URL
goes straight to PostgreSQL, since PgBouncer in transaction mode drops LISTEN.
The delivery, bulk, sweep, status and retry paths all run through it. The
assertions on the data read the database directly, never through the pooler.

The first test checks the fixture itself: that PgBouncer really multiplexes
clients over shared backends, which is what breaks server-side prepared
statements (`prepared statement "_pg3_0" already exists`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAIL,
    PHONE,
    PostgresServer,
    ReactorProcess,
    delivered,
    insert_invoices,
    query,
    run_cli,
    scalar,
    service_env,
    wait_until,
)
from tests.pgbouncer import PgBouncer, pgbouncer_binary

RECIPIENTS = 2
PREPARED_STATEMENT_ERRORS = (
    psycopg.errors.DuplicatePreparedStatement,  # "prepared statement "_pg3_0" already exists"
    psycopg.errors.InvalidSqlStatementName,  # "prepared statement "_pg3_0" does not exist"
)


@pytest.fixture
def start_bouncer(pg_server: PostgresServer) -> Iterator[Callable[[int], PgBouncer]]:
    """Starts pgbouncers (transaction mode, `pool_size` backends per database); stops them."""
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    started: list[PgBouncer] = []

    def start(pool_size: int) -> PgBouncer:
        bouncer = PgBouncer(pg_server.admin_url, pool_size=pool_size)
        started.append(bouncer)
        return bouncer.start()

    yield start
    for bouncer in started:
        bouncer.stop()


@pytest.fixture
def bouncer(start_bouncer: Callable[[int], PgBouncer], database_url: str) -> PgBouncer:
    """A pgbouncer with 4 backends per database: fewer than the reactor's pool of up to 6."""
    return start_bouncer(4)


def pooled_env(
    bouncer: PgBouncer,
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    **extra: str,
) -> dict[str, str]:
    """Settings with DATABASE_URL through `bouncer` and the listener straight to PostgreSQL."""
    return {
        **service_env(bouncer.url_for(database_url), sendgrid, twilio, f"{EMAIL},{PHONE}"),
        "LISTENER_DATABASE_URL": database_url,
        "SEND_CONCURRENCY": "16",
        "PROVIDER_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def sent_rows(url: str) -> int:
    """Rows SENT so far."""
    return int(scalar(url, "SELECT count(*) FROM notifications WHERE status = 'SENT'"))


def statuses(url: str) -> dict[str, int]:
    """Notification rows per status."""
    return dict(query(url, "SELECT status, count(*) FROM notifications GROUP BY status"))


def wait_sent(url: str, expected: int, process: ReactorProcess, timeout: float = 15.0) -> None:
    """Wait until `expected` rows are SENT; on failure show the reactor's log."""
    try:
        wait_until(
            lambda: sent_rows(url) >= expected or process.process.poll() is not None,
            timeout,
            interval=0.02,
            what=f"{expected} rows SENT",
        )
    except AssertionError as error:
        tail = process.output()[-4000:]
        raise AssertionError(f"{error}; rows {statuses(url)}; reactor log:\n{tail}") from None
    assert process.process.poll() is None, f"reactor exited:\n{process.output()[-4000:]}"
    assert sent_rows(url) == expected, statuses(url)


def assert_clean_log(process: ReactorProcess) -> None:
    """The reactor logged no prepared-statement (or other database) error."""
    output = process.output()
    assert "prepared statement" not in output, output[-4000:]
    assert "Traceback" not in output, output[-4000:]


def database_name(url: str) -> str:
    """The database a URL names."""
    return url.rsplit("/", 1)[1]


def clients_of(bouncer: PgBouncer, database_url: str) -> list[dict[str, object]]:
    """Client connections on `bouncer` to this test's database (only the reactor's here)."""
    return [c for c in bouncer.show("CLIENTS") if c["database"] == database_name(database_url)]


def servers_of(bouncer: PgBouncer, database_url: str) -> list[dict[str, object]]:
    """Backend connections `bouncer` holds to this test's database."""
    return [s for s in bouncer.show("SERVERS") if s["database"] == database_name(database_url)]


def sweep_table(stdout: str) -> dict[str, str]:
    """`reactor sweep`'s table as {label: count}."""
    rows = [line.rsplit(None, 1) for line in stdout.strip().splitlines()[2:]]
    return {label.strip(): count for label, count in rows}


def bypass_trigger_insert(url: str, count: int) -> list[str]:
    """Insert invoices in review with the triggers off (as a bulk load would); their ids."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        rows = conn.execute(
            "INSERT INTO invoices (id, vendor_name, total_amount, matched_status) "
            "SELECT gen_random_uuid(), 'Bypass Co', 10, 'NEEDS_REVIEW' "
            "FROM generate_series(1, %s) RETURNING id",
            (count,),
        ).fetchall()
    return [str(row[0]) for row in rows]


# -- the fixture -------------------------------------------------------------


def test_pgbouncer_shares_backends_in_transaction_mode(
    start_bouncer: Callable[[int], PgBouncer], database_url: str
) -> None:
    """Two clients land on one backend; psycopg's auto-prepare then collides there."""
    bouncer = start_bouncer(1)
    config = {row["key"]: row["value"] for row in bouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction" and config["default_pool_size"] == "1"
    url = bouncer.url_for(database_url)

    # Prepared statements off: any number of repetitions on any number of clients works.
    with (
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as first,
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as second,
    ):
        pids = {conn.execute("SELECT pg_backend_pid()").fetchone()[0] for conn in (first, second)}
        assert len(pids) == 1, "two clients should share the pool's single backend"
        for i in range(10):
            for conn in (first, second):
                assert conn.execute("SELECT %s::int + 1", (i,)).fetchone() == (i + 1,)
        assert first.execute("SELECT count(*) FROM notifications").fetchone() == (0,)

    # psycopg's defaults (prepare after 5 executions): the second client trips over the
    # statement the first one prepared on the shared backend.
    with (
        psycopg.connect(url, autocommit=True) as first,
        psycopg.connect(url, autocommit=True) as second,
    ):
        for i in range(10):
            first.execute("SELECT %s::int + 1", (i,))
        with pytest.raises(PREPARED_STATEMENT_ERRORS):
            for i in range(10):
                second.execute("SELECT %s::int + 1", (i,))


# -- the service -------------------------------------------------------------


def test_delivery_through_pgbouncer(
    bouncer: PgBouncer,
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """One invoice into review: both recipients notified, rows SENT, via the pooler."""
    env = pooled_env(bouncer, database_url, sendgrid, twilio)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        assert clients_of(bouncer, database_url), "the reactor's pool bypasses pgbouncer"
        [invoice] = insert_invoices(database_url, 1, status="MATCHED")
        query(
            database_url,
            "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
            (invoice,),
        )
        [email] = sendgrid.wait_for(1)
        [sms] = twilio.wait_for(1)
        assert (email.recipient, sms.recipient) == (EMAIL, PHONE)
        wait_sent(database_url, RECIPIENTS, process)
        rows = query(
            database_url,
            "SELECT recipient, provider_message_id, attempts FROM notifications "
            "WHERE invoice_id = %s ORDER BY recipient",
            (invoice,),
        )
        assert rows == [(PHONE, sms.message_id, 1), (EMAIL, email.message_id, 1)]
        assert delivered(sendgrid, twilio) == {(EMAIL, invoice): 1, (PHONE, invoice): 1}
        assert process.ready_status() == 200
    finally:
        assert process.stop() == 0
    assert_clean_log(process)


def test_bulk_of_500_through_pgbouncer(
    bouncer: PgBouncer,
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """One UPDATE of 500 invoices: each (recipient, invoice) delivered exactly once."""
    env = pooled_env(bouncer, database_url, sendgrid, twilio, LOG_LEVEL="WARNING")
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        ids = insert_invoices(database_url, 500, status="MATCHED")
        query(database_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
        wait_sent(database_url, 500 * RECIPIENTS, process, timeout=60)
        counts = delivered(sendgrid, twilio)
        assert counts == {(r, i): 1 for i in ids for r in (EMAIL, PHONE)}
        assert statuses(database_url) == {"SENT": 500 * RECIPIENTS}
        assert scalar(database_url, "SELECT count(*) FROM review_episodes") == 500
        assert Counter(r for r, _ in counts.elements()) == {EMAIL: 500, PHONE: 500}
    finally:
        assert process.stop() == 0
    assert_clean_log(process)


def test_many_single_flips_on_a_one_backend_pool(
    start_bouncer: Callable[[int], PgBouncer],
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """30 flips one after another, every pooled client on one backend: each delivered once.

    Each flip runs the dispatcher's take/claim/record statements again, so any statement
    prepared on the server is soon reused from another client connection of the pool.
    """
    bouncer = start_bouncer(1)
    env = pooled_env(bouncer, database_url, sendgrid, twilio)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        ids = insert_invoices(database_url, 30, status="MATCHED")
        for done, invoice in enumerate(ids, start=1):
            query(
                database_url,
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
                (invoice,),
            )
            wait_sent(database_url, done * RECIPIENTS, process, timeout=10)
        assert delivered(sendgrid, twilio) == {(r, i): 1 for i in ids for r in (EMAIL, PHONE)}
        assert clients_of(bouncer, database_url), "the reactor's pool bypasses pgbouncer"
        assert len(servers_of(bouncer, database_url)) == 1
    finally:
        assert process.stop() == 0
    assert_clean_log(process)


def test_sweep_through_pgbouncer_runs_again_and_again(
    bouncer: PgBouncer, database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    """`reactor sweep` via the pooler, 4 runs in a row, finds what the trigger never saw.

    One row claimed per statement and one send at a time: each run repeats its claim
    and record statements more often than psycopg's auto-prepare threshold (5), over
    the backends earlier runs used.
    """
    env = pooled_env(
        bouncer,
        database_url,
        sendgrid,
        twilio,
        LOG_LEVEL="WARNING",
        CLAIM_BATCH_SIZE="1",
        SEND_CONCURRENCY="1",
    )
    per_run = 20
    everything: list[str] = []
    preview = run_cli(["sweep", "--dry-run"], env)
    assert preview.returncode == 0, preview.stderr
    assert sweep_table(preview.stdout)["invoices in review never notified"] == "0"
    for run in range(1, 5):
        everything += bypass_trigger_insert(database_url, per_run)
        assert scalar(database_url, "SELECT count(*) FROM review_events") == 0
        result = run_cli(["sweep"], env)
        assert result.returncode == 0, f"sweep run {run}: {result.stderr[-4000:]}"
        table = sweep_table(result.stdout)
        assert table["invoices in review never notified"] == str(per_run), result.stdout
        assert table["deliveries sent"] == str(per_run * RECIPIENTS), result.stdout
        assert table["deliveries failed"] == "0", result.stdout
        assert sent_rows(database_url) == len(everything) * RECIPIENTS
    assert delivered(sendgrid, twilio) == {(r, i): 1 for i in everything for r in (EMAIL, PHONE)}
    idle = run_cli(["sweep"], env)
    assert idle.returncode == 0, idle.stderr
    assert sweep_table(idle.stdout)["deliveries sent"] == "0"


def test_status_and_retry_through_pgbouncer(
    bouncer: PgBouncer, database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    """`reactor status --json` and `reactor retry --all` via the pooler give the right counts."""
    env = pooled_env(bouncer, database_url, sendgrid, twilio, LOG_LEVEL="WARNING")
    pooled = {"DATABASE_URL": env["DATABASE_URL"]}
    twilio.invalid_numbers.add(PHONE)
    insert_invoices(database_url, 2, status="NEEDS_REVIEW")
    swept = run_cli(["sweep"], env)
    assert swept.returncode == 0, swept.stderr
    assert statuses(database_url) == {"SENT": 2, "FAILED": 2}

    for _ in range(3):  # new client connections each time, on backends used before
        status = run_cli(["status", "--json"], pooled)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        counts = {(d["channel"], d["status"]): d["count"] for d in report["deliveries"]}
        assert counts == {("email", "SENT"): 2, ("sms", "FAILED"): 2}
        assert report["pending_outbox_events"] == 0
        assert report["top_failures"][0]["count"] == 2
    table = run_cli(["status"], pooled)
    assert table.returncode == 0, table.stderr
    assert "FAILED" in table.stdout and "21211" in table.stdout

    retried = run_cli(["retry", "--all"], pooled)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == "requeued 2 failed deliveries"
    assert statuses(database_url) == {"SENT": 2, "PENDING": 2}
    again = run_cli(["retry", "--all"], pooled)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "requeued 0 failed deliveries"

    twilio.invalid_numbers.clear()
    resent = run_cli(["sweep"], env)
    assert resent.returncode == 0, resent.stderr
    assert statuses(database_url) == {"SENT": 4}
    report = json.loads(run_cli(["status", "--json"], pooled).stdout)
    assert {(d["channel"], d["status"]): d["count"] for d in report["deliveries"]} == {
        ("email", "SENT"): 2,
        ("sms", "SENT"): 2,
    }
