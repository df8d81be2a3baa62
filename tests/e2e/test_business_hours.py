"""Escalations in business hours end to end: a real reactor, real PostgreSQL, the fakes.

An escalation whose recipient's business hours are closed now is held until its
working time has passed (PENDING, held = 'business_hours', not sent); one whose hours
are open goes when it falls due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reactor.policy.business_hours import DAYS, parse_business_hours, working_moment
from tests.fakes import FakeSendGrid
from tests.helpers import ReactorProcess, insert_invoices, query, run_cli, scalar, wait_until

AP, LEAD, ALWAYS = "ap@acme.example", "lead@acme.example", "duty@acme.example"
ZONE = "Pacific/Auckland"
ESCALATION = (
    "SELECT status, held, next_attempt_at, attempts FROM notifications"
    " WHERE invoice_id = %s AND recipient = %s AND kind = 'reminder'"
)


def _escalation(url: str, invoice: str, recipient: str) -> tuple[Any, ...] | None:
    rows = query(url, ESCALATION, (invoice, recipient))
    return rows[0] if rows else None


def closed_hours(zone: str) -> str:
    """Business hours closed from now until at least tomorrow: one day, two days ahead."""
    today = datetime.now(ZoneInfo(zone)).weekday()
    return f"{DAYS[(today + 2) % 7].title()} 10:00-12:00"


def test_an_escalation_waits_for_business_hours_and_one_in_open_hours_goes(
    reactor_env: dict[str, str], database_url: str, sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    hours = closed_hours(ZONE)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f"""
[[recipient]]
address = "{LEAD}"
timezone = "{ZONE}"

[[rule]]
name = "everyone"
notify = ["{AP}"]

[[rule]]
name = "closed now"
notify = ["{LEAD}"]
escalate_after = "3s"
business_hours = "{hours}"

[[rule]]
name = "open now"
notify = ["{ALWAYS}"]
escalate_after = "3s"
business_hours = "Mon-Sun 00:00-24:00"
"""
    )
    env = {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules), "DIGEST_WINDOW_SECONDS": "300"}
    checked = run_cli(["rules", "check"], env)
    assert checked.returncode == 0, checked.stderr
    assert f"of business hours ({hours})" in checked.stdout

    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        (invoice,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW")
        wait_until(
            lambda: (_escalation(database_url, invoice, ALWAYS) or ("",))[0] == "SENT",
            timeout=30,
            what="the escalation in open hours SENT",
        )
        wait_until(
            lambda: (_escalation(database_url, invoice, LEAD) or ("", ""))[1] == "business_hours",
            timeout=30,
            what="the escalation in closed hours held",
        )
        status, _, due, attempts = query(database_url, ESCALATION, (invoice, LEAD))[0]
        printed = run_cli(["status"], process.env)
    finally:
        process.stop()
    entered = scalar(
        database_url, "SELECT entered_at FROM review_episodes WHERE invoice_id = %s", (invoice,)
    )
    moment = working_moment(entered, timedelta(seconds=3), parse_business_hours(hours), ZONE)
    assert (status, attempts) == ("PENDING", 0)
    assert moment <= due < moment + timedelta(seconds=2)
    assert any(x.split()[:2] == ["business_hours", "1"] for x in printed.stdout.splitlines())
    assert sorted(map(str, sendgrid.accepted_recipients())) == [AP, ALWAYS]
