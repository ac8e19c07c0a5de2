"""The advisor view on each backend profile: assignments from the notes service's advising streams,
each advisee's counts, open items overdue first, what is due next and their latest activity; an
assigned advisor reads (never changes) a student's queue and timelines, anyone else is refused; and
action items of private notes are counted but their text stays with the student."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.followups.api import PRIVATE_REASON
from tests.integration.followups.conftest import Services


def test_an_advisor_sees_their_students_queues_overdue_first_without_private_texts(
        services: Services, token: Callable) -> None:
    student, other_student = token("student-1"), token("student-2")
    advisor, other_advisor, admin = (
        token("advisor-1", "advisor"),
        token("advisor-2", "advisor"),
        token("admin-1", "admin"),
    )
    jane = services.add_contact(student)
    interview = services.held_interview(student, jane)  # the clock now says Tuesday 3 March, 12:00 UTC
    private = services.post("notes", "/notes", student, {
        "interview_id": interview, "text": "Worried about my visa.",
        "action_items": [{"text": "Ask about visas", "due_on": "2026-03-02"}]})
    assert private.status_code == 201, private.json
    shared = services.post("notes", "/notes", student, {
        "contact_id": jane, "text": "Portfolio tips.", "visibility": "shared", "time_zone": "America/New_York",
        "action_items": [{"text": "Send my portfolio", "due_on": "2026-03-10"}]})
    assert shared.status_code == 201, shared.json
    services.add_contact(other_student, name="John Roe")
    for advisee in ("student-1", "student-2"):
        assigned = services.post("notes", f"/advisors/advisor-1/students/{advisee}", admin)
        assert assigned.status_code == 200, assigned.json
    services.sync()

    listed = services.get("followups", "/advisors/advisor-1/students", advisor)
    assert listed.status_code == 200, listed.json
    first, second = listed.json["items"]
    assert (first["student_id"], first["open"], first["overdue"]) == ("student-1", 4, 1)
    assert [i["rule"] for i in first["items"]] == ["action_item", "thank_you", "action_item", "stay_in_touch"]
    visas, thanks, portfolio, _ = first["items"]
    assert visas["overdue"] and visas["private"] and visas["reason"] == PRIVATE_REASON
    assert visas["link"] is None and "Ask about visas" not in str(listed.json)
    assert portfolio["reason"] == "Action item: Send my portfolio" and not portfolio["private"]
    assert first["next_due"]["id"] == thanks["id"] == f"thank_you:{interview}"
    assert first["last_activity"]["kind"] == "note_recorded" and first["last_activity"]["summary"] == "Recorded a note"
    assert (second["student_id"], second["open"], second["overdue"], second["items"], second["next_due"]) == (
        "student-2", 0, 0, [], None)
    assert second["last_activity"]["summary"] == "Added John Roe (Acme Corp)"
    # pages of students, and fewer items per student
    page = services.get("followups", "/advisors/advisor-1/students?limit=1&items=1", advisor).json
    assert [s["student_id"] for s in page["items"]] == ["student-1"] and len(page["items"][0]["items"]) == 1
    rest = services.get("followups", f"/advisors/advisor-1/students?limit=1&cursor={page['next_cursor']}", advisor).json
    assert [s["student_id"] for s in rest["items"]] == ["student-2"] and rest["next_cursor"] is None
    assert services.get("followups", "/advisors/advisor-1/students", admin).json["items"] == listed.json["items"]

    # the assigned advisor reads the student's queue and timelines, with the same privacy
    queue = services.get("followups", "/followups?student_id=student-1", advisor)
    assert queue.status_code == 200 and queue.json["items"] == first["items"]
    assert (
        services.get("followups", "/timeline?student_id=student-1", advisor).json["items"][0]["kind"] == "note_recorded"
    )
    assert services.get("followups", f"/contacts/{jane}/timeline", advisor).status_code == 200
    # the student sees their own text (and that it is private)
    [own] = [i for i in services.queue(student) if i["id"] == visas["id"]]
    assert own["reason"] == "Action item: Ask about visas" and own["private"] is True

    # everyone else: another advisor's list and an unassigned student do not exist; roles are 403
    assert services.get("followups", "/advisors/advisor-1/students", other_advisor).status_code == 404
    assert services.get("followups", "/followups?student_id=student-1", other_advisor).status_code == 404
    assert services.get("followups", f"/contacts/{jane}/timeline", other_advisor).status_code == 404
    assert services.get("followups", "/advisors/advisor-1/students", student).status_code == 403
    assert services.get("followups", "/followups", advisor).status_code == 422  # which student?
    assert services.post("followups", f"/followups/{thanks['id']}/snooze", advisor,
                         {"until": "2026-03-04T00:00:00Z"}).status_code == 403

    # sharing the note shows its action item's text; unassigning takes the student away
    assert services.post("notes", f"/notes/{private.json['id']}/visibility", student,
                         {"visibility": "shared"}).status_code == 200
    unassigned = services.notes.client.delete(
        "/advisors/advisor-1/students/student-2", headers={"Authorization": admin}
    )
    assert unassigned.status_code == 200, unassigned.json
    services.sync()
    fresh = f"min_version={unassigned.json['id']}:{unassigned.json['version']}"
    after: list[dict[str, Any]] = services.get("followups", f"/advisors/advisor-1/students?{fresh}", advisor).json[
        "items"
    ]
    assert [s["student_id"] for s in after] == ["student-1"]
    assert after[0]["items"][0]["reason"] == "Action item: Ask about visas" and not after[0]["items"][0]["private"]
    assert services.get("followups", "/followups?student_id=student-2", advisor).status_code == 404
