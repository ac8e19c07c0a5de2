from __future__ import annotations

from collections.abc import Callable

import pytest

from services.contacts.app import create_app
from services.contacts.projections import ContactDirectory
from tests.integration.conftest import InProcessPlatform


@pytest.fixture
def contacts(in_process: Callable[..., InProcessPlatform]) -> InProcessPlatform:
    return in_process(create_app, "contacts", [ContactDirectory])
