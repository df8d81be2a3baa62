"""Fake Slack Web API (``POST /api/chat.postMessage``, ``/api/chat.update``, ``/api/auth.test``)
and interactions' ``response_url`` (``POST /actions/...``, see ``response_url()``).

Slack answers HTTP 200 to most refusals, with ``{"ok": false, "error": "..."}``: such a
request is recorded with ``error`` set (and ``reasons`` when the fake's own validation
refused it) and is not ``accepted``. The posted messages are kept as they stand after any
``chat.update`` in ``messages``, keyed by ``(channel_id, ts)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .contracts import slack_arguments, slack_request_problems
from .server import FakeServer, RecordedRequest, _Answer, _encode

__all__ = ["FakeSlack", "SlackMessage", "block_problems", "channel_id_for"]

API_PREFIX = "/api/"
ACTIONS_PREFIX = "/actions/"  # where an interaction's response_url points
POST_MESSAGE = "chat.postMessage"
UPDATE = "chat.update"
AUTH_TEST = "auth.test"
METHODS = frozenset({POST_MESSAGE, UPDATE, AUTH_TEST})
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
JSON_TYPE = "application/json; charset=utf-8"

#: Block Kit limits the fake enforces (Slack's documented ones).
MAX_BLOCKS = 50
HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
CONTEXT_TEXT_MAX = 3000
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
MESSAGE_TEXT_MAX = 40_000
BLOCK_TYPES = ("header", "section", "context", "actions", "divider")
ELEMENT_TYPES = ("button",)

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")

_STATUS_ERRORS = {
    400: "invalid_arguments",
    401: "not_authed",
    403: "not_allowed_token_type",
    404: "unknown_method",
    408: "request_timeout",
    429: "ratelimited",
    500: "internal_error",
    503: "service_unavailable",
}


def channel_id_for(channel: str) -> str:
    """The conversation id Slack answers for ``channel``.

    An id (``C``/``G``/``D`` + upper-case alnum) is itself; a name, with or without ``#``,
    gets a stable ``C`` + 10 upper-case alnum; a user id (a DM) a stable ``D`` + 10.
    """
    if _CHANNEL_ID.match(channel):
        return channel
    prefix, key = ("D", channel) if _USER_ID.match(channel) else ("C", channel.lstrip("#"))
    digest = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()
    return prefix + digest[:10]


def slack_error(error: str, **extra: Any) -> dict[str, Any]:
    """A Slack error body."""
    return {"ok": False, "error": error, **extra}


@dataclass(frozen=True)
class SlackMessage:
    """A posted message as it stands now (after any ``chat.update``)."""

    channel: str  # as the post named it (a name or an id)
    channel_id: str
    ts: str
    text: str
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None
    edits: int = 0  # chat.update calls applied

    @property
    def message_id(self) -> str:
        """``"<channel_id>:<ts>"``, the id the fake records."""
        return f"{self.channel_id}:{self.ts}"


@dataclass
class _SlackAnswer(_Answer):
    """An answer, the validation problems behind a refusal, and what a success changes."""

    reasons: list[str] = field(default_factory=list)
    effect: Callable[[], None] | None = None


# --------------------------------------------------------------------------- Block Kit
def block_problems(blocks: Any) -> list[str]:
    """Block Kit problems of a ``blocks`` argument (a list, or a string of JSON), as text."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return ["blocks: not JSON"]
    if not isinstance(blocks, list):
        return ["blocks: not a JSON array"]
    out = []
    if len(blocks) > MAX_BLOCKS:
        out.append(f"blocks: at most {MAX_BLOCKS} blocks (got {len(blocks)})")
    for i, block in enumerate(blocks):
        out += _block(f"blocks/{i}", block)
    return out


def _text(where: str, obj: Any, limit: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: a text object is required"]
    out = []
    if obj.get("type") not in kinds:
        out.append(f"{where}/type: must be {' or '.join(kinds)} (got {obj.get('type')!r})")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}/text: must be a non-empty string")
    elif len(text) > limit:
        out.append(f"{where}/text: at most {limit} characters (got {len(text)})")
    return out


def _string(where: str, value: Any, limit: int) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{where}: must be a non-empty string"]
    if len(value) > limit:
        return [f"{where}: at most {limit} characters (got {len(value)})"]
    return []


def _list(value: Any, most: int) -> list[Any] | None:
    return value if isinstance(value, list) and 1 <= len(value) <= most else None


def _block(where: str, block: Any) -> list[str]:
    if not isinstance(block, dict):
        return [f"{where}: not an object"]
    out = []
    if "block_id" in block:
        out += _string(f"{where}/block_id", block["block_id"], 255)
    kind = block.get("type")
    any_text = ("plain_text", "mrkdwn")
    if kind == "header":
        out += _text(f"{where}/text", block.get("text"), HEADER_TEXT_MAX, ("plain_text",))
    elif kind == "section":
        if "text" not in block and "fields" not in block:
            out.append(f"{where}: a section needs text or fields")
        if "text" in block:
            out += _text(f"{where}/text", block["text"], SECTION_TEXT_MAX, any_text)
        if "fields" in block:
            fields = _list(block["fields"], 10)
            if fields is None:
                out.append(f"{where}/fields: 1 to 10 text objects")
            for j, item in enumerate(fields or []):
                out += _text(f"{where}/fields/{j}", item, FIELD_TEXT_MAX, any_text)
        if "accessory" in block:
            out += _element(f"{where}/accessory", block["accessory"])
    elif kind == "context":
        elements = _list(block.get("elements"), 10)
        if elements is None:
            out.append(f"{where}/elements: 1 to 10 elements")
        for j, item in enumerate(elements or []):
            here = f"{where}/elements/{j}"
            if isinstance(item, dict) and item.get("type") == "image":
                out += _string(f"{here}/image_url", item.get("image_url"), URL_MAX)
                out += _string(f"{here}/alt_text", item.get("alt_text"), 2000)
            else:
                out += _text(here, item, CONTEXT_TEXT_MAX, any_text)
    elif kind == "actions":
        elements = _list(block.get("elements"), 25)
        if elements is None:
            out.append(f"{where}/elements: 1 to 25 elements")
        for j, item in enumerate(elements or []):
            out += _element(f"{where}/elements/{j}", item)
    elif kind != "divider":
        out.append(f"{where}/type: unknown block type {kind!r} (known: {', '.join(BLOCK_TYPES)})")
    return out


def _element(where: str, element: Any) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where}: not an object"]
    kind = element.get("type")
    if kind not in ELEMENT_TYPES:
        return [f"{where}/type: unknown element type {kind!r} (known: {', '.join(ELEMENT_TYPES)})"]
    out = _text(f"{where}/text", element.get("text"), BUTTON_TEXT_MAX, ("plain_text",))
    for key, limit in (("url", URL_MAX), ("value", 2000), ("action_id", 255)):
        if key in element:
            out += _string(f"{where}/{key}", element[key], limit)
    if "style" in element and element["style"] not in ("primary", "danger"):
        out.append(f"{where}/style: must be primary or danger (got {element['style']!r})")
    return out


def _as_list(value: Any) -> list[Any] | None:
    """A blocks/attachments argument as a list (form bodies carry a JSON string)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _method(rec: RecordedRequest) -> str | None:
    path = urlsplit(rec.path).path
    return path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX) else None


def _ctype(rec: RecordedRequest) -> str:
    return str(rec.headers.get("Content-Type", "")).partition(";")[0].strip().lower()


# --------------------------------------------------------------------------- the fake
class FakeSlack(FakeServer):
    """Slack Web API fake: ``chat.postMessage``, ``chat.update`` and ``auth.test``.

    Auth is ``Authorization: Bearer <token>``: none answers ``not_authed``, another token
    ``invalid_auth``, the fake's token after ``revoke()`` ``token_revoked`` (HTTP 200 each).
    Chat calls are checked against the official spec (when ``shared/contracts`` has it) and
    for Block Kit basics (``block_problems``); a failure answers ``invalid_arguments`` with
    the reasons in ``response_metadata.messages`` and on the record. Channel names get a
    stable id (``channel_id_for``); ``chat.update`` takes that id and the ``ts`` of a posted
    message (else ``channel_not_found`` / ``message_not_found``). Other methods: HTTP 404
    ``unknown_method``. Records: ``recipient`` is the channel as requested, ``message_id``
    is ``"<channel_id>:<ts>"``.
    """

    provider: ClassVar[str] = "Slack"

    def __init__(
        self,
        token: str = "xoxb-test-token",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        #: What ``auth.test`` and the posted messages say about the workspace and the bot.
        self.team = "Invoice Reactor (fake)"
        self.team_id = "T0FAKETEAM"
        self.user = "invoice-reactor"
        self.user_id = "U0FAKEBOT1"
        self.bot_id = "B0FAKEBOT1"
        self._revoked = False
        self._messages: dict[tuple[str, str], SlackMessage] = {}
        self._failing_channels: dict[str, str] = {}
        self._ts_lock = threading.Lock()
        self._last_us = 0
        super().__init__(host=host, port=port, tls=tls)

    @property
    def api_url(self) -> str:
        """The ``base_url`` for slack_sdk clients (it ends with ``/``)."""
        return f"{self.url}{API_PREFIX}"

    def sdk_client(self, **kwargs: Any) -> Any:
        """A real ``slack_sdk`` ``AsyncWebClient`` with this fake's token and URL."""
        from slack_sdk.web.async_client import AsyncWebClient

        kwargs.setdefault("token", self.token)
        return AsyncWebClient(base_url=self.api_url, **kwargs)

    # ----------------------------------------------------------------- state
    @property
    def messages(self) -> dict[tuple[str, str], SlackMessage]:
        """A copy of the posted messages as they stand, by ``(channel_id, ts)``."""
        with self._cond:
            return dict(self._messages)

    @property
    def revoked(self) -> bool:
        """True after ``revoke()``."""
        return self._revoked

    def revoke(self) -> None:
        """Answer every later call with this fake's token ``token_revoked``."""
        with self._cond:
            self._revoked = True

    def fail_channel(self, channel: str, error: str | None = "channel_not_found") -> None:
        """Answer chat calls for ``channel`` (name or id) ``{"ok": false, "error": error}``.

        Checked after auth and validation, as Slack does; ``error=None`` removes it.
        """
        with self._cond:
            if error is None:
                self._failing_channels.pop(channel_id_for(channel), None)
            else:
                self._failing_channels[channel_id_for(channel)] = error

    def reset(self) -> None:
        """Also forget the messages, failing channels and a ``revoke()``."""
        super().reset()
        with self._cond:
            self._messages.clear()
            self._failing_channels.clear()
            self._revoked = False

    def problems(self, rec: RecordedRequest) -> list[str]:
        """Why a chat call would be refused ``invalid_arguments`` (empty when valid)."""
        method = _method(rec)
        if method not in (POST_MESSAGE, UPDATE):
            return []
        out = slack_request_problems(rec, method) or []
        if "blocks" in rec.data:
            out += block_problems(rec.data["blocks"])
        return out

    # ----------------------------------------------------------------- hooks
    def _parse(self, rec: RecordedRequest) -> None:
        rec.data = slack_arguments(rec)[0]
        channel = rec.data.get("channel")
        rec.recipient = channel if isinstance(channel, str) else None

    def _answer(self, rec: RecordedRequest) -> _Answer:
        answer = super()._answer(rec)
        try:
            payload = json.loads(answer.body) if answer.body else None
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("ok") is False:
            rec.error = str(payload.get("error") or "unknown_error")
            rec.reasons = list(answer.reasons) if isinstance(answer, _SlackAnswer) else []
            answer.message_id = None
        elif 200 <= answer.status < 300 and isinstance(answer, _SlackAnswer) and answer.effect:
            answer.effect()
        return answer

    def response_url(self, name: str = "1") -> str:
        """A ``response_url`` for an interaction payload: the fake records what is posted."""
        return f"{self.url}{ACTIONS_PREFIX}{self.team_id}/{name}"

    def responses(self) -> list[Any]:
        """The JSON bodies posted to ``response_url()``s, oldest first."""
        return [
            r.json() for r in self.accepted() if urlsplit(r.path).path.startswith(ACTIONS_PREFIX)
        ]

    def _normal(self, rec: RecordedRequest) -> _Answer:
        if urlsplit(rec.path).path.startswith(ACTIONS_PREFIX):  # no token: the URL is the key
            try:
                json.loads(rec.body)
            except ValueError:
                return _SlackAnswer(400, b"invalid_payload", {"Content-Type": "text/plain"})
            return _SlackAnswer(200, b"ok", {"Content-Type": "text/plain"})
        method = _method(rec)
        if method not in METHODS:
            path = urlsplit(rec.path).path
            return self._reply(404, slack_error("unknown_method", req_method=method or path))
        ctype = _ctype(rec)
        if rec.body:
            if not ctype:
                return self._refuse("missing_post_type")
            if ctype not in (FORM, JSON):
                return self._refuse("invalid_post_type")
            decoding = slack_arguments(rec)[1]
            if decoding and ctype == JSON:
                not_object = "not an object" in decoding[0]
                return self._refuse("json_not_object" if not_object else "invalid_json")
            if decoding:
                return self._refuse("invalid_form_data")
        refusal = self._auth_error(rec)
        if refusal:
            return self._refuse(refusal)
        if method == AUTH_TEST:
            return self._success(rec, 200)
        reasons = self.problems(rec)
        if reasons:
            return self._refuse("invalid_arguments", reasons)
        data = rec.data
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            return self._refuse("channel_not_found")
        text = data.get("text")
        if not (text or _as_list(data.get("blocks")) or _as_list(data.get("attachments"))):
            return self._refuse("no_text")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
            return self._refuse("msg_too_long")
        with self._cond:
            failing = self._failing_channels.get(channel_id_for(channel))
        if failing:
            return self._refuse(failing)
        if method == UPDATE:
            if not _CHANNEL_ID.match(channel):  # chat.update takes the id, not a name
                return self._refuse("channel_not_found")
            with self._cond:
                known = (channel, data.get("ts")) in self._messages
            if not known:
                return self._refuse("message_not_found")
        return self._success(rec, 200)

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        method = _method(rec)
        if method == POST_MESSAGE:
            return self._post(rec, status)
        if method == UPDATE:
            return self._update(rec, status)
        if method == AUTH_TEST:
            return self._reply(status, self.auth_test_body())
        return self._reply(status, {"ok": True})

    def _error_body(self, status: int, rec: RecordedRequest | None) -> dict[str, Any]:
        default = "fatal_error" if status >= 500 else "invalid_arguments"
        return slack_error(_STATUS_ERRORS.get(status, default))

    # ----------------------------------------------------------------- answers
    def _reply(self, status: int, body: dict[str, Any], **extra: Any) -> _SlackAnswer:
        payload, _ = _encode(body)
        return _SlackAnswer(status, payload, {"Content-Type": JSON_TYPE}, **extra)

    def _refuse(self, error: str, reasons: list[str] | None = None) -> _SlackAnswer:
        if not reasons:
            return self._reply(200, slack_error(error))
        meta = {"messages": [f"[ERROR] {r}" for r in reasons]}
        return self._reply(200, slack_error(error, response_metadata=meta), reasons=reasons)

    def _auth_error(self, rec: RecordedRequest) -> str | None:
        scheme, _, token = str(rec.headers.get("Authorization", "")).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "not_authed"
        if not secrets.compare_digest(token.strip().encode(), self.token.encode()):
            return "invalid_auth"
        return "token_revoked" if self._revoked else None

    def _next_ts(self) -> str:
        """A Slack ``ts`` (``<unix seconds>.<6 digits>``), strictly increasing."""
        with self._ts_lock:
            us = max(time.time_ns() // 1000, self._last_us + 1)
            self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def message_body(self, message: SlackMessage) -> dict[str, Any]:
        """The ``message`` object Slack answers for ``message``."""
        body: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "user": self.user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "ts": message.ts,
        }
        for key in ("blocks", "attachments", "thread_ts"):
            if getattr(message, key) is not None:
                body[key] = getattr(message, key)
        return body

    def auth_test_body(self) -> dict[str, Any]:
        """What ``auth.test`` answers for this fake's token."""
        return {
            "ok": True,
            "url": f"{self.url}/",
            "team": self.team,
            "user": self.user,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post(self, rec: RecordedRequest, status: int) -> _SlackAnswer:
        data = rec.data
        channel = str(data.get("channel") or "")
        thread_ts = data.get("thread_ts")
        message = SlackMessage(
            channel=channel,
            channel_id=channel_id_for(channel),
            ts=self._next_ts(),
            text=str(data.get("text") or ""),
            blocks=_as_list(data.get("blocks")),
            attachments=_as_list(data.get("attachments")),
            thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        )

        def store() -> None:
            with self._cond:
                self._messages[(message.channel_id, message.ts)] = message

        body = {
            "ok": True,
            "channel": message.channel_id,
            "ts": message.ts,
            "message": self.message_body(message),
        }
        return self._reply(status, body, message_id=message.message_id, effect=store)

    def _update(self, rec: RecordedRequest, status: int) -> _SlackAnswer:
        data = rec.data
        key = (str(data.get("channel") or ""), str(data.get("ts") or ""))

        def edit(old: SlackMessage | None) -> SlackMessage:
            """Slack keeps what the update leaves out (text, blocks, attachments)."""
            base = old or SlackMessage(key[0], key[0], key[1], "")
            changes: dict[str, Any] = {"edits": base.edits + 1}
            if "text" in data:
                changes["text"] = str(data["text"] or "")
            for name in ("blocks", "attachments"):
                if name in data:
                    changes[name] = _as_list(data[name])
            return replace(base, **changes)

        def store() -> None:
            with self._cond:
                self._messages[key] = edit(self._messages.get(key))

        with self._cond:
            new = edit(self._messages.get(key))
        message = self.message_body(new)
        message["edited"] = {"user": self.user_id, "ts": self._next_ts()}
        body = {"ok": True, "channel": key[0], "ts": key[1], "text": new.text, "message": message}
        return self._reply(status, body, message_id=new.message_id, effect=store)
