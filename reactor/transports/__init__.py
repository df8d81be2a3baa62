"""Transports: SendGrid or an SMTP relay (email), Twilio (SMS), Slack, Teams, and the log.

The fallback is the `console` transport: it writes the message to the log.
"""

from __future__ import annotations

from reactor.domain.enums import Channel
from reactor.settings.service import Settings
from reactor.transports.base import Transport
from reactor.transports.log import LogTransport

__all__ = ["Transport", "build_transports", "email_failover"]


def smtp_transport(settings: Settings) -> Transport | None:
    """The SMTP relay's transport when SMTP_URL and SMTP_FROM are set."""
    server = settings.smtp_server
    if server is None or not settings.smtp_from:
        return None
    from reactor.transports.smtp import SmtpTransport

    ca_bundle = str(settings.provider_ca_bundle) if settings.provider_ca_bundle else None
    return SmtpTransport(
        server, settings.smtp_from, settings.provider_timeout_seconds, ca_bundle=ca_bundle
    )


def email_failover(settings: Settings) -> Transport | None:
    """SMTP as SendGrid's failover: EMAIL_TRANSPORT resolves to sendgrid and SMTP_URL is set."""
    if settings.email_transport_in_use != "sendgrid":
        return None
    return smtp_transport(settings)


def build_transports(settings: Settings) -> dict[Channel, Transport]:
    """The transport for each channel: the provider when configured, else the console."""
    transports: dict[Channel, Transport] = {}
    ca_bundle = str(settings.provider_ca_bundle) if settings.provider_ca_bundle else None
    if settings.email_transport_in_use == "sendgrid":
        assert settings.sendgrid_api_key and settings.sendgrid_from_email  # checked at start-up
        from reactor.transports.sendgrid import SendGridTransport

        transports[Channel.EMAIL] = SendGridTransport(
            api_key=settings.sendgrid_api_key.get_secret_value(),
            from_email=settings.sendgrid_from_email,
            host=str(settings.sendgrid_api_host),
            timeout=settings.provider_timeout_seconds,
            ca_bundle=ca_bundle,
            max_connections=settings.send_concurrency,
        )
    elif settings.email_transport_in_use == "smtp":
        smtp = smtp_transport(settings)
        assert smtp is not None  # checked at start-up
        transports[Channel.EMAIL] = smtp
    else:
        transports[Channel.EMAIL] = LogTransport(Channel.EMAIL)
    if settings.sms_transport_in_use == "twilio":
        assert settings.twilio_account_sid and settings.twilio_auth_token  # checked at start-up
        from reactor.transports.twilio import TwilioTransport

        transports[Channel.SMS] = TwilioTransport(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            base_url=str(settings.twilio_api_base_url),
            timeout=settings.provider_timeout_seconds,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            ca_bundle=ca_bundle,
            max_connections=settings.send_concurrency,
            status_callback=settings.twilio_status_callback,
        )
    else:
        transports[Channel.SMS] = LogTransport(Channel.SMS)
    if settings.recipients.for_channel(Channel.SLACK):  # nobody in Slack: no channel
        transports[Channel.SLACK] = slack_transport(settings, ca_bundle)
    if settings.recipients.for_channel(Channel.TEAMS):
        transports[Channel.TEAMS] = teams_transport(settings, ca_bundle)
    return transports


def teams_transport(settings: Settings, ca_bundle: str | None) -> Transport:
    """Teams' transport: the Workflows webhooks, or the log (TEAMS_TRANSPORT)."""
    if settings.teams_transport_in_use == "console":
        return LogTransport(Channel.TEAMS)
    from reactor.transports.teams import TeamsTransport

    return TeamsTransport(
        webhooks=settings.teams_webhook_urls,
        timeout=settings.provider_timeout_seconds,
        ca_bundle=ca_bundle,
        max_connections=settings.send_concurrency,
    )


def slack_transport(settings: Settings, ca_bundle: str | None) -> Transport:
    """Slack's transport: the Web API with the bot token, or the log (SLACK_TRANSPORT)."""
    if settings.slack_transport_in_use == "console":
        return LogTransport(Channel.SLACK)
    assert settings.slack_bot_token  # checked at start-up
    from reactor.transports.slack import SlackTransport

    return SlackTransport(
        token=settings.slack_bot_token.get_secret_value(),
        api_url=str(settings.slack_api_url),
        timeout=settings.provider_timeout_seconds,
        ca_bundle=ca_bundle,
        max_connections=settings.send_concurrency,
    )
