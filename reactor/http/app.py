"""The probe and metrics app, served in the listener's own process so it can see it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from reactor import __version__
from reactor.pipeline.listener import CHANNEL
from reactor.pipeline.queue_state import read_queue_state
from reactor.pipeline.replication_monitor import verdict
from reactor.support import metrics
from reactor.support.aio import bounded

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.http.console.pages import Console
    from reactor.http.slack_actions import SlackActions
    from reactor.http.sms_replies import SmsReplies
    from reactor.http.takes import Takes
    from reactor.http.webhooks import Webhooks
    from reactor.pipeline.dispatch import Dispatcher
    from reactor.pipeline.listener import Listener
    from reactor.pipeline.replication_monitor import ReplicationMonitor
    from reactor.pipeline.sweep import Sweeper
    from reactor.settings.service import Settings

PROBE_TIMEOUT = 0.5  # readiness must answer within a second even when the database hangs


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class RequestIdMiddleware:
    """Takes X-Request-ID (or makes one), binds it to log lines, echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


class Probes:
    """Answers the health endpoints from the live state of this process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        listener: Listener,
        dispatcher: Dispatcher,
        sweeper: Sweeper,
        revision: str | None,
        replication: ReplicationMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.listener = listener
        self.dispatcher = dispatcher
        self.sweeper = sweeper
        self.revision = revision
        self.replication = replication

    async def readiness(self) -> tuple[dict[str, Any], bool]:
        """What /health/ready answers, and whether it is ready (sets the readiness gauge)."""
        database = await self.database()
        listener = self.listener.state
        body: dict[str, Any] = {
            "database": database,
            "listener": {"connected": listener.connected, "listening": listener.listening},
        }
        listening = listener.listening or not self.settings.listener_enabled
        stalled_for = self.dispatcher.stalled_for()
        stalled = stalled_for > self.settings.dispatcher_stall_seconds
        body["dispatcher"] = {"stalled": stalled, "stalled_for_seconds": round(stalled_for, 1)}
        replication, lagging = self.replication_verdict()
        if replication is not None:
            body["replication"] = replication
        is_ready = database["up"] and listening and not stalled and lagging is None
        body["status"] = "ready" if is_ready else "not ready"
        if stalled:
            body["reason"] = "the dispatcher has made no progress in its current pass"
        elif lagging:
            body["reason"] = lagging
        metrics.READY.set(1 if is_ready else 0)
        return body, is_ready

    def channel_pauses(self) -> None:
        """Set each channel's paused gauge from its live state."""
        for channel, state in self.dispatcher.channels.items():
            metrics.CHANNEL_PAUSED.labels(channel.value).set(1 if state.paused_for() > 0 else 0)

    def replication_verdict(self) -> tuple[dict[str, Any] | None, str | None]:
        """Replica mode's state for the probes, and why it blocks readiness (None: it does not)."""
        if self.replication is None:
            return None, None
        state = self.replication.state
        return state.public(), verdict(state, self.settings.replication_max_lag_seconds)

    async def database(self) -> dict[str, Any]:
        """Round trip to the database, bounded by PROBE_TIMEOUT."""
        started = time.perf_counter()
        try:
            await bounded(self.store.ping(timeout=PROBE_TIMEOUT), PROBE_TIMEOUT)
        except Exception as error:  # any failure means "not up"; never a 500
            return {"up": False, "error": type(error).__name__}
        return {"up": True, "round_trip_ms": round((time.perf_counter() - started) * 1000, 2)}

    async def backlog(self) -> dict[str, Any]:
        """Pending, sending and failed counts (and updates the backlog gauges)."""
        try:
            queue = await bounded(
                read_queue_state(self.store, timeout=PROBE_TIMEOUT), 3 * PROBE_TIMEOUT
            )
        except Exception as error:
            return {"available": False, "error": type(error).__name__}
        metrics.BACKLOG.labels("PENDING").set(queue.pending)
        metrics.BACKLOG.labels("SENDING").set(queue.sending)
        metrics.BACKLOG.labels("FAILED").set(queue.failed)
        metrics.BACKLOG_OLDEST_PENDING.set(queue.oldest_pending_age_seconds or 0)
        return {
            "available": True,
            "pending": queue.pending,
            "sending": queue.sending,
            "failed": queue.failed,
            "pending_events": queue.pending_events,
            "oldest_pending_age_seconds": queue.oldest_pending_age_seconds,
            "oldest_event_age_seconds": queue.oldest_event_age_seconds,
            "waiting": queue.waiting,
            "receipts_last_day": queue.receipts_last_day,
        }

    def listener_state(self) -> dict[str, Any]:
        """The listener's connection state."""
        state: dict[str, Any] = _jsonable(asdict(self.listener.state))
        return state

    def transports(self) -> dict[str, Any]:
        """Each channel's transport and its last success and failure."""
        out = {}
        for channel, state in self.dispatcher.channels.items():
            data = state.snapshot()
            data["configured"] = self.settings.transport_setting(channel)
            out[channel.value] = data
        return out


async def root(request: Request) -> JSONResponse:
    """Service name, version, status."""
    return JSONResponse({"service": "invoice-reactor", "version": __version__, "status": "ok"})


async def info(request: Request) -> JSONResponse:
    """Static facts about this process; never an address or a credential."""
    probes: Probes = request.app.state.probes
    settings = probes.settings
    recipients = settings.recipients
    return JSONResponse(
        {
            "service": "invoice-reactor",
            "version": __version__,
            "migration_revision": probes.revision,
            "sweep_interval_minutes": settings.review_notification_interval,
            "recipients": {
                c.value: len(recipients.for_channel(c)) for c in probes.dispatcher.channels
            },
            "transports": {c.value: s.transport for c, s in probes.dispatcher.channels.items()},
            "transport_settings": {
                c.value: probes.settings.transport_setting(c) for c in probes.dispatcher.channels
            },
            "notify_channel": CHANNEL,
            "send_concurrency": settings.send_concurrency,
        }
    )


async def live(request: Request) -> JSONResponse:
    """200 while the event loop runs; touches nothing outside the process."""
    return JSONResponse({"status": "alive"})


async def ready(request: Request) -> JSONResponse:
    """200 only when the database answers and the listener is listening."""
    probes: Probes = request.app.state.probes
    body, is_ready = await probes.readiness()
    return JSONResponse(body, status_code=200 if is_ready else 503)


async def status(request: Request) -> JSONResponse:
    """Every component with detail; always 200."""
    probes: Probes = request.app.state.probes
    database, backlog = await asyncio.gather(probes.database(), probes.backlog())
    listener = probes.listener_state()
    transports = probes.transports()
    listener_down = probes.settings.listener_enabled and not listener["listening"]
    channel_paused = any(t["paused_for_seconds"] > 0 for t in transports.values())
    stalled_for = probes.dispatcher.stalled_for()
    stalled = stalled_for > probes.settings.dispatcher_stall_seconds
    replication, lagging = probes.replication_verdict()
    if not database["up"] or stalled or lagging:
        overall = "unhealthy"
    elif listener_down or channel_paused:
        overall = "degraded"
    else:
        overall = "healthy"
    sweep = _jsonable(asdict(probes.sweeper.state))
    return JSONResponse(
        {
            "status": overall,
            "version": __version__,
            "database": database,
            "listener": listener,
            "sweep": sweep,
            "dispatcher": {"stalled": stalled, "stalled_for_seconds": round(stalled_for, 1)},
            "transports": transports,
            "backlog": backlog,
            **({"replication": {**replication, "problem": lagging}} if replication else {}),
        }
    )


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; refreshes the backlog, readiness and pause gauges first."""
    probes: Probes = request.app.state.probes
    await asyncio.gather(probes.backlog(), probes.readiness())
    probes.channel_pauses()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and methods answer as JSON."""
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"error": "not found" if code == 404 else "error"}, status_code=code)


def create_app(
    probes: Probes,
    webhooks: Webhooks | None = None,
    console: Console | None = None,
    takes: Takes | None = None,
    replies: SmsReplies | None = None,
    slack_actions: SlackActions | None = None,
) -> Starlette:
    """The Starlette app for one running service (receipts, console, take page, SMS
    replies and Slack's take button when on)."""
    app = Starlette(
        routes=[
            Route("/", root),
            Route("/info", info),
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/health/status", status),
            Route("/metrics", metrics_endpoint),
            *(webhooks.routes() if webhooks else []),
            *([console.mount()] if console else []),
            *([takes.mount()] if takes else []),
            *([replies.route()] if replies else []),
            *(slack_actions.routes() if slack_actions else []),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.probes = probes
    return app
