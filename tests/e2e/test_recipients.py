"""Invalid recipients are skipped and logged once; the valid ones still receive."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import ReactorProcess, insert_invoices, scalar, wait_until


def test_invalid_recipients_are_logged_once_and_skipped(
    reactor_env: dict[str, str],
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    env = {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": "Good@Example.com, broken@@example, good@example.com, "
        "+1 415 555 2671, 12345, bob@",
    }
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        insert_invoices(database_url, 3, status="NEEDS_REVIEW")
        sendgrid.wait_for(3)
        twilio.wait_for(3)
        wait_until(
            lambda: (
                scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'")
                == 6
            ),
            what="6 rows SENT",
        )
    finally:
        process.stop()
    assert set(sendgrid.accepted_recipients()) == {"good@example.com"}
    assert set(twilio.accepted_recipients()) == {"+14155552671"}
    log = process.output()
    skipped = [line for line in log.splitlines() if "skipping invalid recipient" in line]
    assert len(skipped) == 3
    assert "broken@@example" not in log and "bob@" not in log.replace("b***@", "")
