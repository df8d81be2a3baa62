"""Settings of the delivery receipts: where the providers reach us, and whom to trust.

A part of `reactor.settings.service.Settings`, kept in its own module so that each stays
small; the same rules apply (environment and `.env`, one clear line when wrong).
"""

from __future__ import annotations

import ipaddress
from functools import cached_property

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"


class ReceiptSettings(BaseSettings):
    """Receipts are on when PUBLIC_BASE_URL is set: the address the providers call back."""

    model_config = SETTINGS_CONFIG

    public_base_url: AnyHttpUrl | None = None
    # SendGrid's signed Event Webhook: the verification key (base64 DER, as SendGrid
    # shows it); without it the SendGrid route refuses every request.
    sendgrid_webhook_public_key: str | None = None
    webhook_max_age_seconds: int = Field(default=600, ge=10, le=86_400)
    # Proxies whose X-Forwarded-Proto/-Host (and X-Forwarded-For) are believed:
    # comma-separated addresses or networks (10.0.0.0/8). Empty: none.
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return value

    @field_validator("sendgrid_webhook_public_key")
    @classmethod
    def _key_loads(cls, value: str | None) -> str | None:
        if not value:
            return None
        from sendgrid.helpers.eventwebhook import EventWebhook

        try:
            EventWebhook().convert_public_key_to_ecdsa(value.strip())
        except (ValueError, TypeError):
            raise ValueError("is not a SendGrid verification key (base64 DER)") from None
        return value.strip()

    @cached_property
    def proxy_networks(self) -> tuple[Network, ...]:
        """TRUSTED_PROXIES, parsed."""
        entries = filter(None, (e.strip() for e in self.trusted_proxies.split(",")))
        return tuple(ipaddress.ip_network(e, strict=False) for e in entries)

    def trusted_proxy(self, address: str | None) -> bool:
        """Whether a request from `address` may speak for the client (X-Forwarded-*)."""
        if not address or not self.proxy_networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxy_networks)

    @property
    def twilio_status_callback(self) -> str | None:
        """The status callback URL every SMS is created with (None: receipts are off)."""
        if self.public_base_url is None:
            return None
        return str(self.public_base_url).rstrip("/") + TWILIO_STATUS_PATH
