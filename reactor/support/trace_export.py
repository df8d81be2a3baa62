"""The exporting child of `tracing.py`: span records in on stdin, OTLP/HTTP out.

`python -m reactor.support.trace_export VERSION`, started by `reactor run` when tracing
is on. It reads length-prefixed pickled batches of `SpanRecord`s from its parent (and
only from it: its stdin is the parent's pipe), makes the SDK's `ReadableSpan`s, and
hands them to a `BatchSpanProcessor` over the `OTLPSpanExporter`, both configured by
the standard OTEL_* variables. It runs at a lower priority (nice 10): on a busy machine
the deliveries come first. A full queue drops spans; end of input flushes and exits.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from reactor.support.tracing import SpanRecord

SCOPE = InstrumentationScope("invoice-reactor")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def readable_spans(records: Iterable[SpanRecord], resource: Resource) -> list[ReadableSpan]:
    """The SDK's spans for a batch of records (every record is of a sampled trace)."""
    spans = []
    for r in records:
        parent = (
            SpanContext(r.trace_id, r.parent_id, is_remote=r.remote_parent, trace_flags=_SAMPLED)
            if r.parent_id
            else None
        )
        spans.append(
            ReadableSpan(
                name=r.name,
                context=SpanContext(r.trace_id, r.span_id, is_remote=False, trace_flags=_SAMPLED),
                parent=parent,
                resource=resource,
                attributes=dict(r.attributes or {}),
                links=[
                    Link(SpanContext(t, s, is_remote=True, trace_flags=_SAMPLED))
                    for t, s in r.links
                ],
                kind=SpanKind(r.kind),
                status=Status(StatusCode.ERROR, r.error) if r.error else Status(StatusCode.UNSET),
                start_time=r.start,
                end_time=r.end,
                instrumentation_scope=SCOPE,
            )
        )
    return spans


def batches(stream: BinaryIO) -> Iterable[list[SpanRecord]]:
    """The parent's batches until it closes the pipe."""
    while header := stream.read(4):
        (size,) = struct.unpack("!I", header)
        yield pickle.loads(stream.read(size))


def main(argv: Sequence[str]) -> int:
    """Export every batch the parent sends until its pipe closes."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    version = argv[1] if len(argv) > 1 else "unknown"
    # Exporting waits when the machine is busy: the deliveries come first.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    ours = {"service.version": version} | ({} if named else {"service.name": "invoice-reactor"})
    resource = Resource.create(ours)
    processor: SpanProcessor = BatchSpanProcessor(OTLPSpanExporter())
    try:
        for batch in batches(sys.stdin.buffer):
            for span in readable_spans(batch, resource):
                processor.on_end(span)
    finally:
        processor.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
