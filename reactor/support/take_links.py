"""Signed "I'll take it" links: a token bound to one delivery, checked without a database.

A token is `<delivery id>.<issued, unix seconds>.<HMAC-SHA256 of both>` (the MAC cut to
128 bits, URL-safe base64). It names the delivery row, and so the invoice, the review
episode and the recipient; whether that episode is still open is the database's to
say when the link is used. Tokens are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

MAC_BYTES = 16


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: bytes, delivery_id: int, now: float | None = None) -> str:
    """The token for one delivery."""
    payload = f"{delivery_id}.{int(time.time() if now is None else now)}"
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, max_age: float, now: float | None = None) -> int | None:
    """The delivery a token names, or None: tampered, malformed, or older than `max_age`."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    delivery, issued, mac = parts
    if not (delivery.isdigit() and issued.isdigit() and len(delivery) < 19):
        return None
    if not hmac.compare_digest(mac, _mac(secret, f"{delivery}.{issued}")):
        return None
    age = (time.time() if now is None else now) - int(issued)
    return int(delivery) if -60 <= age <= max_age else None


def csrf_token(secret: bytes, token: str, nonce: str) -> str:
    """The take page's form token: bound to the link and to the browser's cookie nonce."""
    return _mac(secret, f"csrf.{token}.{nonce}")
