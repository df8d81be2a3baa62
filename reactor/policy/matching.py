"""Which rules apply to an invoice, and whom they tell: the pure decision.

The intake statement makes the same decision in SQL for a whole batch
(`take_events.sql`, from `routes`); this is the reference it is tested against,
and what `reactor rules explain` uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from reactor.policy.rules import Rule, Rules
from reactor.recipients import Recipient


@dataclass(frozen=True)
class InvoiceFacts:
    """What the conditions look at; None where the invoice does not say."""

    amount: Decimal | None
    currency: str | None
    vendor: str | None


def amount_of(text: str | None) -> Decimal | None:
    """An invoice's amount as stored (text), or None when it is not a plain number."""
    try:
        amount = Decimal(text) if text is not None else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() else None


def rule_applies(rule: Rule, facts: InvoiceFacts, default_currency: str) -> bool:
    """Whether every condition of `rule` holds for the invoice (no condition: always)."""
    if rule.min_amount is not None and (facts.amount is None or facts.amount < rule.min_amount):
        return False
    if rule.max_amount is not None and (facts.amount is None or facts.amount > rule.max_amount):
        return False
    currency = (facts.currency or default_currency).upper()
    if rule.currencies and currency not in rule.currencies:
        return False
    vendor = (facts.vendor or "").lower()
    return not rule.vendors or any(_glob(g).fullmatch(vendor) for g in rule.vendors)


def _glob(glob: str) -> re.Pattern[str]:
    """A glob with only * and ? special, as the SQL's LIKE pattern reads it."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts), re.DOTALL)


def notices_for(
    rules: Rules, facts: InvoiceFacts, default_currency: str
) -> list[tuple[Recipient, Rule]]:
    """Each recipient told at once, with the first applying rule that names it."""
    chosen: dict[Recipient, Rule] = {}
    for rule in rules.rules:
        if rule_applies(rule, facts, default_currency):
            for recipient in rule.notify:
                chosen.setdefault(recipient, rule)
    return list(chosen.items())


def glob_to_like(glob: str) -> str:
    """A shell glob (* and ?) as a LIKE pattern, with LIKE's own wildcards escaped."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def reads_invoice(rules: Rules) -> bool:
    """Whether any rule has a condition, so that routing must read the invoice's fields."""
    return any(
        r.min_amount is not None or r.max_amount is not None or r.currencies or r.vendors
        for r in rules.rules
    )


def routes(rules: Rules) -> str:
    """The rules as the intake statement's `routes` parameter (JSON, one row per recipient)."""
    rows = []
    for position, rule in enumerate(rules.rules):
        for recipient in rule.notify:
            rows.append(
                {
                    "rule_position": position,
                    "rule_name": rule.name,
                    "method": recipient.channel.value,
                    "recipient": recipient.address,
                    "min_amount": str(rule.min_amount) if rule.min_amount is not None else None,
                    "max_amount": str(rule.max_amount) if rule.max_amount is not None else None,
                    "currencies": list(rule.currencies) or None,
                    "vendors": [glob_to_like(v) for v in rule.vendors] or None,
                }
            )
    return json.dumps(rows)
