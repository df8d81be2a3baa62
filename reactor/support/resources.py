"""Where the SQL files and the Alembic scripts are, installed or in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # the `reactor` package


def _locate(name: str) -> Path:
    # A built wheel carries them inside the package (as _sql, _alembic); an editable
    # install or a checkout has them at the project's top level.
    for candidate in (_PACKAGE / f"_{name}", _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")


def sql_dir() -> Path:
    """The folder of SQL files."""
    return _locate("sql")


def alembic_dir() -> Path:
    """The folder of Alembic scripts (env.py, versions/)."""
    return _locate("alembic")


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. sql("queries/claim_events")."""
    return (sql_dir() / f"{name}.sql").read_text()
