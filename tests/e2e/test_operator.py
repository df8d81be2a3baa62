"""`reactor status` and `reactor retry` against a real database."""

from __future__ import annotations

import json

from tests.fakes import FakeTwilio
from tests.helpers import EMAILS, PHONES, insert_invoices, query, run_cli, scalar

RECIPIENTS = len(EMAILS) + len(PHONES)


def test_status_and_retry(
    reactor_env: dict[str, str], database_url: str, twilio: FakeTwilio
) -> None:
    twilio.invalid_numbers.add(PHONES[1])
    ids = insert_invoices(database_url, 2, status="NEEDS_REVIEW")
    assert run_cli(["sweep"], reactor_env).returncode == 0

    table = run_cli(["status"], {"DATABASE_URL": database_url})
    assert table.returncode == 0, table.stderr
    assert "FAILED" in table.stdout and "21211" in table.stdout
    assert "invoices waiting in the outbox" in table.stdout

    report = json.loads(run_cli(["status", "--json"], {"DATABASE_URL": database_url}).stdout)
    counts = {(d["channel"], d["status"]): d["count"] for d in report["deliveries"]}
    assert counts == {("email", "SENT"): 4, ("sms", "SENT"): 2, ("sms", "FAILED"): 2}
    assert report["pending_outbox_events"] == 0
    assert report["top_failures"][0]["count"] == 2

    refused = run_cli(["retry"], {"DATABASE_URL": database_url})
    assert refused.returncode == 2 and "--all" in refused.stderr

    one = run_cli(["retry", "--invoice", ids[0]], {"DATABASE_URL": database_url})
    assert one.returncode == 0 and one.stdout.strip() == "requeued 1 failed delivery"
    assert (
        scalar(
            database_url,
            "SELECT count(*) FROM notifications WHERE status = 'PENDING' AND attempts = 0",
        )
        == 1
    )
    none = run_cli(["retry", "--channel", "email"], {"DATABASE_URL": database_url})
    assert none.stdout.strip() == "requeued 0 failed deliveries"
    since = run_cli(["retry", "--since", "2000-01-01T00:00"], {"DATABASE_URL": database_url})
    assert since.stdout.strip() == "requeued 1 failed delivery"

    twilio.invalid_numbers.clear()
    assert run_cli(["sweep"], reactor_env).returncode == 0
    assert query(database_url, "SELECT status, count(*) FROM notifications GROUP BY status") == [
        ("SENT", 2 * RECIPIENTS)
    ]
