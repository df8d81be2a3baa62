"""Test helpers: polling with a deadline, running `reactor` as a real process, SQL."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from reactor.db.embedded import EmbeddedPostgres
from reactor.runtime.wiring import Service, build_service
from reactor.settings.service import load_settings
from tests.fakes import FakeSendGrid, FakeTwilio, RecordedRequest

if TYPE_CHECKING:
    from starlette.testclient import TestClient

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def wait_until(
    condition: Callable[[], T], timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)
        last = condition()
    return last


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(
    url: str, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None
) -> list[tuple]:
    """Run one statement in autocommit and return its rows (empty when it returns none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def scalar(url: str, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None) -> Any:
    """The single value a query returns."""
    rows = query(url, sql, params)
    return rows[0][0]


def insert_invoices(
    url: str, count: int, status: str = "MATCHED", vendor: str = "Acme Ltd", amount: str = "1250.00"
) -> list[str]:
    """Insert `count` invoices with one statement; return their ids."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    query(
        url,
        "INSERT INTO invoices (id, invoice_number, vendor_name, total_amount, matched_status) "
        "SELECT id, 'INV-' || ord, %s, %s::numeric, %s "
        "FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(id, ord)",
        (vendor, amount, status, ids),
    )
    return ids


def retried_later(url: str, method: str, invoice: str) -> timedelta:
    """Wait until the invoice's `method` row is PENDING with its attempt given back (as
    after a 429); return how long until its next attempt."""
    ((due,),) = wait_until(
        lambda: query(
            url,
            "SELECT next_attempt_at - now() FROM notifications WHERE method = %s"
            " AND invoice_id = %s AND status = 'PENDING' AND attempts = 0",
            (method, invoice),
        ),
        what=f"the {method} row retried later, its attempt given back",
    )
    return due  # type: ignore[no-any-return]


def notification_rows(url: str) -> list[dict[str, Any]]:
    """Every notifications row as a dict."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute("SELECT * FROM notifications ORDER BY id").fetchall()


def invoice_of(request: RecordedRequest) -> str:
    """The invoice a provider request was about (from the link in its text)."""
    if "Body" in request.data:
        text = request.data["Body"]
    else:
        text = next(c["value"] for c in request.data["content"] if c["type"] == "text/plain")
    return UUID_RE.findall(text)[-1]


def delivered(*fakes: FakeSendGrid | FakeTwilio) -> Counter[tuple[str, str]]:
    """How often each (recipient, invoice) was accepted by the providers."""
    return Counter((str(r.recipient), invoice_of(r)) for fake in fakes for r in fake.accepted())


# Commands under test run in an empty folder: a `.env` in the checkout (the README's
# quick start writes one) must not leak settings into them.
NEUTRAL_CWD = Path(tempfile.mkdtemp(prefix="reactor-test-cwd-"))


def reachable_scratch() -> Path:
    """A new folder outside pytest's (closed) basetemp that any user may pass through.

    As root the embedded server runs as another user, which must reach its data folder.
    """
    path = Path(tempfile.mkdtemp(prefix="reactor-test-"))
    path.chmod(0o711)
    return path


def run_cli(
    args: list[str], env: Mapping[str, str], timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m reactor ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "reactor", *args],
        env={**clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or NEUTRAL_CWD,
    )


def clean_environ() -> dict[str, str]:
    """The parent's environment without any reactor setting that could leak into a test."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR", "SYSTEMROOT")
    # COVERAGE_*: under `pytest --cov` the processes a test starts are measured too.
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("COVERAGE_")}


class ReactorProcess:
    """`reactor run` as a subprocess, with its output captured to a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, cwd: Path | None = None) -> None:
        self.port = int(env.get("PORT") or free_port())
        self.env = {**clean_environ(), **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log_path = log_path
        self.cwd = cwd or NEUTRAL_CWD
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The probe app's URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, timeout: float = 30.0) -> ReactorProcess:
        """Start the process and (by default) wait until /health/ready answers 200."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reactor", "run"],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            wait_until(
                lambda: self.ready_status() == 200 or self._died(),
                timeout,
                what="reactor readiness",
            )
            assert self.process.poll() is None, f"reactor exited:\n{self.output()}"
        return self

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def get(self, path: str, timeout: float = 2.0, **kwargs: Any) -> httpx.Response:
        """GET a path of the probe app."""
        return httpx.get(self.base_url + path, timeout=timeout, **kwargs)

    def ready_status(self) -> int | None:
        """Status of /health/ready, None when nothing answers."""
        try:
            return self.get("/health/ready", timeout=2.0).status_code
        except httpx.HTTPError:
            return None

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the process and wait for its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL, no grace."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# A module marked with this runs each test twice: in direct mode, and in replica mode
# (the invoices on an upstream server, replicated into the reactor's database). Its
# tests write invoices to the `invoices_url` fixture.
replica_too = pytest.mark.parametrize("mode", ["direct", "replica"], indirect=True)


def wait_until_asleep(url: str, timeout: float = 10.0) -> None:
    """Until a reactor holds the wake-up lock: it sleeps on LISTEN, and the next
    transition into review sends it a NOTIFY (a busy reactor is sent none)."""
    from reactor.support.resources import sql

    asleep = sql("queries/doorbell_elsewhere")
    wait_until(lambda: bool(scalar(url, asleep)), timeout=timeout, what="the reactor asleep")


# -- shared by the fixtures (conftest.py) and the tests -------------------------------

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-token-secret-value"
SENDGRID_KEY = "SG.sendgrid-key-secret-value"
# the default recipients of `reactor_env`; EMAIL and PHONE: one of each
EMAILS = ("ap-team@example.com", "controller@example.org")
PHONES = ("+14155552671", "+442071838750")
EMAIL, PHONE = EMAILS[0], PHONES[0]


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


class PostgresServer:
    """An admin URL on a server where tests may create databases; and how to stop/start it."""

    def __init__(self, admin_url: str, embedded: EmbeddedPostgres | None = None) -> None:
        self.admin_url = admin_url
        self.embedded = embedded

    def url_for(self, database: str) -> str:
        """URL of one database on this server."""
        return _with_database(self.admin_url, database)


@dataclass(frozen=True)
class ThrowawayCA:
    """A throwaway certificate authority: the fakes' server context and the client's bundle."""

    server_context: ssl.SSLContext
    bundle: Path  # PEM, for PROVIDER_CA_BUNDLE


def service_env(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, recipients: str
) -> dict[str, str]:
    """Settings for a reactor on `database_url` whose providers are the given fakes.

    Digests are off: the send path's tests count one message per invoice and
    recipient; the policy tests (test_policy_e2e.py) turn them on.
    """
    return {
        "DATABASE_URL": database_url,
        "DIGEST_WINDOW_SECONDS": "0",
        "NOTIFICATION_RECIPIENTS": recipients,
        "FRONTEND_BASE_URL": "https://ap.example.com",
        "SENDGRID_API_KEY": SENDGRID_KEY,
        "SENDGRID_FROM_EMAIL": "reactor@example.com",
        "SENDGRID_API_HOST": sendgrid.url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+14155550000",
        "TWILIO_API_BASE_URL": twilio.url,
        "AFTER_TAKE_SECONDS": "0.5",  # Slack corrected and follow-ups sent within a second
    }


# An upstream's own invoices table, for replica mode: more than the reactor reads.
UPSTREAM_INVOICES = """
CREATE TABLE invoices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_number text,
    vendor_name text,
    total_amount numeric(14,2),
    currency char(3),
    matched_status varchar(32) NOT NULL,
    due_date date,
    ocr_confidence real,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


def logical_server() -> EmbeddedPostgres:
    """A started embedded server of its own with `wal_level = logical`: an upstream."""
    return EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="reactor-test-upstream-")),
        settings={"wal_level": "logical", "fsync": "off", "max_connections": "50"},
    ).start()


@contextmanager
def in_process_app(
    env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch, client_host: str = "127.0.0.1"
) -> Iterator[tuple[TestClient, Service]]:
    """The service's web app in this process (Starlette's test client), on a real database.

    Built by the same wiring as `reactor run`, its pool open, but nothing else started:
    for HTTP behaviour that needs no listener, dispatcher or separate process. Start a
    component on the app's event loop with `client.portal.start_task_soon(...)`.
    """
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from starlette.testclient import TestClient  # only the in-process tests need it

    settings = load_settings()
    service = build_service(settings, env["DATABASE_URL"], revision=None)
    with TestClient(
        service.app,
        base_url="http://127.0.0.1",
        client=(client_host, 50000),
        follow_redirects=False,
    ) as client:
        client.portal.call(service.pool.open)
        try:
            yield client, service
        finally:
            client.portal.call(service.pool.close)
