"""Unit tests for reactor.sms."""

import pytest

from reactor.messages.sms import GSM_BASIC, encoding, fit_sms, length_units, segments

LINK = "https://app.example.com/invoices/0b6c2f1e-1111-2222-3333-444455556666"


def build(vendor: str) -> str:
    return f"Invoice needs review: {vendor} $1,234.50 {LINK}"


def test_gsm_basic_table_has_127_characters() -> None:
    assert len(GSM_BASIC) == 127  # 128 codes minus the escape


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello @£$¥ èé ΔΩ ÄÖÑÜ§¿", "GSM-7"),
        ("braces {} and € are in the extension table", "GSM-7"),
        ("Привет", "UCS-2"),
        ("ç is not in the basic set", "UCS-2"),
        ("thumbs 👍", "UCS-2"),
        ("", "GSM-7"),
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert encoding(text) == expected


def test_extension_characters_count_two_septets() -> None:
    assert length_units("^{}\\[~]|€") == 18
    assert length_units("a€") == 3


def test_ucs2_counts_utf16_code_units() -> None:
    assert length_units("Ж") == 1
    assert length_units("😀") == 2


def test_gsm_single_segment_boundary() -> None:
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3


def test_extension_chars_push_over_the_limit() -> None:
    assert segments("a" * 158 + "€") == 1
    assert segments("a" * 159 + "€") == 2


def test_ucs2_segment_boundaries() -> None:
    assert segments("Ж" * 70) == 1
    assert segments("Ж" * 71) == 2
    assert segments("Ж" * 134) == 2
    assert segments("Ж" * 135) == 3
    assert segments("😀" * 35) == 1
    assert segments("😀" * 35 + "a") == 2


def test_multipart_never_splits_a_surrogate_pair() -> None:
    # 66 units + one emoji would straddle the 67-unit boundary, so it moves on.
    assert segments("Ж" * 66 + "😀" + "Ж" * 66) == 3


def test_empty_text_is_one_segment() -> None:
    assert segments("") == 1


def test_fit_sms_short_vendor_is_untouched() -> None:
    assert fit_sms(build, "Acme") == build("Acme")


def test_fit_sms_long_gsm_vendor_is_cut_with_ellipsis() -> None:
    body = fit_sms(build, "Acme Industrial Supplies " * 400)
    assert segments(body) == 1
    assert body.endswith(f" $1,234.50 {LINK}")
    assert "... $1,234.50" in body
    assert body.startswith("Invoice needs review: Acme Industrial")
    # The longest prefix: one more character would not fit.
    assert len(body) >= 160 - 2


@pytest.mark.parametrize("char", ["Ж", "😀"])
def test_fit_sms_huge_non_gsm_vendor_fits_one_segment(char: str) -> None:
    body = fit_sms(build, char * 10_000)
    assert segments(body) == 1
    assert body.endswith(LINK)


def test_fit_sms_non_gsm_vendor_keeps_some_text_when_room() -> None:
    def short(vendor: str) -> str:
        return f"Due: {vendor} x.io/i/1"

    body = fit_sms(short, "Ж" * 10_000)
    assert encoding(body) == "UCS-2"
    assert segments(body) == 1
    assert body == f"Due: {'Ж' * (70 - len('Due:  x.io/i/1') - 3)}... x.io/i/1"


def test_fit_sms_prefers_cut_before_non_gsm_char_when_only_that_fits() -> None:
    # Keeping the Cyrillic tail forces UCS-2 (70 units), too small for the 80
    # GSM characters in front; cutting just before it fits in GSM-7 instead.
    vendor = "A" * 80 + "Ж" * 200

    def short(v: str) -> str:
        return f"{v} x.io/i/1"

    body = fit_sms(short, vendor)
    assert body == f"{'A' * 80}... x.io/i/1"
    assert encoding(body) == "GSM-7"


def test_fit_sms_respects_max_segments() -> None:
    body = fit_sms(build, "B" * 10_000, max_segments=2)
    assert segments(body) == 2
    assert len(body) > 160


def test_fit_sms_returns_empty_vendor_body_when_nothing_fits() -> None:
    def too_long(vendor: str) -> str:
        return f"{vendor}|{'x' * 200}"

    assert fit_sms(too_long, "Acme") == "|" + "x" * 200


def test_fit_sms_renders_few_times_for_huge_vendor() -> None:
    calls = 0

    def counting(vendor: str) -> str:
        nonlocal calls
        calls += 1
        return build(vendor)

    fit_sms(counting, "Ж" * 10_000)
    assert calls < 40
