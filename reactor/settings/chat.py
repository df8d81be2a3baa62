"""Settings of the chat channels (a part of `Settings`): Slack, and Microsoft Teams."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG
from reactor.support.masking import TEAMS_NAME


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (a test's fake, a local proxy)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _provider_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


def parse_webhooks(raw: str) -> dict[str, str]:
    """`finance=https://…,ops=https://…` -> {name: url}; a ValueError that never shows a URL."""
    webhooks: dict[str, str] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, _, url = part.partition("=")
        name, url = name.strip().lower(), url.strip()
        if not TEAMS_NAME.fullmatch(name):
            raise ValueError(f"{name[:40]!r} is not a webhook name (letters, digits, - and _)")
        if not _provider_url(url) or not urlsplit(url).hostname:
            raise ValueError(
                f"the webhook {name!r} must be an https:// URL (plain http only on a loopback "
                "address)"
            )
        webhooks[name] = url
    return webhooks


class ChatSettings(BaseSettings):
    """Slack through its Web API (`chat.postMessage`) with a bot token; Teams channels
    through Workflows webhooks, whose URLs are secrets."""

    model_config = SETTINGS_CONFIG

    # `auto`: Slack when SLACK_BOT_TOKEN is set; `console` logs the messages instead.
    slack_transport: Literal["auto", "slack", "console"] = "auto"
    slack_bot_token: SecretStr | None = Field(default=None)
    # The Web API's base; another one for a proxy (or a test's fake).
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")
    # The Slack app's signing secret: with take links on, the take button becomes Slack's
    # own (a signed interaction to /webhooks/slack/interactions). Never logged, never shown.
    slack_signing_secret: SecretStr | None = None

    # `auto`: Teams when TEAMS_WEBHOOKS is set; `console` logs the cards instead.
    teams_transport: Literal["auto", "teams", "console"] = "auto"
    # name=URL pairs: each Teams channel's Workflows webhook. Never logged, never shown.
    teams_webhooks: SecretStr | None = None

    @field_validator("slack_transport", "teams_transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-…)")  # never print the value
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be the Slack app's signing secret")  # never print it
        return value

    @field_validator("slack_api_url", mode="before")
    @classmethod
    def _https_unless_loopback(cls, value: object) -> object:
        # One line that does not print the URL: it may carry a secret.
        if _provider_url(str(value)):
            return value if str(value).endswith("/") else f"{value}/"
        raise ValueError("must be an https:// URL (plain http only on a loopback address)")

    @field_validator("teams_webhooks")
    @classmethod
    def _webhooks_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_webhooks(value.get_secret_value())
        return value

    @property
    def teams_webhook_urls(self) -> dict[str, str]:
        """Each Teams channel's name and its webhook's URL (a secret)."""
        raw = self.teams_webhooks.get_secret_value() if self.teams_webhooks else ""
        return parse_webhooks(raw)

    @property
    def teams_transport_in_use(self) -> Literal["teams", "console"]:
        """Which transport delivers to Teams (`auto` resolved)."""
        if self.teams_transport == "auto":
            return "teams" if self.teams_webhook_urls else "console"
        return self.teams_transport

    @property
    def slack_transport_in_use(self) -> Literal["slack", "console"]:
        """Which transport delivers to Slack (`auto` resolved)."""
        if self.slack_transport == "auto":
            return "slack" if self.slack_bot_token else "console"
        return self.slack_transport
