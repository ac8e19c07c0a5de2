"""A whole service wired in-process on one backend profile, driven through Flask's test client.

`embedded` is SQLite everywhere (the `make run` deployment); `real` is MongoDB-wire + Kafka (the
`docker compose` deployment). `sync()` runs the relay and the projection until both are idle, so a
test can assert on read models without sleeping.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from shared.bus import open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.eventstore import open_event_store
from shared.keys import open_personal_data, sealing
from shared.keys.personal import PersonalData
from shared.projection import Projection
from shared.readstore import open_read_store
from shared.relay import Relay
from shared.runtime import ensure_all_topics, topics_of
from tests.backends import bus_url, event_store_url, marked, read_store_url
from tests.openapi_responses import checked

PROFILES = {"embedded": ("sqlite", "sqlite"), "real": ("mongo", "kafka")}


@dataclass
class InProcessPlatform:
    client: FlaskClient
    store: Any  # the app's event store, sealing personal data (shared.keys.personal.SealingEventStore)
    bus: Any
    read_store: Any
    relays: list[Relay]
    runners: list[ConsumerRunner]
    settings: Settings  # what the apps were created with (its BUS_NAMESPACE, its key store)
    personal: PersonalData  # what a projection worker opens personal data with (pass it to extra projections)

    def sync(self) -> None:
        """Publish everything stored, then let every projection catch up."""
        for relay in self.relays:
            while relay.publish_pending():
                pass
        for runner in self.runners:
            runner.run(threading.Event(), until_idle=True)


@pytest.fixture(params=[marked(name, *backends) for name, backends in PROFILES.items()])
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def in_process(profile: str, tmp_path: Path, settings: Settings) -> Iterator[Callable[..., InProcessPlatform]]:
    """in_process(create_app, service, [ProjectionClass, ...]) -> InProcessPlatform.

    Services built in one test share the bus and the read store (as deployed), each with its own
    event store; `sync()` of any of them runs every relay and projection built so far."""
    store_backend, bus_backend = PROFILES[profile]
    namespace = f"t{uuid.uuid4().hex[:10]}."  # tests share one Kafka broker
    # BUS_URL names the bus the fixture opens, for what the apps open themselves (/metrics)
    test_settings = Settings.from_env({**settings.env, "TOPIC_PARTITIONS": "3", "BUS_NAMESPACE": namespace,
                                       "BUS_URL": bus_url(bus_backend, tmp_path)})
    shared: dict[str, Any] = {}
    relays: list[Relay] = []
    runners: list[ConsumerRunner] = []
    stores: list[Any] = []

    def build(create_app: Callable[..., Any], service: str, projections: list[type[Projection]],
              **overrides: Any) -> InProcessPlatform:
        if not shared:
            shared["read_store"] = open_read_store(read_store_url(store_backend, tmp_path))
            shared["bus"] = open_bus(bus_url(bus_backend, tmp_path))
            ensure_all_topics(shared["bus"], test_settings)
        (tmp_path / service).mkdir()
        raw_store = open_event_store(event_store_url(store_backend, tmp_path / service))
        stores.append(raw_store)
        # as the app seals (`load` opens personal data; `read_all`, what the relay publishes, does not)
        store = sealing(raw_store, test_settings)
        # every answer of every API test is checked against the app's own OpenAPI document
        app = checked(create_app(test_settings, event_store=store, read_store=shared["read_store"], **overrides))
        app.config["TESTING"] = True
        relays.append(Relay(store, shared["bus"], service=service, topics=topics_of(service, test_settings)))
        personal = open_personal_data(test_settings)  # the key store and master key the app seals with
        runners.extend(ConsumerRunner(shared["bus"], p(shared["read_store"], namespace=namespace, personal=personal),
                                      shared["read_store"]) for p in projections)
        return InProcessPlatform(app.test_client(), store, shared["bus"], shared["read_store"], relays, runners,
                                 test_settings, personal)

    yield build
    for backend in stores + ([shared["read_store"]] if shared else []):
        getattr(backend, "drop_database", lambda: None)()
        backend.close()
    if shared:
        shared["bus"].close()


class InProcessFetch:
    """`requests.get` for the privacy service's data-subject export, answered by in-process apps:
    `http://<service>.test/...` goes to that service's test client (one call at a time)."""

    def __init__(self, clients: dict[str, FlaskClient]) -> None:
        self.clients = clients
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def sources(self) -> str:
        """The EXPORT_SOURCES value naming every client."""
        return ",".join(f"{name}=http://{name}.test" for name in self.clients)

    def __call__(self, url: str, headers: dict[str, str], **_: Any) -> Any:
        parts = urlsplit(url)
        with self._lock:
            self.calls.append((url, dict(headers)))
            answer = self.clients[parts.hostname.removesuffix(".test")].get(parts.path, headers=headers)
        response = requests.Response()
        response.status_code, response._content = answer.status_code, answer.get_data()
        response.headers.update(answer.headers)
        return response
