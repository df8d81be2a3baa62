"""Settings of taking an invoice from a message (a part of `Settings`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG


class TakingSettings(BaseSettings):
    """The key that signs "I'll take it" links; links need PUBLIC_BASE_URL too."""

    model_config = SETTINGS_CONFIG

    # Unset: messages carry no take link. At least 32 characters; rotating it voids
    # the links already sent.
    link_secret_key: SecretStr | None = None
    # A link older than this is refused even while its episode is open.
    link_max_age_days: int = Field(default=30, ge=1, le=365)
    # With take links on and Twilio sending SMS: each single-invoice SMS ends with a
    # reply code, and replies to /webhooks/twilio/inbound take the invoice.
    sms_reply_codes: bool = True
    # How often the messages already sent are brought up to date: Slack's rewritten
    # (left review, taken), the others told who took an invoice.
    after_take_seconds: float = Field(default=5.0, ge=0.2, le=300.0)

    @field_validator("link_secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")  # never print the value
        return value
