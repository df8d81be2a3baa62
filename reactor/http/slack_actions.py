"""Slack's own "I'll take it" button: its interactions, at /webhooks/slack/interactions.

Mounted when SLACK_SIGNING_SECRET is set and take links are on. Every request is
checked before anything is read from it: its size (1 MiB), then Slack's v0 signature
on the raw body within five minutes of its timestamp; a request that fails gets 403
(413 when too large) and changes nothing. A signed press of the take button then has
its take token checked (take_links.verify) and takes the episode for the member who
pressed it (`slack:U0123ABCD (alice)`, through `slack`). A signed request always gets
200 (Slack shows an error on the button otherwise); what became of the press goes
back to the member alone (an ephemeral reply through the interaction's response_url),
and the corrector rewrites the channel's message within seconds. Neither the secret nor
a token reaches a log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reactor.http.takes import note_take
from reactor.http.webhooks import Refused, read_body, refuse
from reactor.support.slack_interactions import payload_of, signature_problem, take_press
from reactor.support.take_links import verify

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.settings.service import Settings

log = structlog.get_logger("reactor.slack_actions")

INTERACTIONS_PATH = "/webhooks/slack/interactions"
SLACK_HOOKS = ("https", "hooks.slack.com")
REPLY_TIMEOUT = 5


class SlackActions:
    """The interaction route, with the secrets it checks requests and tokens with."""

    def __init__(self, settings: Settings, store: Store) -> None:
        links = settings.take_links
        secret = settings.slack_signing_secret
        assert links is not None and secret is not None, "needs take links and a signing secret"
        self._signing_secret = secret.get_secret_value()
        self._link_secret = links[1]
        self._max_age = settings.link_max_age_days * 86_400.0
        api = urlsplit(str(settings.slack_api_url))
        self._reply_origins = {SLACK_HOOKS, (api.scheme, api.netloc)}
        self._store = store

    def routes(self) -> list[Route]:
        """The route to mount on the app."""
        return [Route(INTERACTIONS_PATH, self.interaction, methods=["POST"])]

    async def interaction(self, request: Request) -> Response:
        """One interaction: signature first, then the take button's press, if it is one."""
        try:
            body = await read_body(request)
            timestamp = request.headers.get("x-slack-request-timestamp", "")
            signature = request.headers.get("x-slack-signature", "")
            problem = signature_problem(self._signing_secret, body, timestamp, signature)
            if problem:
                raise Refused(403, problem)
            payload = payload_of(body)
            if payload is None:
                raise Refused(400, "malformed")
        except Refused as refused:
            return refuse("slack", refused)
        press = take_press(payload)
        if press is None:
            return Response(status_code=200)  # another interaction: nothing of ours
        delivery = verify(self._link_secret, press.token, self._max_age)
        if delivery is None:
            log.info("a Slack take button's token was refused")
            return self._reply(press.response_url, "This button is not valid any more.")
        state = await self._store.take_episode(delivery, take=True, taken_by=press.taken_by)
        return self._reply(press.response_url, _answer(state))

    def _reply(self, response_url: str | None, text: str) -> Response:
        """200, and the text for the member alone through the response_url (Slack's, or the
        configured SLACK_API_URL's origin: never anywhere a payload says)."""
        body = {"response_type": "ephemeral", "replace_original": False, "text": text}
        url = urlsplit(response_url or "")
        if response_url and (url.scheme, url.netloc) in self._reply_origins:
            return JSONResponse(body, background=BackgroundTask(_post_reply, response_url, body))
        return JSONResponse(body)


def _answer(state: dict[str, Any]) -> str:
    """What the member who pressed is told (and the take counted when it was theirs)."""
    if not state or not state["open"]:
        return "This invoice no longer needs review: there is nothing to take."
    reference = state.get("invoice_number") or str(state["invoice_id"])
    if state["took"]:
        note_take(state)
        return f"Invoice {reference} is yours."
    return f"Invoice {reference} is already taken by {state['taken_by']}."


async def _post_reply(response_url: str, body: dict[str, Any]) -> None:
    """Send the ephemeral reply; a failure is logged (without the URL) and forgotten."""
    try:
        answer = await AsyncWebhookClient(response_url, timeout=REPLY_TIMEOUT).send_dict(body)
        if answer.status_code != 200:
            log.info("Slack did not take the reply to a button", status=answer.status_code)
    except Exception as error:  # a lost reply is not worth more: the message is corrected
        log.info("could not reply to a Slack button", error=type(error).__name__)
