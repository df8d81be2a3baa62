"""Retention: `reactor prune` and the service's daily pass delete only what has aged out."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import ReactorProcess, query, run_cli, scalar, service_env, wait_until

# (case, invoice status or None for a deleted invoice, episode age in days,
#  [(delivery status, days since its last change)], pruned after 365 days?)
CASES = [
    (
        "done long ago",
        "AUTO_APPROVED",
        400,
        [("SENT", 400), ("FAILED", 399), ("SKIPPED", 398)],
        True,
    ),
    ("invoice deleted", None, 500, [("SENT", 500)], True),
    ("still in review", "NEEDS_REVIEW", 400, [("SENT", 400)], False),
    ("a row still pending", "AUTO_APPROVED", 400, [("SENT", 400), ("PENDING", 400)], False),
    ("a row being sent", "AUTO_APPROVED", 400, [("SENDING", 400)], False),
    ("changed recently", "AUTO_APPROVED", 400, [("SENT", 400), ("FAILED", 10)], False),
    ("young episode", "AUTO_APPROVED", 10, [("SENT", 10)], False),
]
BULK = 1_100  # more episodes than one batch (500), interleaved with ones that stay


def _seed(url: str) -> dict[str, str]:
    """One invoice and episode per case, plus a bulk of old ones; returns case -> invoice id."""
    ids = {}
    for case, status, age, rows, _ in CASES:
        invoice = scalar(url, "SELECT gen_random_uuid()::text")
        ids[case] = invoice
        if status is not None:
            query(
                url,
                "INSERT INTO invoices (id, vendor_name, matched_status) VALUES (%s, %s, %s)",
                (invoice, case, status),
            )
        episode = scalar(
            url,
            "INSERT INTO review_episodes (invoice_id, source, entered_at, created_at) "
            "VALUES (%s, 'trigger', now() - make_interval(days => %s), "
            "now() - make_interval(days => %s)) RETURNING id",
            (invoice, age, age),
        )
        for number, (row_status, changed) in enumerate(rows):
            query(
                url,
                "INSERT INTO notifications (invoice_id, episode_id, method, recipient, status,"
                " updated_at, created_at) VALUES (%s, %s, 'email', %s, %s,"
                " now() - make_interval(days => %s), now() - make_interval(days => %s))",
                (invoice, episode, f"r{number}@example.com", row_status, changed, age),
            )
    # Old episodes alternating between invoices that left review and ones still in it.
    query(
        url,
        "WITH i AS (INSERT INTO invoices (id, matched_status) SELECT gen_random_uuid(),"
        " CASE WHEN n %% 2 = 0 THEN 'AUTO_APPROVED' ELSE 'NEEDS_REVIEW' END"
        " FROM generate_series(1, %s) n RETURNING id, matched_status),"
        " e AS (INSERT INTO review_episodes (invoice_id, source, entered_at, created_at)"
        " SELECT id, 'sweep', now() - interval '800 days', now() - interval '800 days' FROM i"
        " RETURNING id, invoice_id)"
        " INSERT INTO notifications (invoice_id, episode_id, method, recipient, status,"
        " updated_at) SELECT invoice_id, id, 'sms', '+14155552671', 'SENT',"
        " now() - interval '800 days' FROM e",
        (BULK,),
    )
    query(url, "DELETE FROM review_events")  # the trigger's outbox rows: not under test
    return ids


def _left(url: str, ids: dict[str, str]) -> set[str]:
    kept = {r[0] for r in query(url, "SELECT DISTINCT invoice_id::text FROM review_episodes")}
    return {case for case, invoice in ids.items() if invoice in kept}


def _printed(stdout: str) -> dict[str, int]:
    """The rows of a command's summary table: label -> count."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()[2:]]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2}


def _table_counts(url: str) -> tuple[int, int]:
    return (
        scalar(url, "SELECT count(*) FROM review_episodes"),
        scalar(url, "SELECT count(*) FROM notifications"),
    )


def test_prune_dry_run_then_prune_on_rows_of_every_status_and_age(database_url: str) -> None:
    url = database_url
    ids = _seed(url)
    env = {"DATABASE_URL": url}
    before = _table_counts(url)
    expected_episodes = 2 + BULK // 2
    expected_rows = 3 + 1 + BULK // 2

    dry = run_cli(["prune", "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert _printed(dry.stdout) == {
        "review episodes would be deleted (dry run)": expected_episodes,
        "delivery records would be deleted (dry run)": expected_rows,
    }
    assert _table_counts(url) == before  # a dry run changes nothing

    done = run_cli(["prune"], env)
    assert done.returncode == 0, done.stderr
    assert _printed(done.stdout)["delivery records deleted"] == expected_rows
    assert _left(url, ids) == {case for case, *_, pruned in CASES if not pruned}
    assert _table_counts(url) == (before[0] - expected_episodes, before[1] - expected_rows)
    # No row of an invoice in review, none PENDING or SENDING, ever went.
    in_review = (
        "SELECT count(*) FROM notifications n JOIN invoices i ON i.id = n.invoice_id"
        " WHERE i.matched_status = 'NEEDS_REVIEW'"
    )
    assert scalar(url, in_review) == 1 + BULK // 2
    assert (
        dict(query(url, "SELECT status, count(*) FROM notifications GROUP BY status"))["PENDING"]
        == 1
    )

    again = run_cli(["prune"], env)
    assert _printed(again.stdout)["delivery records deleted"] == 0

    shorter = run_cli(["prune", "--older-than", "5"], env)
    assert shorter.returncode == 0, shorter.stderr
    assert _left(url, ids) == {"still in review", "a row still pending", "a row being sent"}


def test_retention_zero_keeps_everything(database_url: str) -> None:
    _seed(database_url)
    before = _table_counts(database_url)
    result = run_cli(["prune"], {"DATABASE_URL": database_url, "RETENTION_DAYS": "0"})
    assert result.returncode == 0
    assert "retention is off" in result.stderr
    assert _table_counts(database_url) == before


def test_the_running_service_prunes_at_its_first_sweep(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    ids = _seed(database_url)
    env = service_env(database_url, sendgrid, twilio, "ap@example.com")
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        wait_until(lambda: "done long ago" not in _left(database_url, ids), what="daily prune")
        assert _left(database_url, ids) == {case for case, *_, pruned in CASES if not pruned}
        metrics = process.get("/metrics").text
        assert f'reactor_pruned_total{{kind="notifications"}} {3 + 1 + BULK // 2}.0' in metrics
    finally:
        process.stop()


def test_the_retention_pass_forgets_closed_windows_and_old_event_ids(database_url: str) -> None:
    query(
        database_url,
        "INSERT INTO recipient_windows (method, recipient, open_until) VALUES"
        " ('email', 'closed@example.com', now() - interval '1 minute'),"
        " ('sms', '+14155552671', now() + interval '5 minutes')",
    )
    query(
        database_url,
        "INSERT INTO receipt_events (event_id, received_at) VALUES"
        " ('old', now() - interval '2 days'), ('recent', now())",
    )
    result = run_cli(["prune"], {"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert query(database_url, "SELECT recipient FROM recipient_windows") == [("+14155552671",)]
    assert query(database_url, "SELECT event_id FROM receipt_events") == [("recent",)]
