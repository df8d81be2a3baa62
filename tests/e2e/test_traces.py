"""Traces through a real `reactor run`, exported over OTLP/HTTP to a fake receiver that
decodes the protobuf: one flipped invoice is one trace of every stage; the upstream's
`SET LOCAL invoice_reactor.traceparent` makes it the upstream's trace; a receipt's span
links to the delivery's; with no endpoint, nothing is exported."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from twilio.request_validator import RequestValidator

from tests.fakes import FakeTwilio
from tests.fakes.otlp import FakeOtlp, ReceivedSpan
from tests.helpers import (
    PHONE,
    TWILIO_TOKEN,
    ReactorProcess,
    insert_invoices,
    query,
    run_cli,
    scalar,
    wait_until,
)

PUBLIC = "https://reactor.acme.example"
FLIP = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
STAGES = {"deliver", "intake", "render", "POST twilio", "record outcome"}


@pytest.fixture
def otlp() -> Iterator[FakeOtlp]:
    with FakeOtlp() as receiver:
        yield receiver


def _env(reactor_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": PHONE,
        "PUBLIC_BASE_URL": PUBLIC,
        "DIGEST_WINDOW_SECONDS": "0",
        **extra,
    }


def _trace_of(otlp: FakeOtlp, invoice: str) -> list[ReceivedSpan]:
    """Every span of the trace whose `deliver` span is this invoice's."""
    spans = otlp.spans()
    delivers = [
        s for s in spans if s.name == "deliver" and s.attributes["reactor.invoice.id"] == invoice
    ]
    if not delivers:
        return []
    return [s for s in spans if s.trace_id == delivers[0].trace_id]


def test_one_invoice_is_one_trace_joined_to_the_upstreams_and_linked_from_its_receipt(
    reactor_env: dict[str, str],
    database_url: str,
    twilio: FakeTwilio,
    otlp: FakeOtlp,
    tmp_path: Path,
) -> None:
    env = _env(reactor_env, OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url, OTEL_BSP_SCHEDULE_DELAY="50")
    alone, joined = insert_invoices(database_url, 2)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, (alone,))
        wait_until(lambda: {s.name for s in _trace_of(otlp, alone)} >= STAGES, what="stages")
        spans = _trace_of(otlp, alone)
        deliver = next(s for s in spans if s.name == "deliver")
        assert deliver.parent_span_id == ""  # no upstream context: a trace of its own
        children = {s.name: s for s in spans if s.parent_span_id == deliver.span_id}
        assert set(children) == STAGES - {"deliver"}
        assert children["POST twilio"].kind == 3  # SPAN_KIND_CLIENT
        assert deliver.service == "invoice-reactor"

        # The upstream's transaction names its trace: the delivery joins it.
        upstream_trace, upstream_span = secrets.token_hex(16), secrets.token_hex(8)
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "SELECT set_config('invoice_reactor.traceparent', %s, true)",
                (f"00-{upstream_trace}-{upstream_span}-01",),
            )
            conn.execute(FLIP, (joined,))
        wait_until(lambda: {s.name for s in _trace_of(otlp, joined)} >= STAGES, what="joined")
        deliver = next(s for s in _trace_of(otlp, joined) if s.name == "deliver")
        assert (deliver.trace_id, deliver.parent_span_id) == (upstream_trace, upstream_span)
        stored = (
            "SELECT trace_context, provider_message_id FROM notifications WHERE invoice_id = %s"
        )
        wait_until(lambda: query(database_url, stored, (joined,))[0][0], what="stored context")
        context, sid = query(database_url, stored, (joined,))[0]
        assert context == f"00-{upstream_trace}-{deliver.span_id}-01"

        # The receipt's span links to the delivery's.
        form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC + "/webhooks/twilio/status", form
        )
        answer = httpx.post(
            process.base_url + "/webhooks/twilio/status",
            data=form,
            headers={"X-Twilio-Signature": signature},
            timeout=5,
        )
        assert answer.status_code == 200
        wait_until(lambda: [s for s in otlp.spans() if s.name == "receipt"], what="receipt")
        receipt = next(s for s in otlp.spans() if s.name == "receipt")
        assert (upstream_trace, deliver.span_id) in receipt.links
    finally:
        process.stop()
    explained = run_cli(["rules", "explain", joined], env, timeout=60)
    assert explained.returncode == 0, explained.stderr
    assert f"trace {upstream_trace}" in explained.stdout


def test_without_an_endpoint_nothing_is_exported(
    reactor_env: dict[str, str],
    database_url: str,
    twilio: FakeTwilio,
    otlp: FakeOtlp,
    tmp_path: Path,
) -> None:
    env = _env(reactor_env, OTEL_SERVICE_NAME="invoice-reactor")  # no endpoint
    (invoice,) = insert_invoices(database_url, 1)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, (invoice,))
        twilio.wait_for(1)
        sent = "SELECT status FROM notifications WHERE invoice_id = %s"
        wait_until(lambda: query(database_url, sent, (invoice,)) == [("SENT",)], what="SENT")
    finally:
        process.stop()  # a graceful stop would export whatever was pending
    assert otlp.requests == []
    assert scalar(database_url, "SELECT count(trace_context) FROM notifications") == 0
