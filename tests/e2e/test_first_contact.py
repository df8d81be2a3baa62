"""A newcomer's first minutes, as the README tells them, as root or not (CI is root).

`reactor run` on the embedded server in one terminal (a folder with the quick start's
`.env`), every read-only command in a second one beside it, the README's demo pasted
into the `psql` it printed, restarts, and a second `reactor run` on the same folder.
The data folder is a fresh one per test (the root default, /var/lib/invoice-reactor,
is the machine's: tests/unit/test_embedded.py checks that it is chosen).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from reactor.db.embedded import EmbeddedPostgres
from tests.helpers import (
    ROOT,
    ReactorProcess,
    reachable_scratch,
    run_cli,
    scalar,
    wait_until,
)

# Both use the embedded server's default data folder: one pytest-xdist worker runs them.
pytestmark = pytest.mark.xdist_group("embedded-default-folder")

README = (ROOT / "README.md").read_text()
FIRST_STEPS = (ROOT / "docs" / "first-steps.md").read_text()


class Newcomer:
    """A folder with the quick start's `.env`, and the data folder its commands share."""

    def __init__(self, base: Path) -> None:
        self.folder = base / "checkout"
        self.folder.mkdir()
        shutil.copy(ROOT / ".env.example", self.folder / ".env")  # the quick start's step
        self.data_dir = base / "data"
        # Only where the embedded server lives: everything else comes from .env.
        self.env = {"REACTOR_DATA_DIR": str(self.data_dir)}

    def run(self, log: Path, **extra: str) -> ReactorProcess:
        """`reactor run` in the first terminal."""
        return ReactorProcess({**self.env, **extra}, log, cwd=self.folder).start(timeout=90)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `reactor` command in the second terminal: same folder, none of run's variables."""
        return run_cli(list(args), self.env, cwd=self.folder)

    def stop_server(self) -> None:
        """Stop an embedded server a failed test left behind."""
        server = EmbeddedPostgres(self.data_dir)
        if server.is_running():
            server.stop(mode="immediate")


@pytest.fixture
def newcomer() -> Iterator[Newcomer]:
    base = reachable_scratch()
    person = Newcomer(base)
    yield person
    person.stop_server()
    shutil.rmtree(base, ignore_errors=True)


def connect_line(process: ReactorProcess) -> tuple[str, str]:
    """The psql binary and URL from the `connect with:` line `reactor run` printed."""
    found = re.search(r"connect with: (\S+) (postgresql://\S+)", process.output())
    assert found, process.output()
    return found.group(1), found.group(2)


def deliver_one(url: str) -> None:
    """Put an invoice into review and wait until all its messages are SENT."""
    number = f"INV-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO invoices (invoice_number, vendor_name, total_amount, matched_status) "
            "VALUES (%s, 'Acme Ltd', 10, 'NEEDS_REVIEW')",
            (number,),
        )
    sent = (
        "SELECT count(*) FILTER (WHERE n.status = 'SENT') FROM notifications n "
        "JOIN invoices i ON i.id = n.invoice_id WHERE i.invoice_number = %s"
    )
    wait_until(lambda: scalar(url, sent, (number,)) == 2, 20, what=f"{number} delivered")


def test_read_only_commands_beside_a_running_reactor_leave_it_running(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    process = newcomer.run(tmp_path / "run.log", DIGEST_WINDOW_SECONDS="0")
    try:
        _, url = connect_line(process)
        deliver_one(url)
        invoice = scalar(url, "SELECT id::text FROM invoices LIMIT 1")
        for args in (
            ["status"],
            ["status", "--json"],
            ["sweep", "--dry-run"],
            ["rules", "check"],
            ["rules", "explain", invoice],
            ["prune", "--dry-run"],
        ):
            result = newcomer.command(*args)
            assert result.returncode == 0, f"{args}: {result.stderr}"
            assert process.ready_status() == 200, f"not ready after `reactor {' '.join(args)}`"
            deliver_one(url)
        assert "fast shutdown" not in (newcomer.data_dir / "postgres.log").read_text()
    finally:
        assert process.stop() == 0
    assert not EmbeddedPostgres(newcomer.data_dir).is_running(), "the last one out stops it"


def test_a_restart_keeps_the_port_and_a_second_run_refuses(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    first = newcomer.run(tmp_path / "first.log")
    _, url = connect_line(first)
    second = newcomer.command("run")
    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()[-1:]
    assert "another `reactor run`" in line and str(newcomer.data_dir) in line
    assert first.ready_status() == 200, "the refused one left the running one alone"
    assert first.stop() == 0

    again = newcomer.run(tmp_path / "again.log")
    try:
        assert connect_line(again)[1] == url, "the psql line printed at start still works"
        assert scalar(url, "SELECT 1") == 1
    finally:
        assert again.stop() == 0


def test_the_readme_demo_shows_what_the_readme_says(newcomer: Newcomer, tmp_path: Path) -> None:
    """The README's demo block, then the first tour's, pasted into the printed psql, show the
    columns and rows they say."""
    section = README.split("\n## Trigger a notification by hand\n", 1)[1].split("\n## ", 1)[0]
    text = section + FIRST_STEPS
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    shown = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    assert len(blocks) == len(shown) == 2
    process = newcomer.run(tmp_path / "run.log")
    try:
        psql, url = connect_line(process)
        for block, expected in zip(blocks, shown, strict=True):
            result = subprocess.run(
                [psql, url, "-v", "ON_ERROR_STOP=1", "-X"],
                input=block,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert _table(result.stdout) == _table(expected), result.stdout
    finally:
        assert process.stop() == 0


def _table(text: str) -> list[list[str]]:
    """A psql table as its header and, per row, the cells that do not vary by run."""
    lines = [line for line in text.splitlines() if line.count("|") >= 2]
    rows = [[cell.strip() for cell in line.split("|")] for line in lines]
    header, body = rows[0], rows[1:]
    varying = {"sent_at", "next_attempt_at"}
    keep = [i for i, name in enumerate(header) if name not in varying]
    cells = [[row[i] for i in keep] for row in body]
    for row in cells:  # a provider message id: `console-` and a fresh hex id
        row[:] = [re.sub(r"^console-[0-9a-f]+$", "console-…", cell) for cell in row]
    return [header, *cells]


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another user only under root")
def test_as_root_no_folder_outside_the_data_folder_changes_mode(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    base = newcomer.data_dir.parent
    modes = {path: path.stat().st_mode for path in (base, newcomer.folder, Path("/tmp"))}
    first = newcomer.run(tmp_path / "run.log")
    assert first.stop() == 0
    assert {path: path.stat().st_mode for path in modes} == modes

    closed = base / "closed"
    closed.mkdir(mode=0o700)
    result = run_cli(["status"], {"REACTOR_DATA_DIR": str(closed / "data")}, cwd=newcomer.folder)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("reactor: REACTOR_DATA_DIR:") and "out of reach" in line
    assert closed.stat().st_mode & 0o777 == 0o700
    assert not (closed / "data").exists()


def test_every_command_checks_every_setting(newcomer: Newcomer) -> None:
    for args in (["status"], ["retry", "--all"], ["prune", "--dry-run"], ["migrate"]):
        result = run_cli(
            args, {**newcomer.env, "REVIEW_NOTIFICATION_INTERVAL": "abc"}, cwd=newcomer.folder
        )
        assert result.returncode == 2, args
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("reactor: configuration error: REVIEW_NOTIFICATION_INTERVAL:")


@pytest.mark.parametrize("days", ["0", "-1"])
def test_prune_refuses_a_retention_of_no_days(newcomer: Newcomer, days: str) -> None:
    result = newcomer.command("prune", "--older-than", days)
    assert result.returncode == 2
    assert result.stderr.strip() == "reactor: prune: --older-than: give 1 day or more"


def test_a_fresh_embedded_database_answers_status_and_alembic(newcomer: Newcomer) -> None:
    status = newcomer.command("status")
    assert status.returncode == 0, status.stderr
    assert "DATABASE_URL" not in status.stderr
    upgraded = subprocess.run(
        [
            str(Path(sys.executable).parent / "alembic"),
            "-c",
            str(ROOT / "alembic.ini"),
            "upgrade",
            "head",
        ],
        env={**os.environ, **newcomer.env, "DATABASE_URL": ""},
        cwd=newcomer.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "no password given"), ("short", "12 characters or more")],
)
def test_console_add_user_refuses_in_one_reactor_line(password: str, reason: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactor", "console", "add-user", "ap-lead"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("reactor: console add-user:") and reason in line


def test_the_start_log_is_plain_json_without_alembic_chatter(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    process = newcomer.run(tmp_path / "run.log")
    assert process.stop() == 0
    events = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    assert events, process.output()
    assert not [e for e in events if e.get("logger", "").startswith("alembic")]
    assert not [e for e in events if "color_message" in e or "\x1b" in json.dumps(e)]
    assert not [e for e in events if e.get("logger") == "uvicorn.error" and e["level"] == "info"]
    assert any(e.get("logger") == "uvicorn.server" for e in events)
