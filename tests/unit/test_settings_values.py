"""Settings: every bad value stops start-up with exit 2 and one line naming it (in process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor.ops.cli import main
from reactor.settings.service import Settings

GOOD = {
    "NOTIFICATION_RECIPIENTS": "ap@example.com,+14155552671",
    "DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/db",
}


def _refused(
    command: str,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[str, str]:
    """Run the command in this process (the CLI's own entry point, for speed; the
    real-process path is tests/e2e/test_settings.py): it exits 2; its stdout and stderr."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main([command]) == 2
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"REVIEW_NOTIFICATION_INTERVAL": "4"}, "REVIEW_NOTIFICATION_INTERVAL"),
        ({"REVIEW_NOTIFICATION_INTERVAL": "1441"}, "REVIEW_NOTIFICATION_INTERVAL"),
        ({"REVIEW_NOTIFICATION_INTERVAL": "soon"}, "REVIEW_NOTIFICATION_INTERVAL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://"}, "DATABASE_URL"),
        ({"LISTENER_DATABASE_URL": "redis://cache"}, "LISTENER_DATABASE_URL"),
        ({"SEND_CONCURRENCY": "0"}, "SEND_CONCURRENCY"),
        ({"FRONTEND_BASE_URL": "not a url"}, "FRONTEND_BASE_URL"),
        ({"FRONTEND_BASE_URL": "ftp://files.example.com"}, "FRONTEND_BASE_URL"),
        ({"NOTIFICATION_RECIPIENTS": ""}, "NOTIFICATION_RECIPIENTS"),
        ({"NOTIFICATION_RECIPIENTS": " , ,"}, "NOTIFICATION_RECIPIENTS"),
        ({"NOTIFICATION_RECIPIENTS": "nobody,12,@example.com"}, "NOTIFICATION_RECIPIENTS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DIGEST_WINDOW_SECONDS": "-1"}, "DIGEST_WINDOW_SECONDS"),
        ({"REVIEW_QUEUE_PATH": "queue"}, "REVIEW_QUEUE_PATH"),
        ({"PUBLIC_BASE_URL": "reactor.acme.example"}, "PUBLIC_BASE_URL"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8, the load balancer"}, "TRUSTED_PROXIES"),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": "not-a-key"}, "SENDGRID_WEBHOOK_PUBLIC_KEY"),
        ({"WEBHOOK_MAX_AGE_SECONDS": "0"}, "WEBHOOK_MAX_AGE_SECONDS"),
        ({"CONSOLE_USERS": "alice:plaintext"}, "CONSOLE_USERS"),
        (
            {"CONSOLE_USERS": "alice:scrypt.16384.8.1.00.00", "CONSOLE_SECRET_KEY": "short"},
            "CONSOLE_SECRET_KEY",
        ),
        ({"CONSOLE_USERS": "alice:scrypt.16384.8.1.00.00"}, "CONSOLE_SECRET_KEY"),
        ({"PORT": "70000"}, "PORT"),
        ({"SENDGRID_API_KEY": "SG.x"}, "SENDGRID_FROM_EMAIL"),
        ({"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, "TWILIO_AUTH_TOKEN"),
        # An explicit provider whose Secret lacks its key: never a silent console fallback.
        ({"EMAIL_TRANSPORT": "sendgrid"}, "SENDGRID_API_KEY"),
        ({"SMS_TRANSPORT": "twilio"}, "TWILIO_ACCOUNT_SID"),
        (
            {"SMS_TRANSPORT": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32},
            "TWILIO_AUTH_TOKEN",
        ),
        ({"EMAIL_TRANSPORT": "smtp"}, "SMTP_URL"),
        ({"EMAIL_TRANSPORT": "smtp", "SMTP_URL": "smtp://relay.acme.example"}, "SMTP_FROM"),
        ({"SMTP_URL": "http://relay.acme.example"}, "SMTP_URL"),
        ({"SMTP_URL": "smtp://user:pw@relay.acme.example:port"}, "SMTP_URL"),
        ({"EMAIL_TRANSPORT": "carrier-pigeon"}, "EMAIL_TRANSPORT"),
        ({"SMS_TRANSPORT": "sendgrid"}, "SMS_TRANSPORT"),
        ({"DATABASE_PREPARED_STATEMENTS": "maybe"}, "DATABASE_PREPARED_STATEMENTS"),
        ({"RETENTION_DAYS": "-1"}, "RETENTION_DAYS"),
        ({"DISPATCHER_STALL_SECONDS": "0"}, "DISPATCHER_STALL_SECONDS"),
        # Slack: a recipient there needs the bot token; the API only over https.
        ({"NOTIFICATION_RECIPIENTS": "slack:#ap-review"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_TRANSPORT": "slack"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_API_URL": "http://proxy.acme.example/api/"}, "SLACK_API_URL"),
        ({"SLACK_TRANSPORT": "teams"}, "SLACK_TRANSPORT"),
        # Teams: a recipient names a webhook that must exist; its URL https.
        ({"NOTIFICATION_RECIPIENTS": "teams:finance"}, "TEAMS_WEBHOOKS"),
        ({"TEAMS_TRANSPORT": "teams"}, "TEAMS_WEBHOOKS"),
        ({"TEAMS_WEBHOOKS": "finance=ftp://h.example/x"}, "TEAMS_WEBHOOKS"),
        ({"TEAMS_WEBHOOKS": "fin ance=https://h.example/x"}, "TEAMS_WEBHOOKS"),
    ],
)
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_bad_setting_exits_2_naming_it(
    overrides: dict[str, str],
    variable: str,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = _refused(command, {**GOOD, **overrides}, monkeypatch, tmp_path, capsys)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert variable in lines[0]
    assert "pw" not in err and out == ""


@pytest.mark.parametrize(
    ("setting", "listener_url", "prepared"),
    [
        ("auto", None, True),  # a direct DATABASE_URL
        ("auto", "postgresql://u@direct:5432/db", False),  # DATABASE_URL is a pooler
        ("false", None, False),
        ("TRUE", "postgresql://u@direct:5432/db", True),
    ],
)
def test_prepared_statements_follow_the_setting(
    setting: str, listener_url: str | None, prepared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    values = {**GOOD, "DATABASE_PREPARED_STATEMENTS": setting}
    if listener_url:
        values["LISTENER_DATABASE_URL"] = listener_url
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in values.items()})
    assert settings.prepare_statements is prepared


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_API_URL", "http://proxy.acme.example/secret-path/"),
        ("SLACK_BOT_TOKEN", "xoxp-a-user-token-not-a-bot-one"),
        ("SLACK_SIGNING_SECRET", "secret-path"),
        ("TEAMS_WEBHOOKS", "finance=http://h.example/secret-path?sig=xyz"),
    ],
)
def test_a_bad_slack_setting_is_named_but_never_printed(
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, err = _refused("run", {**GOOD, variable: value}, monkeypatch, tmp_path, capsys)
    assert variable in err and value not in err and "secret-path" not in err
