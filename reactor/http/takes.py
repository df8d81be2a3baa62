"""The "I'll take it" page, at PUBLIC_BASE_URL/take/<token>.

Opening a link (GET) shows the invoice and one button and changes nothing: mail
security scanners open every link in an email. Only the form's POST takes the
invoice, with a CSRF token bound to the link and to a cookie of the browser that
opened it. A tampered, malformed or too old token, or one whose review episode has
ended, gets 403 and changes nothing. Tokens never reach a log line.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, Router

from reactor.db.store import Store
from reactor.http.console.forms import page_templates, posted
from reactor.http.console.guards import StrictHeaders
from reactor.settings.service import Settings
from reactor.support import metrics
from reactor.support.masking import mask_recipient
from reactor.support.take_links import csrf_token, verify

log = structlog.get_logger("reactor.takes")

COOKIE = "reactor_take"


class Takes:
    """GET shows the take page; POST (with its CSRF token) takes the invoice."""

    def __init__(self, settings: Settings, store: Store) -> None:
        links = settings.take_links
        assert links is not None, "take links need PUBLIC_BASE_URL and LINK_SECRET_KEY"
        self._secret = links[1]
        self._secure = links[0].startswith("https://")
        self._max_age = settings.link_max_age_days * 86_400.0
        self._store = store
        self._templates = page_templates()

    def mount(self) -> Mount:
        """Everything under /take/, with the console's strict headers."""
        return Mount(
            "/take",
            app=StrictHeaders(
                Router(routes=[Route("/{token}", self.page, methods=["GET", "POST"])])
            ),
        )

    def _render(self, status: int, **context: Any) -> HTMLResponse:
        state = context.get("state") or {}
        reference = state.get("invoice_number") or str(state.get("invoice_id", ""))
        html = self._templates.get_template("take.html.j2").render(reference=reference, **context)
        return HTMLResponse(html, status_code=status)

    async def page(self, request: Request) -> Response:
        """The take page (GET), or the take itself (POST)."""
        token = request.path_params["token"]
        delivery = verify(self._secret, token, self._max_age)
        if delivery is None:
            return self._render(403, state=None)
        if request.method == "GET":
            state = await self._store.take_episode(delivery, take=False)
            if not state or not state["open"]:
                return self._render(403, state=state or None)
            nonce = request.cookies.get(COOKIE) or secrets.token_urlsafe(16)
            answer = self._render(200, state=state, csrf=csrf_token(self._secret, token, nonce))
            answer.set_cookie(
                COOKIE, nonce, httponly=True, samesite="strict", secure=self._secure, path="/take"
            )
            return answer
        form = await posted(request)
        nonce = request.cookies.get(COOKIE, "")
        expected = csrf_token(self._secret, token, nonce)
        if not nonce or not hmac.compare_digest(form.get("csrf", ""), expected):
            return Response("the form is not valid: open the link again", status_code=403)
        state = await self._store.take_episode(delivery, take=True)
        if not state or not state["open"]:
            return self._render(403, state=state or None)
        note_take(state)
        return self._render(200, state=state)


def note_take(state: Mapping[str, Any]) -> None:
    """Count a take (by channel, and how long the invoice waited) and log it, masked;
    nothing when this call did not take the episode (`state` from Store.take_episode)."""
    if not state.get("took"):
        return
    metrics.TAKES.labels(state["taken_via"]).inc()
    waited = (state["taken_at"] - state["entered_at"]).total_seconds()
    metrics.TIME_TO_TAKE.labels(state["taken_via"]).observe(max(0.0, waited))
    log.info("invoice taken", via=state["taken_via"], by=mask_recipient(state["taken_by"]))
