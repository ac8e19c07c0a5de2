"""careerloop's monitoring: the alerting and recording rules (`deploy/helm/careerloop/files/rules.yaml`),
the Grafana dashboard (`files/careerloop-dashboard.json`) and the Prometheus Operator resources the chart
renders from them with `monitoring.enabled`.

The rules are checked and unit-tested by Prometheus' own promtool (`infra/promtool/install.sh` builds it
from the Go module proxy): each alert fires on synthetic series and a healthy platform fires none. The
dashboard loads into Grafana's own dashboard models (grafana-foundation-sdk), and promtool parses every
panel's query. Rules and dashboard name only metrics and labels the code defines: the catalogue below is
read from the code's metric objects, not written by hand, so renaming a metric fails here. The operator's
custom resources have no Kubernetes schema for kubernetes-validate: their required fields, and that they
select the pods and ports the chart runs, are checked against the rendered chart instead."""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as grafana
from grafana_foundation_sdk.models import prometheus

from services.notifications.dispatcher import Deliveries
from services.notifications.projections import queue_gauges
from shared.metrics import collect
from shared.process import ProcessMetrics
from shared.readstore import open_read_store
from shared.web.traffic import Traffic
from tests.deploy.test_chart import CHART, KUBERNETES, ROOT, render

RULES = CHART / "files" / "rules.yaml"
RULE_TESTS = ROOT / "deploy" / "monitoring" / "rules-tests.yaml"
DASHBOARD = CHART / "files" / "careerloop-dashboard.json"
RUNBOOKS = "https://github.com/careerloop/careerloop/blob/main/"
# labels Prometheus and the chart's monitors put on every scraped series (the rules use app and component)
TARGET_LABELS = {"app", "component", "pod", "namespace", "instance", "job", "container", "endpoint", "service"}
OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


@cache
def promtool() -> str:
    return subprocess.run([str(ROOT / "infra" / "promtool" / "install.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rules()["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


class _Unreachable:
    """An event store that does not answer: the scrape still names every metric family."""

    def unpublished_count(self) -> int:
        raise ConnectionError("not reachable")


@cache
def exposed() -> dict[str, frozenset[str]]:
    """Every sample name the processes expose, with its labels, read from the code's own metric objects:
    the APIs' backend gauges (shared.metrics), their request metrics (shared.web.traffic), the
    notifications API's queue gauges, every other process's (shared.process) and the dispatcher's
    deliveries, plus Prometheus' own `up`."""
    traffic = Traffic("contacts")
    traffic.requests.labels("contacts", "/contacts", "GET", "200").inc()
    traffic.duration.labels("contacts", "/contacts", "GET").observe(0.01)
    process = ProcessMetrics("relay-contacts")
    process.holding(True)
    process.did(1)
    process.failed(1.0)
    process.applied("contact-directory", [0.5])
    deliveries = Deliveries(process.registry)
    deliveries.count("email", "sent")
    deliveries.took("email", 0.2)
    read_store = open_read_store("sqlite:///:memory:")
    try:
        notifications = list(queue_gauges(read_store, 0.0))
    finally:
        read_store.close()
    families = [*traffic.registry.collect(), *process.registry.collect(), *notifications,
                *collect("contacts", [], event_store=_Unreachable(), read_store=None, bus=None)]
    found: dict[str, set[str]] = {"up": set()}
    for family in families:
        if not family.samples:  # a gauge family the scrape left empty: the label names it was made with
            found.setdefault(family.name, set()).update(getattr(family, "_labelnames", ()))
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    # the label names of an empty family are prometheus_client's internals: fail here if they go
    assert found["careerloop_projection_lag"] == {"projection", "generation", "topic", "partition"}
    return {name: frozenset(labels) for name, labels in found.items()}


def recorded() -> set[str]:
    return {rule["record"] for group in rules()["groups"] for rule in group["rules"] if "record" in rule}


def expressions() -> dict[str, str]:
    """Every PromQL expression of the rules and the dashboard, by where it is."""
    found = {f"rule {rule.get('alert') or rule['record']}": rule["expr"]
             for group in rules()["groups"] for rule in group["rules"]}
    for panel in panels():
        for target in panel.get("targets", []):
            found[f"panel {panel['id']} {target['refId']}"] = target["expr"]
    return found


STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SELECTOR = re.compile(r"\b([a-z_:][a-z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
# an identifier that no letter, digit, colon or dot precedes (not the unit of 5m, not 1e3) and no "(" follows
IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: what is left once label values, matchers, ranges
    and grouping lists are taken out are function calls (followed by "("), keywords and metric names."""
    for pattern in (STRING, re.compile(r"\{[^}]*\}"), re.compile(r"\[[^\]]*\]"), GROUPING):
        expr = pattern.sub(" ", expr)
    return set(IDENTIFIER.findall(expr)) - KEYWORDS


def test_the_rules_pass_promtool_check() -> None:
    checked = subprocess.run([promtool(), "check", "rules", "--lint=all", "--lint-fatal", str(RULES)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rule_unit_tests_pass_and_fire_every_alert_and_a_healthy_platform_fires_none() -> None:
    tested = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for alert in alerts():
        name = alert["alert"]
        assert any(case["alertname"] == name and case["exp_alerts"] for case in cases), f"{name} never fires"
        assert any(case["alertname"] == name and not case["exp_alerts"] for case in cases), f"{name} never stays quiet"


def test_every_alert_explains_itself_and_links_a_runbook_in_the_repository() -> None:
    assert len(alerts()) >= 10
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"warning", "critical"}, name
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"]), name
        url = alert["annotations"]["runbook_url"]
        assert url == f"{RUNBOOKS}docs/runbooks/{name}.md", name
        runbook = (ROOT / url.removeprefix(RUNBOOKS)).read_text()
        assert runbook.startswith(f"# {name}\n"), name
        for part in ("## What it means", "## How to check", "## How to fix"):
            assert part in runbook, (name, part)


def test_rules_and_dashboard_use_only_metrics_and_labels_the_code_exposes() -> None:
    metrics, records = exposed(), recorded()
    known_labels = set().union(*metrics.values()) | TARGET_LABELS | {"le"}
    for where, expr in expressions().items():
        names = metric_names(expr)
        assert names, where
        expr = STRING.sub('""', expr)  # label values are not label names
        for name in names:
            assert name in metrics or name in records, f"{where}: {name} is not a metric the code exposes"
        for name, matchers in SELECTOR.findall(expr):
            allowed = metrics.get(name, known_labels) | TARGET_LABELS
            for label in MATCHER.findall(matchers):
                assert label in allowed, f"{where}: {name} has no label {label}"
        for grouping in GROUPING.findall(expr):
            for label in filter(None, (part.strip() for part in grouping.split(","))):
                assert label in known_labels, f"{where}: no metric has the label {label}"
    for alert in alerts():
        for text in alert["annotations"].values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in known_labels, f"{alert['alert']}: no metric has the label {label}"


def test_every_dashboard_query_parses_as_promql(tmp_path: Path) -> None:
    # promtool parses rule files with Prometheus' own parser: one recording rule per panel query, with
    # Grafana's interval variable replaced by a duration, as Grafana does before it sends the query
    queries = {where: expr.replace("$__rate_interval", "5m") for where, expr in expressions().items()
               if where.startswith("panel")}
    assert len(queries) >= 15
    as_rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:{where.replace(' ', '_')}", "expr": expr} for where, expr in queries.items()]}]}
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump(as_rules))
    checked = subprocess.run([promtool(), "check", "rules", "--lint=none", str(tmp_path / "dashboard.yaml")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_loads_into_grafanas_dashboard_model() -> None:
    register_default_plugins()  # panel options and queries decode into their plugins' own models
    data = dashboard()
    model = grafana.Dashboard.from_json(data)
    assert model.uid == "careerloop" and model.title
    [variable] = model.templating.list_val
    assert variable.type_val == "datasource" and variable.query == "prometheus"
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    loaded = {panel.id_val: panel for panel in model.panels}
    for panel in data["panels"]:
        typed = loaded[panel["id"]]
        if panel["type"] == "row":
            assert isinstance(typed, grafana.RowPanel)
            continue
        assert isinstance(typed, grafana.Panel) and typed.type_val == panel["type"]
        assert typed.datasource is not None and typed.datasource.uid == "${datasource}", panel["title"]
        assert typed.targets and all(isinstance(t, prometheus.Dataquery) and t.expr for t in typed.targets)
        # a query's data source is an untyped object in the model: the panel's, as the JSON says
        assert all(t.datasource == {"type": "prometheus", "uid": "${datasource}"} for t in typed.targets)
    # and nothing is lost on the way back: the model encodes the same panels and queries
    encoded = json.loads(JSONEncoder().encode(model))
    assert [(p["id"], p["type"], p["title"], p["gridPos"], [t["expr"] for t in p.get("targets", [])])
            for p in encoded["panels"]] == \
        [(p["id"], p["type"], p["title"], p["gridPos"], [t["expr"] for t in p.get("targets", [])])
         for p in data["panels"]]


def test_the_dashboard_covers_the_event_flow_the_apis_and_the_processes() -> None:
    queried = " ".join(expressions()[where] for where in expressions() if where.startswith("panel"))
    for metric in ("careerloop_outbox_unpublished_commits", "careerloop_projection_lag",
                   "careerloop_projection_checkpoint_age_seconds", "careerloop_http_requests_total",
                   "careerloop_http_request_duration_seconds_bucket", "careerloop_process_processed_total",
                   "careerloop_process_failures_total", "careerloop_process_lease_held",
                   "careerloop_process_heartbeat_timestamp_seconds", "careerloop_up",
                   "careerloop_projection_event_age_seconds_bucket", "careerloop_notification_deliveries_total",
                   "careerloop_notification_delivery_seconds_bucket", "careerloop_notifications_oldest_due_age_seconds",
                   "careerloop_notifications_due", "careerloop_webhook_endpoints"):
        assert metric in queried, metric


@cache
def monitored() -> list[dict[str, Any]]:
    rendered = render("monitoring.enabled=true", "monitoring.labels.release=kube-prometheus-stack")
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def one(kind: str) -> dict[str, Any]:
    [found] = [m for m in monitored() if m["kind"] == kind]
    return found


def test_monitoring_is_off_by_default() -> None:
    rendered = render("monitoring.enabled=false")
    assert rendered.returncode == 0, rendered.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered.stdout) if doc}
    assert not kinds & OPERATOR_KINDS and "ConfigMap" not in kinds


def test_the_operator_resources_are_complete_and_carry_the_selected_labels() -> None:
    for kind in OPERATOR_KINDS:
        resource = one(kind)
        assert resource["apiVersion"] == "monitoring.coreos.com/v1", kind
        assert resource["metadata"]["labels"]["release"] == "kube-prometheus-stack", kind
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", resource["metadata"]["name"]), kind
    for kind, endpoints in (("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")):
        spec = one(kind)["spec"]
        assert spec["selector"]["matchLabels"] and spec["namespaceSelector"] == {"matchNames": ["careers"]}
        [endpoint] = spec[endpoints]
        assert endpoint["path"] == "/metrics" and endpoint["interval"] == "30s"
        # the labels the alert rules name targets by
        assert {r["targetLabel"] for r in endpoint["relabelings"]} == {"app", "component"}
    # the APIs' metrics carry their own `service` label: it wins over the target's
    assert one("ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] is True


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_the_monitors_scrape_every_api_and_every_other_process_on_its_metrics_port() -> None:
    deployments = {m["metadata"]["name"]: m for m in monitored() if m["kind"] == "Deployment"}
    services = [m for m in monitored() if m["kind"] == "Service"]
    scraped = one("ServiceMonitor")["spec"]
    port = scraped["endpoints"][0]["port"]
    apis = {name for name in deployments if name.endswith("-api") or name == "careerloop-web"}  # web: request metrics
    selected = [s for s in services if _selects(scraped["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert {s["metadata"]["name"] for s in selected} == apis
    assert all(port in {p["name"] for p in s["spec"]["ports"]} for s in selected)
    pods = one("PodMonitor")["spec"]
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        [container] = template["spec"]["containers"]
        if name in apis:
            assert not _selects(pods["selector"]["matchLabels"], template["metadata"]["labels"]), name
            continue
        assert _selects(pods["selector"]["matchLabels"], template["metadata"]["labels"]), name
        [metrics] = [p for p in container["ports"] if p["name"] == pods["podMetricsEndpoints"][0]["port"]]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["METRICS_PORT"] == str(metrics["containerPort"]), name


def test_the_chart_ships_the_rules_and_the_dashboard_unchanged() -> None:
    assert one("PrometheusRule")["spec"] == rules()
    configmap = one("ConfigMap")
    kubernetes_validate.validate(configmap, KUBERNETES, strict=True)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["careerloop-dashboard.json"]) == dashboard()


def test_the_readme_lists_every_alert() -> None:
    readme = (ROOT / "README.md").read_text()
    for alert in alerts():
        assert f"| `{alert['alert']}` |" in readme, alert["alert"]
