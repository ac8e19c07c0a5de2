"""Bad input to the followups API never produces a 500, whatever the role."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.followups.conftest import Services
from tests.integration.fuzz import json_values, operations

FIELDS = ["until", "reason", "student_id", "state", "kind", "from", "to"]
bodies = json_values | st.dictionaries(st.sampled_from(FIELDS), json_values | st.sampled_from(
    ["2026-03-05T09:00:00Z", "2026-03-05T09:00:00", "9999-12-31T23:59:59+14:00", "tomorrow"]), max_size=3)
QUERY_VALUES = st.text(max_size=20) | st.sampled_from(
    ["open", "snoozed", "done", "outreach,reply", "2026-03-01T00:00:00Z", "x:1", "student-1", "0", "201"])


@pytest.fixture
def item(services: Services, token: Callable) -> str:
    auth = token("student-1")
    jane = services.add_contact(auth)
    return f"thank_you:{services.held_interview(auth, jane)}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, index=st.integers(min_value=0), role=st.sampled_from(["student", "admin", "advisor"]))
def test_any_json_body_to_any_endpoint_is_answered_without_a_server_error(
        services: Services, token: Callable, item: str, body: Any, index: int, role: str) -> None:
    ops = operations(services.followups)
    method, path = ops[index % len(ops)]
    path = path.replace("/followups/some-id", f"/followups/{item}")
    auth = token("student-1" if role == "student" else "adv-1" if role == "advisor" else "admin-1", role)
    response = services.followups.client.open(path, method=method, data=json.dumps(body),
                                              content_type="application/json", headers={"Authorization": auth})
    assert response.status_code < 500, (method, path, body, response.data[:500])
    if response.status_code >= 400:
        assert {"error", "message"} <= set(response.json)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/timeline", "/followups", "/contacts/some-id/timeline", "/advisors/adv-1/students"]),
       query=st.dictionaries(st.sampled_from(["kind", "from", "to", "state", "rule", "contact_id", "limit", "cursor",
                                              "min_version", "student_id", "items"]), QUERY_VALUES, max_size=4),
       role=st.sampled_from(["student", "advisor", "admin"]))
def test_any_query_string_is_answered_without_a_server_error(
        services: Services, token: Callable, path: str, query: dict[str, str], role: str) -> None:
    auth = token({"student": "student-1", "advisor": "adv-1", "admin": "admin-1"}[role], role)
    response = services.followups.client.get(path, query_string=query, headers={"Authorization": auth})
    assert response.status_code in (200, 403, 404, 422, 503), response.json


MALFORMED_SNOOZES = [
    ({}, {"until"}),
    ({"until": "2026-03-05T09:00:00"}, {"until"}),  # a time without its offset is ambiguous
    ({"until": "soon"}, {"until"}),
    ({"until": "2026-03-05T09:00:00Z", "extra": 1}, {"extra"}),
]


def test_malformed_snoozes_are_422_naming_the_field(services: Services, token: Callable, item: str) -> None:
    # one test for all of them: each test on the real profile pays for a new bus namespace
    for body, fields in MALFORMED_SNOOZES:
        response = services.post("followups", f"/followups/{item}/snooze", token("student-1"), body)
        assert response.status_code == 422 and set(response.json["fields"]) == fields, (body, response.json)
