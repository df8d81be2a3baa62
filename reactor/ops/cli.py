"""The `reactor` command: run, migrate, sweep, status, retry, prune, rules, templates."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from reactor import __version__
from reactor.db.connections import DatabaseUnreachable
from reactor.db.revisions import MigrationError
from reactor.domain.enums import Channel
from reactor.ops.databases import EXIT_CONFIG, EXIT_FAILED, database, require_current_schema, say
from reactor.settings.service import (
    ConfigError,
    DatabaseSettings,
    OperatorSettings,
    Settings,
    load_settings,
)


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
        description="Apply the Alembic migrations to LISTENER_DATABASE_URL when set (a direct "
        "connection), else DATABASE_URL (or the embedded server). A lock on the upstream "
        "invoices table is waited for at most MIGRATE_LOCK_TIMEOUT_SECONDS.",
    )
    commands.add_parser(
        "upstream-sql",
        help="print what the upstream's DBA runs for replica mode",
        description="Print the publication (the columns the reactor reads, as the upstream "
        "at UPSTREAM_DATABASE_URL has them) and the replication role that replica mode "
        "needs on the upstream. Nothing else of the reactor lives there.",
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
    prune = commands.add_parser(
        "prune",
        help="delete old delivery records (retention)",
        description="Delete review episodes and their delivery records whose invoice is no "
        "longer in review and whose last change is older than RETENTION_DAYS (or --older-than), "
        "in small batches. Never a row of an invoice in review, never a PENDING or SENDING row.",
    )
    prune.add_argument(
        "--older-than", type=int, metavar="DAYS", help="override RETENTION_DAYS for this run"
    )
    prune.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    rules = commands.add_parser(
        "rules",
        help="check the notification rules, or explain them for one invoice",
        description="`check [FILE]` validates a rules file (default: NOTIFICATION_RULES_FILE) "
        "and prints its rules; `explain INVOICE_ID` prints who would be told about that "
        "invoice, on which channel, and by which rule.",
    )
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rules_commands.add_parser("check", help="validate a rules file and print its rules")
    check.add_argument("file", nargs="?", type=Path, help="the file (NOTIFICATION_RULES_FILE)")
    explain = rules_commands.add_parser("explain", help="who would be told about an invoice")
    explain.add_argument("invoice_id", type=UUID, metavar="INVOICE_ID")
    templates = commands.add_parser(
        "templates",
        help="preview an invoice's message as the templates render it",
        description="`preview INVOICE_ID` prints the message that invoice would get, rendered "
        "from the database by the same templates (TEMPLATES_DIR) and locale, never sent.",
    )
    template_commands = templates.add_subparsers(
        dest="templates_command", required=True, metavar="ACTION"
    )
    shown = template_commands.add_parser("preview", help="render an invoice's message")
    shown.add_argument("invoice_id", type=UUID, metavar="INVOICE_ID")
    channels = [channel.value for channel in Channel]
    shown.add_argument("--channel", choices=channels, default="email", help="(default: email)")
    shown.add_argument("--locale", help="the reader's locale, e.g. de-DE (DEFAULT_LOCALE)")
    shown.add_argument("--reminder", action="store_true", help="the reminder's wording")
    shown.add_argument("--out", type=Path, help="write the email's HTML part to this file")
    console = commands.add_parser(
        "console",
        help="the operator console's users",
        description="`add-user NAME` reads a password (a prompt, or stdin when not a terminal) "
        "and prints a NAME:HASH entry for CONSOLE_USERS.",
    )
    actions = console.add_subparsers(dest="console_command", required=True, metavar="ACTION")
    actions.add_parser("add-user", help="print a CONSOLE_USERS entry").add_argument("name")
    return parser


def cmd_rules(args: argparse.Namespace) -> int:
    """`reactor rules check|explain`."""
    from reactor.ops.explain import format_rules, run_explain

    overrides = {"notification_rules_file": args.file} if getattr(args, "file", None) else {}
    settings = load_settings(Settings, **overrides)
    if args.rules_command == "check":
        print(format_rules(settings.rules))
        return 0
    with database(settings) as url:
        require_current_schema(settings, url)
        explained = run_explain(settings, url, args.invoice_id)
    if explained is None:
        say(f"rules explain: no invoice {args.invoice_id}")
        return EXIT_FAILED
    print(explained)
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    """`reactor templates preview`."""
    from reactor.ops.previews import preview, read_invoice
    from reactor.policy.recipients import parse_locale

    settings = load_settings(Settings)
    try:
        locale = parse_locale(args.locale) if args.locale else None
    except ValueError as error:
        say(f"templates preview: --locale: {error}")
        return EXIT_CONFIG
    with database(settings) as url:
        require_current_schema(settings, url)
        invoice = read_invoice(url, args.invoice_id)
    if invoice is None:
        say(f"templates preview: no invoice {args.invoice_id}")
        return EXIT_FAILED
    shown = preview(settings, invoice, args.channel, locale, args.reminder)
    print(shown.text)
    if args.out is not None:
        if shown.html is None:
            say("templates preview: --out writes an email's HTML; give --channel email")
            return EXIT_CONFIG
        args.out.write_text(shown.html, encoding="utf-8")
    return 0


def run_event_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run the service's coroutine on uvloop where it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # Windows: uvloop does not exist there
        return asyncio.run(main)
    return uvloop.run(main)


def cmd_run(settings: Settings) -> int:
    """Run the service."""
    from reactor.runtime.service import serve
    from reactor.support.logs import configure_logging

    configure_logging(settings.log_level, secrets=settings.secret_values())
    with database(settings, serving=True) as url:
        revision = require_current_schema(settings, url)
        return run_event_loop(serve(settings, url, revision))


def cmd_migrate(settings: OperatorSettings) -> int:
    """Apply the migrations, on the direct connection when there is one; in replica
    mode, around them the copy of `invoices` and the subscription."""
    from reactor.db import migrations, replica

    with database(settings, migrate=False) as url:
        direct = settings.listener_database_url or url
        upstream = settings.upstream_database_url
        if upstream:
            replica.prepare(direct, upstream)
        migrations.upgrade(direct, lock_timeout_seconds=settings.migrate_lock_timeout_seconds)
        say(f"database is at revision {migrations.head_revision()}")
        if upstream:
            subscribed = replica.subscribe(direct, upstream, settings.replication_binary)
            say(f"replica mode: {subscribed}")
    return 0


def cmd_upstream_sql(settings: OperatorSettings) -> int:
    """Print the upstream's part of replica mode."""
    from reactor.db import replica

    if not settings.upstream_database_url:
        say("upstream-sql: UPSTREAM_DATABASE_URL is not set (replica mode is off)")
        return EXIT_CONFIG
    print(replica.upstream_sql(replica.upstream_columns(settings.upstream_database_url)))
    return 0


def cmd_prune(settings: DatabaseSettings, older_than: int | None, dry_run: bool) -> int:
    """Delete old delivery records."""
    from reactor.ops.commands import run_prune

    if older_than is not None and older_than < 1:
        say("prune: --older-than: give 1 day or more")
        return EXIT_CONFIG
    days = settings.retention_days if older_than is None else older_than
    if days == 0:
        say("prune: retention is off (RETENTION_DAYS=0, no --older-than): nothing deleted")
        return 0
    with database(settings) as url:
        require_current_schema(settings, url)
        print(run_prune(url, days, dry_run))
    return 0


def cmd_sweep(settings: Settings, dry_run: bool) -> int:
    """One sweep pass with a summary table."""
    from reactor.ops.commands import run_sweep
    from reactor.support.logs import configure_logging

    configure_logging(settings.log_level, secrets=settings.secret_values())
    with database(settings) as url:
        require_current_schema(settings, url)
        print(run_sweep(settings, url, dry_run))
    return 0


def cmd_status(settings: DatabaseSettings, as_json: bool, top: int) -> int:
    """Print the delivery status."""
    from reactor.ops.commands import run_status

    with database(settings) as url:
        require_current_schema(settings, url)
        print(run_status(url, top, as_json))
    return 0


def cmd_retry(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    """Requeue failed deliveries."""
    from reactor.ops.commands import run_retry

    if not (args.all or args.invoice or args.channel or args.since):
        say("retry: give --all, or a filter (--invoice, --channel, --since)")
        return EXIT_CONFIG
    with database(settings) as url:
        require_current_schema(settings, url)
        count = run_retry(url, args.invoice, args.channel, args.since)
    print(f"requeued {count} failed deliver{'y' if count == 1 else 'ies'}")
    return 0


def _command(args: argparse.Namespace) -> int:
    if args.command in ("migrate", "status", "retry", "prune", "upstream-sql"):
        database_settings = load_settings(OperatorSettings)
        if args.command == "upstream-sql":
            return cmd_upstream_sql(database_settings)
        if args.command == "status":
            return cmd_status(database_settings, args.json, args.top)
        if args.command == "retry":
            return cmd_retry(database_settings, args)
        if args.command == "prune":
            return cmd_prune(database_settings, args.older_than, args.dry_run)
        return cmd_migrate(database_settings)
    if args.command == "rules":
        return cmd_rules(args)
    if args.command == "templates":
        return cmd_templates(args)
    if args.command == "console":
        from reactor.ops.users import add_user

        return add_user(args.name)
    settings = load_settings(Settings)
    if args.command == "run":
        return cmd_run(settings)
    return cmd_sweep(settings, args.dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `reactor` console script."""
    from reactor.db.replica import ReplicaError

    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except ConfigError as error:
        say(f"configuration error: {error}")
        return EXIT_CONFIG
    except DatabaseUnreachable as error:
        say(str(error))
        return EXIT_CONFIG
    except MigrationError as error:
        say(f"migrate: {error}")
        return EXIT_FAILED
    except ReplicaError as error:
        say(str(error))
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
