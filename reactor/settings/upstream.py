"""Settings of how the reactor reads the upstream's changes (a part of `Settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from reactor.settings.receipts import SETTINGS_CONFIG


class UpstreamSettings(BaseSettings):
    """What the reactor's reading of the outbox and its bookkeeping cost the upstream."""

    model_config = SETTINGS_CONFIG

    # While invoices keep entering review, the outbox is read every this many ms and
    # the trigger sends no NOTIFY (each one serialises the upstream's commits); an
    # idle reactor is woken by NOTIFY at once. Lower: less latency under load, more
    # of the reactor's statements on the database.
    outbox_poll_milliseconds: int = Field(default=10, ge=1, le=1000)
    # Replica mode: the upstream database, whose invoices reach DATABASE_URL by logical
    # replication (replica.py). Checked like DATABASE_URL (config.py).
    upstream_database_url: str | None = None
    # Readiness fails when replication is further behind the upstream than this.
    replication_max_lag_seconds: float = Field(default=60.0, ge=5, le=86_400)
    # Replica mode: the subscription carries rows in binary (each type's send and receive
    # functions) rather than as text, which costs the upstream's WAL sender, beside the
    # upstream's writers, less. The copy's column types are the upstream's own, so the
    # formats match; off, an upstream that changes a published column to a type with
    # another binary format (int to bigint) still replicates. Applied by `reactor migrate`.
    replication_binary: bool = True
    # The reactor's own commits (intake, claims, outcomes) without waiting for the WAL
    # flush: they stop competing with the upstream's commits for it. A database crash
    # (not a restart) can then undo the last moments of bookkeeping: a message whose
    # outcome is undone is sent again after its lease. Not through a pooler (there, set
    # it on the reactor's role); the upstream's own commits are never affected.
    database_synchronous_commit: Literal["on", "off"] = "off"

    def bookkeeping_options(self, pooled: bool) -> dict[str, str]:
        """libpq options for the pool's connections (none through a pooler)."""
        if pooled or self.database_synchronous_commit == "on":
            return {}
        return {"options": "-c synchronous_commit=off"}
