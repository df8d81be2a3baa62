"""Unit tests for reactor.recipients."""

from reactor.domain.enums import Channel
from reactor.policy.recipients import Recipient, parse_recipients


def test_mixed_list_is_split_by_channel_in_order() -> None:
    parsed = parse_recipients("ap@example.com, +14155552671, +442071838750, boss@example.org")
    assert parsed.recipients == (
        Recipient(Channel.EMAIL, "ap@example.com"),
        Recipient(Channel.SMS, "+14155552671"),
        Recipient(Channel.SMS, "+442071838750"),
        Recipient(Channel.EMAIL, "boss@example.org"),
    )
    assert parsed.rejected == ()
    assert [r.address for r in parsed.for_channel(Channel.EMAIL)] == [
        "ap@example.com",
        "boss@example.org",
    ]
    assert [r.address for r in parsed.for_channel(Channel.SMS)] == [
        "+14155552671",
        "+442071838750",
    ]


def test_email_is_lower_cased_whole() -> None:
    parsed = parse_recipients("Alice.Smith@Example.COM")
    assert parsed.recipients == (Recipient(Channel.EMAIL, "alice.smith@example.com"),)


def test_duplicates_collapse_after_normalisation() -> None:
    raw = "ap@example.com, AP@Example.com, +1 (415) 555-2671, 415.555.2671, +14155552671"
    parsed = parse_recipients(raw)
    assert parsed.recipients == (
        Recipient(Channel.EMAIL, "ap@example.com"),
        Recipient(Channel.SMS, "+14155552671"),
    )


def test_national_number_uses_default_region() -> None:
    parsed = parse_recipients("020 7183 8750", default_region="GB")
    assert parsed.recipients == (Recipient(Channel.SMS, "+442071838750"),)


def test_national_number_without_region_is_rejected() -> None:
    parsed = parse_recipients("4155552671", default_region=None)
    assert parsed.recipients == ()
    assert len(parsed.rejected) == 1


def test_invalid_entries_are_rejected_masked_with_reason() -> None:
    parsed = parse_recipients("bob@bad, +1 123 456 7890, ok@example.com, hello")
    assert parsed.recipients == (Recipient(Channel.EMAIL, "ok@example.com"),)
    assert parsed.rejected == (
        "b***@bad (not a valid email address)",
        "+1******7890 (not a valid phone number)",
        "*** (not a valid phone number)",
    )
    assert not any("bob" in r or "1234567890" in r for r in parsed.rejected)


def test_empty_entries_and_whitespace_are_ignored() -> None:
    parsed = parse_recipients(" , ,ap@example.com ,, \t+14155552671\n,")
    assert [r.address for r in parsed.recipients] == ["ap@example.com", "+14155552671"]
    assert parsed.rejected == ()
    assert parse_recipients("").recipients == ()
