"""`reactor rules explain` end to end: hostile invoice text, and when a held row really goes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes import FakeSendGrid
from tests.helpers import PHONE, ReactorProcess, insert_invoices, query, run_cli, scalar, wait_until

AP = "ap@acme.example"
# Paints the terminal red, then forges a line that looks like a row of the table.
SPOOF = "Evil\x1b[31m Corp\nap@acme.example  email  everyone  sent"
RULES = f"""
[[rule]]
name = "everyone"
notify = ["{AP}"]

[[rule]]
name = "evil\\u001b[0m vendors\\u202e"
notify = ["{PHONE}"]
vendor = ["evil*"]
"""
# Raw control characters (but the newline ending each line), DEL, C1 controls, bidi.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _explain(env: dict[str, str], invoice: str) -> str:
    result = run_cli(["rules", "explain", invoice], env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_explain_shows_hostile_invoice_text_escaped_and_keeps_its_table_whole(
    reactor_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    (rules := tmp_path / "rules.toml").write_text(RULES)
    (invoice,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW", vendor=SPOOF)
    query(
        database_url,
        "UPDATE invoices SET invoice_number = %s WHERE id = %s",
        ("INV\r\x7f-1\u202e", invoice),
    )
    out = _explain({**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}, invoice)
    assert not RAW.search(out), repr(out)
    assert "\\x1b" in out and "\\n" in out and "\\r\\x7f-1\\u202e" in out
    assert "Evil\\x1b[31m Corp\\nap@acme.example  email  everyone  sent" in out
    lines = out.splitlines()
    assert lines[1].split(None, 1) == ["vendor", SPOOF.encode("unicode_escape").decode()]
    # The table: header, rule, one line per message; nothing forged between them.
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("recipient"))) :]
    assert len(table) == 4, out
    assert table[2].startswith(AP) and "every invoice" in table[2]
    assert table[3].startswith(PHONE) and "evil\\x1b[0m vendors\\u202e" in table[3]
    assert "vendor matches 'evil*'" in table[3]
    assert "amount" in out and "1250.00" in out  # the facts it decided on


def test_explain_says_a_row_held_by_the_digest_window_goes_at_the_window_end(
    reactor_env: dict[str, str], database_url: str, sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    (rules := tmp_path / "rules.toml").write_text(RULES)
    env = {
        **reactor_env,
        "NOTIFICATION_RULES_FILE": str(rules),
        "DIGEST_WINDOW_SECONDS": "300",
    }
    first, second, third = insert_invoices(database_url, 3)
    flip = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
    held = "SELECT held FROM notifications WHERE invoice_id = %s"
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, flip, (first,))
        sendgrid.wait_for(1)  # the first goes at once and opens the window
        query(database_url, flip, (second,))
        wait_until(
            lambda: query(database_url, held, (second,)) == [("digest_window",)], what="held"
        )
    finally:
        process.stop()
    query(database_url, flip, (third,))  # no reactor: no rows yet, only the plan
    window: datetime = scalar(
        database_url, "SELECT open_until FROM recipient_windows WHERE recipient = %s", (AP,)
    )
    until = f"held by the digest window until {window.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    for invoice in (second, third):
        out = _explain(env, invoice)
        line = next(ln for ln in out.splitlines() if ln.startswith(AP))
        assert line.endswith(until), out
        assert "now" not in line.split("everyone")[-1], out
    sent = _explain(env, first)
    assert re.search(rf"^{AP} .* sent at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", sent, re.M), sent
    assert "in review since" in sent and "its current review episode" in sent
