"""Console sign-in: password hashes, the signed session cookie, and failed-login limits.

Pure functions and small classes, no web framework: the routes (`pages.py`) use them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
HASH_PREFIX = "scrypt"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A salted, slow hash: `scrypt.N.r.p.<salt hex>.<hash hex>` (no `$`: safe in .env)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"{HASH_PREFIX}.{SCRYPT_N}.{SCRYPT_R}.{SCRYPT_P}.{salt.hex()}.{digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (constant-time compare)."""
    try:
        prefix, n, r, p, salt, digest = stored.split(".")
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return prefix == HASH_PREFIX and hmac.compare_digest(computed.hex(), digest)


def parse_users(text: str) -> dict[str, str]:
    """`NAME:HASH,NAME:HASH` -> {name: hash}; ValueError naming the bad entry's position."""
    users = {}
    for number, entry in enumerate(filter(None, (e.strip() for e in text.split(","))), 1):
        name, _, stored = entry.partition(":")
        if not name or not stored.startswith(HASH_PREFIX + ".") or stored.count(".") != 5:
            raise ValueError(
                f"entry {number} is not NAME:HASH (make one with `reactor console add-user NAME`)"
            )
        users[name] = stored
    return users


@dataclass(frozen=True)
class Session:
    """A signed-in user: who, until when, and the CSRF token of their forms."""

    user: str
    expires: float
    csrf: str


class SessionSigner:
    """The session cookie: the session as JSON, signed with HMAC-SHA256 (CONSOLE_SECRET_KEY)."""

    def __init__(self, secret: str, hours: float) -> None:
        self._key = hashlib.sha256(b"reactor-console:" + secret.encode()).digest()
        self._seconds = hours * 3600

    def new(self, user: str, now: float | None = None) -> Session:
        """A fresh session for `user`."""
        start = time.time() if now is None else now
        return Session(user, start + self._seconds, secrets.token_urlsafe(32))

    def for_proxy_user(self, user: str, now: float | None = None) -> Session:
        """A session for a user an SSO proxy vouches for; its CSRF token is derived."""
        start = time.time() if now is None else now
        token = hmac.new(self._key, b"csrf:" + user.encode(), hashlib.sha256).hexdigest()
        return Session(user, start + self._seconds, token)

    def dump(self, session: Session) -> str:
        """The cookie's value."""
        payload = json.dumps({"u": session.user, "e": session.expires, "c": session.csrf})
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def load(self, value: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged or expired."""
        if not value or "." not in value:
            return None
        body, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["u"]), float(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (time.time() if now is None else now) else None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


class FailedLogins:
    """Failed sign-ins per client and per user name, over a sliding window."""

    def __init__(self, limit: int = 10, window_seconds: float = 900.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def limited(self, *keys: str, now: float | None = None) -> bool:
        """Whether any of these keys (a client, a user name) has used up its attempts."""
        moment = time.monotonic() if now is None else now
        return any(len(self._recent(key, moment)) >= self.limit for key in keys)

    def failed(self, *keys: str, now: float | None = None) -> None:
        """Count one failed sign-in against each key."""
        moment = time.monotonic() if now is None else now
        for key in keys:
            self._recent(key, moment).append(moment)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times and len(self._failures) > 10_000:  # bounded memory under a flood
            self._failures.pop(key, None)
            times = self._failures.setdefault(key, deque())
        return times
