"""One embedded server shared by every `reactor` command on its data folder.

File locks in the data folder, not guesses: `reactor run` holds the run lock for its
lifetime; every command holds the users lock shared while it uses the server; start
and stop decisions are taken under the server lock. The kernel drops a lock when its
process dies, so a crashed command never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reactor.db.embedded import EmbeddedPostgres, EmbeddedPostgresError

_RUN_LOCK = "reactor-run.lock"  # held by `reactor run` for its lifetime
_SERVER_LOCK = "reactor-server.lock"  # held while deciding to start or stop
_USERS_LOCK = "reactor-users.lock"  # held shared by every command using the server
_STARTED_MARK = "reactor-started"  # the running server was started by a reactor command


class AlreadyRunning(EmbeddedPostgresError):
    """Another `reactor run` holds this data folder."""


def _lock(path: Path, kind: int) -> IO[bytes]:
    handle = path.open("ab")
    fcntl.flock(handle, kind)
    return handle


@contextmanager
def shared_server(
    server: EmbeddedPostgres, *, run_lock: bool = False
) -> Iterator[EmbeddedPostgres]:
    """Use the folder's running server, or start one; stop it after only if last out.

    With `run_lock`, also hold the folder's `reactor run` lock (AlreadyRunning when
    another process holds it).
    """
    server.prepare()
    holder = server.data_dir / _RUN_LOCK
    run_handle = None
    if run_lock:
        run_handle = holder.open("a+b")
        try:
            fcntl.flock(run_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            run_handle.seek(0)
            pid = run_handle.read().decode(errors="replace").strip() or "?"
            run_handle.close()
            raise AlreadyRunning(
                f"another `reactor run` (pid {pid}) is using {server.data_dir}: "
                "stop it first, or give this one another REACTOR_DATA_DIR"
            ) from None
        run_handle.truncate(0)
        run_handle.write(f"{os.getpid()}\n".encode())
        run_handle.flush()
    users = None
    try:
        with _lock(server.data_dir / _SERVER_LOCK, fcntl.LOCK_EX):
            users = _lock(server.data_dir / _USERS_LOCK, fcntl.LOCK_SH)
            if not server.is_running():
                server.start()
                (server.data_dir / _STARTED_MARK).write_text(f"{os.getpid()}\n")
            else:
                server.start()  # reuses it: learns its port
        yield server
    finally:
        if users is not None:
            users.close()
            _stop_if_last(server)
        if run_handle is not None:
            run_handle.close()


def _stop_if_last(server: EmbeddedPostgres) -> None:
    """Stop the server when no other command uses it and a reactor command started it."""
    with _lock(server.data_dir / _SERVER_LOCK, fcntl.LOCK_EX):
        mark = server.data_dir / _STARTED_MARK
        if not mark.exists():
            return  # somebody else started it: never ours to stop
        with (server.data_dir / _USERS_LOCK).open("ab") as users:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # still in use: the last one out stops it
            server.stop()
            mark.unlink(missing_ok=True)
