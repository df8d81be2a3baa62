"""Traces: OpenTelemetry over OTLP/HTTP, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

When on, the SDK reads the standard OTEL_* variables itself (endpoint, headers,
timeout, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, ...).
When off, nothing is imported beyond the API and the hot path only tests `enabled`.
A span's context travels in the database as a W3C `traceparent` string.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_PROPAGATOR = TraceContextTextMapPropagator()

enabled = False
_provider: Any = None


def configure(version: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Start exporting spans when an OTLP endpoint is set; whether tracing is on."""
    global enabled, _provider
    if enabled or not any(environ.get(name) for name in ENDPOINT_VARIABLES):
        return enabled
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "invoice-reactor", "service.version": version})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    enabled = True
    return True


def shutdown() -> None:
    """Export what is left (at a graceful stop)."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    """The reactor's tracer (a no-op one while tracing is off)."""
    return trace.get_tracer("invoice-reactor")


def parent_of(traceparent: str | None) -> Context | None:
    """The context a W3C traceparent names, or None (absent, or not a valid one)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    span = trace.get_current_span(context)
    return context if span.get_span_context().is_valid else None


def links_to(traceparents: Iterable[str | None]) -> list[Link]:
    """Links to each valid context (a digest's invoices, a receipt's delivery)."""
    links = []
    for value in dict.fromkeys(filter(None, traceparents)):
        context = parent_of(value)
        if context is not None:
            links.append(Link(trace.get_current_span(context).get_span_context()))
    return links


def traceparent(span: Span) -> str | None:
    """A span's context as a W3C traceparent (None for a span that is not recorded)."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def context_of(traceparent_value: str | None) -> Context | None:
    """A context whose current span is the one a traceparent names (to parent children)."""
    parent = parent_of(traceparent_value)
    if parent is None:
        return None
    remote = trace.get_current_span(parent).get_span_context()
    local = SpanContext(remote.trace_id, remote.span_id, False, TraceFlags(remote.trace_flags))
    return trace.set_span_in_context(NonRecordingSpan(local))


def trace_id(traceparent_value: str | None) -> str | None:
    """The trace id part of a traceparent (shown by `rules explain` and the console)."""
    if not traceparent_value or traceparent_value.count("-") != 3:
        return None
    return traceparent_value.split("-")[1]
