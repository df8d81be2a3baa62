"""Settings of email through the company's own SMTP relay, and of failing over to it.

A part of `reactor.settings.service.Settings`, in its own module like the receipts' settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    """Where the relay is and how to speak to it (parsed from SMTP_URL)."""

    host: str
    port: int
    implicit_tls: bool  # smtps://: TLS from the first byte; smtp://: STARTTLS, required
    username: str | None
    password: str | None

    def redacted(self) -> str:
        """The URL with its credentials replaced, safe to print."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = "***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://user:pass@host:587` or `smtps://user:pass@host:465`; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
    if not parts.hostname:
        raise ValueError("has no host (e.g. smtp://user:pass@smtp.acme.example:587)")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpSettings(BaseSettings):
    """EMAIL_TRANSPORT=smtp sends through SMTP_URL; with sendgrid, SMTP_URL is the failover."""

    model_config = SETTINGS_CONFIG

    smtp_url: SecretStr | None = None  # credentials inside: never printed
    smtp_from: str | None = None
    # SendGrid attempts that failed transiently before an email goes through SMTP.
    email_failover_after: int = Field(default=2, ge=1, le=100)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parse_smtp_url(value.get_secret_value())
        return value

    @property
    def smtp_server(self) -> SmtpServer | None:
        """SMTP_URL, parsed (None when unset)."""
        return parse_smtp_url(self.smtp_url.get_secret_value()) if self.smtp_url else None

    def smtp_secret_values(self) -> list[str]:
        """SMTP_URL and its password, for the log redactor."""
        smtp = self.smtp_server
        if smtp is None or not smtp.password or self.smtp_url is None:
            return []
        return [smtp.password, self.smtp_url.get_secret_value()]
