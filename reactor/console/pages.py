"""The console's pages: sign-in, overview, deliveries, one invoice, failures and retry.

Server-rendered (Jinja2, autoescaped), every asset served here, no JavaScript
needed. Every page but the sign-in form needs a session; every change is a POST
carrying the session's CSRF token; every answer carries a strict CSP.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from uuid import UUID

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from reactor.console.actions import ConsoleActions
from reactor.console.auth import FailedLogins, Session, SessionSigner, parse_users, verify_password
from reactor.console.charts import bar_chart
from reactor.console.forms import HEADERS, list_filters, posted, safe_next, when
from reactor.masking import mask_recipient

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reactor.channels import ChannelState
    from reactor.config import Settings
    from reactor.listener import Listener
    from reactor.recipients import Channel
    from reactor.store import Store
    from reactor.sweep import Sweeper

log = structlog.get_logger("reactor.console")

COOKIE = "reactor_console"
PAGE_SIZE = 50
STATUSES = ("PENDING", "SENDING", "SENT", "FAILED", "SKIPPED")


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
        self.templates = Environment(
            loader=PackageLoader("reactor.console", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html", "j2")),
        )
        self.templates.filters["masked"] = mask_recipient
        self.templates.filters["when"] = when

    def mount(self) -> Mount:
        """Everything under /console/."""
        static = StaticFiles(packages=[("reactor.console", "static")])
        return Mount(
            "/console",
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
            ],
        )

    # -- sessions ----------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        """The signed-in user: an SSO proxy's header (from a trusted proxy), or the cookie."""
        header = self.settings.console_trusted_user_header
        vouched = request.headers.get(header, "").strip()[:200] if header else ""
        client = request.client.host if request.client else None
        if vouched and vouched.isprintable() and self.settings.trusted_proxy(client):
            return self.signer.for_proxy_user(vouched)
        session = self.signer.load(request.cookies.get(COOKIE))
        return session if session and session.user in self.users else None

    def _page(
        self, name: str, session: Session | None, status: int = 200, **context: Any
    ) -> Response:
        html = self.templates.get_template(name).render(session=session, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def _refused(self, request: Request) -> Response:
        """No session: GETs go to the sign-in form, anything else is 401."""
        if request.method == "GET":
            target = "/console/login?" + urlencode({"next": request.url.path})
            return RedirectResponse(target, status_code=303, headers=HEADERS)
        return Response("sign in first", status_code=401, headers=HEADERS)

    async def _change(self, request: Request) -> tuple[Session, dict[str, str]] | Response:
        """A state-changing POST: its session and form, or the refusal (401, or 403 for CSRF)."""
        session = self._session(request)
        if session is None:
            return self._refused(request)
        form = await posted(request)
        if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
            return Response("bad or missing CSRF token", status_code=403, headers=HEADERS)
        return session, form

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
        response = RedirectResponse(safe_next(request, form), status_code=303, headers=HEADERS)
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

    async def logout(self, request: Request) -> Response:
        """Forget the session (a POST with the CSRF token)."""
        change = await self._change(request)
        if isinstance(change, Response):
            return change
        response = RedirectResponse("/console/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # -- pages ---------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        """The last day at a glance, the backlog; refreshes itself."""
        session = self._session(request)
        if session is None:
            return self._refused(request)
        rows = await self.store.console_overview()
        backlog = await self.store.backlog()
        waiting = await self.store.waiting()
        chart = bar_chart([(f"{r['method']} {r['status'].lower()}", r["count"]) for r in rows])
        return self._page(
            "overview.html.j2",
            session,
            rows=rows,
            chart=chart,
            backlog=backlog,
            waiting=waiting,
            channels={c.value: state.snapshot() for c, state in self.channels.items()},
            sweep=self.sweeper.state,
            listener=self.listener.state,
        )

    async def deliveries(self, request: Request) -> Response:
        """Deliveries, newest first, filtered and paged."""
        session = self._session(request)
        if session is None:
            return self._refused(request)
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

    async def invoice(self, request: Request) -> Response:
        """One invoice: its fields, episodes and every delivery (recipients in full)."""
        session = self._session(request)
        if session is None:
            return self._refused(request)
        try:
            invoice_id = UUID(request.path_params["invoice_id"])
        except ValueError:
            return self._page("missing.html.j2", session, status=404)
        facts = await self.store.invoice_facts(invoice_id)
        rows = await self.store.console_invoice(invoice_id)
        if not facts and not rows:
            return self._page("missing.html.j2", session, status=404)
        return self._page("invoice.html.j2", session, invoice_id=invoice_id, facts=facts, rows=rows)

    async def failures(self, request: Request) -> Response:
        """FAILED deliveries grouped by error, with retry per group and per row."""
        session = self._session(request)
        if session is None:
            return self._refused(request)
        groups = await self.store.console_failures()
        return self._page("failures.html.j2", session, groups=groups)


# END
