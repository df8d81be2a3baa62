"""Parsing the configured list of notification recipients."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from reactor.domain.enums import Channel
from reactor.support.masking import (
    SLACK_CHANNEL_ID,
    SLACK_CHANNEL_NAME,
    TEAMS_NAME,
    mask_email,
    mask_phone,
)


@dataclass(frozen=True)
class Recipient:
    """One recipient: a lower-case e-mail address, an E.164 phone number, or a Slack
    channel (`#name` or its id)."""

    channel: Channel
    address: str


@dataclass(frozen=True)
class RecipientList:
    """Valid recipients (de-duplicated, in order) and masked rejected entries."""

    recipients: tuple[Recipient, ...]
    rejected: tuple[str, ...]

    def for_channel(self, channel: Channel) -> tuple[Recipient, ...]:
        """Recipients notified over ``channel``."""
        return tuple(r for r in self.recipients if r.channel == channel)


def _parse_email(entry: str) -> Recipient | None:
    try:
        result = validate_email(entry, check_deliverability=False)
    except EmailNotValidError:
        return None
    return Recipient(Channel.EMAIL, result.normalized.lower())


def _parse_phone(entry: str, default_region: str | None) -> Recipient | None:
    try:
        number = phonenumbers.parse(entry, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Recipient(Channel.SMS, e164)


def _parse_slack(channel: str) -> Recipient | None:
    channel = channel.strip()
    if SLACK_CHANNEL_NAME.fullmatch(channel) or SLACK_CHANNEL_ID.fullmatch(channel):
        return Recipient(Channel.SLACK, channel)
    return None


def _parse_teams(name: str) -> Recipient | None:
    name = name.strip().lower()
    return Recipient(Channel.TEAMS, f"teams:{name}") if TEAMS_NAME.fullmatch(name) else None


def parse_recipient(entry: str, default_region: str | None = "US") -> Recipient | None:
    """One e-mail address, phone number or `slack:` channel, normalised; None when it is
    none of them."""
    entry = entry.strip()
    if entry.lower().startswith("slack:"):
        return _parse_slack(entry[len("slack:") :])
    if entry.lower().startswith("teams:"):
        return _parse_teams(entry[len("teams:") :])
    if "@" in entry:
        return _parse_email(entry)
    return _parse_phone(entry, default_region.upper() if default_region else None)


def parse_recipients(raw: str, default_region: str | None = "US") -> RecipientList:
    """Parse a comma-separated list of e-mail addresses and phone numbers.

    Phone numbers without a ``+`` country code are read in ``default_region``.
    Invalid entries are reported in ``rejected`` in masked form, with the reason.
    """
    region = default_region.upper() if default_region else None
    recipients: dict[Recipient, None] = {}  # an ordered set
    rejected: dict[str, None] = {}
    for part in raw.split(","):
        entry = part.strip()
        if not entry:
            continue
        recipient = parse_recipient(entry, region)
        if recipient is not None:
            recipients[recipient] = None
        elif entry.lower().startswith("slack:"):
            rejected[f"{entry[:60]} (not a Slack channel: slack:#name, or slack:C0123ABCD)"] = None
        elif entry.lower().startswith("teams:"):
            rejected[f"{entry[:70]} (not a Teams webhook's name: teams:NAME)"] = None
        elif "@" in entry:
            rejected[f"{mask_email(entry)} (not a valid email address)"] = None
        else:
            rejected[f"{mask_phone(entry)} (not a valid phone number)"] = None
    return RecipientList(tuple(recipients), tuple(rejected))


def parse_locale(text: str) -> str:
    """`de-DE` -> `de_DE`; ValueError for a locale Babel does not know."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not a locale (e.g. de-DE)")
    try:
        return str(Locale.parse(text.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{text!r} is not a locale Babel knows (e.g. de-DE, fr-FR)") from None
