"""Probes, metrics and logs an operator can trust, on a running `reactor run`."""

from __future__ import annotations

import re
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from reactor import __version__
from reactor.db import migrations
from reactor.db.embedded import EmbeddedPostgres
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import (
    EMAILS,
    PHONES,
    ROOT,
    ReactorProcess,
    insert_invoices,
    query,
    scalar,
    wait_until,
    wait_until_asleep,
)

RECIPIENTS = len(EMAILS) + len(PHONES)


def test_endpoints_answer_with_their_shapes(reactor: ReactorProcess) -> None:
    root = reactor.get("/")
    assert root.status_code == 200
    assert root.json() == {
        "service": "invoice-reactor",
        "version": __version__,
        "status": "ok",
    }

    info = reactor.get("/info").json()
    assert info["migration_revision"] == migrations.head_revision()
    assert info["recipients"] == {"email": len(EMAILS), "sms": len(PHONES)}
    assert info["transports"] == {"email": "sendgrid", "sms": "twilio"}
    assert info["notify_channel"] == "invoice_review"
    assert info["sweep_interval_minutes"] == 30

    assert reactor.get("/health/live").json() == {"status": "alive"}
    ready = reactor.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    status = reactor.get("/health/status").json()
    assert status["status"] == "healthy"
    assert status["database"]["up"] is True and status["database"]["round_trip_ms"] >= 0
    assert status["listener"]["listening"] is True and status["listener"]["reconnects"] == 0
    assert status["sweep"]["runs"] >= 1
    assert set(status["transports"]) == {"email", "sms"}
    assert status["transports"]["email"]["transport"] == "sendgrid"
    assert {"pending", "sending", "failed", "oldest_pending_age_seconds"} <= set(status["backlog"])

    metrics = reactor.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")

    missing = reactor.get("/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
    echoed = reactor.get("/health/live", headers={"X-Request-ID": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    assert len(reactor.get("/health/live").headers["x-request-id"]) == 32
    assert "access-control-allow-origin" not in root.headers


def test_readiness_follows_the_database_and_the_listener(
    own_postgres: EmbeddedPostgres,
    reactor_env: dict[str, str],
    sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    env = {**reactor_env, "DATABASE_URL": own_postgres.url, "LISTENER_TIMEOUT_SECONDS": "3"}
    process = ReactorProcess(env, tmp_path / "r.log").start()
    try:
        own_postgres.stop()
        wait_until(lambda: process.ready_status() == 503, timeout=20, what="503 when db down")
        body = process.get("/health/ready").json()
        assert body["database"]["up"] is False
        assert process.get("/health/status").json()["status"] == "unhealthy"

        own_postgres.start()
        wait_until(lambda: process.ready_status() == 200, timeout=30, what="200 when db back")
        reconnects = process.get("/health/status").json()["listener"]["reconnects"]
        assert reconnects >= 1

        query(
            own_postgres.url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'invoice-reactor listener'",
        )
        wait_until(
            lambda: process.get("/health/status").json()["listener"]["reconnects"] > reconnects,
            timeout=20,
            what="listener reconnect",
        )
        wait_until(lambda: process.ready_status() == 200, timeout=20, what="ready again")
        insert_invoices(own_postgres.url, 1, status="NEEDS_REVIEW")
        sendgrid.wait_for(len(EMAILS), timeout=20)
    finally:
        assert process.stop() == 0


def test_readiness_answers_within_a_second_when_the_database_hangs(
    own_postgres: EmbeddedPostgres, reactor_env: dict[str, str], tmp_path: Path
) -> None:
    with TcpProxy("127.0.0.1", own_postgres.port) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
        process = ReactorProcess({**reactor_env, "DATABASE_URL": url}, tmp_path / "r.log").start()
        try:
            proxy.stall()
            for _ in range(3):
                started = time.monotonic()
                response = process.get("/health/ready", timeout=5)
                elapsed = time.monotonic() - started
                assert response.status_code == 503
                assert elapsed < 1.0, f"readiness took {elapsed:.2f}s"
            status = process.get("/health/status", timeout=5)
            assert status.status_code == 200 and status.json()["status"] == "unhealthy"
            proxy.resume()
            wait_until(lambda: process.ready_status() == 200, timeout=30, what="ready again")
        finally:
            proxy.resume()
            assert process.stop() == 0


SECRETS = {
    "SENDGRID_API_KEY": "SG.sendgridKEYsecret0001.abcdefghijkl",
    "TWILIO_AUTH_TOKEN": "twilioTOKENsecret0002",
    "DB_PASSWORD": "databasePASSWORDsecret0003",
}


def test_no_secret_or_raw_recipient_in_responses_or_logs(database_url: str, tmp_path: Path) -> None:
    from tests.helpers import TWILIO_SID

    url = database_url.replace("postgres@", f"postgres:{SECRETS['DB_PASSWORD']}@")
    with (
        FakeSendGrid(api_key=SECRETS["SENDGRID_API_KEY"]) as sendgrid,
        FakeTwilio(account_sid=TWILIO_SID, auth_token=SECRETS["TWILIO_AUTH_TOKEN"]) as twilio,
    ):
        twilio.invalid_numbers.add(PHONES[1])
        env = {
            "DATABASE_URL": url,
            "NOTIFICATION_RECIPIENTS": ",".join([*EMAILS, *PHONES]),
            "SENDGRID_API_KEY": SECRETS["SENDGRID_API_KEY"],
            "SENDGRID_FROM_EMAIL": "reactor@example.com",
            "SENDGRID_API_HOST": sendgrid.url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": SECRETS["TWILIO_AUTH_TOKEN"],
            "TWILIO_FROM_NUMBER": "+14155550000",
            "TWILIO_API_BASE_URL": twilio.url,
            "LOG_LEVEL": "DEBUG",  # the SDKs log whole requests at DEBUG
        }
        process = ReactorProcess(env, tmp_path / "r.log").start()
        try:
            insert_invoices(database_url, 2, status="NEEDS_REVIEW")
            wait_until(
                lambda: (
                    scalar(
                        database_url,
                        "SELECT count(*) FROM notifications WHERE status IN ('SENT', 'FAILED')",
                    )
                    == 2 * RECIPIENTS
                ),
                what="all deliveries settled",
            )
            bodies = [
                process.get(p).text
                for p in (
                    "/",
                    "/info",
                    "/health/live",
                    "/health/ready",
                    "/health/status",
                    "/metrics",
                    "/nope",
                )
            ]
        finally:
            assert process.stop() == 0
    log = process.output()
    assert "sent" in log and "delivery failed" in log  # the lines we check were written
    for text in [log, *bodies]:
        for secret in SECRETS.values():
            assert secret not in text
        for address in (*EMAILS, *PHONES, PHONES[0][1:], PHONES[1][1:]):
            assert address not in text, address
    assert "a***@example.com" in log


def _sample(families: dict, name: str, **labels: str) -> float:
    for sample in families[name].samples:
        if sample.name in (name, name + "_total") and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return sample.value
    return 0.0


def test_metrics_count_deliveries_and_failures(
    reactor_env: dict[str, str], database_url: str, twilio: FakeTwilio, tmp_path: Path
) -> None:
    twilio.invalid_numbers.add(PHONES[1])
    process = ReactorProcess(reactor_env, tmp_path / "r.log").start()
    try:
        wait_until_asleep(database_url)  # so that the transition is sent a NOTIFY
        insert_invoices(database_url, 3, status="NEEDS_REVIEW")
        wait_until(
            lambda: (
                scalar(
                    database_url,
                    "SELECT count(*) FROM notifications WHERE status IN ('SENT', 'FAILED')",
                )
                == 3 * RECIPIENTS
            ),
            what="all settled",
        )
        text = process.get("/metrics").text
    finally:
        process.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert _sample(families, "reactor_deliveries", channel="email", outcome="sent") == 6
    assert _sample(families, "reactor_deliveries", channel="sms", outcome="sent") == 3
    assert _sample(families, "reactor_deliveries", channel="sms", outcome="failed") == 3
    assert _sample(families, "reactor_send_attempts", channel="sms", failure_class="permanent") == 3
    assert _sample(families, "reactor_send_attempts", channel="email", failure_class="ok") == 6
    assert _sample(families, "reactor_notifications_received") >= 1
    assert _sample(families, "reactor_listener_connected") == 1
    assert _sample(families, "reactor_backlog_notifications", status="FAILED") == 3
    latency = [
        s
        for s in families["reactor_event_to_accepted_seconds"].samples
        if s.name.endswith("_count") and s.labels["channel"] == "email"
    ]
    assert latency and latency[0].value == 6
    assert _sample(families, "reactor_sweep_runs") >= 1
    ours = [f for f in families.values() if f.name.startswith("reactor_")]
    for family in ours:
        assert re.fullmatch(r"reactor_[a-z_]+", family.name)
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds")


def test_readme_documents_every_endpoint_and_metric() -> None:
    from prometheus_client import REGISTRY

    from reactor.support import metrics  # registers the reactor's metrics

    assert metrics.DELIVERIES is not None
    readme = (ROOT / "docs" / "observability.md").read_text()
    for path in ("/health/live", "/health/ready", "/health/status", "/metrics", "/info"):
        assert f"`GET {path}`" in readme
    names = {m.name for m in REGISTRY.collect() if m.name.startswith("reactor_")}
    assert names
    for name in names:
        assert name in readme, name
    assert "livenessProbe" in readme and "readinessProbe" in readme
