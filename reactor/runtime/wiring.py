"""Wiring: builds the pool, store, transports, renderer, dispatcher, listener, sweeper and app.

`reactor run`, `reactor sweep` and the operator commands all build what they need here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette

from reactor.db.connections import conninfo
from reactor.db.store import Store
from reactor.domain.decisions import RetryPolicy
from reactor.domain.enums import Channel
from reactor.http.app import Probes, create_app
from reactor.http.console.pages import Console
from reactor.http.slack_actions import SlackActions
from reactor.http.sms_replies import SmsReplies
from reactor.http.takes import Takes
from reactor.http.webhooks import Webhooks
from reactor.messages.renderer import MessageRenderer
from reactor.pipeline.attempts import Attempts
from reactor.pipeline.channels import ChannelState
from reactor.pipeline.corrections import Corrector, Updates
from reactor.pipeline.dispatch import Dispatcher
from reactor.pipeline.doorbell import Doorbell, Pacer
from reactor.pipeline.followups import FollowUps
from reactor.pipeline.listener import Listener
from reactor.pipeline.pauses import OperatorPauses
from reactor.pipeline.recorder import Recorder
from reactor.pipeline.replication_monitor import ReplicationMonitor
from reactor.pipeline.senders import Senders
from reactor.pipeline.sweep import Sweeper
from reactor.settings.service import Settings
from reactor.support.logs import text_redactor
from reactor.transports import Transport, build_transports, email_failover


def make_pool(
    database_url: str, prepared_statements: bool = False, options: dict[str, str] | None = None
) -> AsyncConnectionPool:
    """The dispatcher's pool (the listener has its own connection, never pooled).

    Without `prepared_statements` nothing is ever prepared on the server, so the pool
    may go through PgBouncer in transaction mode, where consecutive statements of one
    client connection may run on different server connections.
    """
    return AsyncConnectionPool(
        conninfo(database_url, "invoice-reactor", **(options or {})),
        min_size=2,
        max_size=6,
        kwargs={"autocommit": True, "prepare_threshold": 0 if prepared_statements else None},
        timeout=5.0,
        open=False,
    )


@asynccontextmanager
async def open_store(database_url: str, prepared_statements: bool = False) -> AsyncIterator[Store]:
    """A store on a pool of its own, opened and closed here (one-shot commands)."""
    async with make_pool(database_url, prepared_statements) as pool:
        store = Store(pool)
        try:
            yield store
        finally:
            await store.release()


def build_dispatcher(
    store: Store,
    settings: Settings,
    transports: Mapping[Channel, Transport] | None = None,
    renderer: MessageRenderer | None = None,
) -> Dispatcher:
    """The dispatcher with its senders, channel states, attempts and recorder."""
    transports = transports if transports is not None else build_transports(settings)
    channels = {channel: ChannelState(t.name) for channel, t in transports.items()}
    policy = RetryPolicy(
        settings.max_attempts, settings.retry_base_seconds, settings.retry_cap_seconds
    )
    attempts = Attempts(
        transports,
        renderer or settings.renderer(),
        channels,
        policy,
        settings.rules.quiet_hours(),
        locales=settings.rules.locales(),
        failover=email_failover(settings),
        failover_after=settings.email_failover_after,
        take_links=settings.take_links,
        replies=store if settings.sms_replies else None,
        slack_take_button=settings.slack_take_button,
        working_hours=settings.rules.working_hours(settings.default_timezone),
    )
    senders = Senders(attempts, Recorder(store), settings.send_concurrency)
    return Dispatcher(store, settings, channels, senders)


@dataclass
class Service:
    """Everything `reactor run` runs in one process."""

    pool: AsyncConnectionPool
    store: Store
    transports: dict[Channel, Transport]
    dispatcher: Dispatcher
    sweeper: Sweeper
    listener: Listener
    pauses: OperatorPauses
    app: Starlette
    replication: ReplicationMonitor | None = None  # replica mode only
    corrector: Corrector | None = None  # with a Slack transport only
    followups: FollowUps | None = None  # with take links only


def build_service(settings: Settings, database_url: str, revision: str | None) -> Service:
    """The whole service for these settings, not yet started (the pool is not open)."""
    pooled = settings.listener_database_url is not None  # DATABASE_URL is a pooler
    pool = make_pool(
        database_url, settings.prepare_statements, settings.bookkeeping_options(pooled)
    )
    store = Store(pool)
    transports = build_transports(settings)
    renderer = settings.renderer()  # one for the senders and the follow-ups
    dispatcher = build_dispatcher(store, settings, transports, renderer)
    redact = text_redactor(settings.secret_values())
    sweeper = Sweeper(
        store, dispatcher, settings.sweep_interval_seconds, settings.retention_days, redact
    )
    pauses = OperatorPauses(store, dispatcher.channels, on_resume=dispatcher.due_now)

    def on_due() -> None:  # rows are due, or an operator paused or resumed a channel
        pauses.wake()
        dispatcher.due_now()

    direct_url = settings.listener_database_url or database_url
    if settings.listener_enabled:
        dispatcher.pacer = Pacer(
            Doorbell(direct_url, settings.listener_timeout_seconds),
            poll_seconds=settings.outbox_poll_milliseconds / 1000.0,
            check_seconds=max(0.5, settings.listener_timeout_seconds / 3),
        )
    listener = Listener(
        direct_url,
        on_wake=dispatcher.wake.set,
        on_connect=sweeper.request,
        on_due=on_due,
        timeout=settings.listener_timeout_seconds,
        redact=redact,
    )
    webhooks = Webhooks(settings, store) if settings.public_base_url else None
    console = (
        Console(settings, store, dispatcher.channels, sweeper, listener)
        if settings.console_enabled
        else None
    )
    replication = (
        ReplicationMonitor(store, settings.upstream_database_url)
        if settings.upstream_database_url
        else None
    )
    probes = Probes(settings, store, listener, dispatcher, sweeper, revision, replication)
    takes = Takes(settings, store) if settings.take_links else None
    replies = SmsReplies(webhooks, store) if webhooks and settings.sms_replies else None
    slack_actions = SlackActions(settings, store) if settings.slack_take_button else None
    app = create_app(probes, webhooks, console, takes, replies, slack_actions)
    slack = transports.get(Channel.SLACK)
    every = settings.after_take_seconds
    corrector = (
        Corrector(store, slack, renderer, settings.rules.locales(), every)
        if isinstance(slack, Updates)
        else None
    )
    followups = (
        FollowUps(store, transports, renderer, settings.rules, every)
        if settings.take_links
        else None
    )
    return Service(
        pool,
        store,
        transports,
        dispatcher,
        sweeper,
        listener,
        pauses,
        app,
        replication,
        corrector,
        followups,
    )
