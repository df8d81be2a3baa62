"""A TCP proxy on 127.0.0.1 that can stall or cut its connections, for network faults.

`stall()` keeps every connection open but stops moving bytes, new ones included (a
database that hangs); `stall_open()` does that to the connections open now only (a
silently half-open peer: reconnecting works); `resume()` moves bytes again; `drop()`
closes every connection at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target address, one thread pair per connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._connections: list[threading.Event] = []
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            flowing = threading.Event()
            flowing.set()
            with self._lock:
                self._sockets.update((client, upstream))
                self._connections.append(flowing)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, flowing), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._forget(source, sink)

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._sockets.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def stall(self) -> None:
        """Stop forwarding bytes; connections stay open and silent."""
        self._flowing.clear()

    def stall_open(self) -> None:
        """Stop forwarding bytes on the connections open now; new ones work."""
        with self._lock:
            for flowing in self._connections:
                flowing.clear()

    def resume(self) -> None:
        """Forward bytes again, on every connection."""
        self._flowing.set()
        with self._lock:
            for flowing in self._connections:
                flowing.set()

    def drop(self) -> None:
        """Close every open connection."""
        with self._lock:
            sockets = list(self._sockets)
        self._forget(*sockets)

    def close(self) -> None:
        """Stop accepting and close everything."""
        self._closed = True
        self._flowing.set()
        self._listener.close()
        self.drop()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
