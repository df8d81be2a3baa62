"""Unit tests for reactor.masking."""

from collections import namedtuple

import pytest

from reactor.support.masking import mask_email, mask_phone, mask_recipient, mask_text, mask_value


def test_mask_email_keeps_first_char_and_domain() -> None:
    assert mask_email("alice@example.com") == "a***@example.com"


def test_mask_email_without_at_sign_reveals_nothing() -> None:
    assert mask_email("alice") == "***"


def test_mask_phone_keeps_country_digit_and_last_four() -> None:
    assert mask_phone("+14155554567") == "+1******4567"
    assert mask_phone("+442071838750") == "+4*******8750"


def test_mask_phone_short_input_reveals_no_digits() -> None:
    assert mask_phone("12ab") == "***"


def test_mask_recipient_dispatches_on_at_sign() -> None:
    assert mask_recipient("bob@example.org") == "b***@example.org"
    assert mask_recipient("+14155552671") == "+1******2671"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent to alice@example.com.", "sent to a***@example.com."),
        ("to=alice%40example.com&x=1", "to=a***%40example.com&x=1"),
        ("alice%2Btag%40example.com", "a***%40example.com"),
        ("call +14155554567 now", "call +1******4567 now"),
        ("To=%2B14155554567&From=%2b442071838750", "To=%2B1******4567&From=%2b4*******8750"),
        ("tel +1 (415) 555-4567", "tel +1******4567"),
        ("uk +44 7911 123456!", "uk +4*******3456!"),
        ("dots +1.415.555.4567.", "dots +1******4567."),
        ("+1 415 555 4567 owes 1234.50", "+1******4567 owes 1234.50"),
        ("+1 415 555 4567 1234.50", "+1******4567 1234.50"),
        ("dsn postgresql://u:secret@db.local:5432/x", "dsn postgresql://u:s***@db.local:5432/x"),
    ],
)
def test_mask_text_masks_emails_and_phones(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "invoice total $1234.50",
        "credit +€12345678.90",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "at 2024-05-01T12:00:00.123456+00:00",
        "2024-05-01 12:00:00 +0000",
        "listening on 0.0.0.0:8080",
        "HTTP/1.1 200 OK",
        "retry +1 attempt, +1234567 too short",
        "1e+1234567890",
        "decorator @property and trailing user@",
        "already a***@example.com and +1******4567",
    ],
)
def test_mask_text_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_long_input_is_linear() -> None:
    # A regex that backtracks on these would take seconds; 1 MB must stay fast.
    text = "a." * 250_000 + "@" + "+1 " * 100_000
    assert mask_text(text) == text


def test_mask_value_recurses_and_keeps_keys_and_other_types() -> None:
    pair = namedtuple("pair", "a b")
    value = {
        "alice@example.com": ["+14155554567", ("bob@example.org", 3)],
        "n": 42,
        "p": pair("carol@example.net", None),
    }
    assert mask_value(value) == {
        "alice@example.com": ["+1******4567", ("b***@example.org", 3)],
        "n": 42,
        "p": pair("c***@example.net", None),
    }
    assert isinstance(mask_value(value)["p"], pair)
