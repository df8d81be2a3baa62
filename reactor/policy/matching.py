"""Which rules apply to an invoice, and whom they tell: the pure decision.

The intake statement makes the same decision in SQL for a whole batch
(`take_events.sql`, from `routes`); this is the reference it is tested against,
and what `reactor rules explain` uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from reactor.policy.rules import Rule, Rules
from reactor.recipients import Recipient


@dataclass(frozen=True)
class InvoiceFacts:
    """What the conditions look at; None where the invoice does not say."""

    amount: Decimal | None
    currency: str | None
    vendor: str | None
    due_date: date | None = None


@dataclass(frozen=True)
class Planned:
    """One message the rules plan for a review episode: to whom, why, and when."""

    recipient: Recipient
    rule: Rule
    at: datetime  # when it falls due (a notice: when the invoice entered review)

    @property
    def step(self) -> str:
        """The policy step of its row."""
        return self.rule.step


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


def due_moment(due_date: date, timezone: str) -> datetime:
    """The start of the due date in DEFAULT_TIMEZONE: what `before_due` counts back from."""
    return datetime.combine(due_date, time(0), tzinfo=ZoneInfo(timezone))


def plan(
    rules: Rules,
    facts: InvoiceFacts,
    *,
    entered_at: datetime,
    now: datetime,
    default_currency: str,
    timezone: str,
) -> list[Planned]:
    """Every message the rules plan for one review episode (the intake statement's decision).

    One per (step, recipient), from the first applying rule that names it. A reminder
    needs its moment: `before_due` only for an invoice with a due date. Of what is due
    at once for one recipient (the notice, reminders whose moment has passed) only one
    message goes, the notice if there is one: several rules firing at the same moment
    tell a recipient once.
    """
    chosen: dict[tuple[str, Recipient], Planned] = {}
    for rule in rules.rules:
        if not rule_applies(rule, facts, default_currency):
            continue
        at = _moment(rule, facts, entered_at, timezone)
        if at is None:
            continue
        for recipient in rule.notify:
            chosen.setdefault((rule.step, recipient), Planned(recipient, rule, at))
    planned = sorted(chosen.values(), key=lambda p: (p.step != "notice", rules.rules.index(p.rule)))
    due_now: set[Recipient] = set()
    kept = []
    for item in planned:
        if item.at <= now:
            if item.recipient in due_now:
                continue
            due_now.add(item.recipient)
        kept.append(item)
    return kept


def _moment(
    rule: Rule, facts: InvoiceFacts, entered_at: datetime, timezone: str
) -> datetime | None:
    if rule.offset is None:
        return entered_at
    if rule.timing == "after":
        return entered_at + rule.offset
    if facts.due_date is None:
        return None
    return due_moment(facts.due_date, timezone) - rule.offset


def glob_to_like(glob: str) -> str:
    """A shell glob (* and ?) as a LIKE pattern, with LIKE's own wildcards escaped."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def reads_invoice(rules: Rules) -> bool:
    """Whether routing must read every invoice's fields: a condition, or a due date."""
    return any(r.has_condition or r.timing == "before_due" for r in rules.rules)


def routes(rules: Rules) -> str:
    """The rules as the intake statement's `routes` parameter (JSON, one row per recipient)."""
    rows = []
    for position, rule in enumerate(rules.rules):
        for recipient in rule.notify:
            rows.append(
                {
                    "rule_position": position,
                    "rule_name": rule.name,
                    "step": rule.step,
                    "timing": rule.timing,
                    "offset_seconds": rule.offset.total_seconds() if rule.offset else None,
                    "method": recipient.channel.value,
                    "recipient": recipient.address,
                    "min_amount": str(rule.min_amount) if rule.min_amount is not None else None,
                    "max_amount": str(rule.max_amount) if rule.max_amount is not None else None,
                    "currencies": list(rule.currencies) or None,
                    "vendors": [glob_to_like(v) for v in rule.vendors] or None,
                }
            )
    return json.dumps(rows)
