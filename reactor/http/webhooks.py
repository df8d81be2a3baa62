"""The providers' delivery receipts: Twilio's status callbacks and SendGrid's Event Webhook.

Served by the probes' app when PUBLIC_BASE_URL is set. Every request is checked
before anything is read from it: its size (1 MiB), then the provider's signature
on the raw request (and, for SendGrid, its age); a request that fails is refused
(413, 403; 400 for a body that is not what the provider sends) and writes nothing.
"""

from __future__ import annotations

import binascii
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import structlog
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from reactor.domain.receipts import ENGAGEMENT, Receipt, sendgrid_receipt, twilio_receipt
from reactor.http.bodies import read_limited
from reactor.settings.receipts import TWILIO_STATUS_PATH
from reactor.support import metrics, tracing
from reactor.support.masking import mask_text

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.settings.service import Settings

log = structlog.get_logger("reactor.webhooks")

MAX_BODY_BYTES = 1 << 20
SENDGRID_PATH = "/webhooks/sendgrid/events"
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class Refused(Exception):
    """A callback refused before anything was written: its status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request) -> bytes:
    """The raw body, refused (413) past MAX_BODY_BYTES without reading the rest."""
    body = await read_limited(request, MAX_BODY_BYTES)
    if body is None:
        raise Refused(413, "too_large")
    return body


class Webhooks:
    """The two receipt routes, with what they need to check and record."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        token = settings.twilio_auth_token
        self._twilio = RequestValidator(token.get_secret_value()) if token else None
        key = settings.sendgrid_webhook_public_key
        self._sendgrid = EventWebhook(key) if key else None

    def routes(self) -> list[Route]:
        """The routes to mount on the app."""
        return [
            Route(TWILIO_STATUS_PATH, self.twilio_status, methods=["POST"]),
            Route(SENDGRID_PATH, self.sendgrid_events, methods=["POST"]),
        ]

    # -- Twilio ----------------------------------------------------------------

    async def twilio_status(self, request: Request) -> Response:
        """A Twilio status callback: form-encoded, signed with the account's auth token."""
        try:
            form = await self.twilio_form(request, TWILIO_STATUS_PATH)
        except Refused as refused:
            return refuse("twilio", refused)
        receipt = twilio_receipt(form)
        if receipt is not None:
            await self._record([receipt])
        return Response(status_code=200)

    async def twilio_form(self, request: Request, path: str) -> dict[str, str]:
        """A Twilio request's form, once its size and signature check out (else Refused)."""
        body = await read_body(request)
        form = _form(body)
        signature = request.headers.get("X-Twilio-Signature", "")
        url = self._public_url(request, path)
        if not (self._twilio and signature and self._twilio.validate(url, form, signature)):
            raise Refused(403, "signature")
        return form

    def _public_url(self, request: Request, path: str) -> str:
        """The URL Twilio signed: ours as the providers see it (a trusted proxy may say)."""
        query = f"?{request.url.query}" if request.url.query else ""
        client = request.client.host if request.client else None
        proto = request.headers.get("x-forwarded-proto")
        host = request.headers.get("x-forwarded-host")
        if proto and host and self.settings.trusted_proxy(client):
            return f"{proto}://{host}{request.url.path}{query}"
        return str(self.settings.public_base_url).rstrip("/") + path + query

    # -- SendGrid --------------------------------------------------------------

    async def sendgrid_events(self, request: Request) -> Response:
        """A batch of SendGrid events: JSON, signed (ECDSA) over timestamp + raw body."""
        try:
            body = await read_body(request)
            payload = self._verified(body, request)
            events = _events(payload)
        except Refused as refused:
            return refuse("sendgrid", refused)
        receipts = []
        for event in events:
            kind = str(event.get("event") or "").lower()
            if kind in ENGAGEMENT:
                metrics.RECEIPTS.labels("email", kind).inc()
                continue
            reason = event.get("reason") or event.get("response")
            receipt = sendgrid_receipt(event, mask_text(str(reason)) if reason else None)
            if receipt is not None:
                receipts.append(receipt)
        if receipts:
            await self._record(receipts)
        return Response(status_code=200)

    def _verified(self, body: bytes, request: Request) -> str:
        """The body as text, once its signature verifies and it is recent enough."""
        signature = request.headers.get(SENDGRID_SIGNATURE, "")
        timestamp = request.headers.get(SENDGRID_TIMESTAMP, "")
        if self._sendgrid is None or not signature or not timestamp.isdigit():
            raise Refused(403, "signature")
        try:
            payload = body.decode("utf-8")
            valid = self._sendgrid.verify_signature(payload, signature, timestamp)
        except (UnicodeDecodeError, binascii.Error, ValueError):
            valid = False
        if not valid:
            raise Refused(403, "signature")
        if abs(time.time() - int(timestamp)) > self.settings.webhook_max_age_seconds:
            raise Refused(403, "stale")
        return payload

    # -- both --------------------------------------------------------------------

    async def _record(self, receipts: list[Receipt]) -> None:
        started = time.time_ns()
        changed = await self.store.record_receipts(receipts)
        if tracing.enabled and changed:
            self._trace(receipts[0].channel, changed, started)
        for receipt in receipts:
            metrics.RECEIPTS.labels(receipt.channel, receipt.status).inc()
        if not changed:
            # Unknown message, a replay, or not further along: said once, nothing named.
            log.info(
                "receipt changed nothing (an unknown message, a replay or an older status)",
                channel=receipts[0].channel,
                receipts=len(receipts),
            )

    @staticmethod
    def _trace(channel: str, changed: list[dict[str, Any]], started: int) -> None:
        """The receipt's own span, linked to each delivery it names (their traces)."""
        trace_id = tracing.new_id(128)
        if tracing.sampled(trace_id, None):
            receipt = tracing.SpanRecord(
                trace_id,
                tracing.new_id(),
                0,
                "receipt",
                started,
                time.time_ns(),
                tracing.KIND_SERVER,
                attributes={"reactor.channel": channel, "reactor.receipts": len(changed)},
                links=tracing.links_to(row["trace_context"] for row in changed),
            )
            tracing.emit([receipt])


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "malformed") from None


def _events(payload: str) -> list[dict[str, Any]]:
    try:
        events = json.loads(payload)
    except ValueError:
        raise Refused(400, "malformed") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Refused(400, "malformed")
    return events


def refuse(provider: str, refused: Refused) -> Response:
    """Count and log a refused callback (no detail of it), and answer its status."""
    metrics.WEBHOOK_REJECTED.labels(provider, refused.reason).inc()
    log.warning("webhook refused", provider=provider, reason=refused.reason)
    return Response(status_code=refused.status)
