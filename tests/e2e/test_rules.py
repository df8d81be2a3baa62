"""Notification rules end to end: routing in the intake statement, the commands, bad files."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import ReactorProcess, query, run_cli, scalar, wait_until

RULES = """
[[rule]]
name = "everyone"
notify = ["ap@acme.example", "+14155552671"]

[[rule]]
name = "large invoices"
notify = ["controller@acme.example", "AP@acme.example"]
min_amount = 10000
currency = ["USD"]

[[rule]]
name = "acme vendors"
notify = ["vm@acme.example"]
vendor = ["acme*"]
"""

# invoice -> (vendor, amount, currency): who must hear about it, and by which rule
INVOICES = {
    "small": ("Initech", "99.50", "USD"),
    "large": ("Initech", "25000.00", "USD"),
    "large euro acme": ("ACME Ltd", "25000.00", "EUR"),
    "large, no currency": ("Other", "20000.00", None),
}
EXPECTED = {
    "small": {("ap@acme.example", "everyone"), ("+14155552671", "everyone")},
    "large": {
        ("ap@acme.example", "everyone"),
        ("+14155552671", "everyone"),
        ("controller@acme.example", "large invoices"),
    },
    "large euro acme": {
        ("ap@acme.example", "everyone"),
        ("+14155552671", "everyone"),
        ("vm@acme.example", "acme vendors"),
    },
    "large, no currency": {  # DEFAULT_CURRENCY (USD) applies
        ("ap@acme.example", "everyone"),
        ("+14155552671", "everyone"),
        ("controller@acme.example", "large invoices"),
    },
}


def _insert(database_url: str, status: str) -> dict[str, str]:
    ids = {}
    for name, (vendor, amount, currency) in INVOICES.items():
        ids[name] = str(uuid.uuid4())
        query(
            database_url,
            "INSERT INTO invoices (id, invoice_number, vendor_name, total_amount, currency,"
            " matched_status) VALUES (%s, %s, %s, %s::numeric, %s, %s)",
            (ids[name], f"INV-{name}", vendor, amount, currency, status),
        )
    return ids


def test_rules_route_by_amount_currency_and_vendor_and_tell_each_recipient_once(
    reactor_env: dict[str, str],
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    env = {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}  # RECIPIENTS stays set
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        ids = _insert(database_url, "NEEDS_REVIEW")
        total = sum(len(told) for told in EXPECTED.values())
        wait_until(
            lambda: (
                scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'")
                == total
            ),
            what=f"{total} rows SENT",
        )
    finally:
        process.stop()
    rows = query(
        database_url, "SELECT invoice_id::text, recipient, rule_name, kind FROM notifications"
    )
    by_invoice = {name: {(r[1], r[2]) for r in rows if r[0] == ids[name]} for name in ids}
    assert by_invoice == EXPECTED
    assert {r[3] for r in rows} == {"notice"}
    accepted = [str(r.recipient) for r in (*sendgrid.accepted(), *twilio.accepted())]
    assert len(accepted) == total  # nobody twice, nobody outside the rules
    assert "ap-team@example.com" not in accepted  # NOTIFICATION_RECIPIENTS is ignored ...
    warnings = [line for line in process.output().splitlines() if "is ignored" in line]
    assert len(warnings) == 1  # ... with one warning


def test_rules_explain_says_who_and_why(
    reactor_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    ids = _insert(database_url, "MATCHED")
    env = {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}
    result = run_cli(["rules", "explain", ids["large euro acme"]], env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("vm@acme.example" in line and "acme vendors" in line for line in lines)
    assert not any("controller@acme.example" in line for line in lines)
    missing = run_cli(["rules", "explain", str(uuid.uuid4())], env)
    assert missing.returncode == 1 and "no invoice" in missing.stderr


def test_rules_check_prints_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    result = run_cli(["rules", "check", str(rules)], {})
    assert result.returncode == 0, result.stderr
    assert "3 rule(s)" in result.stdout
    assert "amount >= 10000; currency in USD" in result.stdout


def test_a_bad_rules_file_stops_start_up_naming_the_rule_and_the_field(
    reactor_env: dict[str, str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.replace("min_amount = 10000", "min_amount = 10000\nmin_amont = 5"))
    for args in (["run"], ["rules", "check"], ["sweep"]):
        result = run_cli(args, {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        line = result.stderr.strip()
        assert "\n" not in line
        assert (
            f"NOTIFICATION_RULES_FILE ({rules}): rule 'large invoices': min_amont: unknown" in line
        )
