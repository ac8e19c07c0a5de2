"""The Helm chart (`deploy/helm/careerloop`), rendered by a real Helm (`infra/helm/install.sh` builds it
from the Go module proxy) with the example values: it lints, every manifest validates against the
Kubernetes schemas (`kubernetes-validate`), every process of the Procfile runs with the same command,
hardened, probed and bounded, secrets only come from the Secret the values name, and leaving out a
required value fails the rendering with a message naming it."""
from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services import kafka_access

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "careerloop"
EXAMPLE = CHART / "values-example.yaml"
KUBERNETES = "1.30.0"  # a version in the chart's kubeVersion range (>= 1.27) that kubernetes-validate has schemas for
SECRETS = {"CAREERLOOP_JWT_SECRET", "CALENDAR_FEED_SECRET", "WEBHOOK_SECRET_KEY", "ANALYTICS_PSEUDONYM_KEY",
           "ERASURE_MASTER_KEY", "ERASURE_PREVIOUS_MASTER_KEYS", "EVENT_STORE_URL", "READ_STORE_URL", "KEY_STORE_URL",
           "SMTP_URL", "WEB_SESSION_SECRET", "OIDC_CLIENT_SECRET"}
OPTIONAL_SECRETS = {"SMTP_URL", "ERASURE_PREVIOUS_MASTER_KEYS", "OIDC_CLIENT_SECRET"}


@cache
def helm() -> str:
    return subprocess.run([str(ROOT / "infra" / "helm" / "install.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def render(*overrides: str, values: Path | None = EXAMPLE) -> subprocess.CompletedProcess[str]:
    command = [helm(), "template", "careerloop", str(CHART), "--namespace", "careers", "--kube-version", KUBERNETES]
    if values is not None:
        command += ["-f", str(values)]
    for override in overrides:
        command += ["--set", override]
    return subprocess.run(command, capture_output=True, text=True)


@cache
def manifests() -> list[dict[str, Any]]:
    rendered = render()
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests() if m["kind"] == kind}


def procfile() -> dict[str, list[str]]:
    """Every process of the Procfile and its command (without `exec`), read where the chart's Kafka access
    file is generated from (services.kafka_access: the one reader of the Procfile)."""
    return kafka_access.processes()


def test_the_chart_lints_with_the_example_values() -> None:
    linted = subprocess.run([helm(), "lint", "--strict", "--kube-version", KUBERNETES, str(CHART), "-f", str(EXAMPLE)],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_rendered_manifest_validates_against_the_kubernetes_schemas() -> None:
    assert len(manifests()) > 40
    for manifest in manifests():
        if manifest["apiVersion"].split("/")[0].endswith((".strimzi.io", ".mongodb.com", "monitoring.coreos.com")):
            # custom resources: validated against their operators' schemas (test_kafka_resources.py) or
            # checked by test_monitoring.py (the Prometheus Operator's, which have no schema here)
            continue
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)  # raises on any error


def test_every_procfile_process_is_a_deployment_with_the_same_command() -> None:
    deployments = {name.removeprefix("careerloop-"): d for name, d in of_kind("Deployment").items()}
    assert set(deployments) == set(procfile())
    for name, command in procfile().items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        rendered = container["command"]
        if command[0] == "gunicorn":
            # the same app and options (workers and threads come from gunicorn.conf.py, the front end's
            # sync override from both); bound to every interface on the API's port inside the pod
            port = re.search(r":\$\{\w+:-(\d+)\}", " ".join(command))[1]  # type: ignore[index]
            expected = list(command)
            expected[expected.index("--bind") + 1] = f"0.0.0.0:{port}"
            assert rendered == expected
            assert container["ports"][0]["containerPort"] == int(port)
        else:
            assert rendered == command


def test_every_container_is_hardened_bounded_and_probed() -> None:
    pods = [(name, d["spec"]["template"]["spec"]) for name, d in of_kind("Deployment").items()]
    pods += [(name, j["spec"]["template"]["spec"]) for name, j in of_kind("Job").items()]
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and \
                {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name  # writable scratch only
            if name.endswith("-init"):
                continue
            assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container), name
            if name.endswith("-api"):
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_secrets_come_only_from_the_named_secret_as_read_only_files_and_none_is_rendered() -> None:
    """Files of a volume, never environment variables (which /proc/<pid>/environ and crash reports show):
    each process reads <NAME>_FILE (shared/config.py); required keys must be in the Secret for the pod to
    start, an optional one the Secret does not hold is no file (its setting stays off)."""
    assert of_kind("Secret") == {}
    pods = {name: d["spec"]["template"]["spec"] for name, d in of_kind("Deployment").items()}
    pods["careerloop-init"] = of_kind("Job")["careerloop-init"]["spec"]["template"]["spec"]
    for name, pod in pods.items():
        [container] = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert not [e for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})], name
        assert SECRETS.isdisjoint(env), name
        for variable in SECRETS:
            assert env[f"{variable}_FILE"]["value"] == f"/var/run/careerloop/secrets/{variable}", name
        assert {"name": "secrets", "mountPath": "/var/run/careerloop/secrets", "readOnly": True} \
            in container["volumeMounts"], name
        volume = next(v for v in pod["volumes"] if v["name"] == "secrets")["projected"]
        assert volume["defaultMode"] == 0o440  # readable by the pod's group (fsGroup) only
        required, optional = (source["secret"] for source in volume["sources"])
        assert required["name"] == optional["name"] == "careerloop-secrets"
        assert "optional" not in required and optional["optional"] is True
        assert {i["key"] for i in optional["items"]} == OPTIONAL_SECRETS
        assert {i["key"] for i in required["items"]} == SECRETS - OPTIONAL_SECRETS
        assert all(i["path"] == i["key"] for i in required["items"] + optional["items"])


def test_the_image_is_pinned_by_digest_and_by_tag_only_without_one() -> None:
    repository = "registry.example.edu/career-office/careerloop"
    [container] = of_kind("Deployment")["careerloop-notes-api"]["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(re.escape(f"{repository}:0.1.0@sha256:") + "[0-9a-f]{64}", container["image"])
    by_tag = render("image.digest=")
    assert by_tag.returncode == 0 and f"image: {repository}:0.1.0\n" in by_tag.stdout
    digest_only = render("image.tag=")
    assert digest_only.returncode == 0 and f"image: {repository}@sha256:" in digest_only.stdout
    wrong = render("image.digest=0f3c5b8e")
    assert wrong.returncode != 0 and "set image.digest to sha256:<64 hex digits>" in wrong.stderr, wrong.stderr


def test_every_process_exports_its_traces_where_the_values_say_and_names_itself() -> None:
    for name, deployment in {**of_kind("Deployment"), **of_kind("Job")}.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4318", name
        assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.2"), name
        assert "OTEL_SERVICE_NAME" not in env, name  # each process is its own service (shared/tracing.py)


def test_without_an_endpoint_nothing_is_exported_and_a_ratio_out_of_range_fails() -> None:
    rendered = render("tracing.otlpEndpoint=")
    assert rendered.returncode == 0 and "OTEL_EXPORTER_OTLP_ENDPOINT" not in rendered.stdout
    assert "OTEL_TRACES_SAMPLER_ARG" in rendered.stdout
    rendered = render("tracing.samplerRatio=1.5")
    assert rendered.returncode != 0 and "set tracing.samplerRatio between 0 and 1" in rendered.stderr


@pytest.mark.parametrize(("unset", "named"), [
    (("image.repository=",), "image.repository"), (("image.tag=", "image.digest="), "image.tag or image.digest"),
    (("secretName=",), "secretName"), (("kafka.bootstrapServers=",), "kafka.bootstrapServers"),
    (("ingress.tlsSecretName=",), "ingress.tlsSecretName"),
])
def test_rendering_without_a_required_value_fails_naming_it(unset: tuple[str, ...], named: str) -> None:
    rendered = render(*unset)
    assert rendered.returncode != 0 and f"set {named}" in rendered.stderr, rendered.stderr


def test_the_default_values_alone_do_not_render() -> None:
    rendered = render(values=None)
    assert rendered.returncode != 0 and "set image.repository" in rendered.stderr


def test_apis_scale_and_survive_disruption_and_leased_processes_run_standbys() -> None:
    apis = [name for name in procfile() if name.endswith("-api") or name == "web"]
    hpas, budgets = of_kind("HorizontalPodAutoscaler"), of_kind("PodDisruptionBudget")
    for api in apis:
        assert hpas[f"careerloop-{api}"]["spec"]["minReplicas"] >= 2
        assert budgets[f"careerloop-{api}"]["spec"]["minAvailable"] == 1
    deployments = of_kind("Deployment")
    for name in procfile():
        if name.endswith(("-relay", "-announcer", "-dispatcher")):
            assert deployments[f"careerloop-{name}"]["spec"]["replicas"] >= 2, name
    init = of_kind("Job")["careerloop-init"]
    assert init["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_only_the_ingress_controller_and_prometheus_reach_the_pods() -> None:
    policies = of_kind("NetworkPolicy")
    apis = policies["careerloop-careerloop-apis"]["spec"]
    sources = [peer["namespaceSelector"]["matchLabels"] for peer in apis["ingress"][0]["from"]]
    assert sources == [{"kubernetes.io/metadata.name": "ingress-nginx"}, {"kubernetes.io/metadata.name": "monitoring"}]
    workers = policies["careerloop-careerloop-workers"]["spec"]
    assert workers["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9100}]
    ingress = of_kind("Ingress")["careerloop-careerloop"]["spec"]
    hosts = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in ingress["rules"]}
    assert hosts == {**{f"{name.removesuffix('-api')}.careers.example.edu": f"careerloop-{name}"
                        for name in procfile() if name.endswith("-api")},
                     "careers.example.edu": "careerloop-web"}  # the web front end: what students open
    assert sorted(ingress["tls"][0]["hosts"]) == sorted(hosts)


def test_the_privacy_api_fetches_export_parts_from_every_other_apis_service_and_may_reach_them() -> None:
    services = of_kind("Service")
    privacy = of_kind("Deployment")["careerloop-privacy-api"]["spec"]["template"]["spec"]["containers"][0]
    sources = dict(entry.split("=", 1) for entry in
                   {e["name"]: e.get("value") for e in privacy["env"]}["EXPORT_SOURCES"].split(","))
    apis = {name.removesuffix("-api") for name in procfile() if name.endswith("-api")} - {"privacy"}
    assert set(sources) == apis  # never the web front end: it holds no data
    for name, url in sources.items():
        service = services[f"careerloop-{name}-api"]
        assert url == f"http://careerloop-{name}-api:{service['spec']['ports'][0]['port']}"
    rule = of_kind("NetworkPolicy")["careerloop-careerloop-apis"]["spec"]["ingress"][1]
    assert rule["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "careerloop", "app.kubernetes.io/instance": "careerloop",
        "app.kubernetes.io/component": "privacy-api"}}}]
    assert sorted(p["port"] for p in rule["ports"]) == sorted(
        services[f"careerloop-{name}-api"]["spec"]["ports"][0]["port"] for name in apis)


def test_the_web_front_end_calls_every_api_through_its_service_signs_in_at_the_idp_and_may_reach_the_apis() -> None:
    services = of_kind("Service")
    [web] = of_kind("Deployment")["careerloop-web"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in web["env"]}
    assert env["WEB_PUBLIC_URL"] == "https://careers.example.edu"
    assert env["OIDC_ISSUER"] == "https://login.example.edu/realms/students"
    assert env["OIDC_CLIENT_ID"] == "careerloop-web"
    urls = dict(entry.split("=", 1) for entry in env["WEB_API_URLS"].split(","))
    apis = {name.removesuffix("-api") for name in procfile() if name.endswith("-api")}
    assert set(urls) == apis
    for name, url in urls.items():
        assert url == f"http://careerloop-{name}-api:{services[f'careerloop-{name}-api']['spec']['ports'][0]['port']}"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    rule = of_kind("NetworkPolicy")["careerloop-careerloop-apis"]["spec"]["ingress"][2]
    assert rule["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "careerloop", "app.kubernetes.io/instance": "careerloop",
        "app.kubernetes.io/component": "web"}}}]
    assert sorted(p["port"] for p in rule["ports"]) == sorted(
        services[f"careerloop-{name}-api"]["spec"]["ports"][0]["port"] for name in apis)


@pytest.mark.parametrize(("unset", "named"), [
    (("web.oidcClientId=",), "web.oidcClientId"), (("oidc.issuer=",), "oidc.issuer"),
    (("ingress.enabled=false",), "web.publicUrl"),
])
def test_the_web_front_end_needs_its_identity_provider_client_and_address(unset: tuple[str, ...], named: str) -> None:
    rendered = render(*unset)
    assert rendered.returncode != 0 and f"set {named}" in rendered.stderr, rendered.stderr
