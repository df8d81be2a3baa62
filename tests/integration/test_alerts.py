"""The alert rules, the PrometheusRule and the Grafana dashboard that ship in deploy/.

promtool checks the rules and runs their unit tests (deploy/prometheus/alerts.test.yaml);
every alert must be tested firing and quiet, link its own section of docs/runbooks.md,
and appear in the PrometheusRule unchanged. Every metric name the rules and the dashboard's
PromQL use must be one a real /metrics exposes (the app, in process, on a real database),
and the gauges the alerts added (reactor_ready, reactor_channel_paused) must follow the state
they report.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from reactor.domain.enums import Channel
from reactor.runtime.wiring import Service
from reactor.support import metrics
from tests.helpers import ROOT, in_process_app, query, wait_until
from tests.integration.test_readme import _anchors

PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yaml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "prometheusrule.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "invoice-reactor.json"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

# Metrics that are not the reactor's own: the scrape's `up`.
NOT_OURS = {"up"}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed (Debian's prometheus package; .ci/run installs it)")
    return found


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p["targets"]]


def as_promql(expr: str) -> str:
    """A dashboard query as Prometheus reads it: Grafana's variables given values."""
    for variable, value in (
        ("$__rate_interval", "5m"),
        ("$__interval", "1m"),
        ("$__range", "6h"),
        ("$job", ".+"),
    ):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


# ------------------------------------------------------------------- PromQL names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals: label values, regexes
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    # by (...), without (...), on (...), ignoring (...), group_left (...): label lists
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)", text):
        name = match.group(1)
        if name in PROMQL_WORDS or re.match(r"\s*\(", text[match.end() :]):
            continue  # a keyword, or a function called
        names.add(name)
    return names


def selected_labels(expr: str) -> dict[str, set[str]]:
    """Label names each metric's matchers name: {metric: {label, ...}}."""
    out: dict[str, set[str]] = {}
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for metric, matchers in re.findall(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}", text):
        out.setdefault(metric, set()).update(re.findall(r"([a-zA-Z_]\w*)\s*[!=]~?", matchers))
    return out


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, channel) (rate(reactor_a_seconds_bucket{job=~"x|y",'
        ' outcome="failed"}[$__rate_interval]))) / on (job) group_left sum without (instance) '
        "(increase(reactor_b_total[1h] offset 1h)) and reactor_c > 0.75 or up == bool 1e3 "
        'unless absent(reactor_d{a="b{c}"}) and vector(1) and time() - 1h'
    )
    assert metric_names(expr) == {
        "reactor_a_seconds_bucket",
        "reactor_b_total",
        "reactor_c",
        "up",
        "reactor_d",
    }
    assert selected_labels(expr)["reactor_a_seconds_bucket"] == {"job", "outcome"}


# ----------------------------------------------------------------- the alert rules


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(ALERT_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROMETHEUS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    assert tests["rule_files"] == ["alerts.yaml"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"
    assert fired | quiet <= names, "tests of alerts that do not exist"


def test_every_alert_is_explained_and_has_a_runbook() -> None:
    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules), "alert names are unique"
    expected = {
        "ReactorDown",
        "ReactorAbsent",
        "ReactorNotReady",
        "ReactorListenerDisconnected",
        "ReactorSweepStopped",
        "ReactorBacklogGrowing",
        "ReactorOldestPendingTooOld",
        "ReactorDeliveryFailureRate",
        "ReactorChannelPaused",
        "ReactorReceiptsBouncing",
        "ReactorReplicationLagging",
    }
    assert {r["alert"] for r in rules} == expected
    anchors = _anchors(RUNBOOKS)
    sections = re.findall(r"^## (\w+)\s*$", RUNBOOKS.read_text(), flags=re.M)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/runbooks.md", rule["alert"]
        assert anchor == rule["alert"].lower() and anchor in anchors, rule["alert"]
    assert sections == [r["alert"] for r in rules], "one runbook section per alert, in order"
    observability = (ROOT / "docs" / "observability.md").read_text()
    for rule in rules:
        link = f"[{rule['alert']}](runbooks.md#{rule['alert'].lower()})"
        assert link in observability, f"docs/observability.md lists {rule['alert']}"


def test_every_runbook_section_says_what_it_means_how_to_check_and_what_to_do() -> None:
    text = RUNBOOKS.read_text()
    for rule in alert_rules():
        section = text.split(f"\n## {rule['alert']}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**What it means.**", "**How to check.**", "**What to do.**"):
            assert part in section, f"{rule['alert']}: {part}"
        assert "reactor status" in section or "/health/status" in section, rule["alert"]


# --------------------------------------------------------------- the PrometheusRule


def test_prometheusrule_carries_the_same_rules() -> None:
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"], (
        "deploy/k8s/prometheusrule.yaml's spec.groups must be alerts.yaml's groups"
    )


def test_prometheusrule_is_a_valid_resource_outside_the_kustomize_base() -> None:
    """kubernetes-validate has no schema for the operator's CRD: its shape is checked here
    (monitoring.coreos.com/v1 PrometheusRule: spec.groups[].rules[] of alert, expr, for,
    labels, annotations; durations and names as the CRD's patterns have them)."""
    documents = [d for d in yaml.safe_load_all(PROMETHEUS_RULE.read_text()) if d]
    assert len(documents) == 1
    (rule,) = documents
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    metadata = rule["metadata"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", metadata["name"])
    assert all(isinstance(v, str) for v in metadata["labels"].values())
    assert metadata["labels"]["app.kubernetes.io/name"] == "invoice-reactor"
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) == {"name", "rules"} and group["name"]
        for item in group["rules"]:
            assert isinstance(item["alert"], str) and isinstance(item["expr"], str)
            assert re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", item["for"])
            for key in ("labels", "annotations"):
                assert all(isinstance(v, str) for v in item[key].values())
    kustomization = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert "prometheusrule.yaml" not in kustomization["resources"], (
        "the base must apply on a cluster without the Prometheus Operator's CRD"
    )
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert "kubectl apply -f deploy/k8s/prometheusrule.yaml" in deploy


def test_ci_installs_promtool() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    before_tests = script.split(".venv/bin/pytest", 1)[0]
    assert "command -v promtool" in before_tests and "missing+=(prometheus)" in before_tests


# ------------------------------------------------------------------ the dashboard


def test_dashboard_is_importable() -> None:
    board = dashboard()
    (source,) = board["__inputs"]
    assert source == {
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "description": source["description"],
        "type": "datasource",
        "pluginId": "prometheus",
        "pluginName": "Prometheus",
    }
    assert board["id"] is None and board["uid"] == "invoice-reactor" and board["title"]
    assert {"type": "datasource", "id": "prometheus"}.items() <= board["__requires"][1].items()
    datasource = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for variable in board["templating"]["list"]:
        assert variable["datasource"] == datasource
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == datasource, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == datasource and target["expr"].strip()


def test_dashboard_covers_what_operators_watch() -> None:
    used = set().union(*map(metric_names, dashboard_exprs()))
    for name in (
        "reactor_deliveries_total",
        "reactor_event_to_accepted_seconds_bucket",
        "reactor_provider_call_duration_seconds_bucket",
        "reactor_backlog_notifications",
        "reactor_backlog_oldest_pending_age_seconds",
        "reactor_channel_paused",
        "reactor_receipts_total",
        "reactor_listener_reconnects_total",
        "reactor_sweep_runs_total",
        "reactor_sweep_rows_found_total",
        "reactor_replication_lag_seconds",
        "reactor_takes_total",
        "reactor_time_to_take_seconds_bucket",
        "reactor_ready",
    ):
        assert name in used, name
    quantiles = [e for e in dashboard_exprs() if "histogram_quantile" in e]
    assert any("reactor_event_to_accepted_seconds_bucket" in e for e in quantiles)
    assert any("reactor_time_to_take_seconds_bucket" in e for e in quantiles)


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """promtool parses every panel's query (as a recording rule) once Grafana's variables
    have values."""
    exprs = dashboard_exprs()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": as_promql(e)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


# ------------------------------------------- names against a real /metrics, in process


def exposed_names(text: str) -> dict[str, str]:
    """Every sample name the exposition's families can carry, with its family's type (from
    the TYPE lines: families without a sample yet are listed too)."""
    names = {}
    for family in text_string_to_metric_families(text):
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
        }.get(family.type, [""])
        for suffix in suffixes:
            names[family.name + suffix] = family.type
    return names


def declared_labels() -> dict[str, set[str]]:
    """The label names of each of the reactor's metrics, by sample name."""
    out: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if hasattr(value, "_labelnames") and hasattr(value, "_name"):
            names = set(value._labelnames) | {"job", "instance"}
            base = value._name
            for suffix in ("", "_total", "_bucket", "_sum", "_count"):
                out[base + suffix] = names | ({"le"} if suffix == "_bucket" else set())
    return out


@pytest.fixture
def app(
    reactor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Service]]:
    env = {**reactor_env, "LISTENER_TIMEOUT_SECONDS": "3"}
    with in_process_app(env, monkeypatch) as (client, service):
        yield client, service


def test_rules_and_dashboard_use_only_metrics_that_metrics_exposes(
    app: tuple[TestClient, Service],
) -> None:
    client, _ = app
    answer = client.get("/metrics")
    assert answer.status_code == 200
    exposed = exposed_names(answer.text)
    ours = {name for name in exposed if name.startswith("reactor_")}
    registry = {m.name for m in REGISTRY.collect() if m.name.startswith("reactor_")}
    families = {f.name for f in text_string_to_metric_families(answer.text)}
    assert families >= registry, "every family declared is listed, samples or not"
    labels = declared_labels()
    sources = [(f"alerts.yaml {r['alert']}", r["expr"]) for r in alert_rules()]
    sources += [(f"dashboard {e}", e) for e in dashboard_exprs()]
    for where, expr in sources:
        names = metric_names(expr)
        assert names, f"{where}: selects no metric"
        unknown = names - ours - NOT_OURS
        assert not unknown, f"{where}: {unknown} is not in /metrics"
        for name, used in selected_labels(expr).items():
            if name in labels:
                assert used <= labels[name], f"{where}: {name} has no label {used - labels[name]}"
    used = set().union(*(metric_names(e) for _, e in sources))
    assert {"reactor_ready", "reactor_channel_paused"} <= used


def _gauges(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        if family.name in ("reactor_ready", "reactor_channel_paused")
        for s in family.samples
    }


def test_the_ready_gauge_follows_readiness(app: tuple[TestClient, Service]) -> None:
    client, service = app
    assert client.get("/health/ready").status_code == 503  # the listener is not started
    assert metrics.READY._value.get() == 0
    metrics.READY.set(1)  # a stale value: /metrics reads readiness again
    assert _gauges(client)[("reactor_ready", ())] == 0
    running = client.portal.start_task_soon(service.listener.run)
    try:
        wait_until(lambda: client.get("/health/ready").status_code == 200, what="listening")
        metrics.READY.set(0)
        assert _gauges(client)[("reactor_ready", ())] == 1
    finally:
        service.listener.stop()
        running.result(timeout=10)
    assert _gauges(client)[("reactor_ready", ())] == 0


def test_the_paused_gauge_follows_each_channel(
    app: tuple[TestClient, Service], database_url: str
) -> None:
    client, service = app
    channels = {c.value for c in service.dispatcher.channels}
    assert channels == {"email", "sms"}

    def paused() -> dict[str, float]:
        return {
            dict(labels)["channel"]: value
            for (name, labels), value in _gauges(client).items()
            if name == "reactor_channel_paused"
        }

    assert paused() == {"email": 0, "sms": 0}, "every channel in use, paused or not"
    query(database_url, "INSERT INTO channel_pauses (method, paused_by) VALUES ('sms', 'alice')")
    client.portal.call(service.pauses.refresh)  # what every reactor does within seconds
    assert paused() == {"email": 0, "sms": 1}
    service.dispatcher.channels[Channel.EMAIL].pause(0.5)  # a rate limit's pause
    assert paused() == {"email": 1, "sms": 1}
    query(database_url, "DELETE FROM channel_pauses")
    client.portal.call(service.pauses.refresh)
    wait_until(lambda: paused() == {"email": 0, "sms": 0}, what="the rate limit's pause ended")
