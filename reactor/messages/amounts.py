"""Money as the reader writes it: `1234.5`, `EUR`, `de_DE` -> `1.234,50 €`.

The figures are Babel's (CLDR's patterns and symbols), but not Babel's speed: its
`NumberPattern.apply` looks up the locale's symbols and the currency's symbol and
plural name on every call, a third of an SMS's rendering. Here each (locale,
currency) pair is resolved once into a `MoneyFormat`, which formats with string
operations only and gives Babel's exact text (tests/unit/test_amounts.py compares
them across every locale Babel knows). Patterns it does not handle (scientific,
significant digits, a scale, the currency's plural name) are left to Babel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_currency_name,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)

from reactor.messages.locales import DEFAULT_LOCALE

UNKNOWN_AMOUNT = "amount unknown"
ISO_PATTERN = "#,##0.00\xa0¤¤"  # the currency's code after the figure: `1 250,00 PLN`
_CENTS = Decimal("0.01")
_QUOTED = re.compile(r"'([^']*)'")  # Babel's literal text in a pattern


@dataclass(frozen=True)
class MoneyFormat:
    """One locale's currency pattern with one currency's symbol (or code) filled in."""

    prefixes: tuple[str, str]  # (positive, negative), the currency already in place
    suffixes: tuple[str, str]
    group: str
    decimal: str
    grouping: tuple[int, int]  # the first group's size, then the others'
    min_integer_digits: int
    fraction_digits: tuple[int, int]  # (least, most)
    unquote: bool  # some text holds a quote: Babel's literal-text rule applies

    def format(self, value: Decimal) -> str:
        """`value`, already rounded half up to cents (`rounded_amount`), as Babel writes it."""
        negative = int(value.is_signed())
        least, most = self.fraction_digits
        if most >= 2:  # no rounding left to do: the digits are the value's own
            whole, _, fraction = f"{value:f}".lstrip("-").partition(".")
        else:  # Babel rounds to the pattern's precision, half up here
            context = _context(value)
            rounded = (
                abs(value).normalize(context).quantize(Decimal(1).scaleb(-most), context=context)
            )
            whole, _, fraction = f"{rounded:f}".partition(".")
        text = self.prefixes[negative] + self._grouped(whole)
        text += self._fraction(fraction or "0", least, most) + self.suffixes[negative]
        return _QUOTED.sub(lambda m: m.group(1) or "'", text) if self.unquote else text

    def _grouped(self, digits: str) -> str:
        digits = digits.rjust(self.min_integer_digits, "0")
        size, groups = self.grouping[0], ""
        while len(digits) > size:
            groups = self.group + digits[-size:] + groups
            digits = digits[:-size]
            size = self.grouping[1]
        return digits + groups

    def _fraction(self, digits: str, least: int, most: int) -> str:
        digits = digits.ljust(least, "0")
        if most == 0 or (least == 0 and int(digits) == 0):
            return ""
        while len(digits) > least and digits[-1] == "0":
            digits = digits[:-1]
        return self.decimal + digits


@lru_cache(maxsize=256)
def money_format(locale: str, currency: str, iso: bool = False) -> MoneyFormat | None:
    """The locale's standard currency format for `currency`; None: Babel formats it.

    Raises ValueError or TypeError (Babel's) for a locale or currency it cannot place.
    """
    return pattern_format(*_babel_pattern(locale, iso), currency)


def pattern_format(parsed: Locale, pattern: NumberPattern, currency: str) -> MoneyFormat | None:
    """`pattern` in the locale, with `currency` filled in; None: Babel formats it."""
    if pattern.exp_prec or pattern.scale or "@" in pattern.pattern or not pattern.number_pattern:
        return None
    affixes = "".join([*pattern.prefix, *pattern.suffix])
    if "¤¤¤" in affixes:  # the currency's name, which depends on the amount (plurals)
        return None
    get_currency_name(currency, 1, parsed)  # raises where Babel's own formatting would
    symbol = get_currency_symbol(currency, parsed)
    group = get_group_symbol(parsed, numbering_system="latn")
    decimal = get_decimal_symbol(parsed, numbering_system="latn")

    def filled(text: str) -> str:
        return text.replace("¤¤", currency.upper()).replace("¤", symbol)

    prefixes = (filled(pattern.prefix[0]), filled(pattern.prefix[1]))
    suffixes = (filled(pattern.suffix[0]), filled(pattern.suffix[1]))
    texts = [*prefixes, *suffixes, group, decimal]
    return MoneyFormat(
        prefixes=prefixes,
        suffixes=suffixes,
        group=group,
        decimal=decimal,
        grouping=(pattern.grouping[0], pattern.grouping[1]),
        min_integer_digits=pattern.int_prec[0],
        fraction_digits=(pattern.frac_prec[0], pattern.frac_prec[1]),
        unquote=any("'" in text for text in texts),
    )


@lru_cache(maxsize=64)
def _babel_pattern(locale: str, iso: bool) -> tuple[Locale, NumberPattern]:
    """The locale and its currency pattern, parsed once (Babel parses them per call)."""
    parsed = Locale.parse(locale)
    if iso:
        return parsed, parse_pattern(ISO_PATTERN)
    return parsed, parsed.currency_formats["standard"]


def babel_amount(value: Decimal, currency: str, locale: str, iso: bool = False) -> str:
    """Babel's own formatting of a rounded `value` (the reference `MoneyFormat` matches)."""
    parsed, pattern = _babel_pattern(locale, iso)
    with localcontext(_context(value)):  # Babel rounds in the current context
        formatted: str = pattern.apply(value, parsed, currency=currency, currency_digits=False)
    return formatted


def format_amount(
    amount: str | Decimal | None, currency: str, locale: str = DEFAULT_LOCALE, iso: bool = False
) -> str:
    """`"1234.5"`, `EUR`, `de_DE` -> `1.234,50 €`; None or not a number -> "amount unknown".

    Always two decimals (an invoice's amount is money, whatever the currency's own
    digits); a negative zero is shown as zero. `iso` writes the currency's code instead
    of its symbol (`1 250,00 PLN`), for an SMS that `zł` would turn into UCS-2.
    """
    value = rounded_amount(amount)
    if value is None:
        return UNKNOWN_AMOUNT
    try:
        money = money_format(locale, currency, iso)
        if money is not None:
            return money.format(value)
        return babel_amount(value, currency, locale, iso)
    except (ValueError, TypeError):  # a currency code Babel cannot place
        with localcontext(_context(value)):
            return f"{format_decimal(value, format='#,##0.00', locale=locale)} {currency}"


# Shared by every call (a context's construction shows in an SMS's time); the
# operations set its flags, which nothing reads.
_MONEY_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)


def _context(value: Decimal) -> Context:
    """Half-up rounding with enough precision that rounding `value` cannot overflow."""
    if value.adjusted() + 4 <= _MONEY_CONTEXT.prec:
        return _MONEY_CONTEXT
    return Context(prec=value.adjusted() + 4, rounding=ROUND_HALF_UP)


def rounded_amount(amount: str | Decimal | None) -> Decimal | None:
    """The amount rounded half up to cents (never a negative zero); None if not a number."""
    if amount is None:
        return None
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    value = value.quantize(_CENTS, context=_context(value))
    return abs(value) if value.is_zero() else value
