"""The contacts service through HTTP, on each backend profile: commands, reads, errors, ownership."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.conftest import InProcessPlatform

JANE = {"name": "Jane Doe", "emails": ["jane@example.com"], "organisation": "Acme Corp", "title": "Engineer",
        "industry": "Software", "time_zone": "Europe/London", "linkedin_url": "https://www.linkedin.com/in/jane-doe"}


def add(platform: InProcessPlatform, auth: str, body: dict[str, Any], **headers: str) -> Any:
    return platform.client.post("/contacts", json=body, headers={"Authorization": auth, **headers})


def directory(platform: InProcessPlatform, auth: str, query: str = "") -> list[dict[str, Any]]:
    platform.sync()
    response = platform.client.get(f"/contacts?{query}", headers={"Authorization": auth})
    assert response.status_code == 200, response.json
    return response.json["items"]


def test_an_added_contact_appears_in_the_students_directory(contacts: InProcessPlatform, token: Callable) -> None:
    # given a student
    auth = token("student-1")
    # when they add a contact
    response = add(contacts, auth, {**JANE, "tags": ["alumni"]})
    # then it is accepted with its id and version, and the directory shows it
    assert response.status_code == 201
    assert response.json["version"] == 1 and response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/contacts/{response.json['id']}")
    [entry] = directory(contacts, auth)
    assert entry["id"] == response.json["id"]
    assert (entry["name"], entry["stage"], entry["tags"], entry["status"]) == (
        "Jane Doe",
        "target",
        ["alumni"],
        "active",
    )


def test_the_directory_filters_searches_and_pages(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    people = [("Ada Lovelace", "Computing", "Analytical Engines", ["alumni"]),
              ("Grace Hopper", "Computing", "Navy", ["mentor"]),
              ("Marie Curie", "Science", "Sorbonne", ["alumni"]),
              ("Alan Turing", "Computing", "Bletchley", [])]
    ids = {}
    for name, industry, organisation, tags in people:
        ids[name] = add(contacts, auth, {"name": name, "industry": industry, "organisation": organisation,
                                         "tags": tags}).json["id"]
    contacts.client.put(f"/contacts/{ids['Grace Hopper']}/priority", json={"advocacy": 3, "motivation": 3},
                        headers={"Authorization": auth})
    contacts.client.post(f"/contacts/{ids['Alan Turing']}/touchpoints",
                         json={"kind": "outreach", "occurred_at": "2026-11-20T09:00:00+01:00"},
                         headers={"Authorization": auth})

    names = lambda items: [i["name"] for i in items]  # noqa: E731
    assert names(directory(contacts, auth)) == ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Marie Curie"]
    assert names(directory(contacts, auth, "tag=alumni")) == ["Ada Lovelace", "Marie Curie"]
    assert names(directory(contacts, auth, "industry=computing")) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert names(directory(contacts, auth, "organisation=NAVY")) == ["Grace Hopper"]
    assert names(directory(contacts, auth, "q=ur")) == ["Alan Turing", "Marie Curie"]
    assert names(directory(contacts, auth, "stage=contacted")) == ["Alan Turing"]
    assert names(directory(contacts, auth, "min_priority=5")) == ["Grace Hopper"]
    assert names(directory(contacts, auth, "sort=-priority"))[0] == "Grace Hopper"

    # pages of two visit every contact exactly once
    seen, cursor = [], ""
    while True:
        response = contacts.client.get(f"/contacts?limit=2{cursor}", headers={"Authorization": auth})
        seen += names(response.json["items"])
        if not response.json["next_cursor"]:
            break
        cursor = f"&cursor={response.json['next_cursor']}"
    assert seen == ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Marie Curie"]


def test_a_student_never_reaches_another_students_contacts(contacts: InProcessPlatform, token: Callable) -> None:
    mine = add(contacts, token("student-1"), JANE).json["id"]
    other = token("student-2")
    # existence does not leak: another student's contact is simply not found
    assert contacts.client.get(f"/contacts/{mine}", headers={"Authorization": other}).status_code == 404
    assert contacts.client.patch(f"/contacts/{mine}", json={"title": "x"},
                                 headers={"Authorization": other}).status_code == 404
    assert directory(contacts, other) == []
    assert contacts.client.get("/contacts?student_id=student-1", headers={"Authorization": other}).status_code == 403
    # the same address is free for another student
    assert add(contacts, other, JANE).status_code == 201


def test_an_admin_acts_for_a_named_student(contacts: InProcessPlatform, token: Callable) -> None:
    admin = token("admin-1", "admin")
    assert add(contacts, admin, JANE).status_code == 422  # which student?
    created = add(contacts, admin, {**JANE, "student_id": "student-9"})
    assert created.status_code == 201
    assert [e["id"] for e in directory(contacts, token("student-9"))] == [created.json["id"]]
    assert contacts.client.get("/contacts", headers={"Authorization": token("analyst-1", "analyst")}).status_code == 403


def test_adding_a_known_email_or_profile_answers_409_naming_the_existing_contact(
        contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    existing = add(contacts, auth, JANE).json["id"]
    by_email = add(contacts, auth, {"name": "J. Doe", "emails": ["JANE@example.com "[:-1]]})
    assert by_email.status_code == 409 and by_email.json["existing_contact_id"] == existing
    by_profile = add(contacts, auth, {"name": "J. Doe", "linkedin_url": "linkedin.com/in/Jane-Doe/"})
    assert by_profile.status_code == 409 and by_profile.json["existing_contact_id"] == existing
    # a contact with neither is no duplicate: two people may share a name
    assert add(contacts, auth, {"name": "Jane Doe"}).status_code == 201
    assert add(contacts, auth, {"name": "Jane Doe"}).status_code == 201


def test_changing_emails_moves_the_dedupe_claims(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    jane = add(contacts, auth, JANE).json["id"]
    response = contacts.client.patch(f"/contacts/{jane}", json={"emails": ["jane@new.example"]},
                                     headers={"Authorization": auth})
    assert response.status_code == 200 and response.json["version"] == 2
    assert add(contacts, auth, {"name": "Old address", "emails": ["jane@example.com"]}).status_code == 201
    clash = add(contacts, auth, {"name": "New address", "emails": ["jane@new.example"]})
    assert clash.status_code == 409


def test_if_match_guards_updates_with_412(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    jane = add(contacts, auth, JANE).json["id"]
    stale = contacts.client.patch(f"/contacts/{jane}", json={"title": "CTO"},
                                  headers={"Authorization": auth, "If-Match": '"0"'})
    assert stale.status_code == 412 and stale.headers["ETag"] == '"1"'
    fresh = contacts.client.patch(f"/contacts/{jane}", json={"title": "CTO"},
                                  headers={"Authorization": auth, "If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"2"'
    read = contacts.client.get(f"/contacts/{jane}", headers={"Authorization": auth})
    assert read.json["title"] == "CTO" and read.headers["ETag"] == '"2"'


def test_a_retried_post_with_the_same_idempotency_key_is_applied_once(
        contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    first = add(contacts, auth, JANE, **{"Idempotency-Key": "add-jane-1"})
    again = add(contacts, auth, JANE, **{"Idempotency-Key": "add-jane-1"})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(directory(contacts, auth)) == 1
    different = add(contacts, auth, {**JANE, "name": "Other"}, **{"Idempotency-Key": "add-jane-1"})
    assert different.status_code == 422 and "Idempotency-Key" in different.json["fields"]
    # keys are per caller: another student's identical key is their own
    assert add(contacts, token("student-2"), JANE, **{"Idempotency-Key": "add-jane-1"}).status_code == 201


def test_a_refused_post_is_not_stored_so_a_retry_with_its_key_really_retries(
        contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    jane = add(contacts, auth, JANE).json["id"]
    key = {"Authorization": auth, "Idempotency-Key": "touch-jane-1"}
    body = {"kind": "outreach", "occurred_at": "2026-11-10T10:00:00Z"}
    stale = contacts.client.post(f"/contacts/{jane}/touchpoints", json=body, headers={**key, "If-Match": '"0"'})
    assert stale.status_code == 412  # nothing applied: the answer is not kept for the key
    retried = contacts.client.post(f"/contacts/{jane}/touchpoints", json=body, headers={**key, "If-Match": '"1"'})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    again = contacts.client.post(f"/contacts/{jane}/touchpoints", json=body, headers={**key, "If-Match": '"1"'})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.json == retried.json
    assert contacts.client.get(f"/contacts/{jane}", headers={"Authorization": auth}).json["version"] == 2


def test_the_relationship_stage_follows_the_touchpoints(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    jane = add(contacts, auth, JANE).json["id"]
    stages = []
    for day, kind in enumerate(["outreach", "reply", "conversation", "thank_you", "check_in"], start=1):
        response = contacts.client.post(f"/contacts/{jane}/touchpoints", headers={"Authorization": auth},
                                        json={"kind": kind, "occurred_at": f"2026-11-{day + 10:02d}T10:00:00Z",
                                              "text": f"{kind} note"})
        assert response.status_code == 201
        stages.append(contacts.client.get(f"/contacts/{jane}", headers={"Authorization": auth}).json["stage"])
    assert stages == ["contacted", "replied", "interviewed", "following_up", "ongoing"]
    [entry] = directory(contacts, auth)
    assert entry["stage"] == "ongoing" and entry["touch_count"] == 5
    history = contacts.client.get(f"/contacts/{jane}/touchpoints", headers={"Authorization": auth}).json["items"]
    assert [t["kind"] for t in history] == ["check_in", "thank_you", "conversation", "reply", "outreach"]


def test_archive_restore_and_tags_show_in_the_directory(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    jane = add(contacts, auth, JANE).json["id"]
    h = {"Authorization": auth}
    assert (
        contacts.client.post(f"/contacts/{jane}/tags", json={"tags": ["alumni", "fintech"]}, headers=h).status_code
        == 200
    )
    assert contacts.client.delete(f"/contacts/{jane}/tags/alumni", headers=h).status_code == 200
    assert contacts.client.post(f"/contacts/{jane}/archive", json={"reason": "moved on"}, headers=h).status_code == 200
    assert directory(contacts, auth) == []
    [archived] = directory(contacts, auth, "status=archived")
    assert archived["tags"] == ["fintech"]
    again = contacts.client.post(f"/contacts/{jane}/archive", json={}, headers=h)
    assert again.status_code == 409 and "already archived" in again.json["message"]
    assert contacts.client.post(f"/contacts/{jane}/restore", headers=h).status_code == 200
    assert [e["id"] for e in directory(contacts, auth)] == [jane]


def test_merging_keeps_both_histories(contacts: InProcessPlatform, token: Callable) -> None:
    auth, h = token("student-1"), {"Authorization": token("student-1")}
    jane = add(contacts, auth, JANE).json["id"]
    dup = add(contacts, auth, {"name": "J Doe", "emails": ["jd@acme.example"], "phone": "+44 20 7946 0000"}).json["id"]
    contacts.client.post(
        f"/contacts/{jane}/touchpoints", json={"kind": "outreach", "occurred_at": "2026-11-01T10:00:00Z"}, headers=h
    )
    contacts.client.post(
        f"/contacts/{dup}/touchpoints", json={"kind": "reply", "occurred_at": "2026-11-02T10:00:00Z"}, headers=h
    )
    merged = contacts.client.post(f"/contacts/{jane}/merge", json={"duplicate_id": dup}, headers=h)
    assert merged.status_code == 200
    survivor = contacts.client.get(f"/contacts/{jane}", headers=h).json
    assert survivor["emails"] == ["jane@example.com", "jd@acme.example"]
    assert survivor["phone"] == "+44 20 7946 0000" and survivor["stage"] == "replied"
    absorbed = contacts.client.get(f"/contacts/{dup}", headers=h).json
    assert (absorbed["status"], absorbed["merged_into"]) == ("merged", jane)
    [entry] = directory(contacts, auth)
    assert entry["id"] == jane and entry["touch_count"] == 2
    # the duplicate's address now belongs to the survivor
    clash = add(contacts, auth, {"name": "x", "emails": ["jd@acme.example"]})
    assert clash.status_code == 409 and clash.json["existing_contact_id"] == jane
    assert contacts.client.post(f"/contacts/{dup}/tags", json={"tags": ["x"]}, headers=h).status_code == 409


def test_read_your_writes_waits_for_the_projection(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    created = add(contacts, auth, JANE).json
    # nothing has been projected yet: the query waits, then says to retry rather than answer stale data
    contacts.client.application.extensions["careerloop"].settings.env["READ_YOUR_WRITES_WAIT_SECONDS"] = "0"
    response = contacts.client.get(f"/contacts?min_version={created['id']}:{created['version']}",
                                   headers={"Authorization": auth})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    contacts.sync()
    response = contacts.client.get(f"/contacts?min_version={created['id']}:{created['version']}",
                                   headers={"Authorization": auth})
    assert response.status_code == 200 and len(response.json["items"]) == 1


def test_the_openapi_document_describes_every_endpoint(contacts: InProcessPlatform) -> None:
    document = contacts.client.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    add_op = document["paths"]["/contacts"]["post"]
    assert {"201", "401", "409", "422"} <= set(add_op["responses"])
    schema_ref = add_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert "name" in schema["required"] and "emails" in schema["properties"]


def test_health_and_readiness(contacts: InProcessPlatform) -> None:
    assert contacts.client.get("/healthz").json["status"] == "ok"
    ready = contacts.client.get("/readyz")
    assert ready.status_code == 200 and ready.json["failures"] == {}


def test_the_correlation_id_is_echoed_and_lands_in_event_metadata(
        contacts: InProcessPlatform, token: Callable) -> None:
    response = add(contacts, token("student-1"), JANE, **{"X-Correlation-ID": "req-123"})
    assert response.headers["X-Correlation-ID"] == "req-123"
    [envelope] = contacts.store.load(response.json["id"])
    assert (envelope["correlationid"], envelope["actor"], envelope["ownerid"]) == ("req-123", "student-1", "student-1")


def test_a_contact_can_have_its_own_check_in_cadence(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    contact_id = add(contacts, auth, JANE).json["id"]
    # when the student wants to check in every 4 weeks with this contact
    response = contacts.client.put(f"/contacts/{contact_id}/check-in-cadence", json={"every_weeks": 4},
                                   headers={"Authorization": auth, "If-Match": '"1"'})
    # then it is recorded (a new version), shown on the contact and in the directory
    assert response.status_code == 200 and response.json["version"] == 2
    assert (
        contacts.client.get(f"/contacts/{contact_id}", headers={"Authorization": auth}).json["check_in_every_weeks"]
        == 4
    )
    assert directory(contacts, auth)[0]["check_in_every_weeks"] == 4
    # the same cadence again changes nothing; null returns to the default rule
    again = contacts.client.put(f"/contacts/{contact_id}/check-in-cadence", json={"every_weeks": 4},
                                headers={"Authorization": auth})
    assert again.json["version"] == 2
    reset = contacts.client.put(f"/contacts/{contact_id}/check-in-cadence", json={"every_weeks": None},
                                headers={"Authorization": auth})
    assert reset.json["version"] == 3
    # out of range, or not a number, names the field; someone else's contact is not found
    for bad in (0, 53, "4"):
        refused = contacts.client.put(f"/contacts/{contact_id}/check-in-cadence", json={"every_weeks": bad},
                                      headers={"Authorization": auth})
        assert refused.status_code == 422 and "every_weeks" in str(refused.json), refused.json
    other = contacts.client.put(f"/contacts/{contact_id}/check-in-cadence", json={"every_weeks": 4},
                                headers={"Authorization": token("student-2")})
    assert other.status_code == 404


def test_answers_match_the_documented_response_schemas(contacts: InProcessPlatform, token: Callable) -> None:
    """Every answer of the test client is checked against `/openapi.json` (tests/openapi_responses.py,
    whose schemas allow no undocumented key): these calls reach every shape a contact answer takes."""
    auth = {"Authorization": token("student-1")}
    jane = add(contacts, auth["Authorization"], {**JANE, "tags": ["alumni"]}).json["id"]
    duplicate = add(contacts, auth["Authorization"], {"name": "J. Doe"}).json["id"]
    contacts.client.put(f"/contacts/{jane}/check-in-cadence", json={"every_weeks": 4}, headers=auth)
    contacts.client.put(f"/contacts/{jane}/priority", json={"advocacy": 3, "motivation": 2}, headers=auth)
    contacts.client.post(f"/contacts/{jane}/touchpoints", headers=auth,
                         json={"kind": "outreach", "occurred_at": "2026-11-20T09:00:00Z"})
    contacts.client.post(f"/contacts/{jane}/merge", json={"duplicate_id": duplicate}, headers=auth)
    contacts.sync()
    answers = [contacts.client.get(f"/contacts/{jane}", headers=auth),
               contacts.client.get("/contacts", headers=auth),
               contacts.client.get("/contacts?status=archived", headers=auth),
               contacts.client.get(f"/contacts/{jane}/touchpoints", headers=auth),
               contacts.client.get(f"/contacts/{duplicate}", headers=auth),
               contacts.client.post("/imports", content_type="text/csv", headers=auth,
                                    data=b"First Name,Last Name,Email Address\r\nAda,L,ada@x.org\r\n\r\n"
                                         b",,x@\r\nJ,D,jane@example.com\r\nBad,Url,@\r\n")]
    assert answers[0].json["check_in_every_weeks"] == 4 and answers[4].json["status"] == "merged"
    assert answers[5].json["counts"] == {"created": 1, "duplicate": 1, "invalid": 2, "skipped": 1}
    assert answers[1].json["items"][0]["check_in_every_weeks"] == 4, answers[1].json
    for answer in answers:
        assert answer.status_code in (200, 201), answer.json
