"""Settings of the operator console: who may sign in, and how the session is kept.

A part of `reactor.settings.service.Settings`, in its own module like the receipts' settings.
The console is off unless CONSOLE_USERS is set.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG

MIN_SECRET_BYTES = 32


class ConsoleSettings(BaseSettings):
    """CONSOLE_USERS holds `NAME:HASH` entries, comma-separated (`reactor console add-user`)."""

    model_config = SETTINGS_CONFIG

    console_users: SecretStr | None = None  # password hashes: never printed
    console_secret_key: SecretStr | None = None
    console_session_hours: float = Field(default=8.0, gt=0, le=168)
    # A header an SSO proxy sets to the signed-in user's name (X-Forwarded-User),
    # believed only from TRUSTED_PROXIES.
    console_trusted_user_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")

    @field_validator("console_users")
    @classmethod
    def _entries_parse(cls, value: SecretStr | None) -> SecretStr | None:
        from reactor.support.console_auth import parse_users

        if value is None or not value.get_secret_value().strip():
            return None
        parse_users(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _console_has_a_key(self) -> ConsoleSettings:
        if self.console_users is None:
            return self
        key = self.console_secret_key.get_secret_value() if self.console_secret_key else ""
        if len(key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"CONSOLE_SECRET_KEY: required with CONSOLE_USERS, at least {MIN_SECRET_BYTES}"
                " bytes (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def console_enabled(self) -> bool:
        """Whether /console/ is served."""
        return self.console_users is not None
