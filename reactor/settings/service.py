"""Settings from the environment and an optional `.env`, validated at start-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings

from reactor.db.connections import libpq_url
from reactor.domain.enums import Channel
from reactor.messages.renderer import MessageRenderer
from reactor.messages.template_checks import check_templates
from reactor.policy.recipients import RecipientList, parse_locale, parse_recipients
from reactor.policy.rules import Rules, RulesError, configured_rules, valid_timezone
from reactor.settings.chat import ChatSettings
from reactor.settings.console import ConsoleSettings
from reactor.settings.receipts import SETTINGS_CONFIG, ReceiptSettings
from reactor.settings.smtp import SmtpSettings
from reactor.settings.taking import TakingSettings
from reactor.settings.upstream import UpstreamSettings

SettingsT = TypeVar("SettingsT", bound="DatabaseSettings")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


class DatabaseSettings(BaseSettings):
    """Where the database is: all that `reactor migrate` needs."""

    model_config = SETTINGS_CONFIG

    database_url: str | None = None  # unset: the embedded server (embedded.py)
    # The listener's own connection, when DATABASE_URL is a pooler that drops LISTEN
    # (PgBouncer in transaction mode); migrations use it too (DDL with a lock timeout).
    listener_database_url: str | None = None
    reactor_data_dir: Path | None = None  # unset: embedded.default_data_dir()
    # How long a migration waits for a lock on the upstream invoices table.
    migrate_lock_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    # Retention of delivery records (personal data); 0 keeps everything.
    retention_days: int = Field(default=365, ge=0, le=36_500)

    @field_validator(
        "database_url", "listener_database_url", "upstream_database_url", check_fields=False
    )
    @classmethod
    def _database_url_parses(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        url = libpq_url(value)
        try:
            parts = conninfo_to_dict(url)
        except Exception as error:
            raise ValueError("is not a valid PostgreSQL URL") from error
        if not parts.get("host") and not parts.get("hostaddr"):
            raise ValueError("has no host (e.g. postgresql://user:pass@host:5432/db)")
        return value


class Settings(
    DatabaseSettings,
    ReceiptSettings,
    SmtpSettings,
    ConsoleSettings,
    UpstreamSettings,
    ChatSettings,
    TakingSettings,
):
    """Every setting of the service. Names are the environment variables, upper-cased."""

    # Prepared statements on the pooled connections: not through PgBouncer in transaction
    # mode. `auto`: on, unless LISTENER_DATABASE_URL is set (DATABASE_URL is pooled).
    database_prepared_statements: Literal["auto", "true", "false"] = "auto"

    # Who is told, and what they get.
    default_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # Without a rules file, everyone here hears of every invoice; with one, it alone decides.
    notification_recipients: str = ""
    notification_rules_file: Path | None = None
    default_timezone: str = "UTC"
    # The messages' language and formats, for recipients without a `locale` of their own.
    default_locale: str = "en-US"
    # A folder of templates overriding the built-in ones by name (docs/templates.md).
    templates_dir: Path | None = None
    frontend_base_url: AnyHttpUrl = AnyHttpUrl("http://localhost:3000")
    invoice_link_path: str = "/invoices/{id}"
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    sms_max_segments: int = Field(default=1, ge=1, le=10)
    digest_window_seconds: int = Field(default=300, ge=0, le=86_400)  # 0: off; digests.py
    review_queue_path: str = Field(default="/invoices?status=NEEDS_REVIEW", pattern=r"^/")

    # Which transport each channel uses; `auto` picks the provider when its
    # credentials are set, else the console (a first run only).
    email_transport: Literal["auto", "sendgrid", "smtp", "console"] = "auto"
    sms_transport: Literal["auto", "twilio", "console"] = "auto"

    # SendGrid (email). No API key: email goes to the console transport.
    sendgrid_api_key: SecretStr | None = None
    sendgrid_from_email: str | None = None
    sendgrid_api_host: AnyHttpUrl = AnyHttpUrl("https://api.sendgrid.com")

    # Twilio (SMS). No account SID and token: SMS goes to the console transport.
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    twilio_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api.twilio.com")

    # A CA bundle (PEM) both transports trust; unset: the system store (SSL_CERT_FILE).
    provider_ca_bundle: Path | None = None

    # Delivery behaviour.
    provider_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    send_concurrency: int = Field(default=200, ge=1, le=1000)
    claim_batch_size: int = Field(default=200, ge=1, le=10_000)
    lease_seconds: int = Field(default=120, ge=5, le=3600)
    max_attempts: int = Field(default=15, ge=1, le=100)
    retry_base_seconds: float = Field(default=30.0, gt=0, le=86_400)
    retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    # Readiness fails when a dispatcher pass makes no progress for this long.
    dispatcher_stall_seconds: float = Field(default=120.0, ge=1, le=3600)

    # Sweep and listener.
    review_notification_interval: int = Field(default=30, ge=5, le=1440)
    listener_timeout_seconds: float = Field(default=30.0, ge=1, le=600)
    # Off only to measure the old polling design: then just the periodic sweep sends.
    listener_enabled: bool = True

    # Process.
    host: str = "0.0.0.0"
    port: int = Field(default=8006, ge=1, le=65535)
    log_level: LogLevel = "INFO"
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("invoice_link_path")
    @classmethod
    def _path_has_id(cls, value: str) -> str:
        if not value.startswith("/") or "{id}" not in value:
            raise ValueError("must start with / and contain {id}, e.g. /invoices/{id}")
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale_is_known(cls, value: str) -> str:
        parse_locale(value)
        return value

    @property
    def locale(self) -> str:
        """DEFAULT_LOCALE in Babel's form (`en_US`)."""
        return parse_locale(self.default_locale)

    @field_validator("default_timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        if not valid_timezone(value):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)")
        return value

    @model_validator(mode="after")
    def _templates_work(self) -> Settings:
        if self.templates_dir is not None:
            try:
                locales = list(self.rules.locales().values())
            except (RulesError, ValueError):  # no rules: an operator command
                locales = []
            check_templates(self.renderer(), self.templates_dir, locales)
        return self

    def renderer(self) -> MessageRenderer:
        """The message renderer for these settings."""
        return MessageRenderer(
            frontend_base_url=str(self.frontend_base_url),
            invoice_path=self.invoice_link_path,
            default_currency=self.default_currency,
            sms_max_segments=self.sms_max_segments,
            review_queue_path=self.review_queue_path,
            default_locale=self.locale,
            templates_dir=self.templates_dir,
        )

    @model_validator(mode="after")
    def _someone_is_told(self) -> Settings:
        self.__dict__["rules"] = _rules_of(self)  # the cached property, checked now
        in_slack = self.recipients.for_channel(Channel.SLACK)
        if in_slack and self.slack_transport == "auto" and not self.slack_bot_token:
            raise ValueError(
                "SLACK_BOT_TOKEN: required by the slack: recipients (or SLACK_TRANSPORT=console "
                "to log their messages instead)"
            )
        self._teams_recipients_have_webhooks()
        return self

    def _teams_recipients_have_webhooks(self) -> None:
        in_teams = self.recipients.for_channel(Channel.TEAMS)
        if not in_teams or self.teams_transport == "console":
            return
        webhooks = self.teams_webhook_urls
        for recipient in in_teams:
            name = recipient.address.removeprefix("teams:")
            if name not in webhooks:
                raise ValueError(
                    f"TEAMS_WEBHOOKS: no webhook named {name!r} (the recipient "
                    f"{recipient.address} needs one; or TEAMS_TRANSPORT=console)"
                )

    @field_validator("provider_ca_bundle")
    @classmethod
    def _ca_bundle_is_a_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @field_validator("sendgrid_from_email")
    @classmethod
    def _from_email_is_valid(cls, value: str | None) -> str | None:
        if value and "@" not in value:
            raise ValueError("is not an email address")
        return value or None

    @field_validator(
        "email_transport", "sms_transport", "database_prepared_statements", mode="before"
    )
    @classmethod
    def _lower_transport(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        self._explicit_transports_have_credentials()
        if self.sendgrid_api_key and not self.sendgrid_from_email:
            raise ValueError("SENDGRID_FROM_EMAIL: required when SENDGRID_API_KEY is set")
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: set both or neither")
        if self.twilio_account_sid and not (
            self.twilio_from_number or self.twilio_messaging_service_sid
        ):
            raise ValueError(
                "TWILIO_FROM_NUMBER: required (or TWILIO_MESSAGING_SERVICE_SID) "
                "with Twilio credentials"
            )
        if self.retry_cap_seconds < self.retry_base_seconds:
            raise ValueError("RETRY_CAP_SECONDS: must not be smaller than RETRY_BASE_SECONDS")
        return self

    def _explicit_transports_have_credentials(self) -> None:
        """An explicitly chosen provider must have its credentials: never a silent fallback."""
        needed: list[tuple[str, object]] = []
        if self.email_transport == "smtp":
            needed = [("SMTP_URL", self.smtp_url), ("SMTP_FROM", self.smtp_from)]
        if self.email_transport == "sendgrid":
            needed = [("SENDGRID_API_KEY", self.sendgrid_api_key)]
        if self.sms_transport == "twilio":
            needed += [
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
            ]
        if self.slack_transport == "slack":
            needed += [("SLACK_BOT_TOKEN", self.slack_bot_token)]
        if self.teams_transport == "teams":
            needed += [("TEAMS_WEBHOOKS", self.teams_webhook_urls)]
        for name, value in needed:
            if not value:
                transport = {"SENDGRID": "EMAIL", "SMTP": "EMAIL", "TWILIO": "SMS"}.get(
                    name.split("_")[0], name.split("_")[0]
                )
                chosen = self.transport_setting(transport.lower())
                raise ValueError(f"{name}: required by {transport}_TRANSPORT={chosen} but not set")

    @cached_property
    def rules(self) -> Rules:
        """Who is told about which invoice: the rules file, or the implicit rule."""
        return _rules_of(self)

    @cached_property
    def recipients(self) -> RecipientList:
        """Everyone the rules may tell, de-duplicated; the entries skipped as invalid."""
        if self.notification_rules_file is None:
            return parse_recipients(self.notification_recipients, self.default_phone_region)
        everyone = dict.fromkeys(r for rule in self.rules.rules for r in rule.notify)
        return RecipientList(tuple(everyone), ())

    def secret_values(self) -> list[str]:
        """Every credential in these settings, for the log redactor."""
        values = [
            s.get_secret_value()
            for s in (
                self.sendgrid_api_key,
                self.twilio_auth_token,
                self.slack_bot_token,
                self.slack_signing_secret,
                self.link_secret_key,
            )
            if s is not None
        ]
        for url in (self.database_url, self.listener_database_url):
            password = conninfo_to_dict(libpq_url(url)).get("password") if url else None
            if password:
                values.append(str(password))
        for url in self.teams_webhook_urls.values():  # the URL, and its signature alone
            values += [url, *([urlsplit(url).query] if urlsplit(url).query else [])]
        return values + self.smtp_secret_values()

    @property
    def prepare_statements(self) -> bool:
        """Whether the pool prepares statements on the server (`auto` resolved)."""
        if self.database_prepared_statements == "auto":
            return not self.listener_database_url
        return self.database_prepared_statements == "true"

    def transport_setting(self, channel: str) -> str:
        """The channel's *_TRANSPORT as configured (`auto` or a transport)."""
        return {
            Channel.EMAIL: self.email_transport,
            Channel.SMS: self.sms_transport,
            Channel.SLACK: self.slack_transport,
            Channel.TEAMS: self.teams_transport,
        }[Channel(channel)]

    @property
    def email_transport_in_use(self) -> Literal["sendgrid", "smtp", "console"]:
        """Which transport delivers email (`auto` resolved: SendGrid, else SMTP, else console)."""
        if self.email_transport != "auto":
            return self.email_transport
        if self.sendgrid_api_key:
            return "sendgrid"
        return "smtp" if self.smtp_url and self.smtp_from else "console"

    @property
    def sms_transport_in_use(self) -> Literal["twilio", "console"]:
        """Which transport delivers SMS (`auto` resolved)."""
        if self.sms_transport == "auto":
            return "twilio" if self.twilio_account_sid else "console"
        return "twilio" if self.sms_transport == "twilio" else "console"

    @property
    def take_links(self) -> tuple[str, bytes] | None:
        """(the take page's base URL, the signing key) when links are on, else None."""
        if self.public_base_url is None or self.link_secret_key is None:
            return None
        base = str(self.public_base_url).rstrip("/") + "/take/"
        return base, self.link_secret_key.get_secret_value().encode()

    @property
    def sms_replies(self) -> bool:
        """Whether SMS carry reply codes and Twilio's inbound webhook takes replies."""
        return bool(
            self.sms_reply_codes
            and self.take_links is not None
            and self.sms_transport_in_use == "twilio"
            and self.twilio_auth_token
        )

    @property
    def slack_take_button(self) -> bool:
        """Whether Slack messages carry Slack's own take button (an interaction) instead
        of the take link: take links on and SLACK_SIGNING_SECRET set."""
        return self.take_links is not None and self.slack_signing_secret is not None

    @property
    def sweep_interval_seconds(self) -> float:
        """The periodic sweep's period."""
        return self.review_notification_interval * 60.0


class OperatorSettings(Settings):
    """Every setting checked, but no rules needed: status, retry, prune and migrate."""

    @model_validator(mode="after")
    def _someone_is_told(self) -> OperatorSettings:  # overrides Settings' check
        return self


def _rules_of(settings: Settings) -> Rules:
    return configured_rules(
        settings.notification_rules_file,
        settings.notification_recipients,
        settings.default_phone_region,
        settings.default_timezone,
    )


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["loc"]:
        name = str(first["loc"][0]).upper()
        if first["type"] == "missing":
            return f"{name}: required but not set"
        return f"{name}: {message}"
    return message  # model-level checks name their variables themselves


# mypy cannot check a TypeVar's default against its bound: the ignore is for `= Settings`.
def load_settings(kind: type[SettingsT] = Settings, **overrides: Any) -> SettingsT:  # type: ignore[assignment]
    """Read and validate the settings; raise ConfigError naming the first bad one."""
    try:
        return kind(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
