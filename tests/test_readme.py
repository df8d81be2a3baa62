"""Every SQL statement the README shows runs against the schema."""

from __future__ import annotations

import re

import psycopg

from tests.helpers import ROOT, insert_invoices

README = (ROOT / "README.md").read_text()


def _sql_blocks() -> list[str]:
    return _sql_blocks_in(README)


def _statements(block: str) -> list[str]:
    return [
        s.strip()
        for s in block.split(";")
        if s.strip() and not all(line.startswith("--") for line in s.strip().splitlines())
    ]


def _section(heading: str) -> str:
    return README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_hand_trigger_example_works_as_written_on_a_fresh_database(
    database_url: str,
) -> None:
    """A newcomer pastes it into the psql that `reactor run` printed: nothing else exists."""
    [block] = _sql_blocks_in(_section("Trigger a notification by hand"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in _statements(block):
            cursor = conn.execute(statement)
            if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE"):
                assert cursor.rowcount >= 1, f"changes nothing on a fresh database: {statement}"
        flipped = conn.execute(
            "SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events"
        ).fetchone()
    assert flipped == (2,), "the INSERT and the UPDATE each put one invoice into review"


def _sql_blocks_in(text: str) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_every_readme_query_runs(database_url: str) -> None:
    insert_invoices(database_url, 2, status="MATCHED")
    ran = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for block in _sql_blocks():
            for statement in _statements(block):
                conn.execute(statement)
                ran += 1
    assert ran >= 7


def test_readme_names_every_setting() -> None:
    from reactor.config import Settings

    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, name
