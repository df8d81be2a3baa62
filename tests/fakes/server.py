"""Generic scripted HTTP fake: a real HTTP/1.1 server on 127.0.0.1 for provider SDKs.

A provider subclass (see ``sendgrid.py`` / ``twilio.py``) only decides what a request means
(``_parse``) and what the provider would normally answer (``_normal``); this base handles the
socket side, recording, scripting (``script``/``responder``/``fail_recipient``), delays,
dropped and hung connections, and waiting (``wait_for``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

__all__ = ["FakeServer", "Headers", "RecordedRequest", "Reply"]

JSONBody = bytes | str | dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``status=0`` means "what the provider would normally answer"; ``body``/``headers`` then
    override or extend that answer. ``body=None`` with an error status gives the provider's
    usual error body for that status; a scripted 2xx still gets a fresh message id. ``delay``
    waits before answering (a status-0 reply with no delay uses the fake's ``delay``).
    ``drop`` closes the connection without answering; ``hang`` holds it open that many
    seconds without answering, then drops it.

    Precedence per request: ``fail_recipient`` match, then the ``script`` queue, then
    ``responder``, then the provider's normal behaviour (routing, auth, validation).
    """

    status: int = 0
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    hang: float = 0.0

    def __post_init__(self) -> None:
        if self.status != 0 and not 100 <= self.status <= 599:
            raise ValueError(f"Reply.status must be 0 or an HTTP status, not {self.status}")
        if self.delay < 0 or self.hang < 0:
            raise ValueError("Reply.delay and Reply.hang must be >= 0")


class Headers(dict[str, str]):
    """Request headers with case-insensitive lookup; keys are stored as ``Title-Case``.

    (The SendGrid SDK sends ``Content-type`` because urllib capitalizes header names.)
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for key, value in items:
            self[key] = value

    @staticmethod
    def canonical(key: str) -> str:
        """``content-TYPE`` -> ``Content-Type``."""
        return "-".join(part.capitalize() for part in key.split("-"))

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(self.canonical(key), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(self.canonical(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self.canonical(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        """Case-insensitive ``dict.get``."""
        return super().get(self.canonical(key), default)


@dataclass
class RecordedRequest:
    """One request the fake received, and what it answered.

    Records are appended as soon as the answer is decided (before any delay or hang), so
    ``status`` is the answer decided for it; ``responded_at`` stays ``None`` until the answer
    is being written (set just before the write, so a client never sees an answer before the
    record shows it) or the connection is dropped. ``status`` is 0 for dropped/hung requests
    (and for answers cut short by ``close()``).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    recipient: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    message_id: str | None = None
    responded_at: float | None = None
    #: The provider's refusal code where its answer carries one (Slack's ``{"ok": false,
    #: "error": ...}``, which comes with HTTP 200); a request with an error is not accepted.
    error: str | None = None
    #: Why the fake itself refused the request (its validation problems), else empty.
    reasons: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """True once a 2xx answer that does not refuse the request has been written for it."""
        return 200 <= self.status < 300 and self.responded_at is not None and self.error is None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    delay: float = 0.0
    drop: bool = False
    hang: float = 0.0


Responder = Callable[[RecordedRequest], Reply | None]


class _Handler(BaseHTTPRequestHandler):
    """Request handler bound to one fake (``fake`` is set on a per-fake subclass)."""

    fake: ClassVar[FakeServer]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    received_at: float = 0.0

    def setup(self) -> None:
        if self.fake.tls is not None:
            # The handshake runs here, on this connection's own thread, and is counted.
            self.request = self.fake.tls.wrap_socket(self.request, server_side=True)
            self.fake._count_handshake()
        super().setup()
        self.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.fake._track(self.connection, add=False)

    def parse_request(self) -> bool:
        self.received_at = time.time()
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: no per-request logging."""

    def _serve(self) -> None:
        self.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that vanished (killed reactor, timed-out SDK call) is part of the
        # faults under test, not an error of the fake.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeServer:
    """Base of the provider fakes: a threaded HTTP server on 127.0.0.1 (random port)."""

    #: Shown in messages; subclasses set it.
    provider: ClassVar[str] = "provider"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        #: Serve HTTPS with this server context (e.g. from a trustme CA); None: plain HTTP.
        self.tls = tls
        #: TLS handshakes completed (a new connection each): keep-alive keeps it low.
        self.handshakes = 0
        self.delay: float = 0.0
        self.responder: Responder | None = None
        self.errors: list[BaseException] = []
        self._records: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._failing: dict[str, Reply] = {}
        self._cond = threading.Condition()
        self._conns: set[socket.socket] = set()
        self._closing = threading.Event()
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"fake": self})
        self._server = _Server((host, port), handler)
        self.host, self.port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Stop the server, release hung/delayed requests and close open connections."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            conns = list(self._conns)
            self._cond.notify_all()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closing.is_set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} requests={len(self._records)}>"

    # ----------------------------------------------------------------- records
    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the list of all recorded requests, oldest first."""
        with self._cond:
            return list(self._records)

    def accepted(self) -> list[RecordedRequest]:
        """Requests that were answered 2xx."""
        with self._cond:
            return [r for r in self._records if r.accepted]

    def accepted_recipients(self) -> list[str | None]:
        """Recipients of the accepted requests, in order, with repeats."""
        return [r.recipient for r in self.accepted()]

    def wait_for(
        self, n: int, timeout: float = 10.0, accepted: bool = True
    ) -> list[RecordedRequest]:
        """Wait until at least ``n`` requests (only 2xx-answered ones if ``accepted``) exist.

        Returns the matching requests; raises ``AssertionError`` on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self._records if r.accepted or not accepted]
                if len(found) >= n:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.005))
        kind = "accepted (2xx) " if accepted else ""
        raise AssertionError(
            f"{self.provider} fake: expected at least {n} {kind}requests within {timeout}s, "
            f"got {len(found)}; {self._summary()}"
        )

    def _summary(self) -> str:
        with self._cond:
            recs = list(self._records)
        shown = ", ".join(
            f"{r.method} {r.path} -> {r.status or 'dropped'}"
            f"{f' {r.error}' if r.error else ''} ({r.recipient})"
            for r in recs[-10:]
        )
        more = f" (last 10 of {len(recs)})" if len(recs) > 10 else ""
        return f"all requests{more}: [{shown}]"

    # ----------------------------------------------------------------- scripting
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order; then normal behaviour resumes."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"script() takes Reply objects, not {type(reply).__name__}")
        with self._cond:
            self._script.extend(replies)

    @property
    def scripted(self) -> int:
        """How many scripted replies are still queued."""
        with self._cond:
            return len(self._script)

    def fail_recipient(self, recipient: str, reply: Reply | None) -> None:
        """Answer every request for ``recipient`` with ``reply`` (``None`` removes it)."""
        with self._cond:
            if reply is None:
                self._failing.pop(recipient, None)
            else:
                self._failing[recipient] = reply

    def reset(self) -> None:
        """Forget records, errors, the script, the responder and failing recipients."""
        with self._cond:
            self._records.clear()
            self._script.clear()
            self._failing.clear()
            self.errors.clear()
            self.responder = None
            self.handshakes = 0

    # ----------------------------------------------------------------- provider hooks
    def _parse(self, rec: RecordedRequest) -> None:
        """Fill ``rec.data`` and ``rec.recipient``; must not raise on garbage."""

    def _normal(self, rec: RecordedRequest) -> _Answer:
        """The provider's normal answer to ``rec``."""
        raise NotImplementedError

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        """A success answer with the given 2xx status (used for scripted 2xx replies)."""
        raise NotImplementedError

    def _error_body(self, status: int, rec: RecordedRequest | None) -> dict[str, Any]:
        """The provider's usual error body for ``status``."""
        return {"error": _PHRASES.get(status, "error")}

    # ----------------------------------------------------------------- serving
    def _count_handshake(self) -> None:
        with self._cond:
            self.handshakes += 1

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _choose(self, rec: RecordedRequest) -> Reply | None:
        with self._cond:
            if rec.recipient is not None and rec.recipient in self._failing:
                return self._failing[rec.recipient]
            if self._script:
                return self._script.popleft()
            responder = self.responder
        return responder(rec) if responder is not None else None

    def _answer(self, rec: RecordedRequest) -> _Answer:
        try:
            reply = self._choose(rec)
        except Exception as exc:  # a broken responder: make it visible, answer 500
            self.errors.append(exc)
            body, headers = _encode({"error": f"responder raised {exc!r}"})
            return _Answer(500, body, headers)
        if reply is None:
            answer = self._normal(rec)
            answer.delay = self.delay
            return answer
        if reply.drop or reply.hang:
            return _Answer(0, delay=reply.delay, drop=True, hang=reply.hang)
        if reply.status == 0:
            answer = self._normal(rec)
            answer.delay = reply.delay or self.delay
        elif 200 <= reply.status < 300:
            answer = self._success(rec, reply.status)
            answer.delay = reply.delay
        else:
            answer = _Answer(reply.status, delay=reply.delay)
            if reply.body is None:
                answer.body, answer.headers = _encode(self._error_body(reply.status, rec))
        if reply.body is not None:
            answer.body, ctype = _encode(reply.body)
            answer.headers.update(ctype)
        answer.headers.update(reply.headers)
        return answer

    def _serve(self, h: _Handler) -> None:
        try:
            body = _read_body(h)
        except (OSError, ValueError):
            h.close_connection = True
            return
        parts = h.requestline.split()
        rec = RecordedRequest(
            method=h.command,
            path=parts[1] if len(parts) >= 2 else h.path,  # raw target: keeps a leading '//'
            headers=Headers(h.headers.items()),
            body=body,
            received_at=h.received_at,
        )
        try:
            self._parse(rec)
        except Exception as exc:  # a bug in the fake itself
            self.errors.append(exc)
        answer = self._answer(rec)
        with self._cond:
            rec.status = answer.status
            rec.message_id = answer.message_id if 200 <= answer.status < 300 else None
            self._records.append(rec)
            self._cond.notify_all()
        if answer.delay:
            self._closing.wait(answer.delay)
        if answer.hang:
            self._closing.wait(answer.hang)
        dropped = answer.drop or self._closing.is_set()
        with self._cond:  # mark before writing: the client may act on the answer at once
            if dropped:
                rec.status, rec.message_id = 0, None
            rec.responded_at = time.time()
            self._cond.notify_all()
        if dropped:
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
        else:
            _write(h, answer)


_PHRASES = {s.value: s.phrase for s in HTTPStatus}


def _encode(body: JSONBody) -> tuple[bytes, dict[str, str]]:
    """Body bytes and the Content-Type header that goes with them."""
    if body is None:
        return b"", {}
    if isinstance(body, bytes):
        return body, {}
    if isinstance(body, str):
        return body.encode(), {"Content-Type": "text/plain; charset=utf-8"}
    return json.dumps(body, separators=(",", ":")).encode(), {"Content-Type": "application/json"}


def _read_body(h: _Handler) -> bytes:
    if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    if length < 0:
        raise ValueError("negative Content-Length")
    return h.rfile.read(length) if length else b""


def _write(h: _Handler, answer: _Answer) -> None:
    """Write the whole response in one send (no Nagle/delayed-ACK stalls)."""
    phrase = _PHRASES.get(answer.status, "Unknown")
    lines = [f"HTTP/1.1 {answer.status} {phrase}"]
    for key, value in answer.headers.items():
        if key.lower() not in ("content-length", "connection"):
            lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(answer.body)}")
    if h.close_connection:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    try:
        h.wfile.write(head + answer.body)
        h.wfile.flush()
    except OSError:
        h.close_connection = True
