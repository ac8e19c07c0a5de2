"""The advisor pages: their students with open and overdue follow-up counts (the followups API's
advisor view), a student's queue and the notes that student shared (the notes API lists them without
content; opening one is a read the notes API logs, and the student sees it in their access log).

Advisors read and never change. The APIs decide who is whose advisee: a student not assigned to the
signed-in advisor, or a note not shared, is their 404 here too."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from services.web.presentation import INSIGHT_CATEGORIES
from services.web.signin import current_user, signed_in
from services.web.views import call, home_zone

blueprint = Blueprint("advisor", __name__, url_prefix="/advisor")


@blueprint.get("/students")
@signed_in("advisor")
def students() -> str:
    me = current_user().subject
    page = call("followups", "GET", f"/advisors/{me}/students", params={"limit": 50, "items": 0})
    return render_template("advisor_students.html", active="students", students=page["items"], zone=home_zone())


@blueprint.get("/students/<student_id>")
@signed_in("advisor")
def student(student_id: str) -> str:
    # the notes API decides first (its own event store: an assignment counts at once; 404 otherwise)
    shared = call("notes", "GET", f"/students/{student_id}/notes", params={"limit": 100})
    queue = call("followups", "GET", "/followups", params={"student_id": student_id, "state": "open", "limit": 100})
    return render_template("advisor_student.html", active="students", student_id=student_id, notes=shared["items"],
                           followups=queue["items"], categories=INSIGHT_CATEGORIES, zone=home_zone())


@blueprint.get("/students/<student_id>/notes/<note_id>")
@signed_in("advisor")
def note(student_id: str, note_id: str) -> Any:
    found = call("notes", "GET", f"/notes/{note_id}")  # logged by the notes API; 404 unless shared with you
    if found["student_id"] != student_id:  # the page's address names the note's own student, no other
        abort(404)
    return render_template("advisor_note.html", active="students", student_id=student_id, note=found,
                           categories=INSIGHT_CATEGORIES)
