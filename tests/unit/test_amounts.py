"""Amounts: the fast format gives Babel's own text, in every locale Babel knows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

import pytest
from babel import Locale
from babel.localedata import locale_identifiers
from babel.numbers import parse_pattern

from reactor.messages.amounts import (
    UNKNOWN_AMOUNT,
    babel_amount,
    format_amount,
    money_format,
    pattern_format,
    rounded_amount,
)

AMOUNTS = ["0", "0.5", "7", "12.345", "999.995", "1000", "-3.2", "1234567.891", "1e15"]
CURRENCIES = ["USD", "EUR", "JPY", "PLN", "INR", "CHF", "ZZZ"]


def babel_text(amount: str, currency: str, locale: str, iso: bool) -> str:
    value = rounded_amount(amount)
    assert value is not None
    with localcontext(Context(prec=40, rounding=ROUND_HALF_UP)):
        return babel_amount(value, currency, locale, iso)


@pytest.mark.parametrize("iso", [False, True])
def test_every_locale_matches_babel(iso: bool) -> None:
    differences = []
    for index, locale in enumerate(sorted(locale_identifiers())):
        # every locale with two amounts; a rotating share of them with every case
        amounts = AMOUNTS if index % 7 == 0 else AMOUNTS[3:5]
        currencies = CURRENCIES if index % 7 == 0 else [CURRENCIES[index % len(CURRENCIES)]]
        for currency in currencies:
            for amount in amounts:
                expected = babel_text(amount, currency, locale, iso)
                if format_amount(amount, currency, locale, iso) != expected:
                    differences.append((locale, currency, amount, expected))
    assert differences == []


def test_the_usual_locales_in_full() -> None:
    for locale in ["en_US", "de_DE", "fr_CH", "de_CH", "hi_IN", "pl_PL", "ar_EG", "ja_JP"]:
        for currency in CURRENCIES:
            for amount in [*AMOUNTS, "-0.004", "123456789012.345", "0.01"]:
                expected = babel_text(amount, currency, locale, iso=False)
                assert format_amount(amount, currency, locale) == expected, (locale, amount)


def test_examples() -> None:
    assert format_amount("1250", "EUR", "de_DE") == "1.250,00\xa0€"
    assert format_amount("1234567.5", "INR", "hi_IN") == "₹12,34,567.50"
    assert format_amount("-0.004", "USD", "en_US") == "$0.00"  # no negative zero
    assert format_amount("1250", "PLN", "pl_PL", iso=True) == "1\xa0250,00\xa0PLN"


@pytest.mark.parametrize("amount", [None, "", "abc", "NaN", "Infinity", "1,5"])
def test_not_a_number(amount: str | None) -> None:
    assert format_amount(amount, "USD") == UNKNOWN_AMOUNT


def test_one_format_per_locale_and_currency() -> None:
    assert money_format("de_DE", "EUR") is money_format("de_DE", "EUR")
    assert rounded_amount(Decimal("2.345")) == Decimal("2.35")  # half up, not to even


OTHER_PATTERNS = ["#,##0\xa0¤", "¤#,##0.0", "#,##0.000 ¤", "¤ #,##,##0.00;(¤ #,##0.00)"]


@pytest.mark.parametrize("text", OTHER_PATTERNS)
def test_patterns_of_other_precisions_round_as_babel_does(text: str) -> None:
    parsed, pattern = Locale.parse("en_IN"), parse_pattern(text)
    money = pattern_format(parsed, pattern, "EUR")
    assert money is not None
    for amount in ["0", "0.5", "2.45", "-2.55", "1234567.891", "999.995", "-0.004"]:
        value = rounded_amount(amount)
        assert value is not None
        with localcontext(Context(prec=40, rounding=ROUND_HALF_UP)):
            expected = pattern.apply(value, parsed, currency="EUR", currency_digits=False)
        assert money.format(value) == expected, (text, amount)
