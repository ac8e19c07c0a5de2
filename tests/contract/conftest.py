"""Fixtures for the contract tests: a port together with the URL that reaches the *same* backend.

Tests that start child processes (or give a thread its own client) need a URL, not an object. Each
URL is computed once per test (the MongoDB helper invents a fresh database name on every call) and
the backend is disposed of at the end exactly as the root fixtures do it.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import _dispose, bus_url, event_store_url, read_store_url


@pytest.fixture
def event_store_and_url(event_store_backend: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """(store, url): the store for this process, the url for children to open their own."""
    from shared.eventstore import open_event_store
    url = event_store_url(event_store_backend, tmp_path / "shared")
    store = open_event_store(url)
    yield store, url
    _dispose(store)


@pytest.fixture
def bus_and_url(bus_backend: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """(bus, url): the bus for this thread, the url for other threads or processes."""
    from shared.bus import open_bus
    url = bus_url(bus_backend, tmp_path / "shared")
    bus = open_bus(url)
    yield bus, url
    bus.close()


@pytest.fixture
def read_store_and_url(read_store_backend: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """(store, url) of one read store."""
    from shared.readstore import open_read_store
    url = read_store_url(read_store_backend, tmp_path / "shared")
    store = open_read_store(url)
    yield store, url
    _dispose(store)
