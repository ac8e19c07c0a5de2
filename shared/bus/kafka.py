"""The Kafka adapter of the event bus port (kafka-python 3.0).

URL: ``kafka://host:port[,host:port...][?replication_factor=N]``

- ``replication_factor`` (optional, default 1): the replication factor of the topics that
  ``ensure_topics`` creates. A single-broker development or test cluster needs 1; a production
  cluster typically uses 3. It has no effect on topics that already exist.

Semantics match the embedded SQLite adapter (``shared.bus.sqlite``):

- ``KafkaBus(url)`` does no I/O. Each process creates its clients on first use: the admin client
  on the first topic, offset or ping call, the ``KafkaProducer`` on a producer's first ``send``,
  the ``KafkaConsumer`` on a consumer's first ``poll``. Never share a bus across ``fork``.
- Topics are only ever created by ``ensure_topics`` with an explicit partition count; producers and
  consumers never auto-create them (the broker runs with ``auto.create.topics.enable=false`` too).
  ``send`` to, or ``poll`` on, a topic that does not exist raises ``UnknownTopic``.
- ``flush`` returns only when the broker acknowledged every message sent since the last flush
  (idempotent producer, ``acks=all``). If any of them failed it raises, and those messages are
  *not* retried by the adapter: the caller re-sends (the relay re-reads its outbox; the consumer
  runner leaves the batch uncommitted). It raises within about ``delivery_timeout_ms`` when the
  broker is unreachable, never hangs.
- Consumers join a consumer group (offsets committed explicitly, never automatically; a group with
  no committed offset starts at the earliest message). ``commit`` only commits partitions this
  member still owns; a commit refused because the group rebalanced is dropped, like the SQLite
  adapter's fenced commit: the messages are redelivered to the partition's next owner.
- Connection problems surface as ``shared.errors.TransientError`` (retry with backoff).

Authentication and encryption come from the ``KAFKA_*`` variables (``kafka_security``): PLAINTEXT by
default (the local single-node broker), TLS with an optional client certificate (a Strimzi ``tls``
KafkaUser), or SASL/SCRAM over TLS (a ``scram-sha-512`` KafkaUser). Every client the bus creates
(admin, producers, consumers) uses the same settings, checked once when the bus is opened.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs

# kafka-python 3.0.12 loads its protocol schemas at import time with importlib.resources.read_text,
# which Python 3.11 reports as DeprecationWarnings (read_text, open_text); our tests turn warnings
# into errors, so silence exactly those two while importing.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"(read_text|open_text) is deprecated", category=DeprecationWarning)
    import kafka.errors as kafka_errors
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.admin import OffsetSpec
    from kafka.net.compat import KafkaNetClient
    from kafka.structs import MemberState, OffsetAndMetadata

from shared.bus.port import Message, TopicPartition
from shared.config import Settings
from shared.errors import TransientError, UnknownTopic

log = logging.getLogger("careerloop.bus.kafka")

T = TypeVar("T")

# -- client settings ---------------------------------------------------------------------------
# Shared by every client: fail over fast to a restarted broker (the default backoff grows to 30 s)
# and give up bootstrapping after 10 s instead of 30 s (the caller sees a TransientError and retries).
_COMMON: dict[str, Any] = {
    "bootstrap_timeout_ms": 10_000,
    "reconnect_backoff_ms": 50,
    "reconnect_backoff_max_ms": 1_000,
    "retry_backoff_ms": 100,
}
_ADMIN: dict[str, Any] = {**_COMMON, "request_timeout_ms": 10_000}
# Idempotent producer, stated explicitly: with enable_idempotence=True kafka-python *raises* on a
# conflicting acks / retries=0 / max_in_flight > 5 instead of silently dropping idempotence.
# retries and max_in_flight_requests_per_connection stay at their defaults (infinite, 5); the
# retry budget is delivery_timeout_ms, which bounds how long a flush can take with the broker down.
_PRODUCER: dict[str, Any] = {
    **_COMMON,
    "enable_idempotence": True,
    "acks": "all",
    "allow_auto_create_topics": False,
    "linger_ms": 0,
    "request_timeout_ms": 10_000,
    "delivery_timeout_ms": 20_000,   # >= request_timeout_ms + linger_ms (checked by the client)
    "max_block_ms": 10_000,          # send(): waiting for metadata / buffer space
}
_CONSUMER: dict[str, Any] = {
    **_COMMON,
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "allow_auto_create_topics": False,
    "session_timeout_ms": 10_000,    # a crashed member's partitions move on after 10 s
    "heartbeat_interval_ms": 1_000,  # heartbeats run on kafka-python's IO thread
    "max_poll_interval_ms": 300_000, # a handler may retry a transient failure for minutes
    "request_timeout_ms": 30_000,
    "fetch_max_wait_ms": 500,
}
_FLUSH_GRACE_SECONDS = 5.0           # on top of delivery_timeout_ms: a safety net, never reached
_ADMIN_RETRY_SECONDS = 10.0          # retriable admin errors (coordinator loading, no leader yet)
_TOPIC_READY_SECONDS = 15.0          # ensure_topics: until every partition has a leader
_JOIN_TIMEOUT_SECONDS = 30.0         # poll(): longest wait for a group (re)join to complete
_COMMIT_TIMEOUT_MS = 10_000
_CLOSE_TIMEOUT_MS = 5_000
_SETTLE_MARGIN_SECONDS = 0.25

# -- authentication and encryption ---------------------------------------------------------------
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# the mechanisms a Strimzi listener offers (scram-sha-512) and the ones kafka-python implements
# without extra packages; GSSAPI and OAUTHBEARER need more than a user name and password
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
_SSL_FILES = {"KAFKA_SSL_CAFILE": "ssl_cafile", "KAFKA_SSL_CERTFILE": "ssl_certfile",
              "KAFKA_SSL_KEYFILE": "ssl_keyfile"}


def kafka_security(settings: Settings) -> dict[str, Any]:
    """The kafka-python settings for authentication and encryption, from the ``KAFKA_*`` variables.

    Raises ValueError naming the variable when the combination cannot work (a password without SASL,
    a client key without its certificate, a file that cannot be read), so a misconfigured process
    stops at start-up rather than failing its first connection with a less telling broker error."""
    protocol = settings.get("KAFKA_SECURITY_PROTOCOL").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, not {protocol!r}")
    config: dict[str, Any] = {"security_protocol": protocol}
    sasl = protocol.startswith("SASL_")
    username, password = settings.get("KAFKA_SASL_USERNAME"), settings.get("KAFKA_SASL_PASSWORD")
    if sasl:
        mechanism = settings.get("KAFKA_SASL_MECHANISM").upper()
        if mechanism not in SASL_MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, not {mechanism!r}")
        for name, value in (("KAFKA_SASL_USERNAME", username), ("KAFKA_SASL_PASSWORD", password)):
            if not value:
                raise ValueError(f"{name} is required with KAFKA_SECURITY_PROTOCOL={protocol}")
        config.update(sasl_mechanism=mechanism, sasl_plain_username=username, sasl_plain_password=password)
    else:
        for name, value in (("KAFKA_SASL_USERNAME", username), ("KAFKA_SASL_PASSWORD", password)):
            if value:
                raise ValueError(f"{name} is set but KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL "
                                 f"(SASL_SSL does)")
    files = {name: settings.get(name) for name in _SSL_FILES}
    if protocol.endswith("SSL"):
        for name, path in files.items():
            if path and not os.access(path, os.R_OK):
                raise ValueError(f"{name}: cannot read {path!r}")
        if bool(files["KAFKA_SSL_CERTFILE"]) != bool(files["KAFKA_SSL_KEYFILE"]):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (a client certificate and its key)")
        # without a CA file the system's trust store verifies the brokers; the host name is always checked
        config.update({option: files[name] for name, option in _SSL_FILES.items() if files[name]},
                      ssl_check_hostname=True)
    else:
        for name, path in files.items():
            if path:
                raise ValueError(f"{name} is set but KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS "
                                 f"(SSL or SASL_SSL do)")
    return config


_UNKNOWN_TOPIC_CODE = kafka_errors.UnknownTopicOrPartitionError.errno
_TOPIC_EXISTS_CODE = kafka_errors.TopicAlreadyExistsError.errno
_NOT_AUTHORIZED_CODE = kafka_errors.TopicAuthorizationFailedError.errno
# A commit the group refused because it rebalanced: the partitions have a new owner (or this
# member must rejoin); their uncommitted messages are redelivered.
_FENCED_COMMIT = (kafka_errors.CommitFailedError, kafka_errors.RebalanceInProgressError,
                  kafka_errors.IllegalGenerationError, kafka_errors.UnknownMemberIdError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (kafka_errors.KafkaTimeoutError, kafka_errors.KafkaConnectionError,
                        kafka_errors.NodeNotReadyError)):
        return True
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, (ConnectionError, TimeoutError))


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Re-raise connection problems as TransientError (keeping the cause); the rest unchanged."""
    try:
        yield
    except (TransientError, UnknownTopic):
        raise
    except Exception as exc:
        if _is_transient(exc):
            raise TransientError(f"Kafka {what}: {type(exc).__name__}: {exc}") from exc
        raise


def _create(factory: Callable[..., T], **configs: Any) -> T:
    """Construct a kafka-python client; if its bootstrap fails, close the network client it made.

    kafka-python 3.0 starts an IO thread before bootstrapping and does not stop it when the
    bootstrap times out, so each failed construction would leak a thread (a readiness probe
    retrying against a stopped broker would leak one per probe)."""
    made: list[KafkaNetClient] = []

    def kafka_client(**kwargs: Any) -> KafkaNetClient:
        client = KafkaNetClient(**kwargs)
        made.append(client)
        return client

    try:
        return factory(kafka_client=kafka_client, **configs)
    except BaseException:
        for client in made:
            try:
                client.close()
            except Exception:
                log.debug("closing a half-constructed Kafka client failed", exc_info=True)
        raise


def parse_url(url: str) -> tuple[list[str], int]:
    """`kafka://h1:9092,h2:9092?replication_factor=3` -> (["h1:9092", "h2:9092"], 3)."""
    if not url.startswith("kafka://"):
        raise ValueError(f"not a kafka:// URL: {url!r}")
    rest = url[len("kafka://"):]
    hosts_part, _, query = rest.partition("?")
    hosts = [h.strip() for h in hosts_part.rstrip("/").split(",") if h.strip()]
    if not hosts:
        raise ValueError(f"no bootstrap servers in {url!r}")
    params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    unknown = set(params) - {"replication_factor"}
    if unknown:
        raise ValueError(f"unsupported parameter(s) {sorted(unknown)} in {url!r}")
    replication_factor = 1
    if "replication_factor" in params:
        try:
            replication_factor = int(params["replication_factor"][-1])
        except ValueError:
            raise ValueError(f"replication_factor must be an integer in {url!r}") from None
        if replication_factor < 1:
            raise ValueError(f"replication_factor must be >= 1 in {url!r}")
    return hosts, replication_factor


class KafkaBus:
    def __init__(self, url: str, security: Mapping[str, Any] | None = None) -> None:
        self.bootstrap_servers, self.replication_factor = parse_url(url)
        self.security = dict(security or {})  # kafka_security(settings): passed to every client
        self._lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._partitions: dict[str, int] = {}  # topics known to exist -> partition count
        self._clients: set[KafkaBusProducer | KafkaBusConsumer] = set()
        self._closed = False

    def _client_id(self, role: str) -> str:
        return f"careerloop-{role}-{os.getpid()}"

    # -- admin --------------------------------------------------------------------------------
    def _admin_client(self) -> KafkaAdminClient:
        with self._lock:
            if self._closed:
                raise RuntimeError("KafkaBus is closed")
            if self._admin is None:
                with _translated("admin bootstrap"):
                    self._admin = _create(KafkaAdminClient, bootstrap_servers=self.bootstrap_servers,
                                          client_id=self._client_id("admin"), **_ADMIN, **self.security)
            return self._admin

    def _admin_call(self, what: str, call: Callable[[KafkaAdminClient], T],
                    retry_seconds: float = _ADMIN_RETRY_SECONDS) -> T:
        """Run an admin request, retrying retriable errors (e.g. the group coordinator still
        loading) for a bounded time; then give up with a TransientError."""
        deadline = time.monotonic() + retry_seconds
        delay = 0.05
        while True:
            admin = self._admin_client()
            try:
                return call(admin)
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                if time.monotonic() + delay >= deadline:
                    raise TransientError(f"Kafka {what}: {type(exc).__name__}: {exc}") from exc
                log.debug("Kafka %s failed (%s); retrying", what, exc)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _describe(self, topics: list[str]) -> dict[str, dict]:
        result = self._admin_call("describe topics", lambda admin: admin.describe_topics(topics))
        return {t["name"]: t for t in result}

    def partitions(self, topic: str) -> int:
        """The topic's partition count; raises UnknownTopic if it does not exist."""
        known = self._partitions.get(topic)
        if known is not None:
            return known
        info = self._describe([topic]).get(topic)
        if info is None or info["error_code"] == _UNKNOWN_TOPIC_CODE:
            raise UnknownTopic(topic)
        if info["error_code"] != 0 or not info["partitions"]:
            raise TransientError(f"Kafka topic {topic} not ready: error "
                                 f"{kafka_errors.for_code(info['error_code']).__name__}")
        count = len(info["partitions"])
        self._partitions[topic] = count
        return count

    def ensure_topics(self, topics: Mapping[str, int]) -> None:
        """Create the missing topics with the given partition counts; wait until they are usable.
        Idempotent; an existing topic is left as it is (a different partition count is logged), and so
        is one the principal is not authorized to create (the cluster's topic operator owns it)."""
        wanted = {name: n for name, n in topics.items() if name not in self._partitions}
        if not wanted:
            return
        request = {name: {"num_partitions": n, "replication_factor": self.replication_factor}
                   for name, n in wanted.items()}
        response = self._admin_call(
            "create topics", lambda admin: admin.create_topics(request, raise_errors=False))
        for item in response["topics"]:
            code = item["error_code"]
            if code == _NOT_AUTHORIZED_CODE:
                # the cluster manages this topic (a Strimzi KafkaTopic) and this principal may not
                # create it, nor perhaps see it: its ACLs cover only the topics it produces or
                # consumes, whose existence `partitions` checks when they are first used
                log.debug("topic %s is not this principal's to create; left to the cluster", item["name"])
                wanted.pop(item["name"], None)
                continue
            if code not in (0, _TOPIC_EXISTS_CODE):
                error = kafka_errors.for_code(code)(f"creating topic {item['name']}: {item.get('error_message')}")
                with _translated("create topics"):
                    raise error
        if wanted:
            self._wait_until_ready(wanted)

    def _wait_until_ready(self, wanted: Mapping[str, int]) -> None:
        deadline = time.monotonic() + _TOPIC_READY_SECONDS
        pending = dict(wanted)
        while True:
            described = self._describe(sorted(pending))
            for name in list(pending):
                info = described.get(name)
                if (info is not None and info["error_code"] == 0 and info["partitions"]
                        and all(p["error_code"] == 0 and p["leader_id"] >= 0 for p in info["partitions"])):
                    actual = len(info["partitions"])
                    if actual != pending[name]:
                        log.warning("topic %s exists with %d partitions, not %d; left unchanged",
                                    name, actual, pending[name])
                    self._partitions[name] = actual
                    del pending[name]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise TransientError(f"Kafka topics not ready after {_TOPIC_READY_SECONDS:g}s: {sorted(pending)}")
            time.sleep(0.1)

    # -- clients ------------------------------------------------------------------------------
    def producer(self) -> KafkaBusProducer:
        producer = KafkaBusProducer(self)
        self._clients.add(producer)
        return producer

    def consumer(self, group_id: str, topics: list[str]) -> KafkaBusConsumer:
        consumer = KafkaBusConsumer(self, group_id, topics)
        self._clients.add(consumer)
        return consumer

    # -- offsets ------------------------------------------------------------------------------
    def end_offsets(self, topic: str) -> dict[int, int]:
        """The next offset of every partition (0 for an empty one)."""
        count = self.partitions(topic)
        specs = {KafkaTopicPartition(topic, p): OffsetSpec.LATEST for p in range(count)}
        result = self._admin_call("list offsets", lambda admin: admin.list_partition_offsets(specs))
        return {tp.partition: found.offset for tp, found in result.items()}

    def committed(self, group_id: str, topic: str) -> dict[int, int]:
        """The group's committed (next-to-read) offsets on the topic; partitions never committed
        are absent."""
        result = self._admin_call("list group offsets", lambda admin: admin.list_group_offsets({group_id: None}))
        return {tp.partition: found.offset for tp, found in result.get(group_id, {}).items()
                if tp.topic == topic and found.offset >= 0}

    def ping(self) -> None:
        """One metadata round trip to the cluster (readiness); raises TransientError if it fails."""
        admin = self._admin_client()
        with _translated("ping"):
            cluster = admin.describe_cluster()
        if not cluster.get("brokers"):
            raise TransientError("Kafka ping: the cluster lists no brokers")

    def close(self) -> None:
        """Close every client this bus created (consumers leave their groups)."""
        for client in list(self._clients):
            try:
                client.close()
            except Exception:
                log.debug("closing a Kafka client failed", exc_info=True)
        with self._lock:
            self._closed = True
            admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:
                log.debug("closing the Kafka admin client failed", exc_info=True)


class KafkaBusProducer:
    """Sends asynchronously; `flush` waits for the broker's acknowledgement of every send."""

    def __init__(self, bus: KafkaBus) -> None:
        self.bus = bus
        self._producer: KafkaProducer | None = None
        self._pending: list[Any] = []  # FutureRecordMetadata of sends since the last flush
        self._lock = threading.Lock()

    def _client(self) -> KafkaProducer:
        if self._producer is None:
            with _translated("producer bootstrap"):
                self._producer = _create(KafkaProducer, bootstrap_servers=self.bus.bootstrap_servers,
                                         client_id=self.bus._client_id("producer"), **_PRODUCER,
                                         **self.bus.security)
        return self._producer

    def send(self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        # Checked here, not left to the client: kafka-python would block max_block_ms on an unknown
        # topic, then keep asking the cluster for it (and logging errors) for the producer's life.
        self.bus.partitions(topic)
        record_headers = [(name, str(val).encode()) for name, val in (headers or {}).items()]
        with self._lock:
            producer = self._client()
            with _translated("send"):
                future = producer.send(topic, value=bytes(value), key=None if key is None else key.encode(),
                                       headers=record_headers)
            self._pending.append(future)

    def flush(self) -> None:
        """Return once every message sent since the last flush is acknowledged; otherwise raise
        (TransientError when the broker could not be reached) and forget those messages."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            producer = self._producer
            assert producer is not None
            timeout = _PRODUCER["delivery_timeout_ms"] / 1000 + _FLUSH_GRACE_SECONDS
            failures: list[BaseException] = []
            try:
                producer.flush(timeout=timeout)
            except Exception as exc:
                failures.append(exc)
            else:
                failures.extend(f.exception for f in pending if not f.is_done or f.failed())
            if not failures:
                return
            # Any failed send may leave the idempotent producer's sequence state behind; start
            # over with a fresh client on the next send, as kafka-python recommends.
            self._discard_client()
        first = failures[0] or kafka_errors.KafkaTimeoutError("send not completed")
        failed = sum(1 for f in pending if not f.succeeded())
        reason = str(first) if str(first).startswith(type(first).__name__) else f"{type(first).__name__}: {first}"
        summary = f"{failed} of {len(pending)} messages not acknowledged: {reason}"
        if _is_transient(first):
            raise TransientError(f"Kafka flush: {summary}") from first
        log.error("Kafka flush: %s", summary)
        raise first

    def _discard_client(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            _force_close(producer)

    def close(self) -> None:
        """Flush what is pending, then close the client (even if the flush raised)."""
        try:
            self.flush()
        finally:
            with self._lock:
                producer, self._producer = self._producer, None
                self._pending.clear()
            if producer is not None:
                try:
                    producer.close(timeout=_CLOSE_TIMEOUT_MS / 1000)
                except Exception:
                    _force_close(producer)
            self.bus._clients.discard(self)


class KafkaBusConsumer:
    """One member of a consumer group, subscribed to `topics`."""

    def __init__(self, bus: KafkaBus, group_id: str, topics: list[str]) -> None:
        self.bus = bus
        self.group_id = group_id
        self.topics = list(topics)
        self._consumer: KafkaConsumer | None = None
        self._positioned_generation: int | None = None
        self._settled_at = 0.0
        self._closed = False

    def _client(self) -> KafkaConsumer:
        if self._closed:
            raise RuntimeError("consumer is closed")
        if self._consumer is None:
            for topic in self.topics:
                self.bus.partitions(topic)  # UnknownTopic, as the SQLite adapter raises in poll
            with _translated("consumer bootstrap"):
                consumer = _create(KafkaConsumer, bootstrap_servers=self.bus.bootstrap_servers,
                                   group_id=self.group_id, client_id=self.bus._client_id(f"consumer-{self.group_id}"),
                                   **_CONSUMER, **self.bus.security)
            try:
                consumer.subscribe(self.topics)
                self._load_metadata(consumer)
            except BaseException:
                consumer.close(autocommit=False, timeout_ms=0)
                raise
            self._consumer = consumer
        return self._consumer

    def _load_metadata(self, consumer: KafkaConsumer) -> None:
        """Have the subscribed topics' partitions in the client's metadata before the first join.

        kafka-python joins the group with whatever metadata it has; if the group leader does not
        know a topic yet, the range assignor assigns none of its partitions ("No partition metadata
        for topic") and the group only corrects itself on a later metadata refresh and rebalance."""
        deadline = time.monotonic() + _ADMIN_RETRY_SECONDS
        for topic in self.topics:
            while True:
                with _translated("consumer metadata"):
                    if consumer.partitions_for_topic(topic):
                        break
                if time.monotonic() >= deadline:
                    raise TransientError(f"Kafka consumer has no metadata for topic {topic}")
                time.sleep(0.1)

    def _ready(self, consumer: KafkaConsumer, deadline: float) -> tuple[bool, int]:
        """(joined and every assigned partition has a fetch position, generation)."""
        meta = consumer.group_metadata()
        if meta.state != MemberState.STABLE:
            return False, meta.generation_id
        if self._positioned_generation != meta.generation_id:
            # Resolve positions now (committed offset, or earliest): otherwise the first polls
            # after a join come back empty while that happens in the background, and an empty
            # poll would look like "nothing new" to a catch-up run.
            try:
                for tp in consumer.assignment():
                    wait_ms = int(min(max(deadline - time.monotonic(), 0.1), 10.0) * 1000)
                    if consumer.position(tp, timeout_ms=wait_ms) is None:
                        return False, meta.generation_id
            except (kafka_errors.IllegalStateError, kafka_errors.KafkaTimeoutError):
                return False, meta.generation_id  # reassigned meanwhile, or not resolvable yet
            self._positioned_generation = meta.generation_id
            # A fetch sent before every position was known (it only names some partitions) may be
            # parked at the broker for fetch_max_wait_ms; only the fetch after it covers them all.
            self._settled_at = time.monotonic() + _CONSUMER["fetch_max_wait_ms"] / 1000 + _SETTLE_MARGIN_SECONDS
        return True, meta.generation_id

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to `max_records` messages, waiting up to `timeout` seconds for some to arrive.

        While the member is (re)joining its group, or has just been given partitions (or seeked),
        it waits for that to complete (up to 30 s, plus one fetch round) even past `timeout`, so
        an empty result always means there was nothing new on the partitions it owns."""
        consumer = self._client()
        start = time.monotonic()
        deadline = start + max(timeout, 0.0)
        join_deadline = start + max(timeout, _JOIN_TIMEOUT_SECONDS)
        while True:
            with _translated("poll"):
                ready, generation = self._ready(consumer, join_deadline)
                until = max(deadline, self._settled_at) if ready else join_deadline
                remaining = max(0.0, until - time.monotonic())
                step = remaining if ready else min(remaining, 0.1)
                batch = consumer.poll(timeout_ms=int(step * 1000), max_records=max_records)
            if batch:
                return [_message(record) for tp in sorted(batch, key=lambda tp: (tp.topic, tp.partition))
                        for record in batch[tp]]
            meta = consumer.group_metadata()
            settled = ready and meta.state == MemberState.STABLE and meta.generation_id == generation
            if time.monotonic() >= (max(deadline, self._settled_at) if settled else join_deadline):
                return []

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the next offsets to read, for the partitions this member still owns."""
        if self._consumer is None or not offsets:
            return
        consumer = self._consumer
        owned = consumer.assignment()
        commit = {KafkaTopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
                  for (topic, partition), offset in offsets.items()
                  if KafkaTopicPartition(topic, partition) in owned}
        if not commit:
            return
        try:
            with _translated("commit"):
                consumer.commit(offsets=commit, timeout_ms=_COMMIT_TIMEOUT_MS)
        except _FENCED_COMMIT as exc:
            log.warning("group %s rebalanced; commit of %s dropped, those messages will be redelivered (%s)",
                        self.group_id, sorted((tp.topic, tp.partition) for tp in commit), exc)

    def assignment(self) -> set[TopicPartition]:
        if self._consumer is None:
            return set()
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def seek_to_committed(self) -> None:
        """Forget uncommitted progress (after a failed batch) so those messages are read again."""
        if self._consumer is None:
            return
        consumer = self._consumer
        with _translated("seek to committed"):
            for tp in consumer.assignment():
                offset = consumer.committed(tp, timeout_ms=_COMMIT_TIMEOUT_MS)
                if offset is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
        self._positioned_generation = None  # resolve the new positions before the next poll

    def close(self) -> None:
        """Leave the group now (its partitions move to the other members at once) and close."""
        self._closed = True
        consumer, self._consumer = self._consumer, None
        self.bus._clients.discard(self)
        if consumer is not None:
            consumer.close(autocommit=False, timeout_ms=_CLOSE_TIMEOUT_MS)


def _force_close(producer: KafkaProducer) -> None:
    """Close a producer that may still hold records (the broker is gone), without leaking its IO thread.

    `KafkaProducer.close(timeout)` flushes first and raises, without closing, while records are still
    pending; the producer would then keep its IO thread and raise again from `__del__` at garbage
    collection. A pending record completes or fails within `delivery_timeout_ms` (the producer
    expires it), so a close given that long always gets through its flush and stops the IO thread.
    Only public API: nothing here reaches into the client's internals."""
    try:
        producer.close(timeout=0)  # nothing pending (the usual case after a failed flush): closes now
        return
    except Exception:
        log.debug("the Kafka producer still holds records; closing once they have expired", exc_info=True)
    try:
        producer.close(timeout=_PRODUCER["delivery_timeout_ms"] / 1000 + _FLUSH_GRACE_SECONDS)
    except Exception:
        log.warning("a failed Kafka producer could not be closed", exc_info=True)


def _message(record: Any) -> Message:
    key = record.key
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if key is None else bytes(key).decode(),
        value=b"" if record.value is None else bytes(record.value),
        headers={name: bytes(val).decode() for name, val in (record.headers or [])},
        timestamp=record.timestamp / 1000 if record.timestamp is not None and record.timestamp >= 0 else 0.0,
    )
