"""What every benchmark shares: the database, the fake providers, reactor processes,
RSS/CPU sampling, percentiles, tables and the JSON results.

Run from the repository root: the benchmarks import the test fakes and helpers
(`tests.fakes`, `tests.helpers`) so that the reactor is driven exactly as the
end-to-end tests drive it, as a separate `python -m reactor run` process.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg

from reactor.db import migrations
from reactor.db.embedded import EmbeddedPostgres
from reactor.db.statements import Statement, statement
from reactor.settings.service import Settings
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import ReactorProcess

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"

SENDGRID_KEY = "SG.bench-sendgrid-key"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "bench-twilio-token"
EMAIL_RECIPIENT = "ap-team@example.com"
SMS_RECIPIENT = "+14155552671"
FRONTEND = "https://ap.example.com"

# Production-like, durable settings: fsync, synchronous_commit and full_page_writes
# stay at their defaults (on); memory is sized like a small dedicated server.
POSTGRES_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "max_connections": "100",
}

UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def field_default(name: str) -> Any:
    """The reactor's default for one setting (e.g. send_concurrency)."""
    return Settings.model_fields[name].default


def bench_settings() -> Settings:
    """The benchmarked reactors' settings as the statements see them: the defaults, and
    one email and one SMS recipient told about every invoice."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        notification_recipients=f"{EMAIL_RECIPIENT},{SMS_RECIPIENT}",
        digest_window_seconds=0,
    )


def idle_room() -> int:
    """What an idle dispatcher may claim: one round ahead of its senders."""
    return 2 * field_default("send_concurrency")


# --------------------------------------------------------------------------- options


@dataclass
class Options:
    """The command-line options every benchmark may read."""

    quick: bool = False
    delays_ms: list[float] = field(default_factory=lambda: [0.0, 100.0])
    processes: list[int] = field(default_factory=lambda: [1, 2])
    writers: list[int] = field(default_factory=lambda: [1, 16, 64])  # the upstream benchmark's
    concurrency: list[int] = field(default_factory=lambda: [field_default("send_concurrency")])
    sizing_concurrency: int = 128
    results_dir: Path = RESULTS_DIR
    command: str = "python -m bench"
    profile: bool = False
    repeat: int = 3
    tls: bool = False  # --tls: the fakes serve HTTPS
    settings: dict[str, str] = field(default_factory=dict)  # --set: extra reactor settings

    def size(self, full: int, quick: int) -> int:
        """A workload size: `full`, or `quick` with --quick."""
        return quick if self.quick else full


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """The server the benchmarks use: embedded (default) or DATABASE_URL's server.

    Each benchmark gets its own database, cloned from a migrated template. With
    DATABASE_URL the role needs CREATEDB (and to own the tables, to disable triggers).
    """

    TEMPLATE = "bench_template"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.embedded: EmbeddedPostgres | None = None
        external = os.environ.get("DATABASE_URL")
        if external:
            self.admin_url = external
            self.kind = "external (DATABASE_URL)"
        else:
            self.embedded = EmbeddedPostgres(work_dir / "pg", settings=POSTGRES_SETTINGS)
            self.admin_url = ""
            self.kind = "embedded"

    def start(self) -> Postgres:
        """Start the embedded server if there is one, and build the migrated template."""
        if self.embedded is not None:
            self.embedded.start()
            self.admin_url = self.embedded.url
        self._drop(self.TEMPLATE)
        self._admin(f"CREATE DATABASE {self.TEMPLATE}")
        migrations.upgrade(self.url_for(self.TEMPLATE))
        return self

    def stop(self) -> None:
        """Drop nothing on an external server but our databases; delete the embedded one."""
        if self.embedded is not None:
            self.embedded.destroy()

    def url_for(self, database: str) -> str:
        """URL of one database on this server."""
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{database}"))

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def _drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def fresh_database(self, name: str) -> str:
        """A new migrated database `bench_<name>` (replacing one left by an earlier run)."""
        database = f"bench_{name}"
        self._drop(database)
        self._admin(f"CREATE DATABASE {database} TEMPLATE {self.TEMPLATE}")
        return self.url_for(database)

    def drop(self, url: str) -> None:
        """Drop a benchmark database."""
        self._drop(urlsplit(url).path.lstrip("/"))

    def version(self) -> str:
        """`SHOW server_version` and the full version string."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute("SELECT version()").fetchone()
        return str(row[0]) if row else "unknown"

    def settings(self) -> dict[str, str]:
        """The settings that matter for these numbers, as the server reports them."""
        names = [*POSTGRES_SETTINGS, "wal_level", "work_mem", "checkpoint_timeout"]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (names,)
            ).fetchall()
        return {name: f"{setting}{unit or ''}" for name, setting, unit in rows}

    def server_pids(self) -> list[int]:
        """The postmaster and its children (only for the embedded server)."""
        if self.embedded is None:
            return []
        pid_file = self.embedded.pgdata / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        except (OSError, ValueError, psutil.Error):
            return []
        return [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """A plain connection for the benchmark's own statements."""
    return psycopg.connect(url, autocommit=autocommit)


def execute(url: str, *statements: str) -> None:
    """Run statements in autocommit, one after the other."""
    with connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def set_triggers(conn: psycopg.Connection, enabled: bool) -> None:
    """Enable or disable the reactor's two triggers on invoices."""
    verb = "ENABLE" if enabled else "DISABLE"
    for name in ("reactor_invoices_inserted", "reactor_invoices_updated"):
        conn.execute(f"ALTER TABLE invoices {verb} TRIGGER {name}")  # type: ignore[arg-type]


def load_invoices(
    conn: psycopg.Connection, count: int, status: str = "MATCHED", offset: int = 0
) -> None:
    """Insert `count` invoices with one INSERT ... SELECT (triggers as they are)."""
    conn.execute(
        "INSERT INTO invoices (id, invoice_number, vendor_name, total_amount, currency,"
        " matched_status, created_at, updated_at)"
        " SELECT gen_random_uuid(), 'INV-' || g, 'Vendor ' || (g %% 5000),"
        " round((random() * 10000)::numeric, 2), 'USD', %s,"
        " now() - make_interval(mins => (g %% 100000)::int),"
        " now() - make_interval(mins => (g %% 100000)::int)"
        " FROM generate_series(%s::bigint + 1, %s::bigint + %s) AS g",
        (status, offset, offset, count),
    )


def invoice_ids(url: str, status: str, limit: int) -> list[str]:
    """Ids of up to `limit` invoices in `status`, in a stable order."""
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text FROM invoices WHERE matched_status = %s ORDER BY invoice_number"
            " LIMIT %s",
            (status, limit),
        ).fetchall()
    return [row[0] for row in rows]


# --------------------------------------------------------------------------- providers


class Providers:
    """The fake SendGrid and Twilio, on 127.0.0.1, in this process; HTTPS with `tls_dir`.

    Over HTTPS their certificate comes from a throwaway CA (trustme) whose bundle
    the reactors (PROVIDER_CA_BUNDLE) and this process's own SDK clients trust.
    """

    def __init__(self, tls_dir: Path | None = None) -> None:
        context = None
        self.ca_bundle: Path | None = None
        if tls_dir is not None:
            import ssl

            import trustme

            ca = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
            tls_dir.mkdir(parents=True, exist_ok=True)
            self.ca_bundle = tls_dir / "bench-ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_bundle))
            # This process's SDK clients (the SDK-alone floors) and its child processes.
            os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
        self.sendgrid = FakeSendGrid(api_key=SENDGRID_KEY, tls=context)
        self.twilio = FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, tls=context)

    def __enter__(self) -> Providers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both fakes."""
        self.sendgrid.close()
        self.twilio.close()

    @property
    def fakes(self) -> tuple[FakeSendGrid, FakeTwilio]:
        """Both fakes."""
        return self.sendgrid, self.twilio

    def set_delay(self, delay_ms: float) -> None:
        """The response delay of both fakes."""
        for fake in self.fakes:
            fake.delay = delay_ms / 1000.0

    def reset(self) -> None:
        """Forget every recorded request."""
        for fake in self.fakes:
            fake.reset()

    def handshakes(self) -> dict[str, int]:
        """TLS handshakes each fake accepted since the last reset."""
        return {"sendgrid": self.sendgrid.handshakes, "twilio": self.twilio.handshakes}

    def received(self) -> int:
        """Requests received so far by both fakes (answered or not); cheap."""
        return sum(len(fake._records) for fake in self.fakes)

    def wait_accepted(self, total: int, timeout: float, poll: float = 0.05) -> None:
        """Wait until both fakes together have answered `total` requests with a 2xx.

        Polls the cheap received count first, so that the fakes' threads (which share
        this process) are not slowed by list copies while the run is going.
        """
        deadline = time.monotonic() + timeout
        while self.received() < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.received()} of {total} requests received in {timeout}s")
            time.sleep(poll)
        while sum(len(f.accepted()) for f in self.fakes) < total:
            if time.monotonic() > deadline:
                got = sum(len(f.accepted()) for f in self.fakes)
                raise TimeoutError(f"{got} of {total} requests accepted in {timeout}s")
            time.sleep(0.01)

    def env(self) -> dict[str, str]:
        """The reactor settings that point both channels at the fakes."""
        return {
            "SENDGRID_API_KEY": SENDGRID_KEY,
            "SENDGRID_FROM_EMAIL": "reactor@example.com",
            "SENDGRID_API_HOST": self.sendgrid.url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": "+14155550000",
            "TWILIO_API_BASE_URL": self.twilio.url,
            **(
                {
                    "PROVIDER_CA_BUNDLE": str(self.ca_bundle),
                    # For a reactor that predates PROVIDER_CA_BUNDLE (--reactor-tree).
                    "SSL_CERT_FILE": str(self.ca_bundle),
                    "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
                }
                if self.ca_bundle
                else {}
            ),
        }


def invoice_of(body: bytes) -> str | None:
    """The invoice id in a provider request (both messages carry the invoice link)."""
    match = UUID_RE.search(body)
    return match.group(0).decode() if match else None


# --------------------------------------------------------------------------- reactors


def reactor_env(
    database_url: str, providers: Providers, concurrency: int, **extra: str
) -> dict[str, str]:
    """Settings of a benchmarked reactor: one email and one SMS recipient, quiet logs.

    Digests are off: the benchmarks measure the send path, one message per delivery.
    """
    return {
        "DATABASE_URL": database_url,
        "DIGEST_WINDOW_SECONDS": "0",
        "NOTIFICATION_RECIPIENTS": f"{EMAIL_RECIPIENT},{SMS_RECIPIENT}",
        "FRONTEND_BASE_URL": FRONTEND,
        "LOG_LEVEL": "WARNING",
        "SEND_CONCURRENCY": str(concurrency),
        **providers.env(),
        **extra,
    }


# Where the benchmarked reactors run from (`python -m reactor` in that folder): this
# checkout, or another one given with --reactor-tree (to compare two versions in one run).
REACTOR_TREE: Path | None = None
# Another checkout whose reactor the floor benchmark also runs (--compare-tree).
COMPARE_TREE: Path | None = None


@contextlib.contextmanager
def reactors(
    env: dict[str, str], count: int, log_dir: Path, name: str, tree: Path | None = None
) -> Iterator[list[ReactorProcess]]:
    """`count` reactor processes (from `tree`, else REACTOR_TREE), each ready before this
    yields them; stopped after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[ReactorProcess] = []
    try:
        for index in range(count):
            log = log_dir / f"{name}-{index}.log"
            log.unlink(missing_ok=True)
            started.append(
                ReactorProcess(dict(env), log, cwd=tree or REACTOR_TREE).start(timeout=60)
            )
        yield started
    finally:
        for process in started:
            try:
                process.stop(timeout=30)
            except Exception:
                process.kill()


def reactor_pids(processes: Iterable[ReactorProcess]) -> list[int]:
    """The operating-system ids of reactor processes."""
    return [p.process.pid for p in processes if p.process is not None]


METRIC_RE = re.compile(r"^(\w+)\{([^}]*)\} ([0-9.eE+-]+)$")


def _metrics(process: ReactorProcess) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in process.get("/metrics", timeout=5.0).text.splitlines():
        match = METRIC_RE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            out.append((match.group(1), labels, float(match.group(3))))
    return out


def provider_call_means(process: ReactorProcess) -> dict[str, float]:
    """Mean provider call duration (ms) per channel, from the reactor's /metrics."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for name, labels, value in _metrics(process):
        channel = labels.get("channel", "?")
        if name == "reactor_provider_call_duration_seconds_sum":
            sums[channel] = value
        elif name == "reactor_provider_call_duration_seconds_count":
            counts[channel] = value
    return {c: round(sums[c] * 1000 / counts[c], 3) for c in sums if counts.get(c)}


def sent_by(process: ReactorProcess) -> int:
    """Deliveries this reactor process sent (its reactor_deliveries_total, outcome sent)."""
    return int(
        sum(
            value
            for name, labels, value in _metrics(process)
            if name == "reactor_deliveries_total" and labels.get("outcome") == "sent"
        )
    )


class Sampler:
    """Samples the RSS of some processes in a thread; keeps each one's peak."""

    def __init__(self, pids: Iterable[int], interval: float = 0.05) -> None:
        self._processes = {pid: psutil.Process(pid) for pid in pids}
        self.peak_rss = dict.fromkeys(self._processes, 0)
        self.samples = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, process in self._processes.items():
                with contextlib.suppress(psutil.Error):
                    self.peak_rss[pid] = max(self.peak_rss[pid], process.memory_info().rss)
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self) -> list[float]:
        """Each process's peak RSS in MiB."""
        return [round(rss / 2**20, 1) for rss in self.peak_rss.values()]


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds used so far by these processes (gone ones count 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


def _steal_seconds() -> float:
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


class CpuMeter:
    """CPU seconds spent by the reactors, this process (the fakes), PostgreSQL, and
    everything else on the machine (`other`: should be near 0 for clean numbers)."""

    def __init__(self, reactor_pids: Sequence[int], postgres: Postgres) -> None:
        self.groups = {
            "reactor": list(reactor_pids),
            "bench_and_fakes": [os.getpid()],
            "postgres": postgres.server_pids(),
        }
        self._start = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self._machine_start = _machine_busy_seconds()
        self._steal_start = _steal_seconds()

    def used(self) -> dict[str, float]:
        """CPU seconds per group since this meter was made."""
        used = {
            name: round(cpu_seconds(pids) - self._start[name], 2)
            for name, pids in self.groups.items()
        }
        machine = _machine_busy_seconds() - self._machine_start
        used["other"] = round(max(0.0, machine - sum(used.values())), 2)
        used["steal"] = round(_steal_seconds() - self._steal_start, 2)
        return used


# --------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, max, mean and min of durations in seconds, as milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
        "mean": round(sum(ms) / len(ms), 3),
        "min": round(min(ms), 3),
    }


def median(values: Sequence[float]) -> float:
    """The median."""
    return percentile(values, 50)


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(value.rjust(widths[i]) for i, value in enumerate(row)))
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def say(line: str) -> None:
    """A progress line on stderr."""
    print(f"bench: {line}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- results


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def code_version() -> dict[str, Any]:
    """The commit the reactor code came from, and whether reactor/ or sql/ had changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "reactor", "sql", "alembic"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        # An exported tree (git archive) has no .git: say so, with what the caller knows.
        return {"commit": os.environ.get("BENCH_SOURCE_COMMIT", "unknown"), "modified": None}
    return {"commit": commit, "modified": bool(dirty)}


def machine_info(postgres: Postgres) -> dict[str, Any]:
    """What these numbers were measured on."""
    return {
        "code": code_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres.version(),
        "postgresql_server": postgres.kind,
        "postgresql_settings": postgres.settings(),
    }


@dataclass
class Context:
    """What a benchmark is given: options, the database server, the fakes, a work folder."""

    options: Options
    postgres: Postgres
    providers: Providers
    work_dir: Path
    machine: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def log_dir(self) -> Path:
        """Where reactor process logs go (outside the results)."""
        return self.work_dir / "logs"

    def write(self, name: str, data: dict[str, Any]) -> Path:
        """bench/results/<name>.json with the machine and the exact command."""
        self.options.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.options.results_dir / f"{name}.json"
        document = {
            "benchmark": name,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.options.command,
            "quick": self.options.quick,
            "machine": self.machine,
            **data,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
        tmp.replace(path)
        say(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    def write_raw(self, name: str, data: object) -> Path:
        """bench/results/raw/<name>.json: raw samples and plans, kept out of git."""
        folder = self.options.results_dir / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        return path

    def read(self, name: str) -> dict[str, Any] | None:
        """A result written earlier (by this run, or an earlier one)."""
        path = self.options.results_dir / f"{name}.json"
        if not path.exists():
            return None
        return json.loads(path.read_text())


def work_dir() -> Path:
    """A scratch folder outside the repository (the embedded server, reactor logs)."""
    path = Path(tempfile.mkdtemp(prefix="reactor-bench-"))
    path.chmod(0o711)  # as root, the embedded server runs as another user: it must get in
    return path


def remove_work_dir(path: Path) -> None:
    """Delete the scratch folder."""
    shutil.rmtree(path, ignore_errors=True)


def pipeline_statement(name: str) -> Statement:
    """A pipeline query as the reactor runs it, on a table with every invoice field's column."""
    slots = {"invoice_fields": "invoice_fields/columns"} if name == "take_events" else {}
    return statement(name, **slots)


def run_statement(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any] | None, prepare: bool = True
) -> psycopg.RawCursor[Any]:
    """Execute a pipeline query with the reactor's placeholders and parameters."""
    query = pipeline_statement(name)
    cursor = psycopg.RawCursor(conn)
    cursor.execute(query.encoded, query.args(params) if query.names else None, prepare=prepare)
    return cursor
