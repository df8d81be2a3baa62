"""Fake Microsoft Teams Workflows webhook ("When a Teams webhook request is received").

Each channel is a named webhook with a secret URL (``webhook(name)``; the ``sig=`` in its
query string is all the authentication there is). The body is the ``attachments``
envelope around one Adaptive Card; success is HTTP 202 with an empty body and no id.

The real flow answers 202 to almost anything and fails later, inside the flow's run;
this fake refuses a bad body at once (HTTP 400, a short text) so that tests see it: the
request is recorded with ``error`` and ``reasons`` and is not ``accepted``.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .contracts import adaptive_card_problems
from .server import _PHRASES, FakeServer, RecordedRequest, _Answer, _encode

__all__ = ["FakeTeams", "card_problems", "envelope_problems", "peak_rate"]

API_VERSION = "2016-06-01"
CARD = "application/vnd.microsoft.card.adaptive"
JSON = "application/json"
#: Teams refuses a card over about 28 KB; the fake refuses a body over this many bytes.
MAX_BODY = 28_000
#: The newest Adaptive Card schema Teams renders.
MAX_VERSION = (1, 5)
#: Teams' own key on a card (``{"width": "Full"}``, mentions): not in the schema.
TEAMS_KEY = "msteams"

_PATH = re.compile(r"^/workflows/(?P<name>[^/]+)/triggers/manual/paths/invoke$")
_VERSION = re.compile(r"^(\d+)\.(\d+)$")

#: ``error`` codes: the fake's own refusals, and the code in a scripted error's body.
_CODES = {
    400: "invalid_payload",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@dataclass
class _TeamsAnswer(_Answer):
    """An answer, and the refusal code and validation problems behind it."""

    error: str | None = None
    reasons: list[str] = field(default_factory=list)


def peak_rate(times: Iterable[float], window: float = 1.0) -> int:
    """The most of ``times`` (seconds) that fall within any ``window`` seconds."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def card_problems(card: Any, at: str = "attachments/0/content") -> list[str]:
    """Why Teams would refuse an Adaptive Card (empty when it is fine).

    Always: an object with ``type`` AdaptiveCard and a ``version`` "1.0" to "1.5". With
    the schema in ``shared/contracts`` also everything the Adaptive Card 1.5 schema says
    (a top-level ``msteams`` object, Teams' own extension, is allowed).
    """
    if not isinstance(card, dict):
        return [f"{at}: an Adaptive Card object is required"]
    out = []
    if card.get("type") != "AdaptiveCard":
        out.append(f"{at}/type: must be 'AdaptiveCard' (got {card.get('type')!r})")
    version = card.get("version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    newest = ".".join(map(str, MAX_VERSION))
    if "version" not in card:
        out.append(f"{at}/version: required")
    elif match is None:
        out.append(f"{at}/version: must be a string like '1.5' (got {version!r})")
    elif (int(match[1]), int(match[2])) > MAX_VERSION:
        out.append(f"{at}/version: {version} is newer than {newest}, the newest Teams renders")
    if TEAMS_KEY in card:
        if not isinstance(card[TEAMS_KEY], dict):
            out.append(f"{at}/{TEAMS_KEY}: must be an object")
        card = {k: v for k, v in card.items() if k != TEAMS_KEY}
    schema = adaptive_card_problems(card, at) or []
    seen = {line.partition(":")[0] for line in out}  # one line per place is enough
    return out + [line for line in schema if line.partition(":")[0] not in seen]


def envelope_problems(payload: Any) -> list[str]:
    """Why the Workflows trigger would refuse a parsed body, its card included."""
    if not isinstance(payload, dict):
        return ["body: a JSON object is required"]
    out = []
    if payload.get("type") != "message":
        out.append(f"type: must be 'message' (got {payload.get('type')!r})")
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        got = len(attachments) if isinstance(attachments, list) else type(attachments).__name__
        return [*out, f"attachments: exactly one attachment is required (got {got})"]
    attachment = attachments[0]
    if not isinstance(attachment, dict):
        return [*out, "attachments/0: not an object"]
    if attachment.get("contentType") != CARD:
        kind = attachment.get("contentType")
        out.append(f"attachments/0/contentType: must be {CARD!r} (got {kind!r})")
    if attachment.get("contentUrl") is not None:
        out.append("attachments/0/contentUrl: must be null for an Adaptive Card")
    if "content" not in attachment:
        return [*out, "attachments/0/content: required"]
    return out + card_problems(attachment["content"])


def _card_of(data: dict[str, Any]) -> Any:
    """The card in a parsed envelope, or ``None``."""
    attachments = data.get("attachments")
    if isinstance(attachments, list) and attachments and isinstance(attachments[0], dict):
        return attachments[0].get("content")
    return None


class FakeTeams(FakeServer):
    """Teams Workflows webhooks fake: ``POST`` an Adaptive Card to ``webhook(name)``.

    Normal behaviour, in order: an unknown webhook path or a wrong ``sig`` answers 401;
    over ``rate_limit_per_second`` requests to one webhook within a second, 429 with
    ``Retry-After: 1``; a method other than POST, 405; a body over 28,000 bytes, 413; a
    body that is not JSON, not the envelope, or whose card is invalid (``card_problems``),
    400 with a short text; else 202, empty. Records: ``recipient`` is the webhook's name
    (whenever the path names one), ``data`` the parsed JSON body, ``message_id`` None.
    """

    provider: ClassVar[str] = "Teams"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        rate_limit_per_second: int | None = None,
    ) -> None:
        self.rate_limit_per_second = rate_limit_per_second
        self._secrets: dict[str, str] = {}
        self._arrivals: dict[str, list[float]] = {}
        super().__init__(host=host, port=port, tls=tls)

    @property
    def rate_limit_per_second(self) -> int | None:
        """At most this many requests per webhook within a second; ``None``: no limit.

        Every request to a webhook that gets the normal behaviour and a valid ``sig``
        counts, throttled ones too (scripted answers don't).
        """
        return self._rate_limit

    @rate_limit_per_second.setter
    def rate_limit_per_second(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ValueError(f"rate_limit_per_second must be None or >= 1, not {value!r}")
        self._rate_limit = value

    # ----------------------------------------------------------------- webhooks
    def webhook(self, name: str) -> str:
        """The webhook URL of channel ``name`` on this fake (made on first use, then kept)."""
        if not name:
            raise ValueError("a webhook needs a name")
        with self._cond:
            secret = self._secrets.setdefault(name, secrets.token_urlsafe(32))
        query = urlencode(
            {"api-version": API_VERSION, "sp": "/triggers/manual/run", "sv": "1.0", "sig": secret}
        )
        return f"{self.url}/workflows/{quote(name, safe='')}/triggers/manual/paths/invoke?{query}"

    @property
    def webhooks(self) -> list[str]:
        """The names that have a webhook, in the order they were made."""
        with self._cond:
            return list(self._secrets)

    def cards(self, name: str) -> list[Any]:
        """The Adaptive Cards accepted for channel ``name``, in order."""
        return [
            card
            for rec in self.accepted()
            if rec.recipient == name and (card := _card_of(rec.data)) is not None
        ]

    def max_per_second(self, name: str, *, accepted: bool = False) -> int:
        """The most requests to webhook ``name`` received within any one second.

        Counts every recorded request whose path names ``name`` (a wrong ``sig`` or a
        429 too), or only the accepted ones with ``accepted=True``.
        """
        return peak_rate(
            r.received_at
            for r in self.requests
            if r.recipient == name and (r.accepted or not accepted)
        )

    def reset(self) -> None:
        """Also forget the rate limiter's counts; the webhooks (and their URLs) stay."""
        super().reset()
        with self._cond:
            self._arrivals.clear()

    def problems(self, rec: RecordedRequest) -> list[str]:
        """Why a request's body would be refused with 400 (empty when it is fine)."""
        ctype = str(rec.headers.get("Content-Type", "")).partition(";")[0].strip().lower()
        if ctype != JSON:
            return [f"Content-Type {ctype!r} (must be {JSON!r})"]
        try:
            payload = json.loads(rec.body.decode("utf-8"))
        except UnicodeDecodeError:
            return ["body: not UTF-8"]
        except ValueError as exc:
            return [f"body: not JSON ({exc})"]
        return envelope_problems(payload)

    # ----------------------------------------------------------------- hooks
    def _parse(self, rec: RecordedRequest) -> None:
        match = _PATH.match(urlsplit(rec.path).path)
        rec.recipient = unquote(match["name"]) if match else None
        try:
            payload = json.loads(rec.body)
        except ValueError:  # UnicodeDecodeError included
            payload = None
        rec.data = payload if isinstance(payload, dict) else {}

    def _answer(self, rec: RecordedRequest) -> _Answer:
        answer = super()._answer(rec)
        if isinstance(answer, _TeamsAnswer) and answer.error:
            rec.error, rec.reasons = answer.error, list(answer.reasons)
        return answer

    def _normal(self, rec: RecordedRequest) -> _Answer:
        refusal = self._auth_problem(rec)
        if refusal:
            return self._refuse(401, [refusal])
        if self._throttled(rec):
            limit = self.rate_limit_per_second
            reason = f"more than {limit} requests to webhook {rec.recipient!r} within a second"
            answer = self._refuse(429, [reason])
            answer.headers["Retry-After"] = "1"
            return answer
        if rec.method != "POST":
            answer = self._refuse(405, [f"method {rec.method} (the trigger takes POST)"])
            answer.headers["Allow"] = "POST"
            return answer
        if len(rec.body) > MAX_BODY:
            size = f"{len(rec.body)} bytes (at most {MAX_BODY})"
            return self._refuse(413, [f"body: {size}"], f"Request entity too large: {size}.")
        reasons = self.problems(rec)
        if reasons:
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            return self._refuse(400, reasons, f"Bad request: {reasons[0]}{more}")
        return self._success(rec, 202)

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        return _TeamsAnswer(status)

    def _error_body(self, status: int, rec: RecordedRequest | None) -> dict[str, Any]:
        default = "server_error" if status >= 500 else "client_error"
        return _error(_CODES.get(status, default), _PHRASES.get(status, "error"))

    # ----------------------------------------------------------------- answers
    def _refuse(self, status: int, reasons: list[str], text: str | None = None) -> _TeamsAnswer:
        """The fake's own refusal: a short text (``text``) or an Azure-style JSON error."""
        code = _CODES[status]
        if text is not None:
            body, headers = _encode(text)
        else:
            body, headers = _encode(_error(code, reasons[0]))
        return _TeamsAnswer(status, body, headers, error=code, reasons=reasons)

    def _auth_problem(self, rec: RecordedRequest) -> str | None:
        """Why the URL does not reach a webhook (never quoting a ``sig``), else None."""
        name = rec.recipient
        with self._cond:
            secret = self._secrets.get(name) if name is not None else None
        if secret is None:
            where = f"webhook {name!r}" if name is not None else urlsplit(rec.path).path
            return f"no workflow at {where}"
        sigs = parse_qs(urlsplit(rec.path).query).get("sig", [])
        if len(sigs) != 1 or not secrets.compare_digest(sigs[0].encode(), secret.encode()):
            return f"sig: missing or wrong for webhook {name!r}"
        return None

    def _throttled(self, rec: RecordedRequest) -> bool:
        """Count ``rec`` for its webhook; True when over the limit within a second.

        Windows are by ``received_at``, counting the requests already counted whether
        received before or after ``rec``: so no second holds more accepted ones than the
        limit, whatever order concurrent requests are handled in.
        """
        limit = self.rate_limit_per_second
        if limit is None or rec.recipient is None:
            return False
        t = rec.received_at
        with self._cond:
            times = [x for x in self._arrivals.get(rec.recipient, []) if x > t - 5.0]
            recent = sum(1 for x in times if abs(x - t) < 1.0)
            times.append(t)
            self._arrivals[rec.recipient] = times
        return recent >= limit


def _error(code: str, message: str) -> dict[str, Any]:
    """An Azure-style error body."""
    return {"error": {"code": code, "message": message}}
