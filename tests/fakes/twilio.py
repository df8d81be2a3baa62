"""Fake Twilio Messages endpoint (``POST /2010-04-01/Accounts/{Sid}/Messages.json``)."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import ssl
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from .server import FakeServer, RecordedRequest, _Answer, _encode

__all__ = ["FakeTwilio"]

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")

# GSM 03.38 basic character set (1 septet each) and its extension table (2 septets each).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")

_CODES = {
    400: (21200, "Invalid parameter"),
    401: (20003, "Authenticate"),
    403: (20403, "Forbidden"),
    404: (20404, "The requested resource was not found"),
    405: (20004, "Method not allowed"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    502: (20502, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
    504: (20504, "Gateway Timeout"),
}


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    """A Twilio REST error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def num_segments(body: str) -> int:
    """SMS segments Twilio would bill for ``body`` (GSM-7 or UCS-2 encoding)."""
    if not body:
        return 1
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in body):
        septets = sum(2 if c in _GSM_EXT else 1 for c in body)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def _rfc2822(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ts))


class FakeTwilio(FakeServer):
    """Twilio Messages fake (HTTP basic auth ``account_sid:auth_token``, form-encoded).

    Success: 201 with a message resource (``sid`` = ``SM`` + 32 hex, ``status`` "queued").
    Numbers in ``invalid_numbers``: 400 with code 21211. Missing To/From/Body: 400 with
    codes 21604/21603/21602. Wrong credentials: 401 code 20003. Other paths: 404 (20404).
    """

    provider: ClassVar[str] = "Twilio"

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = "secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not _SID.match(account_sid):
            raise ValueError("account_sid must be 'AC' followed by 32 hex characters")
        self.account_sid = account_sid
        self.auth_token = auth_token
        #: 'To' numbers answered with error 21211.
        self.invalid_numbers: set[str] = set()
        #: 'To' numbers that said STOP to the sender: answered with error 21610.
        self.unsubscribed_numbers: set[str] = set()
        self.messages_path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        super().__init__(host=host, port=port, tls=tls)

    def sdk_client(self, timeout: float | None = 5.0) -> Any:
        """A real ``twilio.rest.Client`` pointed at this fake (with a request timeout)."""
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        client = Client(
            self.account_sid, self.auth_token, http_client=TwilioHttpClient(timeout=timeout)
        )
        client.edge = client.region = None  # TWILIO_EDGE/REGION would rewrite the host
        client.api.base_url = self.url
        return client

    # ----------------------------------------------------------------- hooks
    def _parse(self, rec: RecordedRequest) -> None:
        try:
            fields = parse_qs(rec.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return
        rec.data = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
        to = rec.data.get("To")
        rec.recipient = to if isinstance(to, str) else None

    def _authorized(self, rec: RecordedRequest) -> bool:
        scheme, _, token = rec.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(f"{user}:{password}", f"{self.account_sid}:{self.auth_token}")

    def _normal(self, rec: RecordedRequest) -> _Answer:
        path = urlsplit(rec.path).path
        if not self._authorized(rec):
            return self._error(401)
        if path != self.messages_path:
            return self._error(
                404, twilio_error(20404, f"The requested resource {path} was not found", 404)
            )
        if rec.method != "POST":
            return self._error(405)
        data = rec.data
        if not data.get("To"):
            return self._error(400, twilio_error(21604, "A 'To' phone number is required.", 400))
        if not (data.get("From") or data.get("MessagingServiceSid")):
            return self._error(400, twilio_error(21603, "A 'From' phone number is required.", 400))
        if not (data.get("Body") or data.get("MediaUrl") or data.get("ContentSid")):
            return self._error(400, twilio_error(21602, "Message body is required.", 400))
        if data["To"] in self.invalid_numbers:
            return self._error(
                400,
                twilio_error(
                    21211, f"The 'To' number {data['To']} is not a valid phone number.", 400
                ),
            )
        if data["To"] in self.unsubscribed_numbers:
            return self._error(
                400, twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)
            )
        return self._success(rec, 201)

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        sid = "SM" + secrets.token_hex(16)
        payload, headers = _encode(self.message_resource(sid, rec.data, time.time()))
        return _Answer(status, payload, headers, message_id=sid)

    def _error_body(self, status: int, rec: RecordedRequest | None) -> dict[str, Any]:
        code, message = _CODES.get(status, (20500 if status >= 500 else 21200, "Error"))
        return twilio_error(code, message, status)

    def _error(self, status: int, body: dict[str, Any] | None = None) -> _Answer:
        payload, headers = _encode(body or self._error_body(status, None))
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return _Answer(status, payload, headers)

    # ----------------------------------------------------------------- resource
    def message_resource(self, sid: str, data: dict[str, Any], now: float) -> dict[str, Any]:
        """The JSON message resource Twilio answers a create with."""
        body = data.get("Body") if isinstance(data.get("Body"), str) else ""
        media = data.get("MediaUrl") or []
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        stamp = _rfc2822(now)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": data.get("From"),
            "messaging_service_sid": data.get("MessagingServiceSid"),
            "num_media": str(len(media) if isinstance(media, list) else 1),
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": data.get("To"),
            "uri": f"{uri}.json",
        }
