"""Bad input never produces a 500: malformed JSON, wrong types, unknown fields, huge bodies, bad tokens."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import InProcessPlatform
from tests.integration.fuzz import bodies, operations


@pytest.fixture
def contact_id(contacts: InProcessPlatform, token: Callable) -> str:
    return contacts.client.post("/contacts", json={"name": "Jane"}, headers={"Authorization": token("student-1")}).json[
        "id"
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, index=st.integers(min_value=0))
def test_any_json_body_to_any_endpoint_is_answered_without_a_server_error(
        contacts: InProcessPlatform, token: Callable, contact_id: str, body: Any, index: int) -> None:
    ops = operations(contacts)
    method, path = ops[index % len(ops)]
    path = path.replace("some-id", contact_id, 1)
    response = contacts.client.open(path, method=method, data=json.dumps(body), content_type="application/json",
                                    headers={"Authorization": token("student-1")})
    assert response.status_code < 500, (method, path, body, response.json)
    if response.status_code >= 400:
        assert {"error", "message"} <= set(response.json)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["q", "tag", "stage", "limit", "cursor", "sort", "min_priority",
                                              "status", "min_version", "student_id", "industry"]),
                             st.text(max_size=20), max_size=4))
def test_any_query_string_is_answered_without_a_server_error(
        contacts: InProcessPlatform, token: Callable, query: dict[str, str]) -> None:
    response = contacts.client.get("/contacts", query_string=query, headers={"Authorization": token("student-1")})
    assert response.status_code in (200, 403, 422, 503), response.json


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b"{\"name\": ", "application/json", 400),
    (b"\xff\xfe\x00", "application/json", 400),
    (b"name=Jane", "application/x-www-form-urlencoded", 415),
    (b"[1, 2]", "application/json", 422),
    (b"{\"name\": 5}", "application/json", 422),
    (b"{\"name\": \"Jane\", \"role\": \"admin\"}", "application/json", 422),
    (b"{\"name\": \"J\", \"emails\": \"jane@example.com\"}", "application/json", 422),
])
def test_malformed_or_mistyped_bodies_get_the_right_client_error(
        contacts: InProcessPlatform, token: Callable, data: bytes, content_type: str, status: int) -> None:
    response = contacts.client.post("/contacts", data=data, content_type=content_type,
                                    headers={"Authorization": token("student-1")})
    assert response.status_code == status, response.json


def test_a_wrong_type_names_the_field(contacts: InProcessPlatform, token: Callable) -> None:
    response = contacts.client.post("/contacts", json={"name": "J", "tags": "alumni", "extra": 1},
                                    headers={"Authorization": token("student-1")})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"tags", "extra"}


def test_a_huge_body_is_refused_with_413(contacts: InProcessPlatform, token: Callable) -> None:
    limit = contacts.client.application.config["MAX_CONTENT_LENGTH"]
    huge = json.dumps({"name": "x" * (limit + 10)})
    response = contacts.client.post("/contacts", data=huge, content_type="application/json",
                                    headers={"Authorization": token("student-1")})
    assert response.status_code == 413 and response.json["error"] == "request_entity_too_large"
    assert response.json["message"] == f"the request body is larger than MAX_BODY_BYTES ({limit} bytes)"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt",
                                    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Bearer " + "a" * 20000])
def test_bad_tokens_get_401_with_a_reason(contacts: InProcessPlatform, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = contacts.client.get("/contacts", headers=headers)
    assert response.status_code == 401 and response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_secret_is_refused(contacts: InProcessPlatform) -> None:
    from shared.auth import mint_token
    foreign = mint_token("another-secret-that-is-long-enough-for-hs256", "student-1", ["student"])
    response = contacts.client.get("/contacts", headers={"Authorization": f"Bearer {foreign}"})
    assert response.status_code == 401 and response.json["message"] == "bad signature"


@pytest.mark.parametrize("url", ["https://[linkedin.com/in/jane", "http://linkedin.com:notaport/in/jane",
                                 "https://www.linkedin.com/company/acme"])
def test_a_malformed_or_non_profile_linkedin_url_is_a_422_naming_the_field(
        contacts: InProcessPlatform, token: Callable, url: str) -> None:
    response = contacts.client.post("/contacts", json={"name": "Jane", "linkedin_url": url},
                                    headers={"Authorization": token("student-1")})
    assert response.status_code == 422, response.json
    assert list(response.json["fields"]) == ["linkedin_url"]
