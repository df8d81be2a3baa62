"""What operators see is true and clean: pauses cost nothing, a stuck pass shows, no PII.

Real `reactor run` processes against the test database and the fake providers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fakes import FakeSendGrid, FakeTwilio, Reply
from tests.helpers import (
    EMAIL,
    PHONE,
    ReactorProcess,
    insert_invoices,
    query,
    run_cli,
    scalar,
    service_env,
    wait_until,
)

MASKED_PHONE = "+1******2671"
PAUSE_WINDOW_SECONDS = 6.0


def _commits(url: str) -> int:
    return int(
        scalar(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    )


def _status(process: ReactorProcess) -> dict:
    return process.get("/health/status").json()


@pytest.mark.faults
def test_a_paused_channel_does_not_poll_the_database(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    twilio.fail_recipient(PHONE, Reply(401))
    env = {**service_env(database_url, sendgrid, twilio, f"{EMAIL},{PHONE}"), "LOG_LEVEL": "ERROR"}
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        insert_invoices(database_url, 3, status="NEEDS_REVIEW")
        wait_until(
            lambda: _status(process)["transports"]["sms"]["paused_for_seconds"] > 0,
            what="the SMS channel paused after the 401",
        )
        wait_until(lambda: len(sendgrid.accepted()) == 3, what="email unaffected")
        before = _commits(database_url)
        time.sleep(PAUSE_WINDOW_SECONDS)  # a measurement window, not a wait for a condition
        per_second = (_commits(database_url) - before) / PAUSE_WINDOW_SECONDS
        # Idle costs a few statements a minute; the hot loop this replaces cost ~250/s.
        assert per_second <= 3, f"{per_second:.1f} commits/s while the channel is paused"
        assert _status(process)["transports"]["sms"]["paused_for_seconds"] > 0
        pending = "SELECT count(*) FROM notifications WHERE method = 'sms' AND status = 'PENDING'"
        assert scalar(database_url, pending) == 3  # kept, not burnt
    finally:
        process.stop()


@pytest.mark.faults
def test_readiness_fails_while_a_dispatcher_pass_makes_no_progress(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    sendgrid.fail_recipient(EMAIL, Reply(hang=20))  # the provider stops answering
    env = {
        **service_env(database_url, sendgrid, twilio, EMAIL),
        "SEND_CONCURRENCY": "1",
        "PROVIDER_TIMEOUT_SECONDS": "30",
        "DISPATCHER_STALL_SECONDS": "1",
        "SHUTDOWN_GRACE_SECONDS": "1",
        "LOG_LEVEL": "ERROR",
    }
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        assert process.get("/health/ready").json()["dispatcher"]["stalled"] is False
        insert_invoices(database_url, 5, status="NEEDS_REVIEW")
        wait_until(lambda: process.ready_status() == 503, what="readiness 503 when stuck")
        body = process.get("/health/ready").json()
        assert body["dispatcher"]["stalled"] is True
        assert body["database"]["up"] is True and body["listener"]["listening"] is True
        assert "dispatcher" in body["reason"]
        assert _status(process)["status"] == "unhealthy"
    finally:
        process.stop()


def test_a_provider_error_quoting_the_number_is_stored_printed_and_served_masked(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    message = f"The 'To' number {PHONE} is not a valid phone number."
    twilio.fail_recipient(PHONE, Reply(400, body={"code": 21211, "message": message}))
    env = service_env(database_url, sendgrid, twilio, f"{EMAIL},{PHONE}")
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        insert_invoices(database_url, 2, status="NEEDS_REVIEW")
        failed = "SELECT count(*) FROM notifications WHERE status = 'FAILED'"
        wait_until(lambda: scalar(database_url, failed) == 2, what="both SMS FAILED")
        distinct = "SELECT DISTINCT error_message FROM notifications WHERE status = 'FAILED'"
        stored = {r[0] for r in query(database_url, distinct)}
        assert len(stored) == 1  # identical failures group together
        [text] = stored
        assert MASKED_PHONE in text and PHONE not in text
        served = process.get("/health/status").text
        assert MASKED_PHONE in served and PHONE not in served
    finally:
        process.stop()
    printed = run_cli(["status", "--json"], {"DATABASE_URL": database_url})
    assert printed.returncode == 0, printed.stderr
    failures = json.loads(printed.stdout)["top_failures"]
    assert failures[0]["count"] == 2 and MASKED_PHONE in failures[0]["error_message"]
    assert PHONE not in printed.stdout
