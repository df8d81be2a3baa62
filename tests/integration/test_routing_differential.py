"""Routing is decided twice: by the intake statement (take_events.sql, what runs) and by
`policy.matching.plan` (what `rules explain` and the console say). Both run here on the
same generated invoices and rules files, and any difference fails the test. The statement
runs both ways it reads an invoice's fields (its columns, or to_jsonb)."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from reactor.db.statements import fill
from reactor.policy.matching import InvoiceFacts, amount_of, plan, reads_invoice, routes
from reactor.policy.rules import Rules, load_rules
from reactor.support.resources import sql

TIMEZONE = "Europe/Berlin"
CURRENCY = "USD"
PEOPLE = ["a@acme.example", "b@acme.example", "c@acme.example", "+14155552671"]
VENDORS = ["Acme Ltd", "ACME GmbH", "acme", "Globex", "Ac_me%", "Initech", "Ümlaut AG", None]
GLOBS = ["acme*", "ACME*", "a?me", "*ex", "ac_me%", "ac?me*", "ümlaut*", "*"]
AMOUNTS = [None, "0.00", "99.99", "100.00", "100.01", "999.50", "1000.00", "25000.00"]
CURRENCIES = [None, "USD", "EUR", "eur", "GBP"]
REMINDERS = [{}, {}, {"after": "2h"}, {"after": "3d"}, {"before_due": "1d"}, {"before_due": "30d"}]


def _rules_file(rng: random.Random, folder: Path, number: int) -> Rules:
    """A random rules file of 1 to 5 rules, each with random conditions and timing."""
    tables = []
    for position in range(rng.randint(1, 5)):
        lines = [f'name = "rule {position}"']
        notify = rng.sample(PEOPLE, rng.randint(1, 3))
        lines.append("notify = [" + ", ".join(f'"{p}"' for p in notify) + "]")
        low = rng.choice([None, None, "100", "100.01", "1000"])
        high = rng.choice([None, None, "100", "999.50", "50000"])
        if low is not None and high is not None and Decimal(low) > Decimal(high):
            low, high = high, low
        if low is not None:
            lines.append(f"min_amount = {low}")
        if high is not None:
            lines.append(f"max_amount = {high}")
        if rng.random() < 0.4:
            codes = rng.sample(["USD", "EUR", "gbp"], rng.randint(1, 2))
            lines.append("currency = [" + ", ".join(f'"{c}"' for c in codes) + "]")
        if rng.random() < 0.5:
            globs = rng.sample(GLOBS, rng.randint(1, 2))
            lines.append("vendor = [" + ", ".join(f'"{g}"' for g in globs) + "]")
        for field, value in rng.choice(REMINDERS).items():
            lines.append(f'{field} = "{value}"')
        tables.append("[[rule]]\n" + "\n".join(lines))
    path = folder / f"rules-{number}.toml"
    path.write_text("\n\n".join(tables) + "\n")
    return load_rules(path, "US", TIMEZONE)


def _invoices(rng: random.Random, url: str, count: int) -> None:
    """`count` invoices entering review, with random amounts, currencies, vendors, dates."""
    today = date.today()
    rows = [
        (
            str(uuid.uuid4()),
            rng.choice(VENDORS),
            rng.choice(AMOUNTS),
            rng.choice(CURRENCIES),
            rng.choice([None, today + timedelta(days=rng.choice([-5, 3, 10, 45]))]),
        )
        for _ in range(count)
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO invoices (id, vendor_name, total_amount, currency, due_date,"
            " matched_status) VALUES (%s, %s, %s, %s, %s, 'NEEDS_REVIEW')",
            rows,
        )


def _by_sql(url: str, rules: Rules, fields: str) -> set[tuple[str, str, str, str, datetime]]:
    """What the intake statement writes: (invoice, step, method, recipient, due)."""
    params = {
        "limit": 10_000,
        "claim_episodes": 0,  # nothing claimed: every row stays as decided
        "routes": routes(rules),
        "read_fields": reads_invoice(rules),
        "default_currency": CURRENCY,
        "timezone": TIMEZONE,
        "lease_seconds": 60,
        "paused": [],
    }
    with psycopg.connect(url) as conn:
        statement = fill(sql("queries/take_events"), {"invoice_fields": f"invoice_fields/{fields}"})
        conn.execute(statement, params)
        conn.commit()
        rows = conn.execute(
            "SELECT invoice_id::text, step, method, recipient, next_attempt_at FROM notifications"
        ).fetchall()
    return {(i, step, method, recipient, due) for i, step, method, recipient, due in rows}


def _by_python(url: str, rules: Rules) -> set[tuple[str, str, str, str, datetime]]:
    """What `plan` decides for the same invoices, entered and judged at the same moments."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        invoices = conn.execute(
            "SELECT i.id::text AS id, i.vendor_name, i.total_amount::text AS amount,"
            " i.currency, i.due_date, e.entered_at, e.created_at AS now"
            " FROM invoices i JOIN review_episodes e ON e.invoice_id = i.id"
        ).fetchall()
    planned = set()
    for row in invoices:
        facts = InvoiceFacts(
            amount=amount_of(row["amount"]),
            currency=row["currency"],
            vendor=row["vendor_name"],
            due_date=row["due_date"],
        )
        for item in plan(
            rules,
            facts,
            entered_at=row["entered_at"],
            now=row["now"],
            default_currency=CURRENCY,
            timezone=TIMEZONE,
        ):
            channel = item.recipient.channel.value
            due = max(item.at, row["now"])  # what is due already is due at the intake's now()
            planned.add((row["id"], item.step, channel, item.recipient.address, due))
    return planned


@pytest.mark.parametrize("fields", ["columns", "json"])
def test_the_intake_statement_and_plan_route_alike(
    database_url: str, tmp_path: Path, fields: str
) -> None:
    rng = random.Random(20261204)
    compared = 0
    for number in range(12):
        rules = _rules_file(rng, tmp_path, number)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE notifications, review_episodes, review_events, invoices")
        _invoices(rng, database_url, 60)
        by_sql, by_python = _by_sql(database_url, rules, fields), _by_python(database_url, rules)
        rules_text = (tmp_path / f"rules-{number}.toml").read_text()
        assert by_sql == by_python, (
            f"rules file {number}:\n{rules_text}\n"
            f"only in SQL: {sorted(by_sql - by_python)[:5]}\n"
            f"only in plan: {sorted(by_python - by_sql)[:5]}"
        )
        compared += len(by_sql)
    assert compared > 500  # the generated cases do route a good many rows
