from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from tests.integration.conftest import InProcessPlatform

# A fixed "now" makes the past/future rules and DST cases deterministic.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Services:
    contacts: InProcessPlatform
    scheduling: InProcessPlatform


@pytest.fixture
def services(in_process: Callable[..., InProcessPlatform]) -> Services:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=lambda: NOW)
    return Services(contacts, scheduling)
