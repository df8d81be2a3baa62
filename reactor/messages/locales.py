"""The reader's locale: dates and counts by Babel, and the translations (amounts: amounts.py).

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
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DEFAULT_LOCALE = "en_US"
CATALOGS = Path(__file__).parent / "locale"
DOMAIN = "messages"


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
