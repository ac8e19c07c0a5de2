"""Root fixtures: see `tests/backends.py` for how backends are chosen."""
import os

import pytest

from tests.backends import (  # noqa: F401  (fixtures are found by name)
    TEST_SECRETS,
    bus,
    bus_backend,
    event_store,
    event_store_backend,
    read_store,
    read_store_backend,
    settings,
    token,
)
from tests.tracing import spans  # noqa: F401  (the spans a test's own process finished)

# Every app, worker and subprocess a test starts reads its secrets from the environment.
for _name, _value in TEST_SECRETS.items():
    os.environ.setdefault(_name, _value)

# Fixtures that reach a real server directly (the adapter-specific suites): a test using one carries
# the server's marker. Parametrised backends carry theirs on the parameter (`tests.backends.marked`).
SERVER_FIXTURES = {"mongo_uri": "mongo", "kafka_url": "kafka"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in SERVER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))
