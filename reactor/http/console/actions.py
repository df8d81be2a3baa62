"""The console's actions: retry failures, sweep now, pause and resume a channel.

Each is a POST with the session's CSRF token (`guards.changes`); `Console` (pages.py)
adds the pages to them.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from reactor.http.console.guards import ConsoleBase, changes
from reactor.support.console_auth import Session

log = structlog.get_logger("reactor.console")


class ConsoleActions(ConsoleBase):
    """What an operator can change from the console."""

    @changes
    async def retry(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        """Requeue one row or a group: first a confirmation with the count, then the requeue."""
        row_id = int(form["id"]) if form.get("id", "").isdigit() else None
        confirmed = form.get("confirm") == "yes"
        count = await self.store.requeue(
            row_id=row_id,
            method=form.get("method") or None,
            by_error=row_id is None,
            error=form.get("error"),
            dry_run=not confirmed,
        )
        if not confirmed:
            return self._page("confirm.html.j2", session, count=count, form=form)
        if count:
            await self.store.announce_due()  # every reactor looks at once
        log.info("console retry", user=session.user, requeued=count)
        return self._page("requeued.html.j2", session, count=count)

    @changes
    async def sweep(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        """ "Sweep now": this reactor runs a sweep pass at once."""
        self.sweeper.request()
        log.info("console sweep", user=session.user)
        return RedirectResponse("/console/", status_code=303)

    @changes
    async def pause(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        """Pause or resume a channel for every reactor (persisted; followed within seconds)."""
        channel, action = request.path_params["channel"], request.path_params["action"]
        if channel not in {c.value for c in self.channels} or action not in ("pause", "resume"):
            return Response("no such channel or action", status_code=404)
        state = next(s for c, s in self.channels.items() if c.value == channel)
        if action == "pause":
            await self.store.pause_channel(channel, session.user)
            state.paused_by = state.paused_by or session.user  # here at once; others follow
        else:
            await self.store.resume_channel(channel)
            state.paused_by = None
        log.info("console channel " + action, channel=channel, user=session.user)
        return RedirectResponse("/console/", status_code=303)
