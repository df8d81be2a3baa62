"""A small bar chart drawn server-side as SVG (no script, no external asset)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR_HEIGHT, GAP, LABEL_WIDTH, WIDTH = 18, 6, 150, 520


def bar_chart(values: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per (label, count); labels are escaped."""
    if not values:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="24" role="img" '
            'aria-label="no deliveries"><text x="0" y="16">no deliveries in the last 24 '
            "hours</text></svg>"
        )
    largest = max(count for _, count in values) or 1
    height = len(values) * (BAR_HEIGHT + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'role="img" aria-label="deliveries in the last 24 hours by channel and status">'
    ]
    for row, (label, count) in enumerate(values):
        y = row * (BAR_HEIGHT + GAP)
        length = max(1, int((WIDTH - LABEL_WIDTH - 60) * count / largest))
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" '
            f'class="bar-{escape(label.split()[-1])}"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 13}" font-size="12">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
