"""Bad input to the scheduling API never produces a 500."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.fuzz import bodies, operations
from tests.integration.scheduling.conftest import Services


@pytest.fixture
def interview_id(services: Services, token: Callable) -> str:
    auth = token("student-1")
    contact = services.contacts.client.post("/contacts", json={"name": "Jane"}, headers={"Authorization": auth}).json[
        "id"
    ]
    services.contacts.sync()
    return services.scheduling.client.post("/interviews", headers={"Authorization": auth}, json={
        "contact_id": contact, "objectives": ["x"], "format": "phone", "time_zone": "UTC"}).json["id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, index=st.integers(min_value=0))
def test_any_json_body_to_any_endpoint_is_answered_without_a_server_error(
        services: Services, token: Callable, interview_id: str, body: Any, index: int) -> None:
    auth = token("student-1")
    ops = operations(services.scheduling)
    method, path = ops[index % len(ops)]
    path = path.replace("some-id", interview_id, 1)
    response = services.scheduling.client.open(path, method=method, data=json.dumps(body),
                                               content_type="application/json", headers={"Authorization": auth})
    assert response.status_code < 500, (method, path, body, response.data[:500])
