"""Database URLs, connections and the schema-version check."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import PoolTimeout

from reactor.support.resources import sql

_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SERVER_RE = re.compile(r'server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+)')


# What a lost or unreachable database raises: retried by the loops, never a crash.
DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


def libpq_url(url: str) -> str:
    """The URL as libpq wants it (drops a SQLAlchemy driver suffix)."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError("must start with postgresql:// (e.g. postgresql://user:pass@host:5432/db)")
    return urlunsplit(parts._replace(scheme="postgresql"))


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy wants it, with the psycopg 3 driver."""
    return urlunsplit(urlsplit(libpq_url(url))._replace(scheme="postgresql+psycopg"))


def conninfo(url: str, application_name: str, **extra: str | int | None) -> str:
    """A libpq conninfo string with our application name and TCP keepalives."""
    defaults: dict[str, str | int | None] = {
        "application_name": application_name,
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    given = conninfo_to_dict(libpq_url(url)).get("options")
    if given and "options" in extra:  # keep the URL's own server options beside ours
        extra = {**extra, "options": f"{given} {extra['options']}"}
    return make_conninfo(libpq_url(url), **{**defaults, **extra})


def redacted(url: str) -> str:
    """The URL with its password replaced, safe to print."""
    parts = conninfo_to_dict(libpq_url(url))
    user = parts.get("user", "")
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    dbname = parts.get("dbname", "")
    secret = ":***" if parts.get("password") else ""
    return f"postgresql://{user}{secret}@{host}:{port}/{dbname}"


class DatabaseUnreachable(Exception):
    """The database cannot be reached; the message says so in one line."""


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A short-lived connection for a command (nothing prepared: poolers welcome)."""
    try:
        return psycopg.connect(
            conninfo(url, "invoice-reactor command"), prepare_threshold=None, **kwargs
        )
    except psycopg.OperationalError as error:
        raise DatabaseUnreachable(unreachable_reason(error)) from None


def unreachable_reason(error: BaseException) -> str:
    """One line saying the database cannot be reached, and why (no secret in it)."""
    text = str(error).strip()
    # libpq's message: 'connection failed: connection to server at "h", port p failed: why'
    reason = text.splitlines()[0].rsplit("failed:", 1)[-1].strip() if text else ""
    where = ""
    if match := _SERVER_RE.search(text):
        where = f" at {match['host']}:{match['port']}"
    return f"DATABASE_URL: cannot reach the database{where} ({reason or type(error).__name__})"


def current_revision(connection: psycopg.Connection) -> str | None:
    """The Alembic revision the database is at, or None when never migrated."""
    try:
        row = connection.execute(sql("queries/schema_revision")).fetchone()
    except psycopg.errors.UndefinedTable:
        connection.rollback()
        return None
    return row[0] if row else None
