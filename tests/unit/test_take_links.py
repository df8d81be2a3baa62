"""Take links: a token names one delivery; tampered, malformed or old ones name none."""

from __future__ import annotations

import pytest

from reactor.support.take_links import csrf_token, sign, verify

SECRET = b"k" * 32
DAY = 86_400.0


def test_a_token_names_its_delivery_until_it_is_too_old() -> None:
    token = sign(SECRET, 42, now=1_000_000)
    assert verify(SECRET, token, max_age=30 * DAY, now=1_000_000 + DAY) == 42
    assert verify(SECRET, token, max_age=30 * DAY, now=1_000_000 + 31 * DAY) is None
    assert (
        verify(b"another secret, long enough....", token, max_age=30 * DAY, now=1_000_000) is None
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("42.", "43.", 1),  # another delivery
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another MAC
        lambda t: t + ".x",
        lambda t: "",
        lambda t: "..",
        lambda t: "-1.1000000." + t.split(".")[2],
    ],
)
def test_a_tampered_token_names_nothing(change: object) -> None:
    token = sign(SECRET, 42, now=1_000_000)
    assert verify(SECRET, change(token), max_age=30 * DAY, now=1_000_000) is None  # type: ignore[operator]


def test_the_form_token_is_bound_to_the_link_and_the_browser() -> None:
    token = sign(SECRET, 42)
    assert csrf_token(SECRET, token, "nonce-a") == csrf_token(SECRET, token, "nonce-a")
    assert csrf_token(SECRET, token, "nonce-a") != csrf_token(SECRET, token, "nonce-b")
    assert csrf_token(SECRET, token, "nonce-a") != csrf_token(SECRET, sign(SECRET, 43), "nonce-a")
