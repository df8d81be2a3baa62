"""The console's actions: retry failures, sweep now, pause and resume a channel.

Each is a POST with the session's CSRF token; a mixin of `Console` (pages.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from reactor.console.forms import HEADERS

if TYPE_CHECKING:
    from reactor.console.pages import Console

log = structlog.get_logger("reactor.console")


class ConsoleActions:
    """What an operator can change from the console."""

    async def retry(self: Console, request: Request) -> Response:
        """Requeue one row or a group: first a confirmation with the count, then the requeue."""
        change = await self._change(request)
        if isinstance(change, Response):
            return change
        session, form = change
        row_id = int(form["id"]) if form.get("id", "").isdigit() else None
        target = {
            "row_id": row_id,
            "method": form.get("method") or None,
            "error": None if row_id else form.get("error"),
        }
        confirmed = form.get("confirm") == "yes"
        count = await self.store.requeue_rows(**target, dry_run=not confirmed)
        if not confirmed:
            return self._page("confirm.html.j2", session, count=count, form=form)
        if count:
            await self.store.announce_due()  # every reactor looks at once
        log.info("console retry", user=session.user, requeued=count)
        return self._page("requeued.html.j2", session, count=count)

    async def sweep(self: Console, request: Request) -> Response:
        """ "Sweep now": this reactor runs a sweep pass at once."""
        change = await self._change(request)
        if isinstance(change, Response):
            return change
        session, _ = change
        self.sweeper.request()
        log.info("console sweep", user=session.user)
        return RedirectResponse("/console/", status_code=303, headers=HEADERS)

    async def pause(self: Console, request: Request) -> Response:
        """Pause or resume a channel for every reactor (persisted; followed within seconds)."""
        change = await self._change(request)
        if isinstance(change, Response):
            return change
        session, _ = change
        channel, action = request.path_params["channel"], request.path_params["action"]
        if channel not in ("email", "sms") or action not in ("pause", "resume"):
            return Response("no such channel or action", status_code=404, headers=HEADERS)
        state = next(s for c, s in self.channels.items() if c.value == channel)
        if action == "pause":
            await self.store.pause_channel(channel, session.user)
            state.paused_by = state.paused_by or session.user  # here at once; others follow
        else:
            await self.store.resume_channel(channel)
            state.paused_by = None
        log.info("console channel " + action, channel=channel, user=session.user)
        return RedirectResponse("/console/", status_code=303, headers=HEADERS)
