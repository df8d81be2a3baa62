"""`reactor rules explain` without a database: escaping, matched conditions, and when it goes."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from reactor.domain.enums import Channel
from reactor.ops.explain import Entry, Invoice, entries, explain, whens
from reactor.policy.business_hours import parse_business_hours
from reactor.policy.matching import InvoiceFacts, Outlook, conditions_met, forecast
from reactor.policy.quiet import QuietHours
from reactor.policy.recipients import Recipient
from reactor.policy.rules import Rule, Rules
from reactor.support.tables import render_table, visible

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AP = Recipient(Channel.EMAIL, "ap@acme.example")
PHONE = Recipient(Channel.SMS, "+14155552671")
CONTROLLER = Recipient(Channel.EMAIL, "controller@acme.example")
EVERYONE = Rule("everyone", (AP, PHONE))
LARGE = Rule("large acme", (AP, CONTROLLER), min_amount=Decimal(1000), vendors=("acme*", "initech"))
NEXT_DAY = Rule("next day", (AP,), timing="after", offset=timedelta(days=1))
RULES = Rules((EVERYONE, LARGE, NEXT_DAY), {}, "rules.toml")
FACTS = InvoiceFacts(Decimal("1250.00"), None, "ACME Ltd")
NIGHT = QuietHours({PHONE.address: ("UTC", time(21), time(7))})
WINDOW = timedelta(minutes=5)


def _explain(invoice: Invoice, outlook: Outlook | None = None) -> str:
    return explain(RULES, invoice, outlook or Outlook(NOW), default_currency="USD", timezone="UTC")


def _row(recipient: Recipient, **fields: Any) -> dict[str, Any]:
    return {
        "step": "notice",
        "kind": "notice",
        "method": recipient.channel.value,
        "recipient": recipient.address,
        "rule_name": "everyone",
        "status": "PENDING",
        "held": None,
        "attempts": 0,
        "next_attempt_at": NOW,
        "sent_at": None,
        "error_message": None,
        "digest_size": None,
        **fields,
    }


def _when(text: str, recipient: Recipient, rule: str) -> str:
    """The `when` cell of the table line for this recipient and rule."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line)
        if cells[0] == recipient.address and len(cells) == 6 and cells[2] == rule:
            return cells[5]
    raise AssertionError(f"no line for {recipient.address} by {rule!r} in:\n{text}")


# -- visible ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Acme\x1b[31m Ltd", "Acme\\x1b[31m Ltd"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("tab\there", "tab\\there"),
        ("del\x7f nul\x00 c1\x9b", "del\\x7f nul\\x00 c1\\x9b"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("a\\x1b is text", "a\\\\x1b is text"),  # a written-out escape cannot pass for one
        ("Müller & Søn 株式会社 €", "Müller & Søn 株式会社 €"),
        ("", ""),
    ],
)
def test_visible_shows_control_and_format_characters_as_escapes(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_leaves_no_hidden_character_whatever_the_input() -> None:
    every = "".join(chr(c) for c in range(0x3000)) + "\U000e0001\U0010ffff"
    hidden = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    assert not [c for c in visible(every) if unicodedata.category(c) in hidden]
    assert visible(None) == "None" and visible(Decimal("1.50")) == "1.50"


def test_escaped_cells_cannot_break_a_table() -> None:
    cells = [("a\nb", "x\x1b[2J"), ("c\r\nd\u2029", "\t")]
    table = render_table(["one", "two"], [[visible(c) for c in row] for row in cells])
    lines = table.splitlines()
    assert len(lines) == 4
    second = lines[1].index(" ") + 2  # where the second column starts, under the rule
    assert all(ln[second - 2 : second] == "  " and ln[second] != " " for ln in lines)


# -- which conditions matched -------------------------------------------------


def test_conditions_met_name_the_values_that_met_them() -> None:
    assert conditions_met(LARGE, FACTS, "USD") == [
        "amount 1250.00 >= 1000",
        "vendor matches 'acme*'",
    ]
    assert conditions_met(EVERYONE, FACTS, "USD") == ["every invoice"]
    euro = Rule("euro", (AP,), max_amount=Decimal(5000), currencies=("EUR", "USD"))
    assert conditions_met(euro, FACTS, "USD") == [
        "amount 1250.00 <= 5000",
        "currency USD (the default) in EUR, USD",
    ]
    facts = InvoiceFacts(Decimal(1), "eur", "Initech")
    assert conditions_met(euro, facts, "USD")[1] == "currency EUR in EUR, USD"
    assert conditions_met(LARGE, facts, "USD")[1] == "vendor matches 'initech'"


# -- when it goes ------------------------------------------------------------


def test_forecast_nothing_in_the_way_goes_at_its_moment_and_opens_a_window() -> None:
    opened: dict[tuple[str, str], datetime] = {}
    outlook = Outlook(NOW, WINDOW)
    assert forecast(NOW - WINDOW, "email", AP.address, outlook, opened) == (NOW, [])
    assert opened == {("email", AP.address): NOW + WINDOW}
    later = NOW + timedelta(minutes=2)  # meets the window it opened
    assert forecast(later, "email", AP.address, outlook, opened) == (
        NOW + WINDOW,
        [("digest_window", NOW + WINDOW)],
    )


def test_forecast_an_open_window_holds_a_message_unless_digests_are_off() -> None:
    end = NOW + timedelta(minutes=3)
    windows = {("email", AP.address): end}
    on, off = Outlook(NOW, WINDOW, windows), Outlook(NOW, timedelta(0), windows)
    assert forecast(NOW, "email", AP.address, on, dict(windows)) == (end, [("digest_window", end)])
    assert forecast(NOW, "email", AP.address, off, dict(windows)) == (NOW, [])
    assert forecast(NOW, "sms", PHONE.address, on, dict(windows)) == (NOW, [])  # another channel


def test_forecast_quiet_hours_hold_an_sms_then_the_window_its_claim_opened() -> None:
    night = datetime(2026, 6, 1, 6, 58, tzinfo=UTC)  # quiet until 07:00, window 5 minutes
    seven, window_end = night.replace(minute=0, hour=7), night + WINDOW
    outlook = Outlook(night, WINDOW, quiet=NIGHT)
    assert forecast(night, "sms", PHONE.address, outlook, {}) == (
        window_end,
        [("quiet_hours", seven), ("digest_window", window_end)],
    )
    assert forecast(night, "email", PHONE.address, outlook, {}) == (night, [])  # SMS only


def test_a_row_held_by_the_digest_window_says_until_when_not_now() -> None:
    end = NOW + timedelta(minutes=4)
    row = _row(AP, held="digest_window", next_attempt_at=end)
    invoice = Invoice(FACTS, "NEEDS_REVIEW", NOW - timedelta(minutes=1), "INV-1", [row])
    out = _explain(invoice, Outlook(NOW, WINDOW, {("email", AP.address): end}))
    assert _when(out, AP, "everyone") == "held by the digest window until 2026-06-01 12:04:00 UTC"


def test_planned_messages_meet_open_windows_and_quiet_hours() -> None:
    night = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    end = night + timedelta(minutes=2)
    outlook = Outlook(night, WINDOW, {("email", AP.address): end}, NIGHT)
    out = _explain(Invoice(FACTS, "NEEDS_REVIEW", None), outlook)
    assert "not yet taken by the reactor" in out
    notice = "held by the digest window until 2026-06-01 23:32:00 UTC"
    assert _when(out, AP, "everyone") == notice
    assert _when(out, PHONE, "everyone") == "held by quiet hours until 2026-06-02 07:00:00 UTC"
    assert "reminder 1d after entering review" in out
    assert _when(out, AP, "next day") == "due at 2026-06-02 23:30:00 UTC"


def test_rows_say_what_happened_and_what_they_wait_for() -> None:
    sent = _row(AP, status="SENT", attempts=1, sent_at=NOW - timedelta(hours=1), digest_size=3)
    retry = _row(
        PHONE, attempts=2, next_attempt_at=NOW + timedelta(minutes=10), error_message="503\x1b[m"
    )
    reminder = _row(
        AP,
        step="after 86400s",
        kind="reminder",
        rule_name="next day",
        next_attempt_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC),
    )
    invoice = Invoice(
        FACTS, "NEEDS_REVIEW", NOW - timedelta(hours=2), "INV-1", [sent, retry, reminder]
    )
    out = _explain(invoice, Outlook(NOW, WINDOW, quiet=NIGHT))
    assert _when(out, AP, "everyone") == "sent at 2026-06-01 11:00:00 UTC, in a digest of 3"
    retry_when = "retry at 2026-06-01 12:10:00 UTC after 2 attempt(s): 503\\x1b[m"
    assert _when(out, PHONE, "everyone") == retry_when
    assert _when(out, AP, "next day") == "due at 2026-06-02 10:00:00 UTC"
    # `large acme` names AP too, but `everyone` came first: one notice each. It applies
    # to the controller, whom no row of this episode names (the rules changed): not sent.
    assert out.count(AP.address) == 2
    assert _when(out, CONTROLLER, "large acme") == "no row in this episode: not sent"
    assert "amount 1250.00 >= 1000; vendor matches 'acme*'" in out


def test_failed_skipped_sending_and_paused_rows() -> None:
    outlook = Outlook(NOW, paused={"sms": "alice\x1b]0;pwned\x07"})
    cases = {
        "FAILED": "failed after 15 attempt(s): bounced",
        "SKIPPED": "skipped: bounced",
        "SENDING": "being sent now (attempt 15)",
    }
    for status, said in cases.items():
        attempts = 0 if status == "SKIPPED" else 15
        row = _row(AP, status=status, attempts=attempts, error_message="bounced")
        (when,) = whens(_entries(row), outlook)
        assert when == said
    out = _explain(Invoice(FACTS, "NEEDS_REVIEW", None), outlook)
    paused = "due now; waits while sms is paused (by alice\\x1b]0;pwned\\x07)"
    assert _when(out, PHONE, "everyone") == paused


def _entries(row: dict[str, Any]) -> list[Entry]:
    invoice = Invoice(FACTS, "NEEDS_REVIEW", NOW, rows=[row])
    return entries(Rules((EVERYONE,), {}, "-"), invoice, NOW, "USD", "UTC")[:1]


def test_the_facts_block_and_an_invoice_not_in_review() -> None:
    facts = InvoiceFacts(None, "eur", "Initech\nSpoof", datetime(2026, 7, 1).date())
    out = _explain(Invoice(facts, "MATCHED", None, "INV\x1b-9"))
    head = out.splitlines()[:8]
    assert head[0].split() == ["number", "INV\\x1b-9"]
    assert head[1].split() == ["vendor", "Initech\\nSpoof"]
    assert head[2].split() == ["amount", "-"]
    assert head[3].split() == ["currency", "eur"]
    assert head[4].split() == ["due", "date", "2026-07-01"]
    assert head[5].split() == ["status", "MATCHED"]
    assert head[6].split() == ["in", "review", "since", "-"]
    assert "not in review, so nobody is told; if it entered review now:" in out
    assert _when(out, AP, "everyone") == "now"  # only `everyone` applies: no amount
    assert "large acme" not in out


def test_no_rule_applies() -> None:
    rules = Rules((LARGE,), {}, "rules.toml")
    facts = InvoiceFacts(Decimal(5), None, "Other")
    out = explain(
        rules, Invoice(facts, "MATCHED", None), Outlook(NOW), default_currency="USD", timezone="UTC"
    )
    assert out.endswith("no rule applies: nobody is told")


# -- business hours ------------------------------------------------------------

OFFICE = parse_business_hours("Mon-Fri 09:00-17:00")
LEAD = Recipient(Channel.EMAIL, "lead@acme.example")
ESCALATE = Rule(
    "to the lead", (LEAD,), timing="after", offset=timedelta(hours=4), business_hours=OFFICE
)
FRIDAY = datetime(2026, 6, 5, 16, 0, tzinfo=UTC)  # business hours in UTC here
MONDAY_NOON = datetime(2026, 6, 8, 12, 0, tzinfo=UTC)


def _escalating(invoice: Invoice, now: datetime) -> str:
    rules = Rules((EVERYONE, ESCALATE), {}, "rules.toml")
    return explain(rules, invoice, Outlook(now, WINDOW), default_currency="USD", timezone="UTC")


def test_forecast_business_hours_hold_before_any_window() -> None:
    due = FRIDAY + timedelta(hours=4)
    opened = {("email", LEAD.address): due + timedelta(minutes=1)}
    assert forecast(due, "email", LEAD.address, Outlook(due, WINDOW), opened, MONDAY_NOON) == (
        MONDAY_NOON,
        [("business_hours", MONDAY_NOON)],
    )
    assert opened[("email", LEAD.address)] == MONDAY_NOON + WINDOW  # its claim opened one
    # its working time already over: nothing more
    assert forecast(due, "email", LEAD.address, Outlook(due), {}, FRIDAY) == (due, [])


def test_a_planned_escalation_shows_the_moment_business_hours_give() -> None:
    out = _escalating(Invoice(FACTS, "NEEDS_REVIEW", None), FRIDAY)
    assert "reminder 4h of business hours (Mon-Fri 09:00-17:00) after entering review" in out
    assert _when(out, LEAD, "to the lead") == (
        "due at 2026-06-05 20:00:00 UTC, then held by business hours until 2026-06-08 12:00:00 UTC"
    )


def test_an_escalation_row_waiting_and_held_for_business_hours() -> None:
    waiting = _row(
        LEAD,
        step="after 14400s",
        kind="reminder",
        rule_name="to the lead",
        next_attempt_at=FRIDAY + timedelta(hours=4),
    )
    invoice = Invoice(FACTS, "NEEDS_REVIEW", FRIDAY, "INV-1", [waiting])
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    assert _when(_escalating(invoice, saturday), LEAD, "to the lead") == (
        "held by business hours until 2026-06-08 12:00:00 UTC"
    )
    held = {**waiting, "held": "business_hours", "next_attempt_at": MONDAY_NOON}
    invoice = Invoice(FACTS, "NEEDS_REVIEW", FRIDAY, "INV-1", [held])
    assert _when(_escalating(invoice, saturday), LEAD, "to the lead") == (
        "held by business hours until 2026-06-08 12:00:00 UTC"
    )
