"""The Kafka adapter authenticates as the `KAFKA_*` variables say (a Strimzi KafkaUser's TLS certificate or
SCRAM password), every client it creates gets the same settings, and a combination that cannot work stops
the process at start-up naming the variable. No broker: the clients' constructors are intercepted."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.bus import kafka as adapter
from shared.bus import open_bus
from shared.config import Settings

SCRAM = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "careerloop-contacts-relay",
         "KAFKA_SASL_PASSWORD": "generated-by-strimzi-0123456789ab"}


def security(env: dict[str, str]) -> dict[str, Any]:
    return adapter.kafka_security(Settings(env))


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name in ("ca.crt", "user.crt", "user.key"):
        (tmp_path / name).write_text("-----BEGIN PLACEHOLDER-----\n")
        files[name] = str(tmp_path / name)
    return files


def test_by_default_the_bus_speaks_plaintext_as_the_local_broker_does() -> None:
    assert security({}) == {"security_protocol": "PLAINTEXT"}


def test_scram_over_tls_passes_the_mechanism_the_user_and_the_cluster_ca(pem: dict[str, str]) -> None:
    assert security({**SCRAM, "KAFKA_SSL_CAFILE": pem["ca.crt"]}) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "careerloop-contacts-relay", "sasl_plain_password": "generated-by-strimzi-0123456789ab",
        "ssl_cafile": pem["ca.crt"], "ssl_check_hostname": True}


def test_mutual_tls_passes_the_client_certificate_and_key(pem: dict[str, str]) -> None:
    env = {"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CAFILE": pem["ca.crt"],
           "KAFKA_SSL_CERTFILE": pem["user.crt"], "KAFKA_SSL_KEYFILE": pem["user.key"]}
    assert security(env) == {"security_protocol": "SSL", "ssl_cafile": pem["ca.crt"], "ssl_certfile": pem["user.crt"],
                             "ssl_keyfile": pem["user.key"], "ssl_check_hostname": True}


@pytest.mark.parametrize(("env", "named"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL must be one of"),
    ({**SCRAM, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM must be one of"),
    ({**SCRAM, "KAFKA_SASL_PASSWORD": ""}, "KAFKA_SASL_PASSWORD is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ({**SCRAM, "KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME is required"),
    ({"KAFKA_SASL_PASSWORD": "a-password"}, "KAFKA_SASL_PASSWORD is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
    ({"KAFKA_SSL_CAFILE": "/etc/ca.crt"}, "KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
    ({**SCRAM, "KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"}, "KAFKA_SSL_CAFILE: cannot read '/nonexistent/ca.crt'"),
])
def test_a_combination_that_cannot_work_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(")):
        security(env)


def test_a_client_key_needs_its_certificate(pem: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together"):
        security({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": pem["user.key"]})


def test_opening_the_bus_checks_the_settings_before_any_connection() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME is required"):
        open_bus("kafka://kafka:9093", Settings({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}))


class _FakeClient:
    """Stands in for a kafka-python client: answers what the adapter asks while it sets one up."""

    def subscribe(self, topics: list[str]) -> None:
        pass

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}


def test_the_admin_client_producers_and_consumers_all_get_the_settings(monkeypatch: pytest.MonkeyPatch,
                                                                       pem: dict[str, str]) -> None:
    made: dict[str, dict[str, Any]] = {}

    def create(factory: Any, **configs: Any) -> _FakeClient:
        made[factory.__name__] = configs
        return _FakeClient()

    monkeypatch.setattr(adapter, "_create", create)
    bus = open_bus("kafka://kafka:9093", Settings({**SCRAM, "KAFKA_SSL_CAFILE": pem["ca.crt"]}))
    assert isinstance(bus, adapter.KafkaBus)
    monkeypatch.setattr(bus, "partitions", lambda topic: 1)  # the topic exists (no admin round trip)
    bus._admin_client()
    bus.producer()._client()
    bus.consumer("projection.contacts-directory.v1", ["careerloop.contacts.contact.v1"])._client()
    assert set(made) == {"KafkaAdminClient", "KafkaProducer", "KafkaConsumer"}
    for name, configs in made.items():
        assert configs["security_protocol"] == "SASL_SSL", name
        assert configs["sasl_mechanism"] == "SCRAM-SHA-512", name
        assert configs["sasl_plain_username"] == "careerloop-contacts-relay", name
        assert configs["ssl_cafile"] == pem["ca.crt"], name
    assert made["KafkaProducer"]["enable_idempotence"] is True  # the adapter's own settings are kept


def test_a_topic_the_principal_may_not_create_is_left_to_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a Strimzi KafkaUser a process may create none of the platform's topics (KafkaTopics make
    them): ensure_topics goes on with the ones it may create, and waits only for those."""
    bus = adapter.KafkaBus("kafka://kafka:9093")
    denied, own = "careerloop.contacts.contact.v1", "careerloop.deadletter.projection.contact-directory.v1"
    calls: list[str] = []

    def admin_call(what: str, call: Any, retry_seconds: float = 0) -> Any:
        calls.append(what)
        if what == "create topics":
            return {"topics": [{"name": denied, "error_code": adapter._NOT_AUTHORIZED_CODE, "error_message": None},
                               {"name": own, "error_code": 0, "error_message": None}]}
        return [{"name": own, "error_code": 0, "partitions": [{"error_code": 0, "leader_id": 1}]}]

    monkeypatch.setattr(bus, "_admin_call", admin_call)
    bus.ensure_topics({denied: 6, own: 1})
    assert calls == ["create topics", "describe topics"]
    assert bus._partitions == {own: 1}  # the denied topic is checked when (and if) it is first used
