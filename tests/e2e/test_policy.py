"""The notification policy end to end: reminders, digests, quiet hours, replicas.

Real reactor processes, real PostgreSQL, the official SDKs against the fakes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    PHONE,
    ReactorProcess,
    insert_invoices,
    query,
    replica_too,
    run_cli,
    scalar,
    wait_until,
)

# Replica mode changes where the invoices come from, not the policy: the tests that read
# an invoice's fields (a due date) or run two reactors run in both modes, the others in
# direct mode.

AP = "ap@acme.example"
CONTROLLER = "controller@acme.example"

WAITING = f"""
[[rule]]
name = "everyone"
notify = ["{AP}"]

[[rule]]
name = "still waiting"
notify = ["{AP}"]
after = "3s"
"""

DUE_SOON = f"""
[[rule]]
name = "everyone"
notify = ["{AP}"]

[[rule]]
name = "due soon"
notify = ["{CONTROLLER}"]
before_due = "2d"
"""


def _start(
    env: dict[str, str], rules: str, tmp_path: Path, name: str = "reactor", **settings: str
) -> ReactorProcess:
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    env = {**env, "NOTIFICATION_RULES_FILE": str(path), **settings}
    return ReactorProcess(env, tmp_path / f"{name}.log").start()


def _sent(url: str) -> int:
    return scalar(url, "SELECT count(*) FROM notifications WHERE status = 'SENT'")


def _row(url: str, invoice_id: str, kind: str) -> tuple | None:
    rows = query(
        url,
        "SELECT status, recipient, rule_name, step, error_message FROM notifications"
        " WHERE invoice_id = %s AND kind = %s",
        (invoice_id, kind),
    )
    return rows[0] if rows else None


def test_a_reminder_goes_once_and_not_for_an_invoice_that_left_review(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    process = _start(reactor_env, WAITING, tmp_path)
    try:
        waiting, approved = insert_invoices(invoices_url, 2, status="NEEDS_REVIEW")
        sendgrid.wait_for(2)  # the two notices, at once
        query(
            invoices_url,
            "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = %s",
            (approved,),
        )
        wait_until(
            lambda: (_row(database_url, waiting, "reminder") or ("",))[0] == "SENT",
            timeout=20,
            what="the reminder SENT",
        )
        wait_until(
            lambda: (_row(database_url, approved, "reminder") or ("",))[0] == "SKIPPED",
            what="the approved invoice's reminder SKIPPED",
        )
    finally:
        process.stop()
    reminder = _row(database_url, waiting, "reminder")
    assert reminder[1:4] == (AP, "still waiting", "after 3s")
    assert "left review" in _row(database_url, approved, "reminder")[4]
    subjects = [r.data["subject"] for r in sendgrid.accepted()]
    assert len(subjects) == 3, subjects  # two notices, one reminder: nothing twice
    assert sum(s.startswith("Reminder: ") and "still needs review" in s for s in subjects) == 1


@replica_too
def test_a_before_due_reminder_fires_for_a_near_due_date_only(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    query(invoices_url, "ALTER TABLE invoices ADD COLUMN IF NOT EXISTS due_date date")
    near, far, undated = insert_invoices(invoices_url, 3)
    today = date.today()
    for invoice, due in ((near, today + timedelta(days=1)), (far, today + timedelta(days=30))):
        query(invoices_url, "UPDATE invoices SET due_date = %s WHERE id = %s", (due, invoice))
    process = _start(reactor_env, DUE_SOON, tmp_path)
    try:
        query(invoices_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
        wait_until(
            lambda: (_row(database_url, near, "reminder") or ("",))[0] == "SENT",
            what="the near invoice's reminder SENT",
        )
        sendgrid.wait_for(4)  # three notices to AP, one reminder to the controller
    finally:
        process.stop()
    assert _row(database_url, undated, "reminder") is None  # no due date: never
    assert _row(database_url, far, "reminder")[0] == "PENDING"
    due_at = scalar(
        database_url,
        "SELECT (next_attempt_at AT TIME ZONE 'UTC')::date FROM notifications"
        " WHERE invoice_id = %s AND kind = 'reminder'",
        (far,),
    )
    assert due_at == today + timedelta(days=28)
    to_controller = [r for r in sendgrid.accepted() if str(r.recipient) == CONTROLLER]
    assert len(to_controller) == 1 and near in str(to_controller[0].data)
    # reactor status shows the one waiting, and until when
    status = run_cli(
        ["status"], {**reactor_env, "NOTIFICATION_RULES_FILE": str(tmp_path / "rules.toml")}
    )
    assert status.returncode == 0, status.stderr
    assert any(line.split()[:2] == ["reminder", "1"] for line in status.stdout.splitlines())


def test_rules_explain_says_when_each_reminder_goes(
    reactor_env: dict[str, str], database_url: str, invoices_url: str, tmp_path: Path
) -> None:
    query(invoices_url, "ALTER TABLE invoices ADD COLUMN IF NOT EXISTS due_date date")
    (invoice,) = insert_invoices(invoices_url, 1)
    query(invoices_url, "UPDATE invoices SET due_date = '2031-01-10' WHERE id = %s", (invoice,))
    rules = tmp_path / "rules.toml"
    rules.write_text(DUE_SOON)
    env = {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}
    result = run_cli(["rules", "explain", invoice], env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if CONTROLLER in line)
    assert "due soon" in line and "2d before the due date" in line and "2031-01-08 00:00" in line
    check = run_cli(["rules", "check", str(rules)], {})
    assert "reminder 2d before the due date" in check.stdout


EVERYONE = f"""
[[rule]]
name = "everyone"
notify = ["{AP}", "{PHONE}"]
"""


def test_a_bulk_goes_as_one_digest_per_recipient_and_channel_at_once(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    ids = insert_invoices(invoices_url, 500)
    process = _start(reactor_env, EVERYONE, tmp_path, DIGEST_WINDOW_SECONDS="300")
    try:
        query(invoices_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
        wait_until(lambda: _sent(database_url) == 1000, what="1000 rows SENT")
    finally:
        process.stop()
    (email,), (sms,) = sendgrid.accepted(), twilio.accepted()  # one each, nothing alone
    assert email.data["subject"].startswith("500 invoices need review ($625,000.00)")
    assert sms.data["Body"].startswith("500 invoices need review, $625,000.00: ")
    assert sms.data["Body"].endswith("https://ap.example.com/invoices?status=NEEDS_REVIEW")
    rows = query(
        database_url,
        "SELECT method, count(DISTINCT invoice_id), min(provider_message_id),"
        " max(provider_message_id), min(digest_size), max(digest_size)"
        " FROM notifications GROUP BY method ORDER BY method",
    )
    assert rows == [
        ("email", 500, email.message_id, email.message_id, 500, 500),
        ("sms", 500, sms.message_id, sms.message_id, 500, 500),
    ]
    assert set(ids) == {
        r[0] for r in query(database_url, "SELECT invoice_id::text FROM notifications")
    }


def test_a_second_invoice_within_the_window_waits_for_its_end(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    first, second, third, fourth = insert_invoices(invoices_url, 4)
    flip = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
    email = (
        "SELECT status, held, next_attempt_at, sent_at FROM notifications"
        " WHERE invoice_id = %s AND method = 'email'"
    )
    process = _start(reactor_env, EVERYONE, tmp_path, DIGEST_WINDOW_SECONDS="5")
    try:
        query(database_url, flip, (first,))
        sendgrid.wait_for(1)  # the first at once
        query(database_url, flip, (second,))
        status, held, due, _ = wait_until(
            lambda: (row := query(database_url, email, (second,))) and row[0][1] and row[0],
            what="the second held",
        )
        assert (status, held) == ("PENDING", "digest_window")
        window = scalar(
            database_url,
            "SELECT open_until FROM recipient_windows WHERE method = 'email' AND recipient = %s",
            (AP,),
        )
        assert due == window
        wait_until(lambda: query(database_url, email, (second,))[0][0] == "SENT", what="sent")
    finally:
        process.stop()
    assert query(database_url, email, (second,))[0][3] >= window
    assert len(sendgrid.accepted()) == 2  # a digest of one is an ordinary message
    assert "needs review" in sendgrid.accepted()[1].data["subject"]
    # With the window 0, both go at once.
    process = _start(reactor_env, EVERYONE, tmp_path, "again", DIGEST_WINDOW_SECONDS="0")
    try:
        query(database_url, flip, (third,))
        sendgrid.wait_for(3)
        query(database_url, flip, (fourth,))
        sendgrid.wait_for(4)
    finally:
        process.stop()
    assert scalar(database_url, "SELECT count(*) FROM notifications WHERE held IS NOT NULL") == 0


def test_quiet_hours_hold_an_sms_until_they_end_and_leave_email_alone(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ends = now + timedelta(seconds=8)  # the reactor must start and hold it before then
    rules = (
        f"""
[[recipient]]
address = "{PHONE}"
timezone = "UTC"
quiet_hours = "{(now - timedelta(hours=1)):%H:%M:%S}-{ends:%H:%M:%S}"
"""
        + EVERYONE
    )
    (invoice,) = insert_invoices(invoices_url, 1)
    process = _start(reactor_env, rules, tmp_path)
    try:
        query(invoices_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
        sendgrid.wait_for(1)  # email is not held
        sms = "SELECT status, held, next_attempt_at FROM notifications WHERE method = 'sms'"
        wait_until(lambda: query(database_url, sms)[0][1] == "quiet_hours", what="SMS held")
        status, _, due = query(database_url, sms)[0]
        assert status == "PENDING" and ends <= due < ends + timedelta(seconds=2)
        printed = run_cli(["status"], process.env)
        assert any(x.split()[:2] == ["quiet_hours", "1"] for x in printed.stdout.splitlines())
        (received,) = twilio.wait_for(1, timeout=30)
    finally:
        process.stop()
    assert received.received_at >= ends.timestamp()
    assert query(database_url, sms)[0][0] == "SENT"
    assert invoice in received.data["Body"]


REPLICATED = f"""
[[rule]]
name = "everyone"
notify = ["{AP}", "{PHONE}"]

[[rule]]
name = "still waiting"
notify = ["{AP}", "{PHONE}"]
after = "3s"
"""


@replica_too
def test_two_replicas_send_digests_and_reminders_once(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    insert_invoices(invoices_url, 200)
    replicas = [
        _start(reactor_env, REPLICATED, tmp_path, f"r{n}", DIGEST_WINDOW_SECONDS="2")
        for n in range(2)
    ]
    try:
        query(invoices_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
        wait_until(lambda: _sent(database_url) == 800, timeout=40, what="notices and reminders")
    finally:
        for process in replicas:
            process.stop()
    per_row = query(
        database_url,
        "SELECT step, method, count(*), count(DISTINCT invoice_id) FROM notifications"
        " WHERE status = 'SENT' GROUP BY step, method ORDER BY step, method",
    )
    assert [r[2:] for r in per_row] == [(200, 200)] * 4  # every invoice, every step, once
    messages = scalar(database_url, "SELECT count(DISTINCT provider_message_id) FROM notifications")
    accepted = sendgrid.accepted() + twilio.accepted()
    assert len(accepted) == messages  # no message sent twice, none unrecorded
    assert {r.message_id for r in accepted} == set(
        r[0] for r in query(database_url, "SELECT DISTINCT provider_message_id FROM notifications")
    )
