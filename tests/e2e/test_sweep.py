"""`reactor sweep`: the safety net for invoices the trigger never saw."""

from __future__ import annotations

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import EMAILS, PHONES, insert_invoices, query, run_cli, scalar

RECIPIENTS = len(EMAILS) + len(PHONES)


def _bypass_trigger_insert(url: str, count: int) -> None:
    query(
        url,
        "SET session_replication_role = replica; "
        "INSERT INTO invoices (id, vendor_name, total_amount, matched_status) "
        "SELECT gen_random_uuid(), 'Bypass Co', 10, 'NEEDS_REVIEW' "
        f"FROM generate_series(1, {count})",
    )


def test_sweep_sends_invoices_written_with_triggers_bypassed_once(
    reactor_env: dict[str, str], database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    _bypass_trigger_insert(database_url, 4)
    insert_invoices(database_url, 2, status="MATCHED")
    assert scalar(database_url, "SELECT count(*) FROM review_events") == 0

    preview = run_cli(["sweep", "--dry-run"], reactor_env)
    assert preview.returncode == 0, preview.stderr
    assert "invoices in review never notified" in preview.stdout
    assert "dry run" in preview.stdout
    assert sendgrid.requests == [] and twilio.requests == []

    first = run_cli(["sweep"], reactor_env)
    assert first.returncode == 0, first.stderr
    lines = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1]
        for line in first.stdout.splitlines()[2:]
    }
    assert lines["invoices in review never notified"] == "4"
    assert lines["deliveries sent"] == str(4 * RECIPIENTS)
    assert len(sendgrid.accepted()) == 4 * len(EMAILS)
    assert len(twilio.accepted()) == 4 * len(PHONES)
    assert (
        scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'")
        == 4 * RECIPIENTS
    )

    second = run_cli(["sweep"], reactor_env)
    assert second.returncode == 0, second.stderr
    assert len(sendgrid.requests) == 4 * len(EMAILS)
    assert len(twilio.requests) == 4 * len(PHONES)
    assert (
        "deliveries sent                     0" in second.stdout
        or second.stdout.split("deliveries sent")[1].split()[0] == "0"
    )


def test_adding_a_recipient_does_not_renotify_the_backlog(
    reactor_env: dict[str, str], database_url: str, sendgrid: FakeSendGrid
) -> None:
    insert_invoices(database_url, 3, status="NEEDS_REVIEW")
    assert run_cli(["sweep"], reactor_env).returncode == 0
    sent = len(sendgrid.requests)
    env = {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": reactor_env["NOTIFICATION_RECIPIENTS"] + ",new@example.com",
    }
    result = run_cli(["sweep"], env)
    assert result.returncode == 0, result.stderr
    assert len(sendgrid.requests) == sent
    assert "new@example.com" not in sendgrid.accepted_recipients()
