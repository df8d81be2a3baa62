"""The console's pages: sign-in, overview, deliveries, one invoice, failures and retry.

Server-rendered (Jinja2, autoescaped), every asset served here, no JavaScript
needed. Every page but the sign-in form needs a session; every change is a POST
carrying the session's CSRF token; every answer carries a strict CSP.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from uuid import UUID

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from reactor.domain.enums import Status
from reactor.http.console.actions import ConsoleActions
from reactor.http.console.charts import bar_chart
from reactor.http.console.forms import list_filters, page_templates, posted, safe_next
from reactor.http.console.guards import COOKIE, StrictHeaders, changes, signed_in
from reactor.messages.amounts import format_amount
from reactor.messages.locales import format_day, preferred_locale
from reactor.pipeline.queue_state import read_queue_state
from reactor.support.console_auth import (
    FailedLogins,
    Session,
    SessionSigner,
    parse_users,
    verify_password,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reactor.db.store import Store
    from reactor.domain.enums import Channel
    from reactor.pipeline.channels import ChannelState
    from reactor.pipeline.listener import Listener
    from reactor.pipeline.sweep import Sweeper
    from reactor.settings.service import Settings

log = structlog.get_logger("reactor.console")

PAGE_SIZE = 50
STATUSES = tuple(Status)


class Console(ConsoleActions):
    """The console's routes, with the store, the users and the session signer."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        channels: Mapping[Channel, ChannelState],
        sweeper: Sweeper,
        listener: Listener,
    ) -> None:
        assert settings.console_users and settings.console_secret_key  # checked at start-up
        self.settings = settings
        self.store = store
        self.channels = channels
        self.sweeper = sweeper
        self.listener = listener
        self.users = parse_users(settings.console_users.get_secret_value())
        self.signer = SessionSigner(
            settings.console_secret_key.get_secret_value(), settings.console_session_hours
        )
        self.failed_logins = FailedLogins()
        self.templates = page_templates()

    def mount(self) -> Mount:
        """Everything under /console/."""
        static = StaticFiles(packages=[("reactor.http.console", "static")])
        return Mount(
            "/console",
            app=StrictHeaders(
                Router(
                    routes=[
                        Route("/", self.overview),
                        Route("/login", self.login, methods=["GET", "POST"]),
                        Route("/logout", self.logout, methods=["POST"]),
                        Route("/deliveries", self.deliveries),
                        Route("/invoices/{invoice_id}", self.invoice),
                        Route("/failures", self.failures),
                        Route("/retry", self.retry, methods=["POST"]),
                        Route("/sweep", self.sweep, methods=["POST"]),
                        Route("/channels/{channel}/{action}", self.pause, methods=["POST"]),
                        Mount("/static", app=static, name="static"),
                    ]
                )
            ),
        )

    # -- sign-in ---------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """The sign-in form, and its answer; failures are limited per client and name."""
        client = request.client.host if request.client else "?"
        if request.method == "GET":
            return self._page("login.html.j2", None, next=safe_next(request))
        form = await posted(request)
        user = form.get("user", "")[:200]
        keys = (f"client:{client}", f"user:{user}")
        if self.failed_logins.limited(*keys):
            log.warning("console sign-in refused: too many attempts")
            return self._page("too_many.html.j2", None, status=429)
        stored = self.users.get(user)
        if stored is None or not verify_password(form.get("password", ""), stored):
            self.failed_logins.failed(*keys)
            log.info("console sign-in failed")
            return self._page(
                "login.html.j2", None, status=401, failed=True, next=safe_next(request, form)
            )
        session = self.signer.new(user)
        response = RedirectResponse(safe_next(request, form), status_code=303)
        response.set_cookie(
            COOKIE,
            self.signer.dump(session),
            max_age=int(session.expires - time.time()),
            path="/console",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        log.info("console sign-in", user=user)
        return response

    @changes
    async def logout(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        """Forget the session (a POST with the CSRF token)."""
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # -- pages ---------------------------------------------------------------------

    @signed_in
    async def overview(self, request: Request, session: Session) -> Response:
        """The last day at a glance, the backlog; refreshes itself."""
        rows = await self.store.console_overview()
        queue = await read_queue_state(self.store)
        chart = bar_chart([(f"{r['method']} {r['status'].lower()}", r["count"]) for r in rows])
        return self._page(
            "overview.html.j2",
            session,
            rows=rows,
            chart=chart,
            backlog=queue,
            waiting=queue.waiting_rows,
            channels={c.value: state.snapshot() for c, state in self.channels.items()},
            sweep=self.sweeper.state,
            listener=self.listener.state,
        )

    @signed_in
    async def deliveries(self, request: Request, session: Session) -> Response:
        """Deliveries, newest first, filtered and paged."""
        filters, problem = list_filters(request.query_params)
        rows = [] if problem else await self.store.console_deliveries(**filters, limit=PAGE_SIZE)
        more = {k: v for k, v in request.query_params.items() if k != "before"}
        next_page = (
            "?" + urlencode({**more, "before": rows[-1]["id"]}) if len(rows) == PAGE_SIZE else None
        )
        return self._page(
            "deliveries.html.j2",
            session,
            rows=rows,
            params=request.query_params,
            statuses=STATUSES,
            problem=problem,
            next_page=next_page,
        )

    @signed_in
    async def invoice(self, request: Request, session: Session) -> Response:
        """One invoice: its fields, episodes and every delivery (recipients in full)."""
        try:
            invoice_id = UUID(request.path_params["invoice_id"])
        except ValueError:
            return self._page("missing.html.j2", session, status=404)
        facts = await self.store.invoice_facts(invoice_id)
        rows = await self.store.console_invoice(invoice_id)
        if not facts and not rows:
            return self._page("missing.html.j2", session, status=404)
        locale = preferred_locale(request.headers.get("accept-language", ""), self.settings.locale)
        shown = {
            "amount": format_amount(
                facts.get("total_amount"),
                facts.get("currency") or self.settings.default_currency,
                locale,
            )
            if facts.get("total_amount") is not None
            else "-",
            "due": format_day(str(facts["due_date"]) if facts.get("due_date") else None, locale),
        }
        return self._page(
            "invoice.html.j2", session, invoice_id=invoice_id, facts=facts, rows=rows, shown=shown
        )

    @signed_in
    async def failures(self, request: Request, session: Session) -> Response:
        """FAILED deliveries grouped by error, with retry per group and per row."""
        groups = await self.store.console_failures()
        return self._page("failures.html.j2", session, groups=groups)


# END
