"""Console sign-in pieces without a server: hashes, the session cookie, the limits."""

from __future__ import annotations

from reactor.support.console_auth import (
    FailedLogins,
    SessionSigner,
    hash_password,
    parse_users,
    verify_password,
)


def test_a_password_hash_is_salted_slow_and_checks() -> None:
    one, two = hash_password("correct horse"), hash_password("correct horse")
    assert one != two and one.startswith("scrypt.16384.8.1.")
    assert verify_password("correct horse", one) and not verify_password("wrong", one)
    assert not verify_password("correct horse", "scrypt.garbage")
    assert parse_users(f"alice:{one}, bob:{two}") == {"alice": one, "bob": two}


def test_a_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner("k" * 40, hours=8)
    session = signer.new("alice", now=1000.0)
    cookie = signer.dump(session)
    assert signer.load(cookie, now=1001.0) == session
    assert signer.load(cookie, now=1000.0 + 8 * 3600 + 1) is None  # expired
    body, _, signature = cookie.rpartition(".")
    assert signer.load(body + "." + "0" * len(signature), now=1001.0) is None  # forged
    assert SessionSigner("o" * 40, hours=8).load(cookie, now=1001.0) is None  # other key


def test_failed_logins_are_limited_per_key_within_the_window() -> None:
    limits = FailedLogins(limit=3, window_seconds=60)
    for moment in (0.0, 1.0, 2.0):
        assert not limits.limited("client:1", "user:alice", now=moment)
        limits.failed("client:1", "user:alice", now=moment)
    assert limits.limited("client:2", "user:alice", now=3.0)  # the name, from anywhere
    assert not limits.limited("client:2", "user:bob", now=3.0)
    assert not limits.limited("client:1", "user:alice", now=61.0)  # the window moved on
