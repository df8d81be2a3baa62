"""Fake OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf), decoding every span."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .server import FakeServer, RecordedRequest, _Answer

__all__ = ["FakeOtlp", "ReceivedSpan"]


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it (ids in lower-case hex)."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace id, span id)
    service: str = ""


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class FakeOtlp(FakeServer):
    """Accepts OTLP/HTTP protobuf exports and keeps the spans."""

    provider: ClassVar[str] = "OTLP"

    def __init__(self, **kwargs: Any) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        super().__init__(**kwargs)

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        with self._lock:
            return list(self._spans)

    def _parse(self, rec: RecordedRequest) -> None:
        if rec.path.split("?")[0] != "/v1/traces":
            return
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(rec.body)
        except Exception:  # garbage: answered 400 by _normal
            return
        received = []
        for resource in request.resource_spans:
            service = next(
                (_value(a.value) for a in resource.resource.attributes if a.key == "service.name"),
                "",
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=[
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ],
                            service=service,
                        )
                    )
        rec.data = {"spans": len(received)}
        with self._lock:
            self._spans.extend(received)

    def _normal(self, rec: RecordedRequest) -> _Answer:
        if rec.method != "POST" or rec.path.split("?")[0] != "/v1/traces":
            return _Answer(404)
        if rec.headers.get("Content-Type", "") != "application/x-protobuf" or not rec.data:
            return _Answer(400)
        return self._success(rec, 200)

    def _success(self, rec: RecordedRequest, status: int) -> _Answer:
        body = ExportTraceServiceResponse().SerializeToString()
        return _Answer(status, body, {"Content-Type": "application/x-protobuf"})
