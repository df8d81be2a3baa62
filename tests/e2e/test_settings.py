"""Settings through real `reactor` processes: exit 2, one line, no traceback."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

GOOD = {
    "NOTIFICATION_RECIPIENTS": "ap@example.com,+14155552671",
    "DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/db",
}


def test_a_bad_setting_stops_a_real_process() -> None:
    result = run_cli(["run"], {**GOOD, "SEND_CONCURRENCY": "0"}, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "reactor: configuration error: SEND_CONCURRENCY: Input should be greater than or equal to 1"
    ]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_recipients_is_named() -> None:
    result = run_cli(["run"], {"DATABASE_URL": GOOD["DATABASE_URL"]}, timeout=30)
    assert result.returncode == 2
    assert "NOTIFICATION_RECIPIENTS: required" in result.stderr


def test_run_refuses_a_database_that_is_not_migrated(empty_database_url: str) -> None:
    result = run_cli(["run"], {**GOOD, "DATABASE_URL": empty_database_url}, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "reactor migrate" in result.stderr


def test_explicit_transport_with_missing_key_names_the_variable() -> None:
    result = run_cli(["run"], {**GOOD, "EMAIL_TRANSPORT": "sendgrid"}, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "reactor: configuration error: SENDGRID_API_KEY: required by "
        "EMAIL_TRANSPORT=sendgrid but not set"
    )


def test_bad_migrate_lock_timeout_stops_migrate() -> None:
    result = run_cli(["migrate"], {**GOOD, "MIGRATE_LOCK_TIMEOUT_SECONDS": "0"}, timeout=30)
    assert result.returncode == 2
    assert "MIGRATE_LOCK_TIMEOUT_SECONDS" in result.stderr


@pytest.mark.parametrize("command", ["run", "migrate", "sweep", "status", "retry", "prune"])
def test_every_command_has_help(command: str) -> None:
    result = run_cli([command, "--help"], {}, timeout=30)
    assert result.returncode == 0
    assert f"usage: reactor {command}" in result.stdout
