"""Plain-text tables for command output, safe on any terminal."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Control, format (bidi overrides, zero-width), surrogate, private, unassigned, separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def visible(text: object) -> str:
    """`text` on one line, nothing hidden: control and format characters as escapes.

    "\\x1b[31m" shows as `\\x1b[31m`, a newline as `\\n`, U+202E as `\\u202e`; a
    backslash is doubled, so no text can pass for an escape.
    """
    return "".join(_visible_char(c) for c in str(text))


def _visible_char(char: str) -> str:
    if char == "\\" or unicodedata.category(char) in _HIDDEN:
        return char.encode("unicode_escape").decode("ascii")  # \n, \x1b, \u202e, \\
    return char


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header.

    Every cell goes through `visible`: text from the database cannot add a line to the
    table or a colour to the terminal.
    """
    cells = [[visible(h) for h in headers], *[[visible(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
