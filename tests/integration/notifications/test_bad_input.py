"""Bad input to the notifications API: 422 naming the field, 401/403 for missing rights, 404 for
what is not yours, 409/412 for conflicts, and never a 500. (The embedded profile is enough: these
are decided before any backend-specific code runs; the journeys cover both profiles.)"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.fuzz import json_values, operations
from tests.integration.notifications.harness import Notifications

pytestmark = pytest.mark.parametrize("profile", ["embedded"])

FIELDS = ["email", "time_zone", "channels", "quiet_hours", "digest", "student_id", "url", "description", "subject",
          "text", "html"]
bodies = json_values | st.dictionaries(st.sampled_from(FIELDS), json_values | st.sampled_from(
    ["ada@example.org", "Europe/Berlin", "22:00", "https://hooks.example.org/x", "{contact_name}", "{nope}"]),
    max_size=4)


@pytest.fixture
def world(notifications: Callable[..., Notifications]) -> Notifications:
    return notifications()


@pytest.mark.parametrize(("body", "field"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "+02:00"}, "time_zone"),
    ({"email": "not-an-address"}, "email"),
    ({"channels": {"birthday": ["email"]}}, "channels"),
    ({"channels": {"thank_you_due": ["pigeon"]}}, "channels"),
    ({"channels": {"thank_you_due": ["email"]}}, "email"),  # e-mail without an address
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "22:00"}}, "quiet_hours"),
    ({"digest": "often"}, "digest"),
    ({"colour": "blue"}, "colour"),
])
def test_malformed_preferences_are_422_naming_the_field(world: Notifications, token: Callable, body: dict,
                                                        field: str) -> None:
    response = world.put("/preferences", token("student-1"), body)
    assert response.status_code == 422 and list(response.json["fields"]) == [field], response.json


def test_rights_are_checked_before_anything_else(world: Notifications, token: Callable) -> None:
    student, admin, advisor = token("student-1"), token("admin-1", "admin"), token("adv-1", "advisor")
    assert world.call("api", "GET", "/preferences", None).status_code == 401
    assert world.call("api", "GET", "/preferences", "Bearer not.a.token").status_code == 401
    assert world.get("/preferences", advisor).status_code == 403
    assert world.get("/preferences?student_id=student-2", student).status_code == 403
    assert world.get("/preferences", admin).status_code == 422  # an admin names the student
    assert world.ok(world.get("/preferences?student_id=student-2", admin))["channels"]["thank_you_due"] == ["in_app"]
    assert world.get("/templates", student).status_code == 403
    assert world.put("/templates/digest", student, {"subject": "s", "text": "t", "html": "h"}).status_code == 403
    assert world.get("/inbox", advisor).status_code == 403
    assert (
        world.post("/webhooks", student, {"url": "https://x.example.org", "student_id": "student-2"}).status_code == 403
    )


def test_templates_refuse_unknown_placeholders_and_kinds(world: Notifications, token: Callable) -> None:
    admin = token("admin-1", "admin")
    good = {"subject": "{reason}", "text": "{reason} ({link})", "html": "<p>{reason}</p>"}
    assert world.put("/templates/birthday", admin, good).status_code == 404
    assert world.get("/templates/birthday", admin).status_code == 404
    for field, value in (("subject", "{name}"), ("text", "unclosed {reason"), ("html", "{start_local}")):
        response = world.put("/templates/thank_you_due", admin, {**good, field: value})
        assert response.status_code == 422 and list(response.json["fields"]) == [field], response.json
    assert world.put("/templates/thank_you_due", admin, {**good, "subject": ""}).status_code == 422
    # a template reaches no attribute or item of what it is rendered with
    for field, value in (("subject", "{contact.__class__}"), ("text", "{reason[0]}"),
                         ("html", "{contact.__init__.__globals__}"), ("text", "{0}")):
        response = world.put("/templates/thank_you_due", admin, {**good, field: value})
        assert response.status_code == 422 and list(response.json["fields"]) == [field], response.json
        assert "only plain placeholder names are allowed" in response.json["fields"][field][0]
    current = world.ok(world.get("/templates/thank_you_due", admin))
    assert current["default"] is True and "reason" in current["placeholders"]
    changed = world.ok(world.put("/templates/thank_you_due", admin, good, **{"If-Match": '"0"'}))
    assert changed["version"] == 1
    stale = world.put("/templates/thank_you_due", admin, {**good, "subject": "Due: {reason}"}, **{"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.headers["ETag"] == '"1"'
    assert world.ok(world.get("/templates/thank_you_due", admin))["default"] is False


def test_conflicts_and_what_is_not_yours(world: Notifications, token: Callable) -> None:
    ada, bob = token("ada"), token("bob")
    first = world.ok(world.put("/preferences", ada, {"time_zone": "Europe/Paris"}))
    assert world.put("/preferences", ada, {"time_zone": "UTC"}, **{"If-Match": '"7"'}).status_code == 412
    assert (
        world.put("/preferences", ada, {"time_zone": "UTC"}, **{"If-Match": f'"{first["version"]}"'}).status_code == 200
    )
    endpoint = world.ok(world.post("/webhooks", ada, {"url": "https://hooks.example.org/ada"}), 201)
    assert world.post("/webhooks", ada, {"url": "ftp://hooks.example.org"}).json["fields"] == {
        "url": ["only http and https URLs are allowed"]}
    assert world.post(f"/webhooks/{endpoint['id']}/enable", bob).status_code == 404
    assert world.call("api", "DELETE", f"/webhooks/{endpoint['id']}", bob).status_code == 404
    assert world.post(f"/webhooks/{endpoint['id']}/enable", ada, **{"If-Match": '"5"'}).status_code == 412
    assert world.ok(world.call("api", "DELETE", f"/webhooks/{endpoint['id']}", ada))["version"] == 2
    assert world.call("api", "DELETE", f"/webhooks/{endpoint['id']}", ada).status_code == 404  # gone
    world.sync()
    assert world.ok(world.get("/webhooks", ada))["items"] == []
    # an in-app notification not sent yet cannot be marked read; an e-mail never can
    world.prefer(ada, channels={"thank_you_due": ["in_app"]})
    world.announce_due("ada", "thank_you", "i-1", reason="Thank Jane", due_at=world.clock.now.replace(year=2032))
    [pending] = world.history(ada)
    refused = world.post(f"/inbox/{pending['id']}/read", ada)
    assert refused.status_code == 409 and "not reached the inbox" in refused.json["message"]
    assert world.post(f"/inbox/{pending['id']}/read", bob).status_code == 404
    assert world.get(f"/notifications/{pending['id']}", bob).status_code == 404
    assert world.ok(world.get(f"/notifications/{pending['id']}", ada))["status"] == "scheduled"
    assert world.get("/notifications?status=lost", ada).json["fields"] == {"status": ["Must be one of: scheduled, "
                                                                                     "bundled, sent, failed, "
                                                                                     "suppressed."]}
    assert world.get("/inbox?cursor=%%%", ada).status_code == 422
    assert world.get("/inbox?min_version=nonsense", ada).json["fields"] == {"min_version": ["give <id>:<version>"]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, index=st.integers(min_value=0), role=st.sampled_from(["student", "admin", "advisor"]))
def test_any_json_body_to_any_endpoint_is_answered_without_a_server_error(
        world: Notifications, token: Callable, body: Any, index: int, role: str) -> None:
    ops = operations(world.api)
    method, path = ops[index % len(ops)]
    auth = token("student-1" if role == "student" else "adv-1" if role == "advisor" else "admin-1", role)
    response = world.api.client.open(path, method=method, data=json.dumps(body), content_type="application/json",
                                     headers={"Authorization": auth})
    assert response.status_code < 500, (method, path, body, response.data[:500])
    if response.status_code >= 400:
        assert {"error", "message"} <= set(response.json)
