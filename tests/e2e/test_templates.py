"""Templates you own and the reader's locale, through a real `reactor run` and the fake
providers: `templates preview` shows exactly what the provider then receives, an
override folder changes the email's subject, and a German reader gets German formats."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import EMAIL, PHONE, ReactorProcess, insert_invoices, query, run_cli

FLIP = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
RULES = f"""
[[rule]]
name = "everyone"
notify = ["{EMAIL}", "{PHONE}"]

[[recipient]]
address = "{EMAIL}"
locale = "de-DE"
"""


def test_the_preview_is_what_the_provider_receives_in_the_readers_locale(
    reactor_env: dict[str, str],
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "email_subject.txt.j2").write_text(
        "[AP] {{ reference }} ({{ vendor }}){% if reminder %} again{% endif %}"
    )
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    env = {**reactor_env, "TEMPLATES_DIR": str(templates), "NOTIFICATION_RULES_FILE": str(rules)}
    env["DIGEST_WINDOW_SECONDS"] = "0"
    del env["NOTIFICATION_RECIPIENTS"]
    (invoice,) = insert_invoices(database_url, 1, vendor="Müller & <Söhne>", amount="1250")
    html_file = tmp_path / "preview.html"

    def preview(*extra: str) -> str:
        result = run_cli(["templates", "preview", invoice, *extra], env, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.rstrip("\n")

    email = preview("--locale", "de-DE", "--out", str(html_file))
    sms = preview("--channel", "sms")
    assert email.startswith("Subject: [AP] ") and "1.250,00\xa0$" in email
    assert "Müller & <Söhne>" in email and "$1,250.00" in sms

    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, (invoice,))
        sendgrid.wait_for(1)
        twilio.wait_for(1)
    finally:
        process.stop()
    sent = sendgrid.accepted()[0].data
    parts = {part["type"]: part["value"] for part in sent["content"]}
    assert email == f"Subject: {sent['subject']}\n\n{parts['text/plain']}".rstrip("\n")
    assert html_file.read_text(encoding="utf-8") == parts["text/html"]
    assert "Müller &amp; &lt;Söhne&gt;" in parts["text/html"]
    assert sms == twilio.accepted()[0].data["Body"]


def test_a_broken_override_stops_start_up_naming_the_file(
    reactor_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "sms.txt.j2").write_text("{{ amount }}\n{% for x in %}")
    result = run_cli(["run"], {**reactor_env, "TEMPLATES_DIR": str(tmp_path)}, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"reactor: configuration error: TEMPLATES_DIR ({tmp_path}): sms.txt.j2 line 2: "
        "Expected an expression, got 'end of statement block'"
    ]
