"""Where the embedded server lives, and who can reach it: no server needed."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from reactor.db import embedded
from tests.helpers import reachable_scratch


def test_the_default_data_folder_is_local_and_under_var_lib_as_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert embedded.default_data_dir() == Path(".reactor-data")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert embedded.default_data_dir() == Path("/var/lib/invoice-reactor/data")


def _account(uid: int, gid: int) -> pwd.struct_passwd:
    return pwd.struct_passwd(("nobody-here", "x", uid, gid, "", "/", "/bin/false"))


def test_a_folder_closed_to_others_is_out_of_reach() -> None:
    stranger = _account(uid=54321, gid=54321)
    base = reachable_scratch()
    open_folder = base / "open"
    closed = base / "closed"
    open_folder.mkdir(mode=0o755)
    closed.mkdir(mode=0o700)
    assert embedded.reachable_by(open_folder / "data", stranger)
    assert not embedded.reachable_by(closed / "data", stranger)
    owner = _account(uid=closed.stat().st_uid, gid=closed.stat().st_gid)
    assert embedded.reachable_by(closed / "data", owner)


def test_a_remembered_port_in_time_wait_counts_as_free() -> None:
    """The server binds with SO_REUSEADDR: closed connections must not move its port."""
    import socket

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its port is left in TIME_WAIT
        client.close()
    assert embedded._port_is_free(port)
