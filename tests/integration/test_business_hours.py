"""Escalations in business hours, through this process's dispatcher on a real database.

Deterministic where a process-level test is not: an escalation that falls due by the
wall clock while its recipient's business hours are closed, and the same recipient's
notice about another invoice claimed in the same drain. The notice goes alone; the
escalation is not folded into its digest, but held until its working time has passed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from reactor.domain.deliveries import DrainReport
from reactor.ops.explain import run_explain
from reactor.policy.business_hours import DAYS, parse_business_hours, working_moment
from reactor.runtime.wiring import build_dispatcher, open_store
from reactor.settings.service import Settings, load_settings
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import EMAIL, PHONE, insert_invoices, query, scalar, service_env, wait_until

AP, LEAD, ALWAYS = "ap@acme.example", "lead@acme.example", "duty@acme.example"
ZONE = "Asia/Tokyo"
ROW = (
    "SELECT status, held, next_attempt_at, digest_size, rule_name FROM notifications"
    " WHERE invoice_id = %s AND recipient = %s AND kind = %s"
)


def closed_hours(zone: str) -> str:
    """Business hours closed from now until at least tomorrow: one day, two days ahead."""
    today = datetime.now(ZoneInfo(zone)).weekday()
    return f"{DAYS[(today + 2) % 7].title()} 10:00-12:00"


def _settings(url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, rules: Path) -> Settings:
    env = {
        **service_env(url, sendgrid, twilio, f"{EMAIL},{PHONE}"),
        "NOTIFICATION_RULES_FILE": str(rules),
        "DIGEST_WINDOW_SECONDS": "300",
    }
    return load_settings(Settings, **{k.lower(): v for k, v in env.items()})


def _drain(settings: Settings, url: str) -> DrainReport:
    async def run() -> DrainReport:
        async with open_store(url) as store:
            dispatcher = build_dispatcher(store, settings)
            report = await dispatcher.drain_until_idle()
            await dispatcher.stop(grace=1)
            return report

    return asyncio.run(run())


def test_an_early_escalation_is_held_not_gathered_into_a_digest(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, tmp_path: Path
) -> None:
    hours = closed_hours(ZONE)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f"""
[[recipient]]
address = "{LEAD}"
timezone = "{ZONE}"

[[rule]]
name = "small"
notify = ["{AP}"]
max_amount = 5000

[[rule]]
name = "large"
notify = ["{LEAD}"]
min_amount = 5000

[[rule]]
name = "closed now"
notify = ["{LEAD}"]
escalate_after = "1s"
business_hours = "{hours}"
max_amount = 5000

[[rule]]
name = "always open"
notify = ["{ALWAYS}"]
escalate_after = "1s"
business_hours = "Mon-Sun 00:00-24:00"
max_amount = 5000
"""
    )
    settings = _settings(database_url, sendgrid, twilio, rules)
    (small,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW")
    _drain(settings, database_url)
    assert sendgrid.accepted_recipients() == [AP]
    # Both escalations fall due by the wall clock (a second), neither claimed yet.
    wait_until(
        lambda: scalar(
            database_url,
            "SELECT bool_and(next_attempt_at <= now()) FROM notifications WHERE kind = 'reminder'",
        ),
        what="the escalations due by the wall clock",
    )
    # The lead's notice about a large invoice is claimed in the same drain: it opens the
    # lead's digest window, which must not carry the early escalation along.
    (large,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW", amount="9000.00")
    report = _drain(settings, database_url)

    notice = query(database_url, ROW, (large, LEAD, "notice"))[0]
    assert notice[0] == "SENT" and notice[3] is None, notice  # alone, not a digest
    status, held, due, digest_size, rule = query(database_url, ROW, (small, LEAD, "reminder"))[0]
    assert (status, held, digest_size, rule) == ("PENDING", "business_hours", None, "closed now")
    entered = scalar(
        database_url, "SELECT entered_at FROM review_episodes WHERE invoice_id = %s", (small,)
    )
    moment = working_moment(entered, timedelta(seconds=1), parse_business_hours(hours), ZONE)
    assert moment.astimezone(ZoneInfo(ZONE)).time().isoformat(timespec="seconds") == "10:00:01"
    assert moment <= due < moment + timedelta(seconds=2)
    # Open hours: the other escalation went, as any reminder does.
    assert query(database_url, ROW, (small, ALWAYS, "reminder"))[0][0] == "SENT"
    assert sorted(map(str, sendgrid.accepted_recipients())) == sorted([AP, LEAD, ALWAYS])
    assert report.retrying == 1  # the hold: back to PENDING, its attempt given back
    assert scalar(database_url, "SELECT attempts FROM notifications WHERE held IS NOT NULL") == 0

    # A drain now claims nothing of it: it waits for its moment.
    _drain(settings, database_url)
    assert len(sendgrid.accepted()) == 3
    # `reactor rules explain` shows the moment it goes.
    explained = run_explain(settings, database_url, uuid.UUID(small))
    assert explained is not None
    until = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"
    line = next(x for x in explained.splitlines() if x.startswith(LEAD))
    assert "held by business hours until " + until in line, explained
    assert "of business hours (" + hours + ")" in line
