"""The rules file: durations, validation messages, and rule matching (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from reactor.policy.durations import parse_duration
from reactor.policy.matching import InvoiceFacts, amount_of, glob_to_like, plan, routes
from reactor.policy.rules import Rules, RulesError, load_rules, parse_quiet_hours

GOOD = """
[[recipient]]
address = "+1 415 555 0123"
timezone = "America/New_York"

[[rule]]
name = "everyone"
notify = ["AP@Acme.example", "+14155550123"]

[[rule]]
name = "large invoices"
notify = ["controller@acme.example", "ap@acme.example"]
min_amount = 10000
currency = ["usd", "EUR"]

[[rule]]
name = "vendors"
notify = "vm@acme.example"
vendor = ["acme*", "*GmbH", "a_b?"]
"""


REMINDERS = """
[[rule]]
name = "everyone"
notify = ["ap@acme.example", "+14155550123"]

[[rule]]
name = "still waiting"
notify = ["ap@acme.example"]
after = "24h"

[[rule]]
name = "also waiting"
notify = ["ap@acme.example", "boss@acme.example"]
after = "1d"

[[rule]]
name = "due soon"
notify = ["controller@acme.example", "ap@acme.example"]
before_due = "2d"
"""

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

RULE_X = '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\n'


def _load(tmp_path: Path, text: str) -> Rules:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return load_rules(path, "US", "UTC")


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(RulesError) as caught:
        _load(tmp_path, text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("3s", 3), ("15m", 900), ("24h", 86400), (" 2d ", 172800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "3", "3w", "1.5h", "-3s", "0s", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_quiet_hours_may_cross_midnight() -> None:
    assert parse_quiet_hours("21:00-07:00") == (time(21), time(7))
    for bad in ("21:00", "25:00-07:00", "07:00-07:00", 7):
        with pytest.raises(ValueError):
            parse_quiet_hours(bad)


def test_a_good_file_is_normalised(tmp_path: Path) -> None:
    rules = _load(tmp_path, GOOD)
    assert [r.name for r in rules.rules] == ["everyone", "large invoices", "vendors"]
    assert [r.address for r in rules.rules[0].notify] == ["ap@acme.example", "+14155550123"]
    assert rules.rules[1].currencies == ("USD", "EUR")
    assert rules.rules[1].min_amount == Decimal(10000)
    assert rules.rules[2].vendors == ("acme*", "*gmbh", "a_b?")
    assert rules.recipients["+14155550123"].timezone == "America/New_York"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\namount = 3\n',
            "rule 'x': amount: unknown field",
        ),
        ('[[rule]]\nnotify = ["a@b.example"]\n', "rule #1: name: required"),
        ('[[rule]]\nname = "x"\n', "rule 'x': notify: required"),
        ('[[rule]]\nname = "x"\nnotify = ["nobody"]\n', "rule 'x': notify: *** is neither"),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nafter = "3 weeks"\n',
            "rule 'x': after: '3 weeks' is not a duration",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nafter = "1h"\nbefore_due = "1d"\n',
            "rule 'x': before_due: a rule is one reminder",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nafter = "1h"\nescalate_after = "4h"\n',
            "rule 'x': escalate_after: a rule is one reminder",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nescalate_after = "soon"\n',
            "rule 'x': escalate_after: 'soon' is not a duration",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nmin_amount = "lots"\n',
            "rule 'x': min_amount: 'lots' is not a number",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nmin_amount = 5\nmax_amount = 1\n',
            "rule 'x': max_amount: is smaller than min_amount",
        ),
        (
            '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\ncurrency = ["dollars"]\n',
            "rule 'x': currency: 'dollars'",
        ),
        (
            RULE_X + RULE_X,
            "rule 'x': name: is used by an earlier rule",
        ),
        (
            '[[recipient]]\naddress = "a@b.example"\ntimezone = "Mars/Olympus"\n' + RULE_X,
            "recipient #1: timezone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            '[[recipient]]\naddress = "a@b.example"\nquiet_hours = "late"\n',
            "recipient #1: quiet_hours: 'late' is not HH:MM-HH:MM",
        ),
        (
            RULE_X + 'business_hours = "Mon-Fri 09:00-17:00"\n',
            "rule 'x': business_hours: only a rule with `after` or `escalate_after` may have it",
        ),
        (
            RULE_X + 'before_due = "2d"\nbusiness_hours = "Mon-Fri 09:00-17:00"\n',
            "rule 'x': business_hours: only a rule with `after` or `escalate_after`",
        ),
        (
            RULE_X + 'escalate_after = "4h"\nbusiness_hours = "Mon-Fry 09:00-17:00"\n',
            "rule 'x': business_hours: 'Mon-Fry 09:00-17:00': 'Fry' is not a day",
        ),
        (
            RULE_X + 'escalate_after = "4h"\nbusiness_hours = "Mon-Fri 17:00-09:00"\n',
            "rule 'x': business_hours: 'Mon-Fri 17:00-09:00': the hours must start before",
        ),
        (
            RULE_X + 'escalate_after = "4h"\nbusiness_hours = ["Mon-Fri 09:00-17:00"]\n',
            "rule 'x': business_hours: ['Mon-Fri 09:00-17:00'] is not DAYS HH:MM-HH:MM",
        ),
        (
            RULE_X + 'after = "9999d"\nbusiness_hours = "Mon 09:00-09:01"\n',
            "rule 'x': business_hours: Mon 09:00-09:01 takes over ten years",
        ),
        ("[rules]\n", "rules: unknown table"),
        ("", "rule: the file has no [[rule]]"),
        ("[[rule]\n", "file: is not valid TOML"),
    ],
)
def test_a_bad_file_names_the_rule_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    message = _error(tmp_path, text)
    assert message.startswith(f"NOTIFICATION_RULES_FILE ({tmp_path / 'rules.toml'}): ")
    assert expected in message
    assert "\n" not in message


def test_a_bad_recipient_is_masked_in_the_error(tmp_path: Path) -> None:
    message = _error(tmp_path, '[[rule]]\nname = "x"\nnotify = ["+1 not-a-number@"]\n')
    assert "not-a-number" not in message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"file: cannot be read"):
        load_rules(tmp_path / "absent.toml", "US", "UTC")


def test_routing_by_amount_currency_and_vendor_with_one_message_per_recipient(
    tmp_path: Path,
) -> None:
    rules = _load(tmp_path, GOOD)

    def told(amount: str | None, currency: str | None, vendor: str | None) -> dict[str, str]:
        facts = InvoiceFacts(amount_of(amount), currency, vendor)
        planned = plan(
            rules, facts, entered_at=NOW, now=NOW, default_currency="USD", timezone="UTC"
        )
        return {p.recipient.address: p.rule.name for p in planned}

    small = told("99.50", "USD", "Initech")
    assert small == {"ap@acme.example": "everyone", "+14155550123": "everyone"}
    large = told("25000", None, "Initech")  # no currency: DEFAULT_CURRENCY
    assert large["controller@acme.example"] == "large invoices"
    assert large["ap@acme.example"] == "everyone"  # in two rules, told once, first rule
    assert "controller@acme.example" not in told("25000", "GBP", "Initech")
    assert "controller@acme.example" not in told(None, "USD", "Initech")
    assert "controller@acme.example" not in told("n/a", "USD", "Initech")
    assert "vm@acme.example" in told("1", "USD", "ACME Corp")
    assert "vm@acme.example" in told("1", "USD", "Müller GmbH")
    assert "vm@acme.example" in told("1", "USD", "a_bc")
    assert "vm@acme.example" not in told("1", "USD", "axbc")  # _ is literal, ? is one char
    assert "vm@acme.example" not in told("1", "USD", None)


def test_globs_become_like_patterns_with_like_wildcards_escaped() -> None:
    assert glob_to_like("acme*") == "acme%"
    assert glob_to_like("a_b?") == "a\\_b_"
    assert glob_to_like("100%") == "100\\%"
    assert glob_to_like("a\\b") == "a\\\\b"


def test_routes_carry_each_rule_and_recipient_in_file_order(tmp_path: Path) -> None:
    import json

    rows = json.loads(routes(_load(tmp_path, GOOD)))
    assert [(r["rule_position"], r["recipient"]) for r in rows][:3] == [
        (0, "ap@acme.example"),
        (0, "+14155550123"),
        (1, "controller@acme.example"),
    ]
    assert rows[2]["min_amount"] == "10000" and rows[2]["currencies"] == ["USD", "EUR"]
    assert rows[0]["currencies"] is None and rows[-1]["vendors"] == ["acme%", "%gmbh", "a\\_b_"]


def test_quiet_hours_are_read_with_the_recipients_time_zone(tmp_path: Path) -> None:
    quiet = '[[recipient]]\naddress = "+14155550123"\nquiet_hours = "21:00-07:00:30"\n'
    rules = _load(tmp_path, quiet + RULE_X)
    assert rules.quiet_hours().spans == {"+14155550123": ("UTC", time(21), time(7, 0, 30))}


def _plan(rules: Rules, due: date | None) -> set[tuple[str, str, str, datetime]]:
    facts = InvoiceFacts(None, None, None, due)
    planned = plan(rules, facts, entered_at=NOW, now=NOW, default_currency="USD", timezone="UTC")
    return {(p.recipient.address, p.rule.name, p.step, p.at) for p in planned}


def test_reminders_are_planned_at_their_moment_once_per_step_and_recipient(
    tmp_path: Path,
) -> None:
    rules = _load(tmp_path, REMINDERS)
    day = timedelta(days=1)
    notices = {
        ("ap@acme.example", "everyone", "notice", NOW),
        ("+14155550123", "everyone", "notice", NOW),
    }
    waiting = {
        # "after 24h" and "after 1d" are one step: ap hears once, from the first rule
        ("ap@acme.example", "still waiting", "after 86400s", NOW + day),
        ("boss@acme.example", "also waiting", "after 86400s", NOW + day),
    }
    assert _plan(rules, None) == notices | waiting  # no due date: no before_due
    due = datetime(2026, 12, 12, tzinfo=UTC)
    assert _plan(rules, due.date()) == notices | waiting | {
        ("controller@acme.example", "due soon", "before_due 172800s", due - 2 * day),
        ("ap@acme.example", "due soon", "before_due 172800s", due - 2 * day),
    }


def test_a_reminder_already_due_is_one_message_with_the_notice(tmp_path: Path) -> None:
    """Due tomorrow and `before_due = 2d`: it fires now, with the notice, as one message."""
    rules = _load(tmp_path, REMINDERS)
    due = datetime(2026, 12, 3, tzinfo=UTC)
    planned = _plan(rules, due.date())
    assert (
        "controller@acme.example",
        "due soon",
        "before_due 172800s",
        due - 2 * timedelta(1),
    ) in planned
    assert not any(p[0] == "ap@acme.example" and p[1] == "due soon" for p in planned)


def test_an_escalation_is_a_reminder_step_after_entering_review(tmp_path: Path) -> None:
    rules = _load(
        tmp_path,
        '[[rule]]\nname = "lead"\nnotify = ["lead@acme.example"]\nescalate_after = "4h"\n',
    )
    (rule,) = rules.rules
    assert (rule.timing, rule.offset) == ("after", timedelta(hours=4))


def test_an_escalation_may_count_business_hours_only(tmp_path: Path) -> None:
    text = """
[[recipient]]
address = "lead@acme.example"
timezone = "America/New_York"

[[rule]]
name = "lead"
notify = ["lead@acme.example", "controller@acme.example"]
escalate_after = "4h"
business_hours = "Mon-Fri 09:00-17:00"

[[rule]]
name = "waiting"
notify = ["ap@acme.example"]
after = "1d"
"""
    rules = _load(tmp_path, text)
    lead, waiting = rules.rules
    assert lead.business_hours is not None and lead.business_hours.text == "Mon-Fri 09:00-17:00"
    assert lead.step == "after 14400s"  # the same step: the row is written as before
    assert waiting.business_hours is None
    hours = rules.working_hours("Europe/Berlin")
    assert hours.rule_names == ["lead"]
    friday = datetime(2026, 6, 5, 20, 0, tzinfo=UTC)  # 16:00 in New York
    assert hours.moment("lead", "lead@acme.example", friday) == datetime(
        2026,
        6,
        8,
        16,
        0,
        tzinfo=UTC,  # Monday 12:00 in New York
    )
    assert hours.moment("lead", "controller@acme.example", friday) == datetime(
        2026,
        6,
        8,
        11,
        0,
        tzinfo=UTC,  # Monday 13:00 in Berlin, the default zone
    )
    assert hours.moment("waiting", "ap@acme.example", friday) is None
