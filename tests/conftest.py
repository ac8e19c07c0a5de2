"""Root fixtures: see `tests/backends.py` for how backends are chosen."""
import os

from tests.backends import TEST_SECRETS

# Every app, worker and subprocess a test starts reads its secrets from the environment.
for _name, _value in TEST_SECRETS.items():
    os.environ.setdefault(_name, _value)

from tests.backends import (  # noqa: F401  (fixtures are found by name)
    bus, bus_backend, event_store, event_store_backend, read_store, read_store_backend, settings, token,
)
