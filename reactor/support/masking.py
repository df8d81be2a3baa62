"""Masking of e-mail addresses and phone numbers before they reach logs."""

from __future__ import annotations

import re
from typing import Any, cast

import phonenumbers

# E.164 allows at most 15 digits; fewer than 8 is too short to be a full number.
_MIN_PHONE_DIGITS = 8
_MAX_PHONE_DIGITS = 15

# The local part is anchored to the start of its run of characters so a long
# token is scanned once, and matched possessively so it is never backtracked.
_EMAIL_RE = re.compile(
    r"(?<![\w.+\-])"
    r"(?P<local>(?:[\w.+\-]|%2[Bb])++)"
    r"(?P<at>@|%40)"
    r"(?P<domain>[\w\-]+(?:\.[\w\-]+)*+)"
)

# A leading "+" (or its URL-encoding), then digit groups joined by one
# separator each: space, dot, dash, parentheses or an encoded space.
_PHONE_SEPARATOR = r"(?: ?\(|\) ?|[ .\-]|%20)"
_PHONE_RE = re.compile(
    r"(?P<plus>(?<![\w+])\+|%2[Bb])"
    rf"(?P<body>\d++(?:{_PHONE_SEPARATOR}\d++)*+)"
)
_PHONE_TOKEN_RE = re.compile(r"%20|(\d+)")
_NON_DIGIT_RE = re.compile(r"[^0-9]")
# A Slack conversation's id (public C…, private G…, direct D…), and a channel's name.
SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,12}")
SLACK_CHANNEL_NAME = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}")
# The name a Teams channel's webhook has in TEAMS_WEBHOOKS (the URL itself is a secret).
TEAMS_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# A long digit run with a decimal point is a signed amount ("+12345678.90").
_DECIMAL_RE = re.compile(r"\d{8,}\.\d")


def mask_email(address: str) -> str:
    """Mask an e-mail address: ``alice@example.com`` -> ``a***@example.com``."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """Mask a phone number: ``+14155554567`` -> ``+1******4567``."""
    plus = "+" if number.lstrip().startswith("+") else ""
    digits = _NON_DIGIT_RE.sub("", number)
    if len(digits) < _MIN_PHONE_DIGITS:
        # Too short to show any digits without revealing most of it.
        return f"{plus}***"
    return f"{plus}{digits[0]}{'*' * (len(digits) - 5)}{digits[-4:]}"


def mask_recipient(recipient: str) -> str:
    """Mask a recipient: as an e-mail address if it contains ``@``, as a phone number if
    it starts with ``+``; a chat channel (``#ap-review``, ``C0123ABCD``) is no person's, and
    a Slack member (``slack:U0123ABCD (alice)``) keeps the id only."""
    if recipient.startswith("slack:"):  # a Slack member who took an invoice: the id, no name
        return recipient.partition(" ")[0]
    if "@" in recipient:
        return mask_email(recipient)
    if recipient.startswith("#") or SLACK_CHANNEL_ID.fullmatch(recipient):
        return recipient
    if recipient.startswith("teams:"):
        return recipient
    return mask_phone(recipient)


def _mask_email_match(match: re.Match[str]) -> str:
    return f"{match['local'][0]}***{match['at']}{match['domain']}"


def _is_possible_phone(e164: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def _mask_phone_match(match: re.Match[str]) -> str:
    body = match["body"]
    if _DECIMAL_RE.match(body):
        return match[0]
    digits = ""
    # (digits, end in body) after each digit group, for 8..15 digits so far.
    candidates: list[tuple[str, int]] = []
    for token in _PHONE_TOKEN_RE.finditer(body):
        group = token[1]
        if group is None:
            continue
        digits += group
        if len(digits) > _MAX_PHONE_DIGITS:
            break
        if len(digits) >= _MIN_PHONE_DIGITS:
            candidates.append((digits, token.end()))
    if not candidates:
        return match[0]
    # Loose formatting is ambiguous ("+1 415 555 4567 1234.50"): prefer the
    # longest run of groups that is a plausible number, else mask them all.
    chosen = candidates[-1]
    if len(candidates) > 1:
        chosen = next((c for c in reversed(candidates) if _is_possible_phone("+" + c[0])), chosen)
    number, end = chosen
    return f"{match['plus']}{mask_phone('+' + number)[1:]}{body[end:]}"


def mask_text(text: str) -> str:
    """Mask every e-mail address and ``+``-prefixed phone number in free text."""
    has_email = "@" in text or "%40" in text
    has_phone = "+" in text or "%2B" in text or "%2b" in text
    if has_email:
        text = _EMAIL_RE.sub(_mask_email_match, text)
    if has_phone:
        text = _PHONE_RE.sub(_mask_phone_match, text)
    return text


def mask_value(value: object) -> object:
    """Mask strings inside ``value``, recursing into dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, tuple):
        items = [mask_value(item) for item in value]
        if hasattr(value, "_fields"):  # namedtuple
            return cast(Any, type(value))(*items)
        return tuple(items)
    return value
