"""Notes through HTTP, on each backend profile: recording, references, revisions, action items,
deletion, ownership and idempotency."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.contracts.notes import NOTES
from tests.integration.notes.conftest import OBJECTIVES, Services

CONTENT = {
    "text": "Product teams at Acme ship weekly and talk to customers every sprint.",
    "insights": [{"category": "industry_trends", "text": "AI assistants everywhere"},
                 {"category": "advice", "text": "Learn SQL before you apply"}],
    "action_items": [{"text": "Send a thank-you note", "due_on": "2026-03-03"},
                     {"text": "Read Inspired by Marty Cagan"}],
    "tags": ["product", "Acme"],
}


def event_types(services: Services, stream_id: str) -> list[str]:
    return [envelope["type"].split(".")[2] for envelope in services.notes.store.load(stream_id)]


def test_a_note_about_an_interview_takes_its_contact_its_zone_and_its_objectives(
        services: Services, token: Callable) -> None:
    # given a student's contact and an interview with two objectives
    auth = token("student-1")
    contact = services.add_contact(auth)
    interview = services.request_interview(auth, contact)
    # when they record a note about the interview, naming an objective in their own spelling
    response = services.record(auth, interview_id=interview, objectives_covered=["how do PRODUCT teams work?"],
                               **CONTENT)
    # then it is accepted, and the note is about the interview's contact, in the interview's zone
    assert response.status_code == 201, response.json
    note_id = response.json["id"]
    assert response.headers["Location"].endswith(f"/notes/{note_id}") and response.headers["ETag"] == '"3"'
    view = services.call("GET", f"/notes/{note_id}", auth)
    assert view.status_code == 200 and view.headers["ETag"] == '"3"'
    note = view.json
    assert (note["contact_id"], note["interview_id"], note["time_zone"]) == (contact, interview, "America/New_York")
    assert note["objectives_covered"] == [OBJECTIVES[0]]
    assert note["visibility"] == "private" and note["revision"] == 1
    assert [(i["text"], i["due_on"], i["completed"]) for i in note["action_items"]] == [
        ("Send a thank-you note", "2026-03-03", False), ("Read Inspired by Marty Cagan", None, False)]
    assert note["recorded_at"] == note["revised_at"]
    # and each action item was published with its due date and the student's zone
    assert event_types(services, note_id) == ["NoteRecorded", "ActionItemAdded", "ActionItemAdded"]
    added = NOTES.read(services.notes.store.load(note_id)[1]).data
    assert (added["due_on"], added["time_zone"], added["contact_id"]) == ("2026-03-03", "America/New_York", contact)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"contact_id": "nope"}, "contact_id", "not one of your contacts"),
    ({"interview_id": "nope"}, "interview_id", "not one of your interviews"),
    ({"objectives_covered": ["Something else"]}, "objectives_covered", "only a note about an interview"),
    ({"action_items": [{"text": "x", "due_on": "2026-03-03"}]}, "time_zone", "need your time_zone"),
])
def test_references_and_what_depends_on_them_are_checked(services: Services, token: Callable, body: dict,
                                                         field: str, message: str) -> None:
    auth = token("student-1")
    contact = services.add_contact(auth)
    response = services.record(auth, **{"contact_id": contact, "text": "Notes", **body})
    assert response.status_code == 422 and field in response.json["fields"], response.json
    assert message in str(response.json["fields"][field])


def test_an_objective_the_interview_does_not_have_is_named_by_position(services: Services, token: Callable) -> None:
    auth = token("student-1")
    interview = services.request_interview(auth, services.add_contact(auth))
    response = services.record(auth, interview_id=interview, text="x",
                               objectives_covered=[OBJECTIVES[1], "Salary bands"])
    assert response.status_code == 422
    assert response.json["fields"] == {"objectives_covered": {"1": ["not one of the interview's objectives"]}}
    other_contact = services.add_contact(auth, name="Other", emails=["o@example.org"])
    mismatch = services.record(auth, interview_id=interview, contact_id=other_contact, text="x")
    assert mismatch.status_code == 422
    assert mismatch.json["fields"] == {"contact_id": ["not the contact of this interview"]}


def test_another_students_contact_or_interview_cannot_be_named(services: Services, token: Callable) -> None:
    mine, theirs = token("student-1"), token("student-2")
    contact = services.add_contact(mine)
    interview = services.request_interview(mine, contact)
    assert services.record(theirs, contact_id=contact, text="x").status_code == 422
    assert services.record(theirs, interview_id=interview, text="x").status_code == 422


def test_every_revision_is_kept_and_readable(services: Services, token: Callable) -> None:
    # given a note
    auth = token("student-1")
    contact = services.add_contact(auth)
    created = services.record(auth, contact_id=contact, text="First draft", tags=["draft"])
    note_id = created.json["id"]
    # when it is revised twice, once naming the version it saw
    first = services.call("PUT", f"/notes/{note_id}", auth, {"text": "Second draft", "tags": ["draft"]},
                          **{"If-Match": '"1"'})
    assert first.status_code == 200 and first.json["version"] == 2
    stale = services.call("PUT", f"/notes/{note_id}", auth, {"text": "Lost update?"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json["current_version"] == 2
    services.call("PUT", f"/notes/{note_id}", auth, {"text": "Final", "tags": ["done"]})
    # then the note shows the newest content and every revision stays readable, oldest first
    note = services.call("GET", f"/notes/{note_id}", auth).json
    assert (note["text"], note["tags"], note["revision"], note["version"]) == ("Final", ["done"], 3, 3)
    revisions = services.call("GET", f"/notes/{note_id}/revisions", auth).json["items"]
    assert [(r["revision"], r["text"], r["written_by"]) for r in revisions] == [
        (1, "First draft", "student-1"), (2, "Second draft", "student-1"), (3, "Final", "student-1")]
    assert revisions[0]["written_at"] < revisions[2]["written_at"] == note["revised_at"]
    # and a revision that changes nothing records nothing
    same = services.call("PUT", f"/notes/{note_id}", auth, {"text": "Final", "tags": ["done"]})
    assert same.status_code == 200 and same.json["version"] == 3


def test_action_items_are_completed_reopened_and_kept_through_revisions(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = services.add_contact(auth)
    note_id = services.record(auth, contact_id=contact, time_zone="Europe/Paris", **CONTENT).json["id"]
    thanks, book = [i["item_id"] for i in services.call("GET", f"/notes/{note_id}", auth).json["action_items"]]

    assert services.call("POST", f"/notes/{note_id}/action-items/{thanks}/complete", auth).status_code == 200
    assert services.call("POST", f"/notes/{note_id}/action-items/nope/complete", auth).status_code == 404
    [listed] = services.search(auth, "open_actions=true")
    assert listed["open_actions"] == 1
    # a revision keeps the completed item by its id, edits the other's due date and adds one
    revised = services.call("PUT", f"/notes/{note_id}", auth, {**CONTENT, "action_items": [
        {"item_id": thanks, "text": "Send a thank-you note", "due_on": "2026-03-03"},
        {"item_id": book, "text": "Read Inspired by Marty Cagan", "due_on": "2026-04-01"},
        {"text": "Ask Jane for an intro"}]})
    assert revised.status_code == 200, revised.json
    items = services.call("GET", f"/notes/{note_id}", auth).json["action_items"]
    assert [(i["item_id"] == thanks, i["completed"], i["due_on"]) for i in items] == [
        (True, True, "2026-03-03"), (False, False, "2026-04-01"), (False, False, None)]
    assert services.call("POST", f"/notes/{note_id}/action-items/{thanks}/reopen", auth).status_code == 200
    assert [i["open_actions"] for i in services.search(auth)] == [3]
    assert event_types(services, note_id)[3:] == [
        "ActionItemCompleted", "NoteRevised", "ActionItemChanged", "ActionItemAdded", "ActionItemReopened"]
    unknown = services.call("PUT", f"/notes/{note_id}", auth, {"action_items": [{"item_id": "nope", "text": "x"}]})
    assert unknown.status_code == 409 and unknown.json["item_id"] == "nope"


def test_deleting_a_note_takes_its_content_out_of_every_read_model(services: Services, token: Callable) -> None:
    # given a shared note that the search finds
    auth = token("student-1")
    contact = services.add_contact(auth)
    note_id = services.record(auth, contact_id=contact, visibility="shared", time_zone="Europe/London",
                              **CONTENT).json["id"]
    assert [n["id"] for n in services.search(auth, "q=customers")] == [note_id]
    # when the student deletes it
    deleted = services.call("DELETE", f"/notes/{note_id}", auth)
    assert deleted.status_code == 200 and deleted.json["version"] == 6
    # then it is gone from reads, search and the read model's document; the stream keeps only the fact
    assert services.call("GET", f"/notes/{note_id}", auth).status_code == 404
    assert services.call("GET", f"/notes/{note_id}/revisions", auth).status_code == 404
    assert services.search(auth, "q=customers") == [] and services.search(auth) == []
    document = services.notes.read_store.collection("note_search").get(note_id)
    assert set(document) == {"_id", "_version", "student_id", "status", "recorded_at", "updated_at"}
    assert event_types(services, note_id)[-3:] == ["ActionItemRemoved", "ActionItemRemoved", "NoteDeleted"]
    assert services.notes.store.load(note_id)[-1]["data"] == {"student_id": "student-1"}
    # and nothing more can be done with it
    assert services.call("DELETE", f"/notes/{note_id}", auth).status_code == 404
    assert services.call("PUT", f"/notes/{note_id}", auth, {"text": "back?"}).status_code == 404
    # a read model catching up later still knows where it stands
    assert services.search(auth, f"min_version={note_id}:6") == []


def test_a_student_never_reaches_another_students_notes(services: Services, token: Callable) -> None:
    mine, other = token("student-1"), token("student-2")
    note_id = services.record(mine, contact_id=services.add_contact(mine), text="Mine").json["id"]
    for method, path, body in [("GET", f"/notes/{note_id}", None), ("GET", f"/notes/{note_id}/revisions", None),
                               ("PUT", f"/notes/{note_id}", {"text": "Theirs"}), ("DELETE", f"/notes/{note_id}", None),
                               ("POST", f"/notes/{note_id}/visibility", {"visibility": "shared"})]:
        assert services.call(method, path, other, body).status_code == 404, (method, path)
    assert services.search(other) == []
    refused = services.notes.client.get("/notes?student_id=student-1", headers={"Authorization": other})
    assert refused.status_code == 403
    # an id of another kind of stream is no note either
    assert services.call("GET", "/notes/advising-student-1", mine).status_code == 404


def test_an_admin_acts_for_a_named_student(services: Services, token: Callable) -> None:
    student, admin = token("student-1"), token("admin-1", "admin")
    contact = services.add_contact(student)
    unnamed = services.record(admin, contact_id=contact, text="x")
    assert unnamed.status_code == 422 and "student_id" in unnamed.json["fields"]
    created = services.record(admin, contact_id=contact, text="Written by the office", student_id="student-1")
    assert created.status_code == 201
    assert services.call("GET", f"/notes/{created.json['id']}", student).json["student_id"] == "student-1"
    assert [n["text"] for n in services.search(admin, "student_id=student-1")] == ["Written by the office"]
    revisions = services.call("GET", f"/notes/{created.json['id']}/revisions", student).json["items"]
    assert revisions[0]["written_by"] == "admin-1"


def test_a_retried_post_with_the_same_idempotency_key_records_one_note(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = services.add_contact(auth)
    first = services.notes.client.post("/notes", json={"contact_id": contact, "text": "Once"},
                                       headers={"Authorization": auth, "Idempotency-Key": "note-1"})
    again = services.notes.client.post("/notes", json={"contact_id": contact, "text": "Once"},
                                       headers={"Authorization": auth, "Idempotency-Key": "note-1"})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(services.search(auth)) == 1


def test_the_openapi_document_describes_every_endpoint(services: Services) -> None:
    document = services.notes.client.get("/openapi.json").json
    assert {"/notes", "/notes/{note_id}", "/notes/{note_id}/revisions", "/notes/{note_id}/visibility",
            "/notes/{note_id}/action-items/{item_id}/complete", "/notes/access-log",
            "/advisors/{advisor_id}/students/{student_id}", "/students/{student_id}/notes"} <= set(document["paths"])
    assert document["paths"]["/notes/{note_id}"]["get"]["description"] == "Roles: student, admin, advisor"
    assert "409" in document["paths"]["/notes/{note_id}"]["put"]["responses"]
