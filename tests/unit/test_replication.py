"""Replica mode's pure parts: positions, lag, and when replication blocks readiness."""

from __future__ import annotations

from reactor.pipeline.replication_monitor import ReplicationState, lsn, verdict


def test_a_pg_lsn_is_a_byte_position() -> None:
    assert lsn("0/0") == 0
    assert lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert lsn(None) is None


def _healthy() -> ReplicationState:
    return ReplicationState(subscribed=True, enabled=True, applying=True, slot_on_upstream=True)


def test_lag_is_how_long_ago_the_upstream_was_where_we_are() -> None:
    state = _healthy()
    state.record(upstream_lsn=100, applied_lsn=100, now=0.0)
    assert (state.lag_bytes, state.lag_seconds) == (0, 0.0)
    state.record(upstream_lsn=200, applied_lsn=100, now=5.0)  # applying stopped at 100
    state.record(upstream_lsn=300, applied_lsn=100, now=10.0)
    assert (state.lag_bytes, state.lag_seconds) == (200, 5.0)
    state.record(upstream_lsn=300, applied_lsn=250, now=15.0)
    assert (state.lag_bytes, state.lag_seconds) == (50, 5.0)  # 300 was reached at 10
    state.record(upstream_lsn=300, applied_lsn=300, now=20.0)
    assert (state.lag_bytes, state.lag_seconds) == (0, 0.0)


def test_an_unreachable_upstream_gives_no_lag_rather_than_a_wrong_one() -> None:
    state = _healthy()
    state.record(upstream_lsn=None, applied_lsn=100, now=1.0)
    assert (state.lag_bytes, state.lag_seconds) == (None, None)


def test_verdict_names_what_is_wrong_first() -> None:
    assert verdict(_healthy(), 60) is None
    assert "no subscription" in (verdict(ReplicationState(), 60) or "")
    disabled = _healthy()
    disabled.enabled = False
    assert verdict(disabled, 60) == "replication: the subscription is disabled"
    lost = _healthy()
    lost.slot_on_upstream = False
    assert "lost the replication slot" in (verdict(lost, 60) or "")
    stopped = _healthy()
    stopped.applying = False
    assert "apply worker is not running" in (verdict(stopped, 60) or "")
    behind = _healthy()
    behind.lag_seconds = 61.0
    assert verdict(behind, 60) == "replication: 61 s behind the upstream"
    behind.lag_seconds = 59.0
    assert verdict(behind, 60) is None
