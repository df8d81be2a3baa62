"""A real PgBouncer (the Debian package's binary) in front of the test PostgreSQL.

`PgBouncer` writes a config into a folder of its own, starts `pgbouncer` in the
foreground on a free 127.0.0.1 port and stops it again. Every database of the
upstream server is reachable through it (the `*` fallback entry), so a per-test
database needs no config change. Clients are let in without a password
(`auth_type = trust`, the user listed in the `auth_file`); towards PostgreSQL
PgBouncer logs in with the upstream URL's user and password, if it has one.

PgBouncer refuses to run as root, so under root it runs as `nobody` (`-u`), and
its folder is handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from tests.helpers import free_port, wait_until

RUN_AS = "nobody"


def pgbouncer_binary() -> str | None:
    """Path of the `pgbouncer` executable, None when it is not installed."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    fallback = Path("/usr/sbin/pgbouncer")
    return str(fallback) if fallback.is_file() and os.access(fallback, os.X_OK) else None


def _quote(value: str) -> str:
    """A value as the auth_file wants it: double-quoted, inner quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


class PgBouncer:
    """One pgbouncer process in `pool_mode` (transaction by default) in front of `upstream_url`."""

    def __init__(
        self,
        upstream_url: str,
        pool_size: int = 4,
        pool_mode: str = "transaction",
        binary: str | None = None,
    ) -> None:
        found = binary or pgbouncer_binary()
        if found is None:
            raise FileNotFoundError("pgbouncer is not installed")
        self.binary = found
        parts = urlsplit(upstream_url)
        self.user = unquote(parts.username or "postgres")
        self.password = unquote(parts.password) if parts.password else None
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 5432
        self.pool_size = pool_size
        self.pool_mode = pool_mode
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="reactor-test-pgbouncer-"))
        self.config = self.folder / "pgbouncer.ini"
        self.log_file = self.folder / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        """A URL for `database` through this pgbouncer (no password: clients are trusted)."""
        netloc = f"{quote(self.user)}@127.0.0.1:{self.port}"
        return urlunsplit(("postgresql", netloc, f"/{database}", "", ""))

    def url_for(self, database_url: str) -> str:
        """The URL of `database_url`'s database, but through this pgbouncer."""
        return self.url(urlsplit(database_url).path.lstrip("/"))

    def _write_config(self) -> None:
        server_login = f" user={self.user}"
        if self.password:
            server_login += f" password={self.password}"
        self.config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={self.upstream_host} port={self.upstream_port}{server_login}",
                    "",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"admin_users = {self.user}",
                    f"auth_file = {self.folder / 'userlist.txt'}",
                    f"pool_mode = {self.pool_mode}",
                    f"default_pool_size = {self.pool_size}",
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    "max_client_conn = 200",
                    "max_db_connections = 0",
                    # psycopg/libpq startup parameters PgBouncer 1.18 would refuse.
                    "ignore_startup_parameters = extra_float_digits,options",
                    "log_connections = 0",
                    "log_disconnections = 0",
                    "",
                ]
            )
        )
        (self.folder / "userlist.txt").write_text(
            f"{_quote(self.user)} {_quote(self.password or '')}\n"
        )
        if os.geteuid() == 0:
            account = pwd.getpwnam(RUN_AS)
            for path in [self.folder, *self.folder.iterdir()]:
                os.chown(path, account.pw_uid, account.pw_gid)
            self.folder.chmod(0o700)

    def start(self, timeout: float = 15.0) -> PgBouncer:
        """Start pgbouncer and wait until it answers a query."""
        self._write_config()
        command = [self.binary, str(self.config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", RUN_AS]
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(
            lambda: (
                self.process is not None and (self.process.poll() is not None or self._answers())
            ),
            timeout,
            interval=0.05,
            what="pgbouncer to accept connections",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited at start:\n{self.output()}")
        return self

    def _answers(self) -> bool:
        try:
            with psycopg.connect(
                self.url("postgres"), connect_timeout=2, prepare_threshold=None
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def output(self) -> str:
        """What pgbouncer logged so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Shut pgbouncer down (SIGTERM: immediate) and delete its folder."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def show(self, what: str) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console (CLIENTS, SERVERS, POOLS, CONFIG, ...)."""
        with psycopg.connect(
            self.url("pgbouncer"), autocommit=True, prepare_threshold=None
        ) as conn:
            cursor = conn.cursor(row_factory=dict_row)
            return cursor.execute(f"SHOW {what}").fetchall()
