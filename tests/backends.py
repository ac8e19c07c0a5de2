"""Backends by name, settings and tokens, shared by every test (fixtures re-exported by conftest).

Each port's fixture is parametrised over its adapters (`sqlite` always; `mongo` / `kafka` when
MONGODB_URI / KAFKA_BOOTSTRAP_SERVERS are set, which `make test` always does by starting real
servers). Without them a real-backend test is skipped with the reason shown — except under CI=true,
where an unreachable backend is a failure, never a skip. Every parameter that reaches a real backend
carries its marker (`mongo`, `kafka`; see `marked`), so `-m "not mongo and not kafka"` selects the
embedded runs.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.auth import mint_token
from shared.config import Settings

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256"
# Outside the embedded profile every process refuses published or short secrets (shared.config):
# the tests' real-backend apps and processes get these, which only the tests know.
TEST_SECRETS = {
    "CAREERLOOP_JWT_SECRET": TEST_SECRET,
    "CALENDAR_FEED_SECRET": "test-calendar-feed-secret-long-enough-for-hmac",
    "WEBHOOK_SECRET_KEY": "test-webhook-secret-key-long-enough-for-hmac",
    "ANALYTICS_PSEUDONYM_KEY": "test-analytics-pseudonym-key-long-enough-for-hkdf",
    "ERASURE_MASTER_KEY": "test-m1:" + "dGVzdHMtb25seS1tYXN0ZXIta2V5LTMyLWJ5dGVzLiE=",  # 32 bytes the tests alone use
    "WEB_SESSION_SECRET": "test-web-session-secret-long-enough-for-signing",
}
EVENT_STORE_BACKENDS = ("sqlite", "mongo")
BUS_BACKENDS = ("sqlite", "kafka")
READ_STORE_BACKENDS = ("sqlite", "mongo")


def marked(value: str, *backends: str) -> Any:
    """A parameter `value` that reaches the named backends, carrying their markers (sqlite needs none)."""
    return pytest.param(value, marks=[getattr(pytest.mark, b) for b in backends if b != "sqlite"])


EVENT_STORE_PARAMS = [marked(b, b) for b in EVENT_STORE_BACKENDS]
BUS_PARAMS = [marked(b, b) for b in BUS_BACKENDS]
READ_STORE_PARAMS = [marked(b, b) for b in READ_STORE_BACKENDS]


def require_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        message = f"{what} is not configured ({name} unset); `make test` starts one"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI expects it", pytrace=False)
        pytest.skip(message)
    return value


def unique(prefix: str) -> str:
    """Random names let tests share one real server without seeing each other's data."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def event_store_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return require_env("MONGODB_URI", "a MongoDB-wire server").rstrip("/") + "/" + unique("test_events")


def read_store_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/read.db"
    return require_env("MONGODB_URI", "a MongoDB-wire server").rstrip("/") + "/" + unique("test_read")


def bus_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/bus.db"
    return "kafka://" + require_env("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker")


@pytest.fixture(params=EVENT_STORE_PARAMS)
def event_store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=BUS_PARAMS)
def bus_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=READ_STORE_PARAMS)
def read_store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def event_store(event_store_backend: str, tmp_path: Path) -> Iterator[Any]:
    from shared.eventstore import open_event_store
    store = open_event_store(event_store_url(event_store_backend, tmp_path))
    yield store
    _dispose(store)


@pytest.fixture
def bus(bus_backend: str, tmp_path: Path) -> Iterator[Any]:
    from shared.bus import open_bus
    bus = open_bus(bus_url(bus_backend, tmp_path))
    yield bus
    bus.close()


@pytest.fixture
def read_store(read_store_backend: str, tmp_path: Path) -> Iterator[Any]:
    from shared.readstore import open_read_store
    store = open_read_store(read_store_url(read_store_backend, tmp_path))
    yield store
    _dispose(store)


def _dispose(store: Any) -> None:
    drop = getattr(store, "drop_database", None)
    if drop is not None:
        drop()
    store.close() if hasattr(store, "close") else None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET,
                              "CAREERLOOP_JWKS_URL": "", "READ_YOUR_WRITES_WAIT_SECONDS": "5"})


@pytest.fixture
def token() -> Callable[..., str]:
    """token("student-1") or token("admin-1", "admin"): a bearer header value."""

    def make(subject: str, *roles: str) -> str:
        return "Bearer " + mint_token(TEST_SECRET, subject, roles or ("student",))

    return make
