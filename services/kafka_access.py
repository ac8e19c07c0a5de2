"""Which Kafka topics each process of the platform produces and consumes, derived from the code: the one
source of the Helm chart's Strimzi KafkaTopics and of each process's KafkaUser ACLs.

`python -m services.kafka_access --helm-values > deploy/helm/careerloop/files/kafka-access.yaml` writes
what the chart renders (`tests/deploy/test_kafka_resources.py` keeps that file equal to this output, and
the rendered resources equal to what this module derives). Nothing is listed by hand:

- the topics are the ones `shared.runtime.ensure_all_topics` creates (every catalogue's, the integration
  topics), plus each projection's dead-letter topic (`shared.consumer`, one partition);
- a relay (`python -m shared.relay <service>`) writes its service's topics (`shared.runtime.topics_of`);
- a projection worker (a Procfile module holding a `Projection`) reads the projection's `topics` in its
  consumer groups, and writes and reads its dead-letter topics; the analytics translator also writes the
  integration topic;
- an API only looks (Describe) at its service's projection's topics and groups, for the lag on /metrics
  (`projections=[...]` in each `services/<service>/app.py`: the projection in `services.<service>.projections`);
- the announcer and the dispatcher never open the bus: they get no Kafka user at all.

A projection's consumer group and dead-letter topic names carry its version and generation (a rebuild is
a new group, `shared.projection.group_id`; a funnel definition is a version), so those are granted by
prefix: `<namespace>projection.<name>.` and `careerloop.deadletter.<namespace>projection.<name>.`. The
dead-letter topics of later generations are created by the worker itself (`Create` on that prefix); the
current version's first one is a KafkaTopic. A services-level module (like `services.init`) because it
needs every service's projections, which `shared` never imports.
"""
from __future__ import annotations

import importlib
import importlib.util
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from services.analytics.integration import TOPIC as INTEGRATION_TOPIC
from services.analytics.translator import Translator
from shared.bus import dead_letter_topic
from shared.config import Settings
from shared.contracts import CATALOGS, INTEGRATION_TOPICS
from shared.projection import Projection, blueprint, group_id
from shared.runtime import topics_of

PROCFILE = Path(__file__).resolve().parents[1] / "Procfile"
# Stands for BUS_NAMESPACE in the generated file; the chart replaces it with `kafka.busNamespace`.
NAMESPACE_PLACEHOLDER = "{ns}"

READ, WRITE, DESCRIBE, CREATE = "Read", "Write", "Describe", "Create"


@dataclass(frozen=True, order=True)
class Acl:
    """One Strimzi `simple` ACL rule: operations on a topic or group, by literal name or prefix."""

    type: str          # topic | group
    name: str
    pattern: str       # literal | prefix
    operations: tuple[str, ...]

    def as_strimzi(self) -> dict:
        return {"resource": {"type": self.type, "name": self.name, "patternType": self.pattern},
                "operations": list(self.operations), "host": "*"}


def _topic(name: str, *operations: str, pattern: str = "literal") -> Acl:
    return Acl("topic", name, pattern, tuple(sorted(operations)))


def processes() -> dict[str, list[str]]:
    """Every process of the Procfile: name -> command line (what `make run` and the chart run)."""
    found = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            found[name] = shlex.split(command)[1:]  # without `exec`
    return found


def _projection_of(module_name: str) -> type[Projection] | None:
    module = importlib.import_module(module_name)
    classes = {value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, Projection) and value is not Projection}
    if len(classes) > 1:
        raise ValueError(f"{module_name} holds several projections {sorted(c.__name__ for c in classes)}: "
                         "say here which one its process runs")
    return classes.pop() if classes else None


def _service_projection(service: str) -> type[Projection]:
    """The projection whose lag a service's API reports (`projections=[...]` in its app)."""
    module = importlib.import_module(f"services.{service}.projections")
    [projection] = [value for value in vars(module).values() if isinstance(value, type)
                    and issubclass(value, Projection) and value.__module__ == module.__name__]
    return projection


def _group_prefix(projection: Projection, namespace: str) -> str:
    """`<namespace>projection.<name>.`: every version and generation of the projection's group."""
    current = group_id(namespace, projection.name, projection.version, 0)
    suffix = f"v{projection.version}"
    assert current.endswith("." + suffix), current  # the version is the group's last part
    return current.removesuffix(suffix)


def _worker_acls(projection_class: type[Projection], namespace: str) -> list[Acl]:
    projection, _ = blueprint(projection_class, namespace)
    prefix = _group_prefix(projection, namespace)
    acls = [_topic(topic, READ, DESCRIBE) for topic in projection.topics]
    acls.append(Acl("group", prefix, "prefix", (READ,)))
    acls.append(_topic(dead_letter_topic(prefix), CREATE, DESCRIBE, READ, WRITE, pattern="prefix"))
    if projection_class is Translator:  # it publishes the integration stream (Translator.publish)
        acls.append(_topic(namespace + INTEGRATION_TOPIC, WRITE, DESCRIBE))
    return acls


def _api_acls(service: str, namespace: str) -> list[Acl]:
    projection, _ = blueprint(_service_projection(service), namespace)
    acls = [_topic(topic, DESCRIBE) for topic in projection.topics]
    acls.append(Acl("group", _group_prefix(projection, namespace), "prefix", (DESCRIBE,)))
    return acls


def access(namespace: str = "") -> dict[str, list[Acl]]:
    """Process -> its ACLs (sorted), for every process that uses the bus."""
    settings = Settings({"BUS_NAMESPACE": namespace})
    found: dict[str, list[Acl]] = {}
    for name, command in processes().items():
        if command[:3] == ["python", "-m", "shared.relay"]:
            acls = [_topic(topic, WRITE, DESCRIBE) for topic in topics_of(command[3], settings).values()]
        elif command[0] == "gunicorn":
            service = command[-1].split(".")[1]
            if importlib.util.find_spec(f"services.{service}.projections") is None:
                continue  # the web front end: it calls the APIs over HTTP and never reaches the bus
            acls = _api_acls(service, namespace)
        elif (projection := _projection_of(command[2])) is not None:
            acls = _worker_acls(projection, namespace)
        else:
            continue  # the announcer and the dispatcher: no bus
        found[name] = sorted(acls)
    return found


def topics(namespace: str = "") -> dict[str, int | None]:
    """Every topic the platform uses -> its partition count (None: `TOPIC_PARTITIONS`)."""
    names: dict[str, int | None] = {namespace + t: None for t in [c.topic for c in CATALOGS] + list(INTEGRATION_TOPICS)}
    for command in processes().values():
        if command[0] == "python" and (projection := _projection_of(command[2])) is not None:
            current = blueprint(projection, namespace)[0].group_id
            names[dead_letter_topic(current)] = 1  # as the consumer runner creates it
    return names


def helm_values() -> str:
    """The chart's `files/kafka-access.yaml`: topics and ACLs, `{ns}` standing for BUS_NAMESPACE."""
    import yaml

    namespace = NAMESPACE_PLACEHOLDER
    data = {
        "topics": [{"name": name, **({"partitions": count} if count else {})}
                   for name, count in sorted(topics(namespace).items())],
        "users": {process: [acl.as_strimzi() for acl in acls] for process, acls in sorted(access(namespace).items())},
    }
    header = ("# Generated by `python -m services.kafka_access --helm-values`: do not edit.\n"
              f"# {NAMESPACE_PLACEHOLDER} stands for kafka.busNamespace (BUS_NAMESPACE). Topics without partitions\n"
              "# have kafka.topicPartitions (TOPIC_PARTITIONS).\n")
    return header + yaml.safe_dump(data, sort_keys=False, width=120, default_flow_style=None)


if __name__ == "__main__":
    if sys.argv[1:] != ["--helm-values"]:
        raise SystemExit("usage: python -m services.kafka_access --helm-values")
    sys.stdout.write(helm_values())
