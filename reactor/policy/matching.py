"""Which rules apply to an invoice, whom they tell, and when: the pure decision.

The intake statement makes the same decision in SQL for a whole batch
(`take_events.sql`, from `routes`); this is the reference it is tested against,
and what `reactor rules explain` uses, with `forecast`: when a message due at a
moment actually goes, past business hours, digest windows and quiet hours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from reactor.policy.quiet import QuietHours
from reactor.policy.recipients import Recipient
from reactor.policy.rules import Rule, Rules


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


def conditions_met(rule: Rule, facts: InvoiceFacts, default_currency: str) -> list[str]:
    """Each condition of a rule that applies, as the invoice meets it (`reactor rules explain`).

    ["amount 1250.00 >= 1000", "vendor matches 'acme*'"]; no condition: ["every invoice"].
    The text holds the invoice's and the file's own text: escape it before printing.
    """
    met = []
    if rule.min_amount is not None:
        met.append(f"amount {facts.amount} >= {rule.min_amount}")
    if rule.max_amount is not None:
        met.append(f"amount {facts.amount} <= {rule.max_amount}")
    if rule.currencies:
        currency = (facts.currency or default_currency).upper()
        default = "" if facts.currency else " (the default)"
        met.append(f"currency {currency}{default} in {', '.join(rule.currencies)}")
    if rule.vendors:
        vendor = (facts.vendor or "").lower()
        glob = next((g for g in rule.vendors if _glob(g).fullmatch(vendor)), rule.vendors[0])
        met.append(f"vendor matches '{glob}'")
    return met or ["every invoice"]


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


@dataclass(frozen=True)
class Outlook:
    """Besides a message's own moment, what decides when it goes, as things stand now."""

    now: datetime
    window: timedelta = timedelta(0)  # DIGEST_WINDOW_SECONDS; zero: digests are off
    windows: Mapping[tuple[str, str], datetime] = field(default_factory=dict)  # open until
    quiet: QuietHours = field(default_factory=lambda: QuietHours({}))
    paused: Mapping[str, str] = field(default_factory=dict)  # channel -> who paused it


MAX_HOLDS = 8  # a message held this many times in a row is taken to go then


def forecast(
    due: datetime,
    channel: str,
    recipient: str,
    outlook: Outlook,
    opened: dict[tuple[str, str], datetime],
    working: datetime | None = None,
) -> tuple[datetime, list[tuple[str, datetime]]]:
    """When a message due at `due` goes, and what holds it on the way (the `held` values).

    The send path replayed: an escalation of a business-hours rule claimed before
    `working` (when its working time has passed, business_hours.py) waits until then,
    before any digest window; at each claim, the recipient's open digest window holds it
    until the window ends, else the claim opens one (into `opened`, so later messages
    meet it; gather_digests.sql); then an SMS inside its recipient's quiet hours waits
    for their end, to be claimed again (quiet.py). A paused channel is not forecast.
    """
    at, holds, key = max(due, outlook.now), [], (channel, recipient)
    if working is not None and working > at:
        holds.append(("business_hours", working))
        at = working
    for _ in range(MAX_HOLDS):
        if outlook.window:
            end = opened.get(key)
            if end is not None and end > at:
                holds.append(("digest_window", end))
                at = end
                continue
            opened[key] = at + outlook.window
        until = outlook.quiet.held_until(recipient, at) if channel == "sms" else None
        if until is None:
            break
        holds.append(("quiet_hours", until))
        at = until
    return at, holds


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
