"""`reactor run`: the service's lifetime, from start-up to a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator, Mapping

import structlog
import uvicorn

from reactor import __version__
from reactor.domain.enums import Channel
from reactor.runtime.wiring import build_service
from reactor.settings.service import Settings
from reactor.support import tracing
from reactor.support.masking import mask_recipient
from reactor.transports import Transport

log = structlog.get_logger("reactor.service")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops it on SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _console_note(settings: Settings, channel: Channel) -> str:
    if settings.transport_setting(channel) == "auto":
        return "no provider credentials: messages are logged, not sent"
    return "console transport chosen: messages are logged, not sent"


def announce(settings: Settings, transports: Mapping[Channel, Transport]) -> None:
    """Say once at start-up what this process will do, and which recipients it skips."""
    recipients = settings.recipients
    if settings.notification_rules_file and settings.notification_recipients.strip():
        log.warning(
            "NOTIFICATION_RECIPIENTS is ignored: NOTIFICATION_RULES_FILE decides who is told",
            rules_file=str(settings.notification_rules_file),
        )
    for entry in recipients.rejected:
        log.warning("skipping invalid recipient", recipient=entry)
    server = settings.smtp_server
    if server and settings.email_transport_in_use == "sendgrid":
        log.info(
            "email fails over to the SMTP relay",
            relay=server.redacted(),
            after_attempts=settings.email_failover_after,
        )
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
    service = build_service(settings, database_url, revision)
    await service.pool.open(wait=False)
    announce(settings, service.transports)
    if tracing.configure(__version__):
        log.info("traces are exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT)")
    dispatcher, sweeper, listener = service.dispatcher, service.sweeper, service.listener
    server = _Server(
        uvicorn.Config(
            service.app,
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
        asyncio.create_task(service.pauses.run(), name="pauses"),
    }
    if settings.listener_enabled:
        tasks.add(asyncio.create_task(listener.run(), name="listener"))
    else:
        log.warning("listener disabled: only the periodic sweep sends (polling mode)")
        sweeper.request()
    if service.replication is not None:
        tasks.add(asyncio.create_task(service.replication.run(), name="replication"))
    if service.corrector is not None:
        tasks.add(asyncio.create_task(service.corrector.run(), name="corrections"))
    if service.followups is not None:
        tasks.add(asyncio.create_task(service.followups.run(), name="follow-ups"))
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
    if service.replication is not None:
        service.replication.stop()
    by_name = {task.get_name(): task for task in tasks}
    await dispatcher.stop(settings.shutdown_grace_seconds, run_task=by_name["dispatcher"])
    server.should_exit = True
    for name in ("listener", "sweep", "pauses", "replication", "corrections", "follow-ups"):
        if name in by_name:
            by_name[name].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    if dispatcher.pacer is not None:
        await dispatcher.pacer.doorbell.close()
    await service.store.release()
    await service.pool.close()
    tracing.shutdown()
    log.info("stopped", status=status)
    return status
