"""SMS length accounting (GSM 03.38 / UCS-2) and fitting a body into segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet (the escape code 0x1B is left out: it is not a character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as escape + character, so it costs two septets.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM = GSM_BASIC | GSM_EXTENSION

_SINGLE_LIMIT = {"GSM-7": 160, "UCS-2": 70}
_MULTI_LIMIT = {"GSM-7": 153, "UCS-2": 67}
_ELLIPSIS = "..."


# Babel's amounts and dates use no-break and narrow spaces (fr: "1 250,00 €"); neither
# is in the GSM alphabet, and one would send the whole SMS as UCS-2 (70 characters).
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})


def sms_spaces(text: str) -> str:
    """Every kind of space as a plain one: an SMS stays GSM-7 when its letters are."""
    return text.translate(_SPACES)


def is_gsm(text: str) -> bool:
    """Whether every character is in the GSM 03.38 alphabet (basic or extension)."""
    return _GSM.issuperset(text)


def encoding(text: str) -> Encoding:
    """Return the encoding an SMS with this text is sent in."""
    return "GSM-7" if is_gsm(text) else "UCS-2"


def _unit_sizes(text: str, enc: Encoding) -> list[int]:
    if enc == "GSM-7":
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # surrogate pairs


def _length_units(text: str, enc: Encoding) -> int:
    if enc == "GSM-7":
        return len(text) + sum(map(text.count, GSM_EXTENSION))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def length_units(text: str) -> int:
    """Septets for GSM-7 text, UTF-16 code units for UCS-2 text."""
    return _length_units(text, encoding(text))


def segments(text: str) -> int:
    """Number of SMS segments needed to send ``text`` (an empty text takes one)."""
    enc = encoding(text)
    if _length_units(text, enc) <= _SINGLE_LIMIT[enc]:
        return 1
    sizes = _unit_sizes(text, enc)
    # Carriers never split an escape sequence or a surrogate pair across two
    # segments, so pack whole characters rather than dividing the total.
    limit = _MULTI_LIMIT[enc]
    count, used = 1, 0
    for size in sizes:
        if used + size > limit:
            count, used = count + 1, 0
        used += size
    return count


def _largest_true(lo: int, hi: int, predicate: Callable[[int], bool]) -> int | None:
    """Largest n in [lo, hi] with predicate(n), for a predicate true-then-false on it."""
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def fit_sms(build: Callable[[str], str], vendor: str, max_segments: int = 1) -> str:
    """Render ``build(vendor)`` shortening only the vendor until it fits ``max_segments``.

    A cut vendor ends with ``...``. If even an empty vendor does not fit, the body
    with an empty vendor is returned; the rest of the body is never cut.
    """
    max_chars = max_segments * _SINGLE_LIMIT["GSM-7"]
    full = build(vendor)
    # Every unit costs at least one character, so a longer body cannot fit.
    if len(full) <= max_chars and segments(full) <= max_segments:
        return full

    def prefix(n: int) -> str:
        return vendor[:n].rstrip()

    def candidate(n: int) -> str:
        cut = prefix(n)
        return build(cut + _ELLIPSIS if cut else "")

    def fits(n: int) -> bool:
        return segments(candidate(n)) <= max_segments

    # No fitting body holds more than max_chars characters; longer prefixes
    # would only add trailing spaces, which are stripped.
    hi = min(len(vendor) - 1, max_chars)
    # Prefixes grow monotonically, so they switch from GSM-7 to UCS-2 at most
    # once; within each side the length only grows and "fits" is true-then-false.
    # Searching across the switch at once could land on the wrong side of it.
    last_gsm = _largest_true(0, hi, lambda n: is_gsm(prefix(n)))
    split = 0 if last_gsm is None else last_gsm + 1
    for lo_n, hi_n in ((split, hi), (0, split - 1)):
        best = _largest_true(lo_n, hi_n, fits)
        if best is not None:
            return candidate(best)
    return build("")
