"""Settings of the chat channels (a part of `Settings`): Slack."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (a test's fake, a local proxy)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class ChatSettings(BaseSettings):
    """Slack through its Web API (`chat.postMessage`) with a bot token."""

    model_config = SETTINGS_CONFIG

    # `auto`: Slack when SLACK_BOT_TOKEN is set; `console` logs the messages instead.
    slack_transport: Literal["auto", "slack", "console"] = "auto"
    slack_bot_token: SecretStr | None = Field(default=None)
    # The Web API's base; another one for a proxy (or a test's fake).
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")

    @field_validator("slack_transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-…)")  # never print the value
        return value

    @field_validator("slack_api_url", mode="before")
    @classmethod
    def _https_unless_loopback(cls, value: object) -> object:
        # One line that does not print the URL: it may carry a secret.
        parts = urlsplit(str(value))
        if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
            return value if str(value).endswith("/") else f"{value}/"
        raise ValueError("must be an https:// URL (plain http only on a loopback address)")

    @property
    def slack_transport_in_use(self) -> Literal["slack", "console"]:
        """Which transport delivers to Slack (`auto` resolved)."""
        if self.slack_transport == "auto":
            return "slack" if self.slack_bot_token else "console"
        return self.slack_transport
