"""The informational-interview lifecycle through the scheduling API, on each backend profile."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.scheduling.conftest import Services


def add_contact(services: Services, auth: str, **details: Any) -> str:
    response = services.contacts.client.post("/contacts", headers={"Authorization": auth},
                                             json={"name": "Jane Doe", "time_zone": "Europe/London", **details})
    assert response.status_code == 201, response.json
    services.contacts.sync()
    return response.json["id"]


def request(services: Services, auth: str, contact_id: str, **extra: Any) -> Any:
    body = {
        "contact_id": contact_id,
        "objectives": ["How do product teams work?"],
        "format": "video",
        "link": "https://meet.example/abc",
        "time_zone": "America/New_York",
        "starter_questions": ["trends"],
        **extra,
    }
    return services.scheduling.client.post("/interviews", json=body, headers={"Authorization": auth})


def post(services: Services, auth: str, path: str, body: Any = None, **headers: str) -> Any:
    return services.scheduling.client.post(path, json=body, headers={"Authorization": auth, **headers})


def test_the_whole_lifecycle_keeps_every_change_as_history(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = add_contact(services, auth)
    created = request(services, auth, contact)
    assert created.status_code == 201, created.json
    interview = created.json["id"]

    proposed = post(services, auth, f"/interviews/{interview}/proposals", {"slots": [
        {"start": "2026-03-06T10:00:00", "time_zone": "America/New_York"},
        {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"}]})
    assert proposed.status_code == 200, proposed.json
    slots = services.scheduling.client.get(f"/interviews/{interview}", headers={"Authorization": auth}).json["slots"]
    assert [s["start"] for s in slots] == ["2026-03-06T15:00:00.000000Z", "2026-03-09T14:00:00.000000Z"]

    assert (
        post(services, auth, f"/interviews/{interview}/schedule", {"slot_id": slots[1]["slot_id"]}).status_code == 200
    )
    view = services.scheduling.client.get(f"/interviews/{interview}", headers={"Authorization": auth}).json
    assert view["state"] == "scheduled" and view["contact_name"] == "Jane Doe"
    assert view["local"] == {"student": "2026-03-09T10:00:00-04:00", "contact": "2026-03-09T14:00:00+00:00"}

    moved = post(
        services,
        auth,
        f"/interviews/{interview}/reschedule",
        {"start": "2026-03-10T09:00:00", "time_zone": "America/New_York"},
    )
    assert moved.status_code == 200
    view = services.scheduling.client.get(f"/interviews/{interview}", headers={"Authorization": auth}).json
    assert view["start"] == "2026-03-10T13:00:00.000000Z" and view["sequence"] == 1
    assert view["previous_times"] == [{"start": "2026-03-09T14:00:00.000000Z", "end": "2026-03-09T14:30:00.000000Z"}]

    # completing before it starts is a clear 409; the store is unchanged
    early = post(services, auth, f"/interviews/{interview}/complete")
    assert early.status_code == 409 and "before it starts" in early.json["message"]

    services.scheduling.sync()
    [listed] = services.scheduling.client.get("/interviews?state=scheduled", headers={"Authorization": auth}).json[
        "items"
    ]
    assert listed["id"] == interview and listed["previous_times"][0]["start"] == "2026-03-09T14:00:00.000000Z"


def test_a_cancelled_interview_keeps_its_history_and_cannot_be_completed(services: Services, token: Callable) -> None:
    auth = token("student-1")
    interview = request(services, auth, add_contact(services, auth)).json["id"]
    post(
        services,
        auth,
        f"/interviews/{interview}/schedule",
        {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"},
    )
    cancelled = post(services, auth, f"/interviews/{interview}/cancel", {"by": "contact", "reason": "sick"})
    assert cancelled.status_code == 200
    refused = post(services, auth, f"/interviews/{interview}/complete")
    assert refused.status_code == 409 and refused.json["state"] == "cancelled"
    view = services.scheduling.client.get(f"/interviews/{interview}", headers={"Authorization": auth}).json
    assert (view["state"], view["cancelled_by"], view["reason"]) == ("cancelled", "contact", "sick")


def test_overlapping_interviews_are_refused_naming_the_clash(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = add_contact(services, auth)
    first = request(services, auth, contact).json["id"]
    second = request(services, auth, contact).json["id"]
    assert post(services, auth, f"/interviews/{first}/schedule",
                {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"}).status_code == 200
    # 14:15 in London is 10:15 in New York on 9 March (after the US change, before the UK one): a clash
    clash = post(
        services, auth, f"/interviews/{second}/schedule", {"start": "2026-03-09T14:15:00", "time_zone": "Europe/London"}
    )
    assert clash.status_code == 409 and clash.json["clashing_interview_id"] == first
    ok = post(
        services, auth, f"/interviews/{second}/schedule", {"start": "2026-03-09T14:30:00", "time_zone": "Europe/London"}
    )
    assert ok.status_code == 200
    # cancelling frees the time
    post(services, auth, f"/interviews/{first}/cancel", {"by": "student"})
    third = request(services, auth, contact).json["id"]
    assert post(services, auth, f"/interviews/{third}/schedule",
                {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"}).status_code == 200
    # another student's calendar is independent
    other = token("student-2")
    theirs = request(services, other, add_contact(services, other)).json["id"]
    assert post(services, other, f"/interviews/{theirs}/schedule",
                {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"}).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"start": "2026-03-08T02:30:00", "time_zone": "America/New_York"}, "start"),
    ({"start": "2026-03-09T10:00:00", "time_zone": "EST+5"}, "time_zone"),
    ({"start": "2026-03-09T10:00:00"}, "time_zone"),
    ({}, "_schema"),
])
def test_bad_times_are_422_naming_the_field(services: Services, token: Callable, body: dict, field: str) -> None:
    auth = token("student-1")
    interview = request(services, auth, add_contact(services, auth)).json["id"]
    response = post(services, auth, f"/interviews/{interview}/schedule", body)
    assert response.status_code == 422 and field in response.json["fields"], response.json


def test_a_slot_in_the_past_is_a_409(services: Services, token: Callable) -> None:
    auth = token("student-1")
    interview = request(services, auth, add_contact(services, auth)).json["id"]
    response = post(services, auth, f"/interviews/{interview}/proposals",
                    {"slots": [{"start": "2026-02-27T10:00:00", "time_zone": "Europe/London"}]})
    assert response.status_code == 409 and "past" in response.json["message"]


def test_only_your_own_contacts_and_interviews(services: Services, token: Callable) -> None:
    mine, other = token("student-1"), token("student-2")
    contact = add_contact(services, mine)
    services.scheduling.client.application.extensions["scheduling"].service.reference_wait_seconds = 0
    refused = request(services, other, contact)
    assert refused.status_code == 422 and refused.json["fields"] == {"contact_id": ["not one of your contacts"]}
    interview = request(services, mine, contact).json["id"]
    assert (
        services.scheduling.client.get(f"/interviews/{interview}", headers={"Authorization": other}).status_code == 404
    )
    assert post(services, other, f"/interviews/{interview}/cancel", {"by": "student"}).status_code == 404


def test_the_list_splits_upcoming_from_past_and_filters_by_date_range(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = add_contact(services, auth)
    times = {"early": "2026-03-02T09:00:00", "middle": "2026-03-09T09:00:00", "late": "2026-03-20T09:00:00"}
    ids = {}
    for label, start in times.items():
        ids[label] = request(services, auth, contact).json["id"]
        post(services, auth, f"/interviews/{ids[label]}/schedule", {"start": start, "time_zone": "Europe/London"})
    services.scheduling.sync()
    listed = lambda query: [i["id"] for i in services.scheduling.client.get(  # noqa: E731
        f"/interviews?{query}", headers={"Authorization": auth}).json["items"]]
    # "now" is 1 March: everything is upcoming, soonest first
    assert listed("when=upcoming") == [ids["early"], ids["middle"], ids["late"]]
    assert listed("when=past") == []
    assert listed("from=2026-03-05T00:00:00Z&to=2026-03-10T00:00:00Z") == [ids["middle"]]
    assert listed("from=2026-03-09T09:00:00Z") == [ids["middle"], ids["late"]]
    bad = services.scheduling.client.get("/interviews?from=yesterday", headers={"Authorization": auth})
    assert bad.status_code == 422 and "from" in bad.json["fields"]


def test_the_starter_questions_are_public_and_are_what_a_request_adds(services: Services, token: Callable) -> None:
    offered = services.scheduling.client.get("/starter-questions")  # no token: the same text for everyone
    assert offered.status_code == 200
    by_category = {entry["category"]: entry["questions"] for entry in offered.json["categories"]}
    assert set(by_category) == {"trends", "insights", "advice", "resources", "assignments"}
    auth = token("student-1")
    created = request(services, auth, add_contact(services, auth), starter_questions=["advice", "resources"])
    view = services.scheduling.client.get(f"/interviews/{created.json['id']}", headers={"Authorization": auth}).json
    assert [(q["category"], q["text"]) for q in view["questions"]] == [
        (category, text) for category in ("advice", "resources") for text in by_category[category]]
