"""The pipeline's SQL files as server-side statements, their placeholders converted once.

The files name their parameters (`%(limit)s`). psycopg converts such placeholders into
PostgreSQL's own (`$1`) on every execution, and caches the conversion only for
statements under 4 KB; the pipeline's longest statements are twice that, and it would
parse them again for every outbox row. Here each file is converted once and run
through a raw cursor, with its parameters in the statement's order.

A file may leave a slot, `/* name */`, for a fragment chosen at run time (the intake
reads the invoice's fields one of two ways: `sql/queries/invoice_fields/`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from psycopg import AsyncConnection, AsyncRawCursor
from psycopg.rows import RowFactory

from reactor.support.resources import sql

_NAMED = re.compile(r"%\((\w+)\)s")
_SLOT = re.compile(r"/\* (\w+) \*/")


@dataclass(frozen=True)
class Statement:
    """One SQL file with `$n` placeholders, and the parameter each number stands for."""

    text: str
    names: tuple[str, ...]

    @cached_property
    def encoded(self) -> bytes:
        """The text as sent: one bytes object, so that psycopg neither encodes it nor
        hashes 8 KB anew to find its prepared statement on every call."""
        return self.text.encode()

    def args(self, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
        """The values in placeholder order (a missing name raises KeyError)."""
        return tuple((params or {})[name] for name in self.names)


def native(text: str) -> Statement:
    """`text` with every `%(name)s` as `$n` (a name used twice keeps its number)."""
    if "%%" in text:
        raise ValueError("a literal % is not supported in pipeline statements")
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return Statement(_NAMED.sub(number, text), tuple(names))


def fill(text: str, slots: Mapping[str, str]) -> str:
    """`text` with each slot replaced by `sql/queries/<fragment>.sql`; all must be given."""

    def fragment(match: re.Match[str]) -> str:
        if match[1] not in slots:
            raise KeyError(f"no fragment given for the slot {match[1]!r}")
        return sql(f"queries/{slots[match[1]]}").strip()

    return _SLOT.sub(fragment, text)


@cache
def statement(name: str, **slots: str) -> Statement:
    """`sql/queries/<name>.sql`, its slots filled, converted once."""
    return native(fill(sql(f"queries/{name}"), slots))


async def run(
    conn: AsyncConnection[Any],
    name: str,
    params: Mapping[str, Any] | None = None,
    row_factory: RowFactory[Any] | None = None,
    **slots: str,
) -> AsyncRawCursor[Any]:
    """Execute `sql/queries/<name>.sql` with `params`; the cursor, for its rows."""
    query = statement(name, **slots)
    cursor = AsyncRawCursor(conn, row_factory=row_factory) if row_factory else AsyncRawCursor(conn)
    await cursor.execute(query.encoded, query.args(params) if query.names else None)
    return cursor
