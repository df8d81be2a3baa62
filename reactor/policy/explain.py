"""`reactor rules check` and `reactor rules explain`: the rules as an operator reads them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from reactor.config import Settings
from reactor.policy.matching import InvoiceFacts, amount_of, plan
from reactor.policy.rules import Rule, Rules
from reactor.tables import render_table
from reactor.wiring import open_store


def _conditions(rule: Rule) -> str:
    parts = []
    if rule.min_amount is not None:
        parts.append(f"amount >= {rule.min_amount}")
    if rule.max_amount is not None:
        parts.append(f"amount <= {rule.max_amount}")
    if rule.currencies:
        parts.append(f"currency in {', '.join(rule.currencies)}")
    if rule.vendors:
        parts.append(f"vendor like {', '.join(rule.vendors)}")
    return "; ".join(parts) or "every invoice"


def _timing(rule: Rule) -> str:
    if rule.offset is None:
        return "on entering review"
    if rule.timing == "after":
        return f"reminder {_duration(rule.offset)} after entering review"
    return f"reminder {_duration(rule.offset)} before the due date"


def _duration(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_rules(rules: Rules) -> str:
    """The rules as a table: name, conditions, timing, whom they tell."""
    rows = [
        (rule.name, _conditions(rule), _timing(rule), ", ".join(r.address for r in rule.notify))
        for rule in rules.rules
    ]
    return f"{rules.source}: {len(rules.rules)} rule(s)\n" + render_table(
        ["rule", "invoices", "when", "notify"], rows
    )


def explain(
    rules: Rules,
    facts: InvoiceFacts,
    status: str,
    *,
    entered_at: datetime | None,
    default_currency: str,
    timezone: str,
) -> str:
    """Who would be told about an invoice with these facts, on which channel, when and why."""
    now = datetime.now(UTC)
    planned = plan(
        rules,
        facts,
        entered_at=entered_at or now,
        now=now,
        default_currency=default_currency,
        timezone=timezone,
    )
    head = (
        f"status {status}, amount {facts.amount if facts.amount is not None else '-'}, "
        f"currency {facts.currency or default_currency}, vendor {facts.vendor or '-'}, "
        f"due {facts.due_date or '-'}, "
        + (f"in review since {entered_at:%Y-%m-%d %H:%M} UTC" if entered_at else "not in review")
    )
    if not planned:
        return f"{head}\nno rule applies: nobody would be told"
    rows = [
        (
            p.recipient.address,
            p.recipient.channel.value,
            p.rule.name,
            _timing(p.rule),
            "now" if p.at <= now else f"{p.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        )
        for p in planned
    ]
    return head + "\n" + render_table(["recipient", "channel", "rule", "why", "when"], rows)


def run_explain(settings: Settings, database_url: str, invoice_id: UUID) -> str | None:
    """`reactor rules explain`: None when there is no such invoice."""

    async def facts() -> dict[str, Any]:
        async with open_store(database_url) as store:
            return await store.invoice_facts(invoice_id)

    row = asyncio.run(facts())
    if not row:
        return None
    invoice = InvoiceFacts(
        amount_of(row["total_amount"]), row["currency"], row["vendor_name"], row["due_date"]
    )
    return explain(
        settings.rules,
        invoice,
        row["matched_status"],
        entered_at=row["entered_at"],
        default_currency=settings.default_currency,
        timezone=settings.default_timezone,
    )
