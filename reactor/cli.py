"""The `reactor` command: run, migrate, sweep."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from reactor import __version__
from reactor.config import ConfigError, DatabaseSettings, Settings, load_settings
from reactor.embedded import EmbeddedPostgres, EmbeddedPostgresError, bin_dir
from reactor.recipients import Channel

EXIT_CONFIG = 2


def _say(line: str) -> None:
    print(f"reactor: {line}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reactor",
        description="Notifies accounts payable the moment an invoice needs review.",
    )
    parser.add_argument("--version", action="version", version=f"invoice-reactor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the service: listener, sweep timer and probe app",
        description="Run the listener, the dispatcher, the periodic sweep and the HTTP probes "
        "(HOST, PORT) until SIGTERM or SIGINT. With no DATABASE_URL, starts an embedded "
        "PostgreSQL in REACTOR_DATA_DIR and migrates it.",
    )
    commands.add_parser(
        "migrate",
        help="apply the database migrations (alembic upgrade head)",
        description="Apply the Alembic migrations to DATABASE_URL (or the embedded server).",
    )
    sweep = commands.add_parser(
        "sweep",
        help="one sweep pass, then exit",
        description="Find unprocessed events, invoices in review never notified, and due "
        "retries; send them; print a summary table.",
    )
    sweep.add_argument("--dry-run", action="store_true", help="only report what would be sent")
    status = commands.add_parser(
        "status",
        help="print delivery counts, the backlog and the top failures",
        description="Counts by status and channel, pending outbox events, the oldest pending "
        "age and the most frequent failure messages.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.add_argument("--top", type=int, default=10, help="failure messages to show (10)")
    retry = commands.add_parser(
        "retry",
        help="requeue FAILED deliveries",
        description="Put FAILED deliveries back to PENDING with fresh attempts, and wake the "
        "running reactors. Give at least one filter, or --all.",
    )
    retry.add_argument("--all", action="store_true", help="every FAILED delivery")
    retry.add_argument("--invoice", type=UUID, metavar="ID", help="only this invoice")
    retry.add_argument("--channel", choices=[c.value for c in Channel], help="only this channel")
    retry.add_argument(
        "--since",
        type=datetime.fromisoformat,
        metavar="TIME",
        help="only failures recorded at or after this ISO time (e.g. 2026-11-24T08:00)",
    )
    return parser


@contextmanager
def database(settings: DatabaseSettings, migrate: bool) -> Iterator[str]:
    """The database URL: DATABASE_URL, or an embedded server started (and stopped) here."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.reactor_data_dir)
    already_running = server.is_running() if server.pgdata.exists() else False
    try:
        server.start()
    except EmbeddedPostgresError as error:
        _say(f"embedded PostgreSQL: {error}")
        raise SystemExit(1) from None
    _say(f"embedded PostgreSQL data folder: {server.data_dir}")
    _say(f"connect with: {bin_dir() / 'psql'} {server.url}")
    try:
        if migrate:
            from reactor import migrations

            migrations.upgrade(server.url)
        yield server.url
    finally:
        if not already_running:
            server.stop()


def _require_current_schema(database_url: str) -> str:
    from reactor import migrations

    try:
        current, found, head = migrations.schema_is_current(database_url)
    except Exception as error:
        _say(f"DATABASE_URL: cannot reach the database ({type(error).__name__})")
        raise SystemExit(1) from None
    if not current:
        _say(
            f"DATABASE_URL: schema is at revision {found or 'none'}, this reactor needs {head}; "
            "run `reactor migrate` first"
        )
        raise SystemExit(EXIT_CONFIG)
    return head


def cmd_run(settings: Settings) -> int:
    """Run the service."""
    from reactor.logs import configure_logging
    from reactor.migrations import head_revision
    from reactor.service import serve

    configure_logging(settings.log_level, secrets=settings.secret_values())
    with database(settings, migrate=True) as url:
        revision = _require_current_schema(url) if settings.database_url else head_revision()
        return asyncio.run(serve(settings, url, revision))


def cmd_migrate(settings: DatabaseSettings) -> int:
    """Apply the migrations."""
    from reactor import migrations

    with database(settings, migrate=False) as url:
        migrations.upgrade(url)
        _say(f"database is at revision {migrations.head_revision()}")
    return 0


def cmd_sweep(settings: Settings, dry_run: bool) -> int:
    """One sweep pass with a summary table."""
    from reactor.logs import configure_logging
    from reactor.sweep import run_sweep

    configure_logging(settings.log_level, secrets=settings.secret_values())
    with database(settings, migrate=not settings.database_url) as url:
        if settings.database_url:
            _require_current_schema(url)
        print(asyncio.run(run_sweep(settings, url, dry_run)))
    return 0


def cmd_status(settings: DatabaseSettings, as_json: bool, top: int) -> int:
    """Print the delivery status."""
    from reactor.operator import collect_status, format_status

    with database(settings, migrate=False) as url:
        _require_current_schema(url)
        print(format_status(collect_status(url, top), as_json))
    return 0


def cmd_retry(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    """Requeue failed deliveries."""
    from reactor.operator import requeue_failed

    if not (args.all or args.invoice or args.channel or args.since):
        _say("retry: give --all, or a filter (--invoice, --channel, --since)")
        return EXIT_CONFIG
    with database(settings, migrate=False) as url:
        _require_current_schema(url)
        count = requeue_failed(url, args.invoice, args.channel, args.since)
    print(f"requeued {count} failed deliver{'y' if count == 1 else 'ies'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `reactor` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command in ("migrate", "status", "retry"):
            database_settings = load_settings(DatabaseSettings)
            if args.command == "status":
                return cmd_status(database_settings, args.json, args.top)
            if args.command == "retry":
                return cmd_retry(database_settings, args)
            return cmd_migrate(database_settings)
        settings = load_settings(Settings)
    except ConfigError as error:
        _say(f"configuration error: {error}")
        return EXIT_CONFIG
    if args.command == "run":
        return cmd_run(settings)
    return cmd_sweep(settings, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
