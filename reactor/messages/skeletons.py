"""Text templates rendered once per shape, with holes, then filled per message.

An SMS is one short line, and Jinja's own work for it (a context, the sandbox's
checks on every call, gettext through the i18n extension) is most of its rendering
time. A built-in text template inserts its values as they are and only tests whether
they are given, so it is rendered once per locale and shape (which values are empty,
the flags) with a hole in each value's place, and each message after that is string
joins. A template from TEMPLATES_DIR may transform or compare its values: it is
rendered by Jinja every time (MessageRenderer decides). tests/unit/test_skeletons.py
renders both ways and compares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template

# No value holds a NUL: clean_line() turns control characters into spaces, and the
# amount and the link are made here.
_HOLE = "\x00{}\x00"
_HOLES = re.compile("\x00(\\w+)\x00")


@dataclass(frozen=True)
class Skeleton:
    """A rendered template: literal text and value names, alternating (text first)."""

    parts: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each hole replaced by its value."""
        filled = list(self.parts)
        for index in range(1, len(filled), 2):
            filled[index] = values[filled[index]]
        return "".join(filled)


def shape(values: Mapping[str, str]) -> tuple[bool, ...]:
    """Which values are given (non-empty): the template may branch on that only."""
    return tuple(bool(value) for value in values.values())


def skeleton(template: Template, values: Mapping[str, str], **flags: Any) -> Skeleton | None:
    """`template` rendered with a hole for each given value (empty ones as they are)
    and `flags` as they are; None when a hole does not come out whole (the template
    transforms its values)."""
    holes = {name: _HOLE.format(name) if value else value for name, value in values.items()}
    parts = _HOLES.split(template.render(**holes, **flags))
    names, texts = parts[1::2], parts[0::2]
    given = {name for name, value in values.items() if value}
    if not set(names) <= given or any("\x00" in text for text in texts):
        return None
    return Skeleton(tuple(parts))
