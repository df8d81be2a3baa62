"""`reactor run`: listener, dispatcher, sweep timer and probe app in one process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import structlog
import uvicorn
from psycopg_pool import AsyncConnectionPool

from reactor.config import Settings
from reactor.db import conninfo
from reactor.dispatch import Dispatcher
from reactor.listener import Listener
from reactor.logs import text_redactor
from reactor.masking import mask_recipient
from reactor.messages import MessageRenderer
from reactor.recipients import Channel
from reactor.sweep import Sweeper
from reactor.transports import Transport, build_transports
from reactor.web import Probes, create_app

log = structlog.get_logger("reactor.service")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops it on SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_pool(database_url: str, prepared_statements: bool = False) -> AsyncConnectionPool:
    """The dispatcher's pool (the listener has its own connection, never pooled).

    Without `prepared_statements` nothing is ever prepared on the server, so the pool
    may go through PgBouncer in transaction mode, where consecutive statements of one
    client connection may run on different server connections.
    """
    return AsyncConnectionPool(
        conninfo(database_url, "invoice-reactor"),
        min_size=2,
        max_size=6,
        kwargs={"autocommit": True, "prepare_threshold": 0 if prepared_statements else None},
        timeout=5.0,
        open=False,
    )


def make_renderer(settings: Settings) -> MessageRenderer:
    """The message renderer for these settings."""
    return MessageRenderer(
        frontend_base_url=str(settings.frontend_base_url),
        invoice_path=settings.invoice_link_path,
        default_currency=settings.default_currency,
        sms_max_segments=settings.sms_max_segments,
    )


def _console_note(settings: Settings, channel: Channel) -> str:
    mode = settings.email_transport if channel is Channel.EMAIL else settings.sms_transport
    if mode == "auto":
        return "no provider credentials: messages are logged, not sent"
    return "console transport chosen: messages are logged, not sent"


def announce(settings: Settings, transports: dict[Channel, Transport]) -> None:
    """Say once at start-up what this process will do, and which recipients it skips."""
    recipients = settings.recipients
    for entry in recipients.rejected:
        log.warning("skipping invalid recipient", recipient=entry)
    for channel, transport in transports.items():
        log.info(
            "channel ready",
            channel=channel.value,
            transport=transport.name,
            recipients=[mask_recipient(r.address) for r in recipients.for_channel(channel)],
            note=_console_note(settings, channel) if transport.name == "console" else None,
        )


async def serve(settings: Settings, database_url: str, revision: str | None) -> int:
    """Run the service until SIGTERM or SIGINT; return the exit status."""
    pool = make_pool(database_url, settings.prepare_statements)
    await pool.open(wait=False)
    transports = build_transports(settings)
    announce(settings, transports)
    dispatcher = Dispatcher(pool, settings, transports, make_renderer(settings))
    redact = text_redactor(settings.secret_values())
    sweeper = Sweeper(
        pool, dispatcher, settings.sweep_interval_seconds, settings.retention_days, redact
    )
    listener = Listener(
        settings.listener_database_url or database_url,
        on_wake=dispatcher.wake.set,
        on_connect=sweeper.request,
        on_due=dispatcher.due_now,
        timeout=settings.listener_timeout_seconds,
        redact=redact,
    )
    app = create_app(Probes(settings, pool, listener, dispatcher, sweeper, revision))
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
        )
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    tasks = {
        asyncio.create_task(dispatcher.run(), name="dispatcher"),
        asyncio.create_task(sweeper.run(), name="sweep"),
        asyncio.create_task(server.serve(), name="http"),
    }
    if settings.listener_enabled:
        tasks.add(asyncio.create_task(listener.run(), name="listener"))
    else:
        log.warning("listener disabled: only the periodic sweep sends (polling mode)")
        sweeper.request()
    stopper = asyncio.create_task(stop.wait(), name="stop")
    done, _ = await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
    status = 0
    for task in done - {stopper}:
        status = 1
        error = None if task.cancelled() else task.exception()
        log.error(
            "component stopped unexpectedly; shutting down",
            component=task.get_name(),
            error=repr(error) if error else None,
        )
    log.info("stopping", grace_seconds=settings.shutdown_grace_seconds)
    sweeper.stop()
    listener.stop()
    by_name = {task.get_name(): task for task in tasks}
    await dispatcher.stop(settings.shutdown_grace_seconds, run_task=by_name["dispatcher"])
    server.should_exit = True
    for name in ("listener", "sweep"):
        if name in by_name:
            by_name[name].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await pool.close()
    log.info("stopped", status=status)
    return status
