"""Replica mode, on two PostgreSQL servers: the upstream (wal_level = logical) holds a
publication and nothing else; the reactor's own database subscribes and notifies."""

from __future__ import annotations

import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from reactor.db.embedded import EmbeddedPostgres
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAILS,
    PHONES,
    UPSTREAM_INVOICES,
    PostgresServer,
    ReactorProcess,
    logical_server,
    query,
    run_cli,
    scalar,
    wait_until,
)


@pytest.fixture
def upstream_server() -> Iterator[EmbeddedPostgres]:
    """An upstream server of its own, with logical decoding on, and its database."""
    server = logical_server()
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE upstream")
        query(server.url_for("upstream"), UPSTREAM_INVOICES)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def upstream(upstream_server: EmbeddedPostgres) -> str:
    """The upstream database's URL."""
    return upstream_server.url_for("upstream")


@pytest.fixture
def reactor_database(pg_server: PostgresServer) -> Iterator[str]:
    """An empty database for the reactor (replica mode makes its own `invoices`)."""
    name = f"replica_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = pg_server.url_for(name)
    try:
        yield url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute(
                "SELECT 1 FROM pg_subscription WHERE subname = 'invoice_reactor'"
            ).fetchone():
                conn.execute("ALTER SUBSCRIPTION invoice_reactor DISABLE")
                conn.execute("ALTER SUBSCRIPTION invoice_reactor SET (slot_name = NONE)")
                conn.execute("DROP SUBSCRIPTION invoice_reactor")
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


def _invoice(url: str, status: str, number: str) -> str:
    invoice = str(uuid.uuid4())
    query(
        url,
        "INSERT INTO invoices (id, invoice_number, vendor_name, total_amount, currency, "
        "matched_status) VALUES (%s, %s, 'Acme Ltd', 1250, 'EUR', %s)",
        (invoice, number, status),
    )
    return invoice


def _set_up(
    upstream: str, reactor_database: str, reactor_env: dict[str, str], **settings: str
) -> dict[str, str]:
    """What an operator does: the DBA's SQL on the upstream, then `reactor migrate`
    (with `settings` besides the two URLs).

    Returns the environment of a `reactor run` in replica mode.
    """
    printed = run_cli(["upstream-sql"], {"UPSTREAM_DATABASE_URL": upstream})
    assert printed.returncode == 0, printed.stderr
    assert "CREATE PUBLICATION invoice_reactor FOR TABLE invoices (id, invoice_number," in (
        printed.stdout
    )
    assert "ocr_confidence" not in printed.stdout, "only the columns the reactor reads"
    with psycopg.connect(upstream, autocommit=True) as conn:
        conn.execute(printed.stdout)  # type: ignore[arg-type]
    replication = upstream.replace("postgres@", "invoice_reactor_replication@")
    env = {"DATABASE_URL": reactor_database, "UPSTREAM_DATABASE_URL": replication, **settings}
    migrated = run_cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "replica mode: subscribed" in migrated.stderr
    return {**reactor_env, **env}


def _told_once(invoices: int, sendgrid: FakeSendGrid, twilio: FakeTwilio) -> None:
    """Wait for every invoice's messages; no recipient heard about one twice."""
    sendgrid.wait_for(invoices * len(EMAILS), timeout=90)
    twilio.wait_for(invoices * len(PHONES), timeout=90)
    counts = Counter(sendgrid.accepted_recipients() + twilio.accepted_recipients())
    assert counts == {r: invoices for r in (*EMAILS, *PHONES)}


def test_replica_mode_notifies_from_the_upstream_and_leaves_nothing_there(
    upstream: str,
    reactor_database: str,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    waiting = [_invoice(upstream, "NEEDS_REVIEW", f"OLD-{n}") for n in range(3)]
    _invoice(upstream, "MATCHED", "OLD-MATCHED")
    objects_before = _objects(upstream)

    env = _set_up(upstream, reactor_database, reactor_env)
    assert scalar(reactor_database, BINARY) is True, "rows travel in binary by default"
    process = ReactorProcess(env, tmp_path / "r.log").start(timeout=60)
    try:
        # The initial copy: each invoice already in review is told about once.
        sendgrid.wait_for(3 * len(EMAILS), timeout=60)
        twilio.wait_for(3 * len(PHONES), timeout=60)

        # Entering review upstream, by an UPDATE and by an INSERT.
        fresh = _invoice(upstream, "MATCHED", "NEW-1")
        query(
            upstream, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s", (fresh,)
        )
        # An upstream migration adds a column: replication goes on.
        query(upstream, "ALTER TABLE invoices ADD COLUMN approver text")
        later = _invoice(upstream, "NEEDS_REVIEW", "NEW-2")

        total = len(waiting) + 2
        sendgrid.wait_for(total * len(EMAILS), timeout=60)
        twilio.wait_for(total * len(PHONES), timeout=60)
        wait_until(
            lambda: (
                scalar(reactor_database, "SELECT count(*) FROM notifications WHERE status = 'SENT'")
                == total * (len(EMAILS) + len(PHONES))
            ),
            timeout=30,
            what="every delivery recorded",
        )
        delivered = Counter(
            str(i) for (i,) in query(reactor_database, "SELECT invoice_id FROM notifications")
        )
        assert len(delivered) == total and set(delivered.values()) == {len(EMAILS) + len(PHONES)}
        assert {
            str(i) for (i,) in query(reactor_database, "SELECT invoice_id FROM notifications")
        } == {
            *waiting,
            fresh,
            later,
        }
    finally:
        assert process.stop() == 0

    # The upstream holds the publication and its slot; no trigger, function or table.
    assert _objects(upstream) == objects_before
    assert (
        scalar(upstream, "SELECT count(*) FROM pg_publication WHERE pubname = 'invoice_reactor'")
        == 1
    )


BINARY = "SELECT subbinary FROM pg_subscription WHERE subname = 'invoice_reactor'"


def test_rows_travel_as_text_with_binary_off_and_migrate_switches_it(
    upstream: str,
    reactor_database: str,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    env = _set_up(upstream, reactor_database, reactor_env, REPLICATION_BINARY="false")
    assert scalar(reactor_database, BINARY) is False
    process = ReactorProcess(env, tmp_path / "r.log").start(timeout=60)
    try:
        _invoice(upstream, "NEEDS_REVIEW", "TEXT-1")
        _told_once(1, sendgrid, twilio)
    finally:
        assert process.stop() == 0
    # Turned on later: `reactor migrate` applies it to the subscription it keeps.
    migrated = run_cli(["migrate"], {**env, "REPLICATION_BINARY": "true"})
    assert migrated.returncode == 0, migrated.stderr
    assert "the subscription was there" in migrated.stderr
    assert scalar(reactor_database, BINARY) is True


def _objects(url: str) -> dict[str, list[str]]:
    """The upstream's triggers, functions and tables outside the system catalogs."""
    return {
        "triggers": [
            r[0] for r in query(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        ],
        "functions": [
            r[0]
            for r in query(
                url,
                "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
            )
        ],
        "tables": sorted(
            r[0]
            for r in query(
                url,
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            )
        ),
    }


def test_upstream_sql_without_an_upstream_says_so() -> None:
    result = run_cli(["upstream-sql"], {})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "reactor: upstream-sql: UPSTREAM_DATABASE_URL is not set (replica mode is off)"
    )


def test_migrate_without_the_publication_says_what_to_run(
    upstream: str, reactor_database: str
) -> None:
    result = run_cli(
        ["migrate"], {"DATABASE_URL": reactor_database, "UPSTREAM_DATABASE_URL": upstream}
    )
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "no publication invoice_reactor" in line and "reactor upstream-sql" in line


@pytest.mark.faults
def test_an_upstream_restarted_mid_burst_loses_and_repeats_nothing(
    upstream_server: EmbeddedPostgres,
    upstream: str,
    reactor_database: str,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """The slot keeps what the subscription has not confirmed: after the restart,
    replication resumes where it was, and every invoice is told about exactly once."""
    env = _set_up(upstream, reactor_database, reactor_env)
    process = ReactorProcess(env, tmp_path / "r.log").start(timeout=60)
    try:
        first = [_invoice(upstream, "NEEDS_REVIEW", f"A-{n}") for n in range(40)]
        upstream_server.stop(mode="fast")  # while the burst is still being replicated
        upstream_server.start()
        second = [_invoice(upstream, "NEEDS_REVIEW", f"B-{n}") for n in range(40)]
        _told_once(len(first) + len(second), sendgrid, twilio)
        wait_until(lambda: process.ready_status() == 200, timeout=30, what="ready again")
    finally:
        assert process.stop() == 0
    per_invoice = query(
        reactor_database, "SELECT invoice_id::text, count(*) FROM notifications GROUP BY 1"
    )
    assert {i for i, _ in per_invoice} == {*first, *second}
    assert {c for _, c in per_invoice} == {len(EMAILS) + len(PHONES)}


@pytest.mark.faults
def test_a_reactor_restarted_mid_burst_finishes_it_once(
    upstream: str,
    reactor_database: str,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """Replication goes on while no reactor runs (the outbox fills in the reactor's own
    database); the next reactor sends the rest, nothing twice."""
    env = _set_up(upstream, reactor_database, reactor_env)
    first = ReactorProcess(env, tmp_path / "first.log").start(timeout=60)
    invoices = [_invoice(upstream, "NEEDS_REVIEW", f"A-{n}") for n in range(40)]
    assert first.stop() == 0  # SIGTERM mid-burst: sends in flight finish, the rest waits
    invoices += [_invoice(upstream, "NEEDS_REVIEW", f"B-{n}") for n in range(40)]
    second = ReactorProcess(env, tmp_path / "second.log").start(timeout=60)
    try:
        _told_once(len(invoices), sendgrid, twilio)
    finally:
        assert second.stop() == 0


def _ready_reason(process: ReactorProcess) -> str:
    """What /health/ready says (empty when ready)."""
    response = process.get("/health/ready")
    return "" if response.status_code == 200 else str(response.json().get("reason"))


def _drop_the_slot(upstream: str, reactor_database: str) -> None:
    """What a failover to a replica without the slot looks like from the reactor."""
    query(reactor_database, "ALTER SUBSCRIPTION invoice_reactor DISABLE")
    wait_until(
        lambda: (
            not scalar(
                upstream,
                "SELECT coalesce(bool_or(active), false) FROM pg_replication_slots "
                "WHERE slot_name = 'invoice_reactor'",
            )
        ),
        timeout=30,
        what="the slot released",
    )
    query(upstream, "SELECT pg_drop_replication_slot('invoice_reactor')")
    query(reactor_database, "ALTER SUBSCRIPTION invoice_reactor ENABLE")


@pytest.mark.faults  # a slot lost on the upstream, as after a failover
def test_probes_tell_the_truth_and_a_lost_slot_is_subscribed_again_without_repeats(
    upstream: str,
    reactor_database: str,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    told = [_invoice(upstream, "NEEDS_REVIEW", f"OLD-{n}") for n in range(2)]
    env = _set_up(upstream, reactor_database, reactor_env)
    process = ReactorProcess(env, tmp_path / "first.log").start(timeout=60)
    try:
        _told_once(len(told), sendgrid, twilio)
        replication = process.get("/health/status").json()["replication"]
        assert replication["subscribed"] and replication["enabled"], replication
        assert "reactor_replication_lag_seconds" in process.get("/metrics").text
        status = run_cli(["status"], env)
        assert "replication (subscription invoice_reactor)" in status.stdout, status.stderr

        query(reactor_database, "ALTER SUBSCRIPTION invoice_reactor DISABLE")
        wait_until(
            lambda: "subscription is disabled" in _ready_reason(process),
            timeout=30,
            what="not ready while the subscription is disabled",
        )
        query(reactor_database, "ALTER SUBSCRIPTION invoice_reactor ENABLE")
        wait_until(lambda: process.ready_status() == 200, timeout=30, what="ready again")

        _drop_the_slot(upstream, reactor_database)
        wait_until(
            lambda: "lost the replication slot" in _ready_reason(process),
            timeout=30,
            what="the lost slot in the readiness probe",
        )
        told.append(_invoice(upstream, "NEEDS_REVIEW", "WHILE-LOST"))
        refused = run_cli(["migrate"], env)
        assert refused.returncode == 2
        assert "stop every `reactor run`" in refused.stderr.strip().splitlines()[-1]
    finally:
        assert process.stop() == 0

    migrated = run_cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "subscribed again" in migrated.stderr
    assert scalar(upstream, "SELECT count(*) FROM pg_replication_slots") == 1

    process = ReactorProcess(env, tmp_path / "second.log").start(timeout=60)
    try:
        told.append(_invoice(upstream, "NEEDS_REVIEW", "AFTER"))
        _told_once(len(told), sendgrid, twilio)
        wait_until(lambda: process.ready_status() == 200, timeout=30, what="ready")
    finally:
        assert process.stop() == 0
    assert {str(i) for (i,) in query(reactor_database, "SELECT invoice_id FROM notifications")} == (
        set(told)
    )


@pytest.fixture
def reactor_server() -> Iterator[EmbeddedPostgres]:
    """The reactor's own server, to stop and start (the upstream goes on meanwhile)."""
    server = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="reactor-test-replica-own-")),
        settings={"fsync": "off", "max_connections": "50"},
    ).start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.mark.faults
def test_the_reactors_database_stopped_for_a_while_loses_and_repeats_nothing(
    upstream: str,
    reactor_server: EmbeddedPostgres,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """The upstream's slot keeps what the reactor's database could not receive; when it
    is back, replication and the reactor go on, and every invoice is told once."""
    env = _set_up(upstream, reactor_server.url, reactor_env)
    process = ReactorProcess(env, tmp_path / "r.log").start(timeout=60)
    try:
        invoices = [_invoice(upstream, "NEEDS_REVIEW", f"A-{n}") for n in range(40)]
        reactor_server.stop(mode="fast")
        wait_until(lambda: process.ready_status() == 503, timeout=15, what="503 while down")
        invoices += [_invoice(upstream, "NEEDS_REVIEW", f"B-{n}") for n in range(40)]
        reactor_server.start()
        invoices += [_invoice(upstream, "NEEDS_REVIEW", f"C-{n}") for n in range(20)]
        _told_once(len(invoices), sendgrid, twilio)
        wait_until(lambda: process.ready_status() == 200, timeout=60, what="ready again")
    finally:
        assert process.stop() == 0
