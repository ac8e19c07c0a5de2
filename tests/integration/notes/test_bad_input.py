"""Bad input to the notes API never produces a 500, whatever the role."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.fuzz import json_values, operations
from tests.integration.notes.conftest import Services

# Plausible keys make the fuzzer reach the notes' own validators, not only "unknown field".
NOTE_FIELDS = ["text", "insights", "category", "action_items", "item_id", "due_on", "tags", "objectives_covered",
               "time_zone", "interview_id", "contact_id", "visibility", "student_id"]
bodies = json_values | st.dictionaries(st.sampled_from(NOTE_FIELDS), json_values, max_size=6) | st.fixed_dictionaries(
    {"contact_id": st.just("CONTACT"), "text": st.text(max_size=20)},
    optional={"action_items": st.lists(st.dictionaries(st.sampled_from(["text", "due_on", "item_id"]), json_values),
                                       max_size=3),
              "insights": st.lists(st.dictionaries(st.sampled_from(["category", "text"]), json_values), max_size=3),
              "time_zone": json_values, "objectives_covered": json_values})


@pytest.fixture
def ids(services: Services, token: Callable) -> dict[str, str]:
    auth = token("student-1")
    contact = services.add_contact(auth)
    note = services.record(auth, contact_id=contact, text="x", action_items=[{"text": "y"}]).json["id"]
    item = services.call("GET", f"/notes/{note}", auth).json["action_items"][0]["item_id"]
    services.call("POST", "/advisors/adv-1/students/student-1", token("admin-1", "admin"))
    return {"contact": contact, "note": note, "item": item}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, index=st.integers(min_value=0), role=st.sampled_from(["student", "admin", "advisor"]))
def test_any_json_body_to_any_endpoint_is_answered_without_a_server_error(
        services: Services, token: Callable, ids: dict[str, str], body: Any, index: int, role: str) -> None:
    ops = operations(services.notes)
    method, path = ops[index % len(ops)]
    path = (path.replace("/notes/some-id", f"/notes/{ids['note']}").replace("items/some-id", f"items/{ids['item']}")
            .replace("/students/some-id", "/students/student-1"))
    if isinstance(body, dict) and body.get("contact_id") == "CONTACT":
        body = {**body, "contact_id": ids["contact"]}
    auth = token("student-1" if role == "student" else "adv-1" if role == "advisor" else "admin-1", role)
    response = services.notes.client.open(path, method=method, data=json.dumps(body), content_type="application/json",
                                          headers={"Authorization": auth})
    assert response.status_code < 500, (method, path, body, response.data[:500])
    if response.status_code >= 400:
        assert {"error", "message"} <= set(response.json)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["q", "tag", "category", "contact_id", "organisation", "industry",
                                              "visibility", "open_actions", "limit", "cursor", "min_version",
                                              "student_id"]), st.text(max_size=20), max_size=4))
def test_any_query_string_is_answered_without_a_server_error(
        services: Services, token: Callable, query: dict[str, str]) -> None:
    response = services.notes.client.get("/notes", query_string=query, headers={"Authorization": token("student-1")})
    assert response.status_code in (200, 403, 422, 503), response.json


@pytest.mark.parametrize(("body", "fields"), [
    ({"text": "x"}, {"_schema"}),
    ({"contact_id": "c", "text": " "}, {"_schema"}),
    ({"contact_id": "c", "text": "x", "visibility": "public"}, {"visibility"}),
    ({"contact_id": "c", "insights": [{"category": "gossip", "text": "x"}]}, {"insights"}),
    ({"contact_id": "c", "action_items": [{"text": "x", "due_on": "next week"}]}, {"action_items"}),
    ({"contact_id": "c", "action_items": [{"text": "x", "item_id": "i-1"}]}, {"action_items"}),
    ({"contact_id": "c", "text": "x", "time_zone": "+02:00"}, {"time_zone"}),
    ({"contact_id": "c", "text": "x", "tags": ["ok", "no/slash"]}, {"tags"}),
    ({"contact_id": "c", "text": "x" * 20001}, {"text"}),
])
def test_malformed_notes_are_422_naming_the_field(services: Services, token: Callable, body: dict,
                                                  fields: set) -> None:
    response = services.record(token("student-1"), **body)
    assert response.status_code == 422 and set(response.json["fields"]) == fields, response.json


def test_a_revision_naming_one_item_twice_is_422(services: Services, token: Callable, ids: dict[str, str]) -> None:
    response = services.call("PUT", f"/notes/{ids['note']}", token("student-1"), {"action_items": [
        {"item_id": ids["item"], "text": "a"}, {"item_id": ids["item"], "text": "b"}]})
    assert response.status_code == 422 and "action_items" in response.json["fields"]


def test_an_overlong_id_in_a_path_is_422(services: Services, token: Callable) -> None:
    response = services.call("POST", f"/advisors/{'a' * 129}/students/student-1", token("admin-1", "admin"))
    assert response.status_code == 422 and "advisor_id" in response.json["fields"]
