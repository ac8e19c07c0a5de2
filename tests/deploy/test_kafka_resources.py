"""The chart's Strimzi and MongoDB custom resources, rendered by a real Helm: every topic the code uses has
exactly one KafkaTopic; every KafkaUser's ACLs are exactly what its process produces and consumes, derived
here from the code (relays publish their service's catalogues' topics, projections read their `topics` in
their versioned groups and park failures in their dead-letter topics, the translator publishes the
integration topic); each Deployment gets its own user's credentials; and every custom resource validates
against its operator's schema (`deploy/schemas/`, vendored with their versions)."""
from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services import kafka_access
from services.analytics.integration import TOPIC as INTEGRATION_TOPIC
from services.analytics.translator import Translator
from services.init import PROJECTIONS
from shared.bus import dead_letter_topic
from shared.config import VARIABLES, Settings
from shared.contracts import CATALOGS, INTEGRATION_TOPICS
from shared.projection import blueprint, group_id
from shared.runtime import topics_of
from tests.deploy.test_chart import CHART, ROOT, procfile, render

NS = "uni1."  # a BUS_NAMESPACE, so that the namespace is seen in every name it prefixes
SCHEMAS = ROOT / "deploy" / "schemas"
SCHEMA_OF = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): "strimzi-0.51.0-kafka-v1beta2.json",
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): "strimzi-0.51.0-kafkanodepool-v1beta2.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "strimzi-0.51.0-kafkatopic-v1beta2.json",
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): "strimzi-0.51.0-kafkauser-v1beta2.json",
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"):
        "mongodb-kubernetes-operator-0.9.0-mongodbcommunity-v1.json",
}
DEFAULT = {v.name: v.default for v in VARIABLES}


@cache
def rendered(*overrides: str) -> tuple[dict[str, Any], ...]:
    result = render(*overrides)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(kind: str, *overrides: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in rendered(*overrides) if m["kind"] == kind}


def namespaced(kind: str) -> dict[str, dict[str, Any]]:
    return of_kind(kind, f"kafka.busNamespace={NS}")


def worker_projections() -> dict[str, Any]:
    """Projection worker process -> the projection class it runs."""
    return {name: projection for name, command in procfile().items()
            if command[0] == "python" and (projection := kafka_access._projection_of(command[2])) is not None}


def prefix_of(projection: Any) -> str:
    return f"{NS}projection.{projection.name}."


# -- the generated file ------------------------------------------------------------------------------
def test_the_charts_access_file_is_what_the_code_generates() -> None:
    written = (CHART / "files" / "kafka-access.yaml").read_text()
    assert written == kafka_access.helm_values(), \
        "regenerate: python -m services.kafka_access --helm-values > deploy/helm/careerloop/files/kafka-access.yaml"


def test_every_projection_runs_in_exactly_one_worker_process() -> None:
    assert sorted(p.__name__ for p in worker_projections().values()) == sorted(p.__name__ for p in PROJECTIONS)


# -- topics ------------------------------------------------------------------------------------------
def expected_topics() -> dict[str, int]:
    """What ensure_all_topics creates (every catalogue's topic, the integration topics) with
    TOPIC_PARTITIONS, and each projection's dead-letter topic with the consumer runner's one partition."""
    partitions = int(DEFAULT["TOPIC_PARTITIONS"])
    topics = {NS + topic: partitions for topic in [c.topic for c in CATALOGS] + list(INTEGRATION_TOPICS)}
    for projection in PROJECTIONS:
        made = blueprint(projection, NS)[0]
        topics[dead_letter_topic(group_id(NS, made.name, made.version, 0))] = 1
    return topics


def test_every_topic_the_code_uses_has_exactly_one_kafka_topic_with_the_durable_settings() -> None:
    topics = namespaced("KafkaTopic").values()
    names = [t["spec"]["topicName"] for t in topics]
    assert sorted(names) == sorted(expected_topics())  # each exactly once, nothing else
    for topic in topics:
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "careerloop"
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"  # uninstall keeps the events
        assert spec["partitions"] == expected_topics()[spec["topicName"]], spec
        assert spec["replicas"] == 3
        assert spec["config"] == {"cleanup.policy": "delete", "min.insync.replicas": 2, "retention.ms": -1}
        assert "_" not in topic["metadata"]["name"]


def test_the_chart_partitions_topics_as_the_code_defaults() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["kafka"]["topicPartitions"] == int(DEFAULT["TOPIC_PARTITIONS"])


def test_retention_and_partitions_come_from_the_values() -> None:
    topics = of_kind("KafkaTopic", "strimzi.topics.retentionMs=604800000", "kafka.topicPartitions=12")
    journey = next(t for t in topics.values() if t["spec"]["topicName"] == INTEGRATION_TOPIC)
    assert journey["spec"]["partitions"] == 12 and journey["spec"]["config"]["retention.ms"] == 604800000


# -- users and ACLs ----------------------------------------------------------------------------------
def acl(kind: str, name: str, pattern: str, *operations: str) -> tuple[str, str, str, frozenset[str]]:
    return (kind, name, pattern, frozenset(operations))


def expected_acls() -> dict[str, set[tuple[str, str, str, frozenset[str]]]]:
    """Per process, from the code: what it writes, reads and describes."""
    settings = Settings({"BUS_NAMESPACE": NS})
    expected: dict[str, set] = {}
    for name, command in procfile().items():
        if command[:3] == ["python", "-m", "shared.relay"]:  # publishes its service's catalogues' topics
            expected[name] = {acl("topic", t, "literal", "Write", "Describe")
                              for t in topics_of(command[3], settings).values()}
    for name, projection in worker_projections().items():
        made = blueprint(projection, NS)[0]
        rules = {acl("topic", t, "literal", "Read", "Describe") for t in made.topics}
        rules.add(acl("group", prefix_of(made), "prefix", "Read"))
        rules.add(acl("topic", dead_letter_topic(prefix_of(made)), "prefix", "Create", "Describe", "Read", "Write"))
        if projection is Translator:
            rules.add(acl("topic", NS + INTEGRATION_TOPIC, "literal", "Write", "Describe"))
        expected[name] = rules
    for name, command in procfile().items():
        if command[0] == "gunicorn" and command[-1] != "services.web.app:create_app()":  # the front end: no bus
            service = command[-1].split(".")[1]  # an API's /metrics: the lag of its service's projection
            [projection] = [p for p in PROJECTIONS if p.__module__ == f"services.{service}.projections"]
            made = blueprint(projection, NS)[0]
            expected[name] = {acl("topic", t, "literal", "Describe") for t in made.topics}
            expected[name].add(acl("group", prefix_of(made), "prefix", "Describe"))
    return expected


def test_every_kafka_users_acls_are_exactly_what_its_process_produces_and_consumes() -> None:
    users = {name.removeprefix("careerloop-"): user for name, user in namespaced("KafkaUser").items()}
    expected = expected_acls()
    assert set(users) == set(expected)
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "careerloop"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        acls = user["spec"]["authorization"]["acls"]
        found = [acl(a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], *a["operations"])
                 for a in acls]
        assert len(found) == len(set(found)), name
        assert set(found) == expected[name], name


def test_the_group_and_dead_letter_prefixes_cover_every_generation_and_replay_but_no_other_projection() -> None:
    projections = [blueprint(p, NS)[0] for p in PROJECTIONS]
    for made in projections:
        for generation in (0, 1, 7):
            group = group_id(NS, made.name, made.version, generation)
            for other in projections:
                covers = group.startswith(prefix_of(other))
                assert covers == (other.name == made.name), (group, other.name)
            assert dead_letter_topic(group).startswith(dead_letter_topic(prefix_of(made)))
            assert f"{group}.replay.123".startswith(prefix_of(made))  # ConsumerRunner.replay_dead_letters


def test_the_announcer_and_the_dispatcher_have_no_kafka_user() -> None:
    users = {name.removeprefix("careerloop-") for name in of_kind("KafkaUser")}
    assert {"followups-announcer", "notifications-dispatcher"}.isdisjoint(users)


# -- credentials in the pods -------------------------------------------------------------------------
def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_each_deployment_authenticates_as_its_own_user_with_scram_over_tls() -> None:
    users = of_kind("KafkaUser")
    for name, deployment in of_kind("Deployment").items():
        container = container_of(deployment)
        env = {e["name"]: e for e in container["env"]}
        if name not in users:
            assert not [v for v in env if v.startswith("KAFKA_")], name
            continue
        assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["KAFKA_SASL_USERNAME"]["value"] == name  # the KafkaUser and its Secret have the same name
        # the password Strimzi writes to the user's Secret, as a file, never in the environment
        assert "KAFKA_SASL_PASSWORD" not in env
        assert env["KAFKA_SASL_PASSWORD_FILE"]["value"] == "/var/run/careerloop/kafka-user/password"
        assert env["KAFKA_SSL_CAFILE"]["value"] == "/var/run/careerloop/kafka-ca/ca.crt"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "careerloop-cluster-ca-cert"
        assert volumes["kafka-user"]["secret"]["secretName"] == name
        assert volumes["kafka-user"]["secret"]["items"] == [{"key": "password", "path": "password"}]
        for volume in ("kafka-ca", "kafka-user"):
            assert {"name": volume, "mountPath": f"/var/run/careerloop/{volume}", "readOnly": True} \
                in container["volumeMounts"]


def test_with_tls_authentication_each_deployment_mounts_its_users_certificate_read_only() -> None:
    for name, deployment in of_kind("Deployment", "strimzi.authentication=tls").items():
        env = {e["name"]: e.get("value") for e in container_of(deployment)["env"]}
        if "KAFKA_SECURITY_PROTOCOL" not in env:
            continue
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL" and not [v for v in env if v.startswith("KAFKA_SASL")]
        assert env["KAFKA_SSL_CERTFILE"] == "/var/run/careerloop/kafka-user/user.crt"
        assert env["KAFKA_SSL_KEYFILE"] == "/var/run/careerloop/kafka-user/user.key"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-user"]["secret"]["secretName"] == name
        assert {"name": "kafka-user", "mountPath": "/var/run/careerloop/kafka-user", "readOnly": True} \
            in container_of(deployment)["volumeMounts"]
    for user in of_kind("KafkaUser", "strimzi.authentication=tls").values():
        assert user["spec"]["authentication"] == {"type": "tls"}


def test_an_unknown_authentication_fails_the_rendering_naming_the_value() -> None:
    result = render("strimzi.authentication=plain")
    assert result.returncode != 0 and "set strimzi.authentication to scram-sha-512 or tls" in result.stderr


def test_the_init_step_leaves_the_kafka_topics_to_strimzi() -> None:
    [init] = of_kind("Job").values()
    assert container_of(init)["command"] == ["python", "-m", "services.init", "--skip-topics"]


def test_without_strimzi_no_custom_resource_and_no_kafka_credential_is_rendered() -> None:
    manifests = rendered("strimzi.enabled=false")
    assert not [m for m in manifests if m["apiVersion"].startswith(("kafka.strimzi.io", "mongodbcommunity"))]
    for m in manifests:
        if m["kind"] in ("Deployment", "Job"):
            assert not [e for e in container_of(m)["env"] if e["name"].startswith("KAFKA_")], m["metadata"]["name"]
    [init] = [m for m in manifests if m["kind"] == "Job"]
    assert container_of(init)["command"] == ["python", "-m", "services.init"]


# -- the example cluster and database ------------------------------------------------------------------
EXAMPLES = ("strimzi.createCluster=true", "mongodb.createCommunityExample=true")


def test_the_example_cluster_is_kraft_with_three_persistent_dual_role_nodes_and_a_tls_listener() -> None:
    [pool] = of_kind("KafkaNodePool", *EXAMPLES).values()
    [kafka] = of_kind("Kafka", *EXAMPLES).values()
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] == "careerloop"
    assert pool["spec"]["replicas"] == 3 and sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert [v["type"] for v in pool["spec"]["storage"]["volumes"]] == ["persistent-claim"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert listener["port"] == 9093 and listener["tls"] is True
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert of_kind("Kafka") == {} and of_kind("KafkaNodePool") == {}  # only when asked for


def test_the_example_mongodb_user_may_use_exactly_the_platforms_databases() -> None:
    [mongodb] = of_kind("MongoDBCommunity", *EXAMPLES).values()
    [user] = mongodb["spec"]["users"]
    services = {name.removesuffix("-api") for name in procfile() if name.endswith("-api")}
    assert {(r["name"], r["db"]) for r in user["roles"]} == {
        ("readWrite", db) for db in {f"careerloop_{s}" for s in services} | {"careerloop_read", "careerloop_keys"}}
    assert of_kind("MongoDBCommunity") == {}


def strict(schema: Any) -> Any:
    """The schema refusing unknown fields, as the API server prunes them (a typo would vanish silently)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@cache
def schema(api_version: str, kind: str) -> dict[str, Any]:
    loaded = json.loads((SCHEMAS / SCHEMA_OF[(api_version, kind)]).read_text())
    loaded = strict(loaded)
    # metadata is the API server's, not the operator's: the CRD leaves it open
    loaded["properties"]["metadata"] = {"type": "object"}
    return loaded


@pytest.mark.parametrize("authentication", ["scram-sha-512", "tls"])
def test_every_custom_resource_validates_against_its_operators_schema(authentication: str) -> None:
    manifests = rendered(*EXAMPLES, f"strimzi.authentication={authentication}", f"kafka.busNamespace={NS}")
    custom = [m for m in manifests if (m["apiVersion"], m["kind"]) in SCHEMA_OF]
    assert {m["kind"] for m in custom} == {kind for _, kind in SCHEMA_OF}
    for manifest in custom:
        jsonschema.validate(copy.deepcopy(manifest), schema(manifest["apiVersion"], manifest["kind"]))
        assert len(manifest["metadata"]["name"]) <= 253


def test_the_vendored_schemas_name_their_source_and_version() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    for file in SCHEMA_OF.values():
        assert Path(SCHEMAS / file).exists()
    assert "0.51.0" in readme and "v0.9.0" in readme
