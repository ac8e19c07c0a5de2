"""Root fixtures: see `tests/backends.py` for how backends are chosen."""
from tests.backends import (  # noqa: F401  (fixtures are found by name)
    bus, bus_backend, event_store, event_store_backend, read_store, read_store_backend, settings, token,
)
