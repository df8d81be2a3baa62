"""`reactor rules check` and `reactor rules explain`: the rules as an operator reads them.

Whatever they print from the database or the rules file goes through `visible`, so
a vendor name holding escape sequences or newlines can neither repaint the terminal
nor forge a line. `explain` is pure (facts, rules, delivery rows, open digest windows,
quiet hours and the clock in; text out); only `run_explain` reads the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from reactor.domain.enums import Status
from reactor.policy.matching import (
    InvoiceFacts,
    Outlook,
    Planned,
    amount_of,
    conditions_met,
    forecast,
    plan,
    rule_applies,
)
from reactor.policy.rules import Rule, Rules
from reactor.runtime.wiring import open_store
from reactor.settings.service import Settings
from reactor.support.tables import render_table, visible

_HELD = {
    "business_hours": "business hours",
    "digest_window": "the digest window",
    "quiet_hours": "quiet hours",
}
_ERROR_CHARS = 80


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
    if rule.timing == "after" and rule.business_hours is not None:
        hours = rule.business_hours.text
        return (
            f"reminder {_duration(rule.offset)} of business hours ({hours}) after entering review"
        )
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
    return f"{visible(rules.source)}: {len(rules.rules)} rule(s)\n" + render_table(
        ["rule", "invoices", "when", "notify"], rows
    )


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class Entry:
    """One line of explain's table: a delivery row, or a message the rules plan."""

    cells: tuple[object, ...]  # recipient, channel, rule, matched, message
    due: datetime  # when it falls due (a row: its next_attempt_at)
    start: str | None = None  # what it says of itself while waiting (None: due, nothing else)
    done: str | None = None  # it waits for nothing: what happened (sent, failed, ...)
    working: datetime | None = None  # an escalation in business hours: when its time has passed


def row_entry(row: Mapping[str, Any], rule: Rule | None, matched: str, now: datetime) -> Entry:
    """A delivery row as it stands: what happened, or what it waits for."""
    cells: tuple[object, ...] = (row["recipient"], row["method"], row["rule_name"] or "-", matched)
    cells += (_timing(rule) if rule else row["kind"],)
    due, attempts, status = row["next_attempt_at"], row["attempts"], row["status"]
    error = str(row["error_message"] or "-")[:_ERROR_CHARS]
    if status == Status.SENT:
        size = row["digest_size"]
        sent = f"sent at {_at(row['sent_at'])}" + (f", in a digest of {size}" if size else "")
        if row.get("trace_id"):
            sent += f", trace {row['trace_id']}"
        return Entry(cells, due, done=sent)
    if status == Status.SENDING:
        return Entry(cells, due, done=f"being sent now (attempt {attempts})")
    if status == Status.SKIPPED:
        return Entry(cells, due, done=f"skipped: {error}")
    if status != Status.PENDING:
        return Entry(cells, due, done=f"{status.lower()} after {attempts} attempt(s): {error}")
    if row["held"] and due > now:
        return Entry(cells, due, f"held by {_HELD.get(row['held'], row['held'])} until {_at(due)}")
    if attempts:
        moment = "now" if due <= now else f"at {_at(due)}"
        return Entry(cells, due, f"retry {moment} after {attempts} attempt(s): {error}")
    return Entry(cells, due, f"due at {_at(due)}" if due > now else None)


def planned_entry(
    item: Planned, facts: InvoiceFacts, default_currency: str, now: datetime
) -> Entry:
    """A message the rules plan and no row holds yet."""
    met = "; ".join(conditions_met(item.rule, facts, default_currency))
    cells = (item.recipient.address, item.recipient.channel.value, item.rule.name, met)
    start = f"due at {_at(item.at)}" if item.at > now else None
    return Entry((*cells, _timing(item.rule)), item.at, start)


def whens(entries: Sequence[Entry], outlook: Outlook) -> list[str]:
    """Each entry's `when`, forecast in the order they fall due (earlier ones open windows)."""
    opened = dict(outlook.windows)
    said: dict[int, str] = {}
    for index in sorted(range(len(entries)), key=lambda i: entries[i].due):
        entry = entries[index]
        recipient, channel = str(entry.cells[0]), str(entry.cells[1])
        if entry.done is not None:
            said[index] = entry.done
        elif channel in outlook.paused:
            by = outlook.paused[channel]
            said[index] = f"{entry.start or 'due now'}; waits while {channel} is paused (by {by})"
        else:
            _, holds = forecast(entry.due, channel, recipient, outlook, opened, entry.working)
            parts = [entry.start] if entry.start else []
            parts += [f"held by {_HELD[why]} until {_at(until)}" for why, until in holds]
            said[index] = ", then ".join(parts) or "now"
    return [said[i] for i in range(len(entries))]


@dataclass(frozen=True)
class Invoice:
    """One invoice as explain reads it: its facts, and its current episode's delivery rows."""

    facts: InvoiceFacts
    status: str
    entered_at: datetime | None  # when its current review episode began; None: no episode
    number: str | None = None
    rows: Sequence[Mapping[str, Any]] = ()


def entries(
    rules: Rules, invoice: Invoice, now: datetime, default_currency: str, timezone: str
) -> list[Entry]:
    """The episode's rows, then what the rules plan that no row holds.

    With an episode, the plan is the one made when it began, and a planned message
    without a row is not sent (the reactor adds no rows to an episode). Without one,
    the plan is made as if the invoice entered review now.
    """
    facts, entered = invoice.facts, invoice.entered_at or now
    found = {rule.name: rule for rule in rules.rules}
    hours = rules.working_hours(timezone)
    listed = []
    for row in invoice.rows:
        rule = found.get(row["rule_name"] or "")
        entry = row_entry(row, rule, _matched(rule, facts, default_currency), now)
        if row["kind"] == "reminder" and row.get("held") != "business_hours":
            working = hours.moment(row["rule_name"], row["recipient"], entered)
            entry = replace(entry, working=working)
        listed.append(entry)
    recorded = {(r["step"], r["method"], r["recipient"]) for r in invoice.rows}
    planned = plan(
        rules,
        facts,
        entered_at=entered,
        now=entered,
        default_currency=default_currency,
        timezone=timezone,
    )
    for item in planned:
        if (item.step, item.recipient.channel.value, item.recipient.address) in recorded:
            continue
        entry = planned_entry(item, facts, default_currency, now)
        working = hours.moment(item.rule.name, item.recipient.address, entered)
        entry = replace(entry, working=working)
        if invoice.entered_at is not None:
            entry = Entry(entry.cells, entry.due, done="no row in this episode: not sent")
        listed.append(entry)
    return listed


def _matched(rule: Rule | None, facts: InvoiceFacts, default_currency: str) -> str:
    if rule is None:
        return "-"
    if not rule_applies(rule, facts, default_currency):
        return "no longer matches"
    return "; ".join(conditions_met(rule, facts, default_currency))


def _facts_block(invoice: Invoice, default_currency: str, now: datetime) -> str:
    facts = invoice.facts
    pairs = [
        ("number", invoice.number or "-"),
        ("vendor", facts.vendor or "-"),
        ("amount", facts.amount if facts.amount is not None else "-"),
        ("currency", facts.currency or f"{default_currency} (the default)"),
        ("due date", facts.due_date or "-"),
        ("status", invoice.status),
        ("in review since", _at(invoice.entered_at) if invoice.entered_at else "-"),
        ("as of", _at(now)),
    ]
    return "\n".join(f"{key:<16} {visible(value)}" for key, value in pairs)


def _heading(invoice: Invoice) -> str:
    if invoice.entered_at is not None:
        return "its current review episode, as the delivery rows record it:"
    if invoice.status == "NEEDS_REVIEW":
        return "in review, not yet taken by the reactor; what the rules plan for it:"
    return "not in review, so nobody is told; if it entered review now:"


def explain(
    rules: Rules,
    invoice: Invoice,
    outlook: Outlook,
    *,
    default_currency: str,
    timezone: str,
    default_locale: str = "en_US",
) -> str:
    """The invoice's facts, then who is told on which channel, by which rule and why, and
    when; and in which locale, once any recipient's is not en-US."""
    listed = entries(rules, invoice, outlook.now, default_currency, timezone)
    head = f"{_facts_block(invoice, default_currency, outlook.now)}\n\n{_heading(invoice)}\n"
    if not listed:
        return head + "no rule applies: nobody is told"
    rows = [(*e.cells, when) for e, when in zip(listed, whens(listed, outlook), strict=True)]
    columns = ["recipient", "channel", "rule", "matched", "message", "when"]
    locales = rules.locales()
    if locales or default_locale != "en_US":  # the column says something: show it
        columns.insert(5, "locale")
        for index, row in enumerate(rows):
            locale = locales.get(str(row[0]), default_locale).replace("_", "-")
            rows[index] = (*row[:5], locale, *row[5:])
    return head + render_table(columns, rows)


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read_facts(database_url: str, invoice_id: UUID) -> dict[str, Any]:
    """invoice_facts.sql's row for one invoice, or {} (explain and templates preview)."""

    async def facts() -> dict[str, Any]:
        async with open_store(database_url) as store:
            return await store.invoice_facts(invoice_id)

    return asyncio.run(facts())


def run_explain(settings: Settings, database_url: str, invoice_id: UUID) -> str | None:
    """`reactor rules explain`: None when there is no such invoice."""

    row = read_facts(database_url, invoice_id)
    if not row:
        return None
    rows = [
        {**r, "next_attempt_at": _moment(r["next_attempt_at"]), "sent_at": _moment(r["sent_at"])}
        for r in row["deliveries"]
    ]
    outlook = Outlook(
        now=row["checked_at"],
        window=timedelta(seconds=settings.digest_window_seconds),
        windows={
            (w["method"], w["recipient"]): datetime.fromisoformat(w["open_until"])
            for w in row["windows"]
        },
        quiet=settings.rules.quiet_hours(),
        paused=row["paused"],
    )
    invoice = Invoice(
        InvoiceFacts(
            amount_of(row["total_amount"]), row["currency"], row["vendor_name"], row["due_date"]
        ),
        row["matched_status"],
        row["entered_at"],
        row["invoice_number"],
        rows,
    )
    return explain(
        settings.rules,
        invoice,
        outlook,
        default_currency=settings.default_currency,
        timezone=settings.default_timezone,
        default_locale=settings.locale,
    )
