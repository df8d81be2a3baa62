"""Traces: OpenTelemetry over OTLP/HTTP, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

The send path must not pay for them (issue 25: at most 10%). So the reactor only
records what happened, as plain `SpanRecord`s (ids, names, nanosecond times), and ships
them in batches through a pipe to a child process (`trace_export.py`), which makes
the OpenTelemetry SDK's spans and exports them with the OTLP/HTTP exporter and a batch
processor: a collector that is slow or down drops spans there, never delays a delivery.
The child reads the standard OTEL_* variables (endpoint, headers, timeout, service
name, resource attributes, batch settings); sampling (OTEL_TRACES_SAMPLER) is decided
here, where the ids are made (`sampled`). A span's context travels in the database as
a W3C `traceparent` string.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import queue
import random
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import structlog

log = structlog.get_logger("reactor.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
BATCH = 512  # records shipped at once; a partial batch leaves within FLUSH_SECONDS
FLUSH_SECONDS = 0.2
QUEUED_BATCHES = 64  # batches waiting for the pipe; more are dropped
KIND_INTERNAL, KIND_SERVER, KIND_CLIENT = 0, 1, 2  # OpenTelemetry's SpanKind values


class SpanRecord(NamedTuple):
    """One finished span, as the child process turns it into an SDK span."""

    trace_id: int
    span_id: int
    parent_id: int  # 0: a root
    name: str
    start: int  # time.time_ns()
    end: int
    kind: int = KIND_INTERNAL
    attributes: Mapping[str, str | int] | None = None
    links: tuple[tuple[int, int], ...] = ()  # (trace id, span id)
    error: str | None = None  # the status description of a failed stage
    remote_parent: bool = False  # the parent is the upstream's span


class Context(NamedTuple):
    """A span's identity: what a traceparent carries."""

    trace_id: int
    span_id: int
    sampled: bool = True


enabled = False
_shipper: _Shipper | None = None
_ratio = 1.0  # OTEL_TRACES_SAMPLER's ratio for traces that start here
_follow_parent = True


def configure(version: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Start the exporting child when an OTLP endpoint is set; whether tracing is on."""
    global enabled, _shipper, _ratio, _follow_parent
    if enabled or not any(environ.get(name) for name in ENDPOINT_VARIABLES):
        return enabled
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    _ratio, _follow_parent = sampler_of(environ)
    _shipper = _Shipper(version)
    enabled = True
    return True


def shutdown() -> None:
    """Ship what is left and let the child export it (at a graceful stop)."""
    global enabled
    if _shipper is not None:
        _shipper.close()
    enabled = False


def sampler_of(environ: Mapping[str, str]) -> tuple[float, bool]:
    """(the ratio of new traces kept, whether an upstream's decision is followed), from
    OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG as the SDK reads them."""
    name = environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    try:
        argument = min(1.0, max(0.0, float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))))
    except ValueError:
        argument = 1.0
    ratio = {"always_off": 0.0, "parentbased_always_off": 0.0}.get(name, 1.0)
    if name.endswith("traceidratio"):
        ratio = argument
    return ratio, name.startswith("parentbased_")


def sampled(trace_id: int, parent: Context | None) -> bool:
    """Whether a trace is recorded: the upstream's decision when it gave one (parent-based
    samplers), else the trace id's low 64 bits under the ratio (as TraceIdRatioBased)."""
    if parent is not None and _follow_parent:
        return parent.sampled
    return (trace_id & 0xFFFF_FFFF_FFFF_FFFF) < _ratio * 2**64


def new_id(bits: int = 64) -> int:
    """A random span (64-bit) or trace (128-bit) id, never zero."""
    return random.getrandbits(bits) or 1


def parse(traceparent: str | None) -> Context | None:
    """The context a W3C traceparent names, or None (absent, or not a valid one)."""
    if not traceparent or len(traceparent) < 55:
        return None
    version, trace_hex, span_hex, flags = [*traceparent.split("-"), "", "", ""][:4]
    if len(version) != 2 or version == "ff" or len(trace_hex) != 32 or len(span_hex) != 16:
        return None
    try:
        trace_id, span_id, bits = int(trace_hex, 16), int(span_hex, 16), int(flags[:2], 16)
        int(version, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return Context(trace_id, span_id, bool(bits & 1))


def traceparent(context: Context) -> str:
    """A context as a W3C traceparent."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.sampled):02x}"


def trace_id(traceparent_value: str | None) -> str | None:
    """The trace id of a traceparent (shown by `rules explain` and the console)."""
    context = parse(traceparent_value)
    return f"{context.trace_id:032x}" if context else None


def links_to(traceparents: Iterable[str | None]) -> tuple[tuple[int, int], ...]:
    """Links to each valid context (a digest's invoices, a receipt's deliveries)."""
    found = (parse(value) for value in dict.fromkeys(filter(None, traceparents)))
    return tuple((c.trace_id, c.span_id) for c in found if c is not None)


def emit(records: Iterable[SpanRecord]) -> None:
    """Queue finished spans for the exporting child (nothing while tracing is off)."""
    if _shipper is not None:
        _shipper.add(records)


class _Shipper:
    """Ships span records to the exporting child: length-prefixed pickles on its stdin.

    The pipe is written by a thread of its own, from a bounded queue: a child that falls
    behind fills the queue, and further batches are dropped (and counted), so that the
    event loop never waits on the pipe.
    """

    def __init__(self, version: str) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "reactor.support.trace_export", version],
            stdin=subprocess.PIPE,
        )
        self._buffer: list[SpanRecord] = []
        self._armed = False
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self.dropped = 0  # batches dropped because the child fell behind
        self._writer = threading.Thread(target=self._write, name="trace-shipper", daemon=True)
        self._writer.start()

    def add(self, records: Iterable[SpanRecord]) -> None:
        self._buffer.extend(records)
        if len(self._buffer) >= BATCH:
            self.flush()
        elif not self._armed:
            try:
                asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
                self._armed = True
            except RuntimeError:  # no event loop (a command): ship now
                self.flush()

    def flush(self) -> None:
        self._armed = False
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._frames.put_nowait(struct.pack("!I", len(data)) + data)
        except queue.Full:
            self.dropped += 1

    def _write(self) -> None:
        stdin = self._child.stdin
        assert stdin is not None
        while (frame := self._frames.get()) is not None:
            try:
                stdin.write(frame)
                stdin.flush()
            except OSError as error:  # the child is gone: traces stop, deliveries do not
                log.warning(
                    "the trace exporter stopped; no more traces", error=type(error).__name__
                )
                return
        with contextlib.suppress(OSError):
            stdin.close()

    def close(self) -> None:
        self.flush()
        self._frames.put(None)
        self._writer.join(timeout=15)
        try:
            self._child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._child.kill()
