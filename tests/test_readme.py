"""Every SQL statement the README shows runs against the schema."""

from __future__ import annotations

import re

import psycopg

from tests.helpers import ROOT, insert_invoices

README = (ROOT / "README.md").read_text()


def _sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", README, flags=re.S)


def _statements(block: str) -> list[str]:
    return [
        s.strip()
        for s in block.split(";")
        if s.strip() and not all(line.startswith("--") for line in s.strip().splitlines())
    ]


def test_readme_has_operator_queries() -> None:
    assert "## Operator queries" in README
    assert len(_sql_blocks()) >= 2


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
