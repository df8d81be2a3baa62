"""The console's one guard: who is signed in, and what a state-changing POST must carry.

`signed_in` wraps a page: without a session a GET goes to the sign-in form and
anything else is 401. `changes` wraps an action: a session, then the form (at most
64 KiB), then its CSRF token, or 401/403 before the action runs. Every answer of the
console gets the strict headers from `StrictHeaders`, a middleware on its mount.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reactor.http.console.forms import HEADERS, posted
from reactor.support.console_auth import Session, SessionSigner

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.domain.enums import Channel
    from reactor.pipeline.channels import ChannelState
    from reactor.pipeline.sweep import Sweeper
    from reactor.settings.service import Settings

COOKIE = "reactor_console"
Guarded = TypeVar("Guarded", bound="ConsoleBase")


class StrictHeaders:
    """Adds the console's security headers to every answer under its mount."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = HEADERS) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in self.headers if h[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class ConsoleBase:
    """What the pages and the actions share: the parts they read, sessions, rendering."""

    settings: Settings
    store: Store
    channels: Mapping[Channel, ChannelState]
    sweeper: Sweeper
    users: dict[str, str]
    signer: SessionSigner
    templates: Environment

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
        return HTMLResponse(html, status_code=status)


def _refused(request: Request) -> Response:
    """No session: GETs go to the sign-in form, anything else is 401."""
    if request.method == "GET":
        target = "/console/login?" + urlencode({"next": request.url.path})
        return RedirectResponse(target, status_code=303)
    return Response("sign in first", status_code=401)


def signed_in(
    page: Callable[[Guarded, Request, Session], Awaitable[Response]],
) -> Callable[[Guarded, Request], Awaitable[Response]]:
    """A page for a signed-in user only."""

    @functools.wraps(page)
    async def guarded(self: Guarded, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _refused(request)
        return await page(self, request, session)

    return guarded


def changes(
    action: Callable[[Guarded, Request, Session, dict[str, str]], Awaitable[Response]],
) -> Callable[[Guarded, Request], Awaitable[Response]]:
    """A state-changing POST: a session, then the form, then its CSRF token."""

    @signed_in
    @functools.wraps(action)
    async def guarded(self: Guarded, request: Request, session: Session) -> Response:
        form = await posted(request)
        if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
            return Response("bad or missing CSRF token", status_code=403)
        return await action(self, request, session, form)

    return guarded
