"""Advisors, on each backend profile: assignment by admins, reading only shared notes of their own
students, every read in the student's access log, and 403/404 for everything else."""
from __future__ import annotations

from collections.abc import Callable

from shared.config import Settings
from shared.runtime import topics_of
from tests.integration.notes.conftest import Services


def shared_note(services: Services, auth: str, text: str = "What I learned about consulting") -> str:
    created = services.record(auth, contact_id=services.add_contact(auth), text=text, tags=["consulting"],
                              insights=[{"category": "advice", "text": "Network early"}], visibility="shared")
    assert created.status_code == 201, created.json
    return created.json["id"]


def test_an_assigned_advisor_reads_shared_notes_and_every_read_is_logged(services: Services, token: Callable) -> None:
    # given a student with a shared and a private note, and an advisor an admin assigned to them
    student, advisor, admin = token("student-1"), token("adv-1", "advisor"), token("admin-1", "admin")
    shared = shared_note(services, student)
    private = services.record(student, contact_id=services.add_contact(student, emails=["p@example.org"]),
                              text="Salary expectations").json["id"]
    assigned = services.call("POST", "/advisors/adv-1/students/student-1", admin)
    assert assigned.status_code == 200 and assigned.json["assigned"] is True
    # when the advisor lists and reads the student's notes
    services.sync()
    read = services.call("GET", f"/notes/{shared}", advisor)
    listed = services.call("GET", "/students/student-1/notes", advisor)
    # then they see the shared note, with no content in the list, and never the private one
    assert listed.status_code == 200
    [entry] = listed.json["items"]
    assert entry["id"] == shared and entry["tags"] == ["consulting"] and entry["categories"] == ["advice"]
    assert "text" not in entry and "insights" not in entry
    assert read.status_code == 200 and read.json["text"] == "What I learned about consulting"
    assert services.call("GET", f"/notes/{private}", advisor).status_code == 404
    # and a read changes nothing about the note: same version, same ETag
    assert read.headers["ETag"] == services.call("GET", f"/notes/{shared}", student).headers["ETag"] == '"1"'
    # and the student sees who read which note, and when
    services.call("GET", f"/notes/{shared}", advisor)
    services.sync()
    log = services.call("GET", "/notes/access-log", student).json["items"]
    assert [(e["note_id"], e["advisor_id"]) for e in log] == [(shared, "adv-1")] * 2
    assert log[0]["at"] >= log[1]["at"]
    assert services.call("GET", f"/notes/access-log?note_id={private}", student).json["items"] == []
    assert services.call("GET", "/notes/access-log?student_id=student-1", admin).json["items"] == log


def test_a_note_made_private_again_or_an_unassigned_advisor_is_refused_at_once(
        services: Services, token: Callable) -> None:
    student, advisor, admin = token("student-1"), token("adv-1", "advisor"), token("admin-1", "admin")
    note = shared_note(services, student)
    services.call("POST", "/advisors/adv-1/students/student-1", admin)
    assert services.call("GET", f"/notes/{note}", advisor).status_code == 200
    services.call("POST", f"/notes/{note}/visibility", student, {"visibility": "private"})
    assert services.call("GET", f"/notes/{note}", advisor).status_code == 404
    services.call("POST", f"/notes/{note}/visibility", student, {"visibility": "shared"})
    # unassigning takes effect before any projection has run
    unassigned = services.call("DELETE", "/advisors/adv-1/students/student-1", admin)
    assert unassigned.status_code == 200 and unassigned.json["assigned"] is False
    assert services.call("GET", f"/notes/{note}", advisor).status_code == 404
    assert services.call("GET", "/students/student-1/notes", advisor).status_code == 404


def test_an_advisor_of_another_student_sees_nothing(services: Services, token: Callable) -> None:
    student, admin = token("student-1"), token("admin-1", "admin")
    note = shared_note(services, student)
    services.call("POST", "/advisors/adv-2/students/student-2", admin)
    stranger = token("adv-2", "advisor")
    assert services.call("GET", f"/notes/{note}", stranger).status_code == 404
    assert services.call("GET", "/students/student-1/notes", stranger).status_code == 404


def test_roles_that_can_never_do_something_get_403(services: Services, token: Callable) -> None:
    student, advisor, analyst = token("student-1"), token("adv-1", "advisor"), token("an-1", "analyst")
    note = shared_note(services, student)
    services.call("POST", "/advisors/adv-1/students/student-1", token("admin-1", "admin"))
    for method, path, body in [("POST", "/notes", {"contact_id": "x", "text": "x"}),
                               ("PUT", f"/notes/{note}", {"text": "edited by advisor"}),
                               ("DELETE", f"/notes/{note}", None), ("GET", f"/notes/{note}/revisions", None),
                               ("POST", f"/notes/{note}/visibility", {"visibility": "private"}),
                               ("GET", "/notes", None), ("GET", "/notes/access-log", None)]:
        assert services.call(method, path, advisor, body).status_code == 403, (method, path)
    assert services.call("GET", f"/notes/{note}", analyst).status_code == 403
    assert services.call("POST", "/advisors/adv-1/students/student-1", student).status_code == 403
    assert services.call("DELETE", "/advisors/adv-1/students/student-1", advisor).status_code == 403
    assert services.call("GET", "/students/student-1/notes", student).status_code == 403


def test_admins_assign_advisors_and_advisors_list_their_students(services: Services, token: Callable) -> None:
    admin, advisor = token("admin-1", "admin"), token("adv-1", "advisor")
    for student in ("student-2", "student-1", "student-3"):
        assert services.call("POST", f"/advisors/adv-1/students/{student}", admin).status_code == 200
    again = services.call("POST", "/advisors/adv-1/students/student-1", admin)  # already assigned: no new event
    assert again.json["version"] == 1
    last = services.call("DELETE", "/advisors/adv-1/students/student-3", admin).json
    services.sync()
    listed = services.call("GET", f"/advisors/adv-1/students?min_version={last['id']}:{last['version']}", advisor)
    assert [s["student_id"] for s in listed.json["items"]] == ["student-1", "student-2"]
    assert services.call("GET", "/advisors/adv-2/students", advisor).status_code == 404
    assert services.call("GET", "/advisors/adv-1/students", admin).json == listed.json
    # a student sees their own advisors (who may read what they share), and nobody else's
    student = token("student-1")
    mine = services.call("GET", "/students/student-1/advisors", student)
    assert mine.status_code == 200 and mine.json["advisors"] == ["adv-1"]
    assert services.call("GET", "/students/student-2/advisors", student).status_code == 403
    assert services.call("POST", "/advisors/student-1/students/student-1", admin).status_code == 409


def test_assignments_and_reads_are_published_on_their_own_topics(settings: Settings) -> None:
    assert topics_of("notes", settings) == {"note": "careerloop.notes.note.v1",
                                            "note_access_log": "careerloop.notes.note_access_log.v1",
                                            "advising": "careerloop.notes.advising.v1"}
