"""Replies to the SMS: Twilio posts each one to /webhooks/twilio/inbound.

A single-invoice SMS ends with "Reply 2 to take it". The reply is checked like a status
callback (size, then Twilio's signature) before anything is read. A code takes the
open invoice it names for that phone; anything else gets a short answer in TwiML,
never an error page. STOP, START and HELP are Twilio's own words, answered by Twilio:
the reactor only records the opt-out (and its end) so that no SMS is attempted to a
phone that said STOP. Phone numbers and message texts never reach a log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from reactor.http.takes import note_take
from reactor.http.webhooks import Refused, Webhooks, refuse
from reactor.settings.receipts import TWILIO_INBOUND_PATH
from reactor.support import metrics
from reactor.support.masking import mask_recipient

if TYPE_CHECKING:
    from reactor.db.store import Store

log = structlog.get_logger("reactor.sms_replies")

# Twilio's standard opt-out keywords (and OptOutType, when Advanced Opt-Out is on).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})
MAX_CODE = 99


def read_reply(body: str, opt_out_type: str = "") -> tuple[str, int | None]:
    """What a reply says: ("stop" | "start" | "help" | "code" | "unknown", the code).

    A code is the number alone ("2", " 2. ", "#2"), as the SMS asks for.
    """
    kind = opt_out_type.strip().upper()
    if kind in ("STOP", "START", "HELP"):
        return kind.lower(), None
    word = body.strip().strip(".!#").strip().upper()
    if word in STOP_WORDS:
        return "stop", None
    if word in START_WORDS:
        return "start", None
    if word in HELP_WORDS:
        return "help", None
    if word.isdigit() and word.isascii() and 0 < int(word) <= MAX_CODE:
        return "code", int(word)
    return "unknown", None


def twiml(text: str | None) -> Response:
    """A TwiML answer: one message back, or none (an empty <Response/>)."""
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), media_type="application/xml")


class SmsReplies:
    """The inbound SMS route: takes, opt-outs, and polite answers."""

    def __init__(self, webhooks: Webhooks, store: Store) -> None:
        self._webhooks = webhooks
        self._store = store

    def route(self) -> Route:
        """POST /webhooks/twilio/inbound."""
        return Route(TWILIO_INBOUND_PATH, self.inbound, methods=["POST"])

    async def inbound(self, request: Request) -> Response:
        """One reply: checked first, then read."""
        try:
            form = await self._webhooks.twilio_form(request, TWILIO_INBOUND_PATH)
        except Refused as refused:
            return refuse("twilio", refused)
        phone = form.get("From", "")
        kind, code = read_reply(form.get("Body", ""), form.get("OptOutType", ""))
        if kind == "stop":
            await self._store.sms_opt_out(phone, "reply")
        elif kind == "start":
            await self._store.sms_opt_in(phone)
        if kind in ("stop", "start", "help"):
            metrics.SMS_REPLIES.labels(kind).inc()
            log.info("SMS reply", kind=kind, phone=mask_recipient(phone))
            return twiml(None)  # Twilio sends its own answer to these words
        if code is None:
            metrics.SMS_REPLIES.labels("unknown").inc()
            return twiml("To take an invoice, reply with the number its message gives.")
        return twiml(await self._take(phone, code))

    async def _take(self, phone: str, code: int) -> str:
        """Take the invoice the code names; what to answer."""
        delivery = await self._store.sms_reply_target(phone, code)
        state = await self._store.take_episode(delivery, take=True) if delivery else {}
        if not state or not state["open"]:
            metrics.SMS_REPLIES.labels("unknown").inc()
            return f"No open invoice has the code {code} for this phone: nothing was taken."
        reference = (state["invoice_number"] or str(state["invoice_id"]))[:40]
        if state["took"]:
            metrics.SMS_REPLIES.labels("take").inc()
            note_take(state)
            return f"Invoice {reference} is yours. The others are told."
        metrics.SMS_REPLIES.labels("taken_already").inc()
        if state["taken_by"] == phone:
            return f"Invoice {reference} is already yours."
        return f"Invoice {reference} is already taken by {mask_recipient(state['taken_by'])}."
