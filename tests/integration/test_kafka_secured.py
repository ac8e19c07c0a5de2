"""The platform on a secured Kafka broker, as a campus cluster runs it (Strimzi: TLS listeners, SCRAM
client authentication, an authorizer that denies what no ACL allows).

A broker of its own (`infra/kafka/start.sh` with `KAFKA_EXTRA_PROPERTIES` and `KAFKA_SCRAM_USERS`)
serves SASL_SSL with SCRAM-SHA-512 on a certificate of a test CA; each process is a SCRAM user
holding exactly the ACLs `services.kafka_access` derives from the code (what the chart's KafkaUsers
grant). The real processes (gunicorn API, relay, projection worker) started from the Procfile with
the `KAFKA_*` variables carry a contact from the command to the read model, so the derived ACLs are
enough; and a user cannot do what its ACLs leave out, a wrong password or an unknown CA gets in
nowhere. The broker's own plaintext listener is the test's administrator (topics, ACLs)."""
from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from services.kafka_access import access, topics
from shared.auth import mint_token
from shared.bus import open_bus
from shared.config import Settings
from shared.errors import TransientError
from tests.backends import TEST_SECRET, require_env
from tests.platform import ROOT, Platform, free_port, profile_env
from tests.support import wait_until

pytestmark = pytest.mark.kafka
MECHANISM = "SCRAM-SHA-512"
USERS = ("contacts-api", "contacts-relay", "contacts-directory")
KEYSTORE_PASSWORD = "test-keystore-password"


@dataclass
class SecuredBroker:
    admin_url: str  # the plaintext listener: the test's administrator (a super user)
    url: str        # SASL_SSL with SCRAM
    ca_file: Path
    passwords: dict[str, str]
    log: Path

    def env(self, user: str, password: str | None = None, ca_file: Path | None = None) -> dict[str, str]:
        """The `KAFKA_*` variables of a process that is `user`."""
        return {"BUS_URL": self.url, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": MECHANISM,
                "KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": password or self.passwords[user],
                "KAFKA_SSL_CAFILE": str(ca_file or self.ca_file)}


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey],
                 *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:  # the name the clients check: the address they connect to
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer[1], hashes.SHA256())


def certificate_authority(directory: Path, name: str) -> tuple[Path, tuple[str, ec.EllipticCurvePrivateKey]]:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(name, key, (name, key), ca=True)
    path = directory / f"{name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path, (name, key)


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    require_env("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker")  # the profile whose tools (Kafka's jars) are installed
    state = tmp_path_factory.mktemp("secured-kafka")
    ca_file, ca = certificate_authority(state, "careerloop-test-ca")
    broker_key = ec.generate_private_key(ec.SECP256R1())
    keystore = state / "broker.p12"
    keystore.write_bytes(pkcs12.serialize_key_and_certificates(
        b"broker", broker_key, _certificate("127.0.0.1", broker_key, ca, ca=False), None,
        serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode())))
    plain, controller, secured = free_port(), free_port(), free_port()
    (state / "secured.properties").write_text(f"""
listeners=PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},SASL_SSL://127.0.0.1:{secured}
advertised.listeners=PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{secured}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={KEYSTORE_PASSWORD}
ssl.key.password={KEYSTORE_PASSWORD}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# the plaintext listener (the broker itself and the test's administrator) is anonymous
super.users=User:ANONYMOUS
""")
    passwords = {user: uuid.uuid4().hex for user in USERS}
    env = {**os.environ, "KAFKA_PORT": str(plain), "KAFKA_CONTROLLER_PORT": str(controller),
           "KAFKA_EXTRA_PROPERTIES": str(state / "secured.properties"), "PYTHON": sys.executable,
           "KAFKA_SCRAM_USERS": "\n".join(f"{MECHANISM}=[name={u},password={p}]" for u, p in passwords.items())}
    started = subprocess.run([str(ROOT / "infra/kafka/start.sh"), str(state / "broker")], env=env,
                             capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stderr
        broker = SecuredBroker(f"kafka://127.0.0.1:{plain}", f"kafka://127.0.0.1:{secured}", ca_file, passwords,
                               state / "broker" / "kafka.log")
        administer(broker)
        yield broker
    finally:
        subprocess.run([str(ROOT / "infra/kafka/stop.sh"), str(state / "broker")], env=env, capture_output=True)


def administer(broker: SecuredBroker) -> None:
    """Create every topic and grant each user the ACLs derived from the code, as Strimzi would."""
    bus = open_bus(broker.admin_url, Settings({}))  # imports kafka-python the way the platform does
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourceType,
    )

    admin = KafkaAdminClient(bootstrap_servers=broker.admin_url.removeprefix("kafka://"))
    try:
        bus.ensure_topics({name: partitions or 3 for name, partitions in topics("").items()})
        derived = access("")
        acls = [ACL(f"User:{user}", "*", ACLOperation[operation.upper()], ACLPermissionType.ALLOW,
                    ResourcePattern(ResourceType[acl.type.upper()], acl.name,
                                    ACLResourcePatternType.PREFIXED if acl.pattern == "prefix"
                                    else ACLResourcePatternType.LITERAL))
                for user in USERS for acl in derived[user] for operation in acl.operations]
        result = admin.create_acls(acls)
        assert not result["failed"], result["failed"]
    finally:
        admin.close()
        bus.close()


def test_the_processes_work_on_a_tls_and_scram_broker_with_only_the_acls_derived_from_the_code(
        secured_broker: SecuredBroker, tmp_path: Path) -> None:
    env = {**profile_env("embedded", tmp_path), "BUS_NAMESPACE": "", "TOPIC_PARTITIONS": "3"}
    platform = Platform(tmp_path, env)
    try:
        platform.start(*USERS, own_env={user: secured_broker.env(user) for user in USERS})
        api = platform.url("contacts")
        auth = {"Authorization": f"Bearer {mint_token(TEST_SECRET, 'student-1', ['student'])}"}
        created = requests.post(f"{api}/contacts", json={"name": "Ada Lovelace"}, headers=auth, timeout=10)
        assert created.status_code == 201, created.text
        contact_id = created.json()["id"]

        # relay (writes contacts' topic) → worker (reads it, commits its group) → the directory
        def listed() -> bool:
            found = requests.get(f"{api}/contacts", headers=auth, timeout=10).json()
            return [c["id"] for c in found["items"]] == [contact_id]

        wait_until(listed, what="the contact in the directory", timeout=60, seen=platform.dump_logs)

        # the API sees the bus with Describe alone: the lag of the directory's group, 0 once applied
        def caught_up() -> bool:
            text = requests.get(f"{api}/metrics", timeout=10).text
            return 'careerloop_up{backend="bus"} 1.0' in text and \
                'careerloop_projection_lag{generation="0",partition="0",projection="contact-directory"' in text
        wait_until(caught_up, what="the directory's lag on /metrics", timeout=30, seen=platform.dump_logs)
    finally:
        codes = platform.stop()
    assert codes == {user: 0 for user in USERS}, platform.dump_logs()


def _settings(broker: SecuredBroker, user: str, **overrides: str) -> Settings:
    return Settings({**broker.env(user), **overrides})


def test_a_user_can_do_nothing_its_acls_leave_out(secured_broker: SecuredBroker) -> None:
    relay = open_bus(secured_broker.url, _settings(secured_broker, "contacts-relay"))
    api = open_bus(secured_broker.url, _settings(secured_broker, "contacts-api"))
    try:
        producer = relay.producer()
        producer.send("careerloop.contacts.contact.v1", "c-1", b"{}")  # its own topic: allowed
        producer.flush()
        with pytest.raises(Exception, match="(?i)authoriz"):  # another service's topic
            producer.send("careerloop.scheduling.interview.v1", "i-1", b"{}")
            producer.flush()
        producer.close()
        with pytest.raises(Exception, match="(?i)authoriz"):  # the API only looks: it never reads events
            consumer = api.consumer("projection.contact-directory.v1", ["careerloop.contacts.contact.v1"])
            try:
                consumer.poll(10, timeout=5)
            finally:
                consumer.close()
    finally:
        relay.close()
        api.close()


def test_a_wrong_password_or_an_unknown_certificate_authority_gets_nowhere(
        secured_broker: SecuredBroker, tmp_path: Path) -> None:
    attempts = {"password": {"KAFKA_SASL_PASSWORD": "not-the-password"},
                "certificate authority": {"KAFKA_SSL_CAFILE": str(certificate_authority(tmp_path, "another-ca")[0])}}

    def attempt(overrides: dict[str, str]) -> BaseException | None:
        bus = open_bus(secured_broker.url, _settings(secured_broker, "contacts-relay", **overrides))
        try:
            bus.ping()
        except Exception as exc:
            return exc
        finally:
            bus.close()
        return None

    with ThreadPoolExecutor(len(attempts)) as pool:  # each waits out the bootstrap timeout: side by side
        refused = dict(zip(attempts, pool.map(attempt, attempts.values()), strict=True))
    for wrong, exc in refused.items():
        # the process cannot tell a refusal from a broker away (kafka-python retries until its timeout),
        # so it retries with backoff; the broker's log says why it refused
        assert isinstance(exc, TransientError) and "Unable to bootstrap" in str(exc), (wrong, exc)
    log = secured_broker.log.read_text()
    assert "Authentication failed during authentication due to invalid credentials with SASL mechanism " \
        f"{MECHANISM}" in log
    assert "SSL handshake failed" in log
