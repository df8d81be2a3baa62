"""Slack's interactions, checked and read without a database or a network.

A member pressing a message's button makes Slack POST the app's interaction URL: a
form body `payload=<JSON>`, signed with the app's signing secret (`X-Slack-Signature:
v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<raw body>">`), within five
minutes of its timestamp. `signed_by_slack` checks that before anything else is read;
`take_press` then finds the take button's press in the payload: its value (the signed
take token) and who pressed it. Neither the secret nor a token is ever logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from reactor.domain.messages import SLACK_TAKE_ACTION as TAKE_ACTION

MAX_AGE_SECONDS = 300  # Slack's own advice, and slack_sdk's check
NAME_MAX = 80
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_TIMESTAMP = re.compile(r"\d{1,12}")


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def signature_problem(
    secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> str | None:
    """None when Slack signed this raw body with `secret` less than five minutes from
    `now`; else why not: `stale` (signed, but too long ago) or `signature`."""
    if not (secret and signature.startswith("v0=") and _TIMESTAMP.fullmatch(timestamp)):
        return "signature"
    try:
        body.decode("utf-8")  # slack_sdk decodes it; a body that is not UTF-8 is not Slack's
    except UnicodeDecodeError:
        return "signature"
    clock = Clock() if now is None else _FixedClock(now)
    if SignatureVerifier(secret, clock).is_valid(body, timestamp, signature):
        return None
    then = SignatureVerifier(secret, _FixedClock(float(timestamp)))
    return "stale" if then.is_valid(body, timestamp, signature) else "signature"


@dataclass(frozen=True)
class TakePress:
    """A press of the take button: the token it carries and who pressed it."""

    token: str
    user_id: str
    user_name: str | None
    response_url: str | None

    @property
    def taken_by(self) -> str:
        """Who took it, readable and no secret: `slack:U0123ABCD (alice)`."""
        name = f" ({self.user_name})" if self.user_name else ""
        return f"slack:{self.user_id}{name}"


def _name(user: dict[str, Any]) -> str | None:
    """The member's handle (or name), printable and short: it is theirs to choose."""
    for key in ("username", "name"):
        value = user.get(key)
        if isinstance(value, str):
            cleaned = "".join(c for c in value if c.isprintable() and c not in "()").strip()
            if cleaned:
                return cleaned[:NAME_MAX]
    return None


def payload_of(body: bytes) -> dict[str, Any] | None:
    """The interaction's JSON payload from a form body `payload=...`, or None."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        values = form.get("payload", [])
        payload = json.loads(values[0]) if len(values) == 1 else None
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def take_press(payload: dict[str, Any]) -> TakePress | None:
    """The take button's press in a `block_actions` payload, or None when it holds none."""
    if payload.get("type") != "block_actions":
        return None
    user = payload.get("user")
    actions = payload.get("actions")
    if not isinstance(user, dict) or not isinstance(actions, list):
        return None
    user_id = user.get("id")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        return None
    for action in actions:
        if not isinstance(action, dict) or action.get("action_id") != TAKE_ACTION:
            continue
        token = action.get("value")
        if isinstance(token, str) and token:
            url = payload.get("response_url")
            return TakePress(token, user_id, _name(user), url if isinstance(url, str) else None)
    return None
