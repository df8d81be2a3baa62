"""The reader's locale: amounts, dates and counts by Babel, and the translations.

A locale is written as people write it (`de-DE`, `pl`, `fr_CH`) and kept in Babel's
form (`de_DE`). The translations are gettext catalogs in reactor/messages/locale/: one
is looked up for the locale, then its language (`de_AT` reads `de`), then English, the
templates' own language, so a missing translation falls back to English, never to an
empty string. Catalogs are compiled at build (`hatch_build.py`); a source checkout
without the compiled files reads the `.po` files themselves.
"""

from __future__ import annotations

import gettext
import io
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, format_decimal, parse_pattern

DEFAULT_LOCALE = "en_US"
CATALOGS = Path(__file__).parent / "locale"
DOMAIN = "messages"
UNKNOWN_AMOUNT = "amount unknown"


@lru_cache(maxsize=64)
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog for `locale`, falling back to its language, then to English."""
    chain: gettext.NullTranslations = gettext.NullTranslations()
    language = locale.split("_")[0]
    for name in dict.fromkeys([language, locale]):  # the more specific one last: it wins
        found = _catalog(name)
        if found is not None:
            found.add_fallback(chain)
            chain = found
    return chain


def _catalog(name: str) -> gettext.GNUTranslations | None:
    folder = CATALOGS / name / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    if compiled.exists():
        with compiled.open("rb") as file:
            return gettext.GNUTranslations(file)
    source = folder / f"{DOMAIN}.po"
    if not source.exists():
        return None
    with source.open("rb") as file:
        catalog = read_po(file, locale=name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@lru_cache(maxsize=64)
def _currency_pattern(locale: str, iso: bool) -> tuple[Locale, NumberPattern]:
    """The locale and its currency pattern, parsed once (Babel parses them per call)."""
    parsed = Locale.parse(locale)
    if iso:
        return parsed, parse_pattern("#,##0.00\xa0¤¤")
    return parsed, parsed.currency_formats["standard"]


def format_amount(
    amount: str | Decimal | None, currency: str, locale: str = DEFAULT_LOCALE, iso: bool = False
) -> str:
    """`"1234.5"`, `EUR`, `de_DE` -> `1.234,50 €`; None or not a number -> "amount unknown".

    Always two decimals (an invoice's amount is money, whatever the currency's own
    digits); a negative zero is shown as zero. `iso` writes the currency's code instead
    of its symbol (`1 250,00 PLN`), for an SMS that `zł` would turn into UCS-2.
    """
    if amount is None:
        return UNKNOWN_AMOUNT
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        return UNKNOWN_AMOUNT
    if not value.is_finite():
        return UNKNOWN_AMOUNT
    # Enough precision that rounding a large amount cannot overflow the context.
    context = Context(prec=max(28, value.adjusted() + 4), rounding=ROUND_HALF_UP)
    value = value.quantize(Decimal("0.01"), context=context)
    if value.is_zero():
        value = abs(value)
    with localcontext(context):  # Babel rounds in the current context too
        try:
            parsed, pattern = _currency_pattern(locale, iso)
            formatted: str = pattern.apply(value, parsed, currency=currency, currency_digits=False)
            return formatted
        except (ValueError, TypeError):  # a currency code Babel cannot place
            return f"{format_decimal(value, format='#,##0.00', locale=locale)} {currency}"


def format_day(iso_date: str | None, locale: str = DEFAULT_LOCALE) -> str | None:
    """`2026-12-04` -> `Dec 4, 2026` (en_US), `4. Dez. 2026` (de_DE); None stays None."""
    if not iso_date:
        return None
    try:
        day = date.fromisoformat(iso_date)
    except ValueError:
        return iso_date
    return format_skeleton("yMMMd", day, locale=locale)


def format_count(count: int, locale: str = DEFAULT_LOCALE) -> str:
    """`1234` -> `1,234` (en_US), `1.234` (de_DE)."""
    return format_decimal(count, locale=locale)


def preferred_locale(accept_language: str, default: str = DEFAULT_LOCALE) -> str:
    """The browser's most preferred locale Babel knows (`Accept-Language`), else `default`."""
    choices = []
    for position, entry in enumerate(accept_language.split(",")[:20]):
        tag, _, weight = entry.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        if tag and tag != "*" and quality > 0:
            choices.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(choices):
        try:
            return str(Locale.parse(tag.replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return default
