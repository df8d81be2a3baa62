"""Replica mode: the upstream's invoices reach the reactor's database by replication.

Nothing of the reactor lives on the upstream but a publication.

The upstream's DBA runs what `reactor upstream-sql` prints (a publication of the
columns the reactor reads, and a replication role). `reactor migrate` then makes,
in the reactor's database, a copy of `invoices` with those columns, the reactor's
schema and triggers on it, and the subscription. Replication applies changes row by
row and fires only triggers enabled ALWAYS or REPLICA: the reactor's triggers are
row-level and enabled ALWAYS, so an invoice entering review upstream writes the
outbox row here, and the initial copy (a COPY, which fires them too) gives each
invoice already in review its one notice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql as q

from reactor.support.resources import sql

PUBLICATION = "invoice_reactor"
SUBSCRIPTION = "invoice_reactor"
REPLICATION_ROLE = "invoice_reactor_replication"
# What the reactor reads of an invoice; `id` and `matched_status` are required.
READ_COLUMNS = (
    "id",
    "invoice_number",
    "vendor_name",
    "total_amount",
    "currency",
    "matched_status",
    "due_date",
)
REQUIRED = ("id", "matched_status")
TRIGGERS = ("reactor_invoices_inserted", "reactor_invoices_updated")


class ReplicaError(RuntimeError):
    """Replica mode cannot be set up as configured; the message says what to do."""


@dataclass(frozen=True)
class Column:
    """One published column, as the upstream defines it."""

    name: str
    type: str
    not_null: bool


def upstream_columns(upstream_url: str) -> list[Column]:
    """The columns of the upstream's `invoices` that the reactor reads."""
    with psycopg.connect(upstream_url, autocommit=True, connect_timeout=10) as conn:
        try:
            rows = conn.execute(
                sql("replica/upstream_columns"), {"wanted": list(READ_COLUMNS)}
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            raise ReplicaError("UPSTREAM_DATABASE_URL: it has no table `invoices`") from None
    columns = [Column(str(name), str(kind), bool(not_null)) for name, kind, not_null in rows]
    missing = set(REQUIRED) - {c.name for c in columns}
    if missing:
        raise ReplicaError(f"UPSTREAM_DATABASE_URL: invoices has no {', '.join(sorted(missing))}")
    return columns


def upstream_sql(columns: list[Column]) -> str:
    """What the upstream's DBA runs: the publication, and a role for the subscription."""
    names = ", ".join(c.name for c in columns)
    return f"""-- invoice-reactor, replica mode: run on the upstream database, as the owner of
-- `invoices` (or a superuser). It needs wal_level = logical (postgresql.conf; a restart).
-- Nothing else of the reactor is created on the upstream: no trigger, no function, no
-- table. Bound the WAL its replication slot may retain while the reactor is away with
-- max_slot_wal_keep_size (a slot past it is lost; `reactor migrate` re-subscribes).
CREATE PUBLICATION {PUBLICATION} FOR TABLE invoices ({names});

-- The role the reactor's subscription connects as (choose the password; give it to
-- the reactor inside UPSTREAM_DATABASE_URL).
CREATE ROLE {REPLICATION_ROLE} WITH LOGIN REPLICATION PASSWORD 'change-me';
GRANT SELECT ON invoices TO {REPLICATION_ROLE};
"""


def _create_copy(conn: psycopg.Connection[Any], columns: list[Column]) -> None:
    """The reactor's copy of `invoices`: the published columns, `id` its key."""
    if conn.execute("SELECT to_regclass('invoices')").fetchone() != (None,):
        return
    definitions = [
        q.SQL("{} {}{}").format(
            q.Identifier(c.name),
            q.SQL(c.type),  # from the upstream's own catalog (format_type)
            q.SQL(" PRIMARY KEY" if c.name == "id" else " NOT NULL" if c.not_null else ""),
        )
        for c in columns
    ]
    conn.execute(q.SQL("CREATE TABLE invoices ({})").format(q.SQL(", ").join(definitions)))
    conn.execute("COMMENT ON TABLE invoices IS 'replicated by invoice-reactor'")


def prepare(reactor_url: str, upstream_url: str) -> list[Column]:
    """Before the migrations: the copy of `invoices` the reactor's schema attaches to."""
    columns = upstream_columns(upstream_url)
    with psycopg.connect(upstream_url, autocommit=True, connect_timeout=10) as conn:
        published = conn.execute(sql("replica/publication_exists")).fetchone()
    if not published or not published[0]:
        raise ReplicaError(
            "UPSTREAM_DATABASE_URL: no publication invoice_reactor there: "
            "run what `reactor upstream-sql` prints on the upstream first"
        )
    with psycopg.connect(reactor_url, autocommit=True) as conn:
        _create_copy(conn, columns)
    return columns


def subscribe(reactor_url: str, upstream_url: str, binary: bool = True) -> str:
    """After the migrations: triggers enabled ALWAYS, and the subscription (made, kept,
    or made again when the upstream lost its slot), rows carried in binary or as text."""
    with psycopg.connect(reactor_url, autocommit=True) as conn:
        for trigger in TRIGGERS:
            _enable_always(conn, trigger)
        exists = conn.execute(
            "SELECT 1 FROM pg_subscription WHERE subname = %s", (SUBSCRIPTION,)
        ).fetchone()
        if exists and _slot_usable(upstream_url):
            name = q.Identifier(SUBSCRIPTION)
            conn.execute(q.SQL("ALTER SUBSCRIPTION {} SET (binary = {})").format(name, binary))
            conn.execute(q.SQL("ALTER SUBSCRIPTION {} ENABLE").format(name))
            return "the subscription was there: enabled"
        if exists:
            return _resubscribe(conn, upstream_url, binary)
        _create_subscription(conn, upstream_url, binary)
    return "subscribed: the initial copy runs now"


def _enable_always(conn: psycopg.Connection[Any], trigger: str) -> None:
    conn.execute(
        q.SQL("ALTER TABLE invoices ENABLE ALWAYS TRIGGER {}").format(q.Identifier(trigger))
    )


def _create_subscription(conn: psycopg.Connection[Any], upstream_url: str, binary: bool) -> None:
    try:
        conn.execute(
            q.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (binary = {})").format(
                q.Identifier(SUBSCRIPTION),
                q.Literal(upstream_url),
                q.Identifier(PUBLICATION),
                binary,
            )
        )
    except psycopg.Error as error:
        reason = error.diag.message_primary or type(error).__name__
        raise ReplicaError(
            f"UPSTREAM_DATABASE_URL: cannot subscribe: {reason} (the upstream needs "
            "wal_level = logical, and must be reachable from DATABASE_URL's server)"
        ) from error


def _slot_usable(upstream_url: str) -> bool:
    with psycopg.connect(upstream_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(sql("replica/upstream_lsn")).fetchone()
    return bool(row and row[1])


def _resubscribe(conn: psycopg.Connection[Any], upstream_url: str, binary: bool) -> str:
    """The upstream lost the slot (a failover, or past max_slot_wal_keep_size): drop
    the subscription, copy `invoices` afresh, and subscribe again, without telling
    anybody again.

    The fresh copy's rows are written with the INSERT trigger off, so an invoice that
    was told about is not told again; one that entered review while the slot was lost
    has no review episode, and the sweep adopts it. Nobody may read the copy while it
    is empty, so no reactor may be running.
    """
    if _one(conn, "replica/other_reactors"):
        raise ReplicaError(
            "the upstream lost the replication slot: stop every `reactor run` on "
            "DATABASE_URL, then run `reactor migrate` again to subscribe afresh"
        )
    name = q.Identifier(SUBSCRIPTION)
    conn.execute(q.SQL("ALTER SUBSCRIPTION {} DISABLE").format(name))
    conn.execute(q.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(name))
    conn.execute(q.SQL("DROP SUBSCRIPTION {}").format(name))
    _drop_lost_slot(upstream_url)
    conn.execute("TRUNCATE invoices")
    conn.execute("ALTER TABLE invoices DISABLE TRIGGER reactor_invoices_inserted")
    try:
        _create_subscription(conn, upstream_url, binary)
        _wait_for_copy(conn)
    finally:
        _enable_always(conn, "reactor_invoices_inserted")
    return (
        "the upstream had lost the replication slot: subscribed again and copied "
        "invoices afresh (nobody is told twice; invoices that entered review meanwhile "
        "are adopted by the sweep)"
    )


def _drop_lost_slot(upstream_url: str, timeout: float = 30.0) -> None:
    """Drop the old slot if the upstream still has it (its WAL sender ends on its own
    once the subscription is gone)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(upstream_url, autocommit=True, connect_timeout=10) as upstream:
        while True:
            if not _one(upstream, "replica/slot_exists"):
                return
            upstream.execute(sql("replica/drop_lost_slot"))
            if time.monotonic() > deadline:
                raise ReplicaError("UPSTREAM_DATABASE_URL: the old replication slot stays active")
            time.sleep(0.1)


def _wait_for_copy(conn: psycopg.Connection[Any], timeout: float = 3600.0) -> None:
    """Until the fresh copy of `invoices` is complete and replication has caught up."""
    deadline = time.monotonic() + timeout
    while _one(conn, "replica/copy_state") != "r":
        if time.monotonic() > deadline:
            raise ReplicaError("the fresh copy of invoices did not finish within an hour")
        time.sleep(0.2)


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    """The single value of a query file's single row (None without a row)."""
    row = conn.execute(sql(query)).fetchone()
    return row[0] if row else None
