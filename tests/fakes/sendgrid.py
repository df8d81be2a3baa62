"""Fake SendGrid v3 Mail Send endpoint (``POST /v3/mail/send``) for the real ``sendgrid`` SDK."""

from __future__ import annotations

import json
import secrets
import ssl
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .server import FakeServer, RecordedRequest, _Answer, _encode

__all__ = ["FakeSendGrid"]

SEND_PATH = "/v3/mail/send"
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

UNAUTHORIZED_BODY: dict[str, Any] = {
    "errors": [
        {
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "field": None,
            "help": None,
        }
    ]
}

_STATUS_MESSAGES = {
    400: "Bad Request",
    401: UNAUTHORIZED_BODY["errors"][0]["message"],
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    413: "too big",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _errors(*items: tuple[str, str | None]) -> dict[str, Any]:
    return {"errors": [{"message": m, "field": f, "help": None} for m, f in items]}


class FakeSendGrid(FakeServer):
    """SendGrid Mail Send fake.

    Success: 202, empty body, a unique ``X-Message-Id`` header. Wrong bearer key: 401.
    Missing personalizations/to/from/subject/content (or a missing required content type,
    see ``required_content_types``): 400 with SendGrid-style ``errors``. Other paths: 404.
    """

    provider: ClassVar[str] = "SendGrid"

    def __init__(
        self,
        api_key: str = "SG.test",
        *,
        required_content_types: tuple[str, ...] = ("text/plain", "text/html"),
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.api_key = api_key
        #: Content MIME types a mail must carry (set ``()`` to require just one block).
        self.required_content_types = required_content_types
        super().__init__(host=host, port=port, tls=tls)

    def sdk_client(self, timeout: float | None = 5.0) -> Any:
        """A real ``SendGridAPIClient`` pointed at this fake (with a socket timeout)."""
        from sendgrid import SendGridAPIClient

        client = SendGridAPIClient(self.api_key, host=self.url)
        client.client.timeout = timeout
        return client

    # ----------------------------------------------------------------- hooks
    def _parse(self, rec: RecordedRequest) -> None:
        try:
            data = json.loads(rec.body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        rec.data = data
        try:
            rec.recipient = data["personalizations"][0]["to"][0]["email"]
        except (KeyError, IndexError, TypeError):
            rec.recipient = None

    def _normal(self, rec: RecordedRequest) -> _Answer:
        path = urlsplit(rec.path).path
        if path != SEND_PATH:
            return self._error(404, _errors((f"not found: {rec.path}", None)))
        if rec.method != "POST":
            return self._error(405, _errors(("method not allowed", None)))
        if rec.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, UNAUTHORIZED_BODY)
        try:
            data = json.loads(rec.body)
        except ValueError:
            return self._error(400, _errors(("Bad Request", None)))
        problems = self.problems(data)
        if problems:
            return self._error(400, _errors(*problems))
        return self._success(rec, 202)

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        message_id = secrets.token_urlsafe(16)  # 22 chars, like SendGrid's ids
        return _Answer(status, b"", {"X-Message-Id": message_id}, message_id=message_id)

    def _error_body(self, status: int, rec: RecordedRequest | None) -> dict[str, Any]:
        if status == 401:
            return UNAUTHORIZED_BODY
        return _errors((_STATUS_MESSAGES.get(status, "error"), None))

    def _error(self, status: int, body: dict[str, Any]) -> _Answer:
        payload, headers = _encode(body)
        return _Answer(status, payload, headers)

    # ----------------------------------------------------------------- validation
    def problems(self, data: Any) -> list[tuple[str, str | None]]:
        """``(message, field)`` pairs SendGrid would reject ``data`` for (empty when valid)."""
        if not isinstance(data, dict):
            return [("Bad Request", None)]
        out: list[tuple[str, str | None]] = []
        pers = data.get("personalizations")
        if not isinstance(pers, list) or not pers:
            out.append(
                (
                    "The personalizations field is required and must have at least one "
                    "personalization.",
                    "personalizations",
                )
            )
            pers = []
        for i, p in enumerate(pers):
            to = p.get("to") if isinstance(p, dict) else None
            if not (
                isinstance(to, list)
                and to
                and all(isinstance(t, dict) and _is_email(t.get("email")) for t in to)
            ):
                out.append(
                    (
                        "The to array is required for all personalization objects, and must "
                        "have at least one email object with a valid email address.",
                        f"personalizations.{i}.to",
                    )
                )
        sender = data.get("from")
        if not (isinstance(sender, dict) and _is_email(sender.get("email"))):
            out.append(
                (
                    "The from object must be provided for every email send. It is an object "
                    "that requires the email parameter, but may also contain a name parameter.",
                    "from.email",
                )
            )
        templated = bool(data.get("template_id"))
        every_has_subject = bool(pers) and all(
            isinstance(p, dict) and p.get("subject") for p in pers
        )
        if not templated and not every_has_subject and not _nonempty_str(data.get("subject")):
            out.append(
                (
                    "The subject is required. You can get around this requirement if you use a "
                    "template with a subject defined or if every personalization has a subject "
                    "defined.",
                    "subject",
                )
            )
        content = data.get("content")
        if content is None and templated:
            return out
        blocks = content if isinstance(content, list) else []
        good = [
            b
            for b in blocks
            if isinstance(b, dict)
            and _nonempty_str(b.get("type"))
            and _nonempty_str(b.get("value"))
        ]
        if not good or len(good) != len(blocks):
            out.append(
                (
                    "Unless a valid template_id is provided, the content parameter is required. "
                    "There must be at least one defined content block with a type and a "
                    "non-empty value.",
                    "content",
                )
            )
            return out
        types = [b["type"] for b in good]
        for i, mime in enumerate(types):
            if mime == "text/plain" and i != 0:
                out.append(("If present, text/plain content must be first.", f"content.{i}.type"))
        for mime in self.required_content_types:
            if mime not in types:
                out.append((f"A {mime} content block is required.", "content"))
        return out


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_email(value: Any) -> bool:
    if not _nonempty_str(value):
        return False
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value)
