"""Fixtures: a real PostgreSQL, a clean database per test, fake providers on 127.0.0.1.

The server is TEST_DATABASE_URL when set (its role needs CREATEDB), else a
testcontainers PostgreSQL when a Docker engine answers, else the embedded server.
Each test gets its own database cloned from a migrated template, which is fast.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from reactor.db import migrations, replica
from reactor.db.embedded import EmbeddedPostgres
from reactor.support.resources import sql
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAILS,
    NEUTRAL_CWD,
    PHONES,
    SENDGRID_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    UPSTREAM_INVOICES,
    PostgresServer,
    ReactorProcess,
    ThrowawayCA,
    logical_server,
    scalar,
    service_env,
    wait_until,
)

TEMPLATE = "reactor_template"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def _neutral_working_folder() -> Iterator[None]:
    """Tests load settings in an empty folder: a `.env` in the checkout must not leak in."""
    before = Path.cwd()
    os.chdir(NEUTRAL_CWD)
    yield
    os.chdir(before)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server every test uses."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield PostgresServer(url)
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield PostgresServer(container.get_connection_url())
        return
    # Not under pytest's basetemp: a concurrent pytest session rotates those folders,
    # and PostgreSQL shuts down when its data folder disappears.
    server = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="reactor-test-pg-")),
        settings={
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        },
    ).start()
    try:
        yield PostgresServer(server.url, server)
    finally:
        if os.environ.get("KEEP_TEST_POSTGRES"):  # keep the data folder (and its log) to debug
            server.stop()
        else:
            server.destroy()


@pytest.fixture(scope="session")
def template_url(pg_server: PostgresServer) -> str:
    """A migrated database that per-test databases are cloned from."""
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    url = pg_server.url_for(TEMPLATE)
    migrations.upgrade(url)
    return url


def create_database(pg_server: PostgresServer, template: str = "template1") -> str:
    """A new empty (or cloned) database; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return pg_server.url_for(name)


def drop_database(pg_server: PostgresServer, url: str) -> None:
    """Drop a test database, closing whatever still uses it."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def mode(request: pytest.FixtureRequest) -> str:
    """How the reactor reads invoices: "direct" (its trigger on the invoices table), or
    "replica" where a module parametrizes it (`replica_too` in tests/helpers.py)."""
    return str(getattr(request, "param", "direct"))


@pytest.fixture(scope="session")
def replica_upstream_server() -> Iterator[EmbeddedPostgres]:
    """An upstream server with logical decoding on, for the tests run in replica mode."""
    server = logical_server()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def upstream_url(mode: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Replica mode: a fresh upstream database with invoices and the publication."""
    if mode != "replica":
        yield None
        return
    server: EmbeddedPostgres = request.getfixturevalue("replica_upstream_server")
    name = f"upstream_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = server.url_for(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(UPSTREAM_INVOICES)
        columns = ", ".join(replica.READ_COLUMNS)  # as `reactor upstream-sql` prints
        conn.execute(f"CREATE PUBLICATION invoice_reactor FOR TABLE invoices ({columns})")  # type: ignore[arg-type]
    yield url
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


@pytest.fixture
def database_url(
    pg_server: PostgresServer, template_url: str, upstream_url: str | None
) -> Iterator[str]:
    """A fresh, migrated database for one test (in replica mode, subscribed)."""
    if upstream_url is None:
        url = create_database(pg_server, TEMPLATE)
        yield url
        drop_database(pg_server, url)
        return
    url = create_database(pg_server)
    replica.prepare(url, upstream_url)
    migrations.upgrade(url)
    replica.subscribe(url, upstream_url)
    copied = sql("replica/copy_state")  # as long before the test: the initial copy done
    wait_until(lambda: scalar(url, copied) == "r", timeout=30, what="the initial copy")
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SUBSCRIPTION invoice_reactor")  # and its slot upstream
    drop_database(pg_server, url)


@pytest.fixture
def invoices_url(database_url: str, upstream_url: str | None) -> str:
    """Where the tests write invoices: the upstream in replica mode."""
    return upstream_url or database_url


@pytest.fixture
def empty_database_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with no schema at all."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    """A trustme CA with a certificate for 127.0.0.1."""
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ThrowawayCA(context, bundle)


@pytest.fixture
def https_sendgrid(test_ca: ThrowawayCA) -> Iterator[FakeSendGrid]:
    """A fake SendGrid on https://127.0.0.1 (certificate from the test CA)."""
    with FakeSendGrid(api_key=SENDGRID_KEY, tls=test_ca.server_context) as fake:
        yield fake


@pytest.fixture
def https_twilio(test_ca: ThrowawayCA) -> Iterator[FakeTwilio]:
    """A fake Twilio on https://127.0.0.1 (certificate from the test CA)."""
    with FakeTwilio(
        account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, tls=test_ca.server_context
    ) as fake:
        yield fake


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    """A fake SendGrid on 127.0.0.1."""
    with FakeSendGrid(api_key=SENDGRID_KEY) as fake:
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio on 127.0.0.1."""
    with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as fake:
        yield fake


@pytest.fixture
def reactor_env(
    database_url: str, upstream_url: str | None, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> dict[str, str]:
    """Settings for a reactor that uses this test's database and fakes."""
    recipients = ",".join([*EMAILS, *PHONES])
    return {
        **service_env(database_url, sendgrid, twilio, recipients),
        **({"UPSTREAM_DATABASE_URL": upstream_url} if upstream_url else {}),
        "LOG_LEVEL": "INFO",
        "PROVIDER_TIMEOUT_SECONDS": "5",
    }


@pytest.fixture
def reactor(reactor_env: dict[str, str], tmp_path: Path) -> Iterator[ReactorProcess]:
    """A running `reactor run` against this test's database and fakes."""
    process = ReactorProcess(reactor_env, tmp_path / "reactor.log").start()
    yield process
    process.stop()


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A migrated PostgreSQL of this test's own, so it can be stopped and started."""
    # In a folder of its own under /tmp: as root, the server's user must reach it, and
    # pytest's basetemp is closed to other users.
    server = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="reactor-test-own-pg-")),
        settings={"fsync": "off", "max_connections": "200"},
    ).start()
    migrations.upgrade(server.url)
    yield server
    server.destroy()
