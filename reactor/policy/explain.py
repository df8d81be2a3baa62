"""`reactor rules check` and `reactor rules explain`: the rules as an operator reads them."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from reactor.config import Settings
from reactor.policy.matching import InvoiceFacts, amount_of, notices_for
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


def format_rules(rules: Rules) -> str:
    """The rules as a table: name, conditions, whom they tell."""
    rows = [
        (rule.name, _conditions(rule), ", ".join(r.address for r in rule.notify))
        for rule in rules.rules
    ]
    return f"{rules.source}: {len(rules.rules)} rule(s)\n" + render_table(
        ["rule", "when", "notify"], rows
    )


def explain(rules: Rules, facts: InvoiceFacts, status: str, default_currency: str) -> str:
    """Who would be told about an invoice with these facts, on which channel, and why."""
    told = notices_for(rules, facts, default_currency)
    head = (
        f"status {status}, amount {facts.amount if facts.amount is not None else '-'}, "
        f"currency {facts.currency or default_currency}, vendor {facts.vendor or '-'}"
    )
    if not told:
        return f"{head}\nno rule applies: nobody would be told"
    rows = [(r.address, r.channel.value, rule.name, "on entering review") for r, rule in told]
    return head + "\n" + render_table(["recipient", "channel", "rule", "when"], rows)


def run_explain(settings: Settings, database_url: str, invoice_id: UUID) -> str | None:
    """`reactor rules explain`: None when there is no such invoice."""

    async def facts() -> dict[str, Any]:
        async with open_store(database_url) as store:
            return await store.invoice_facts(invoice_id)

    row = asyncio.run(facts())
    if not row:
        return None
    invoice = InvoiceFacts(amount_of(row["total_amount"]), row["currency"], row["vendor_name"])
    return explain(settings.rules, invoice, row["matched_status"], settings.default_currency)
