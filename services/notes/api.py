"""HTTP endpoints of the notes service: thin views over `application` and the read side."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, url_for

from services.notes import schemas, subject_export
from services.notes.application import LoadedNote, NotesService
from services.notes.projections import present, query_notes, summary
from shared.auth import Principal, acting_for
from shared.config import Settings
from shared.errors import NotFound
from shared.events import utcnow
from shared.readstore import Collection, iterate
from shared.repository import Accepted
from shared.subject_export import EXPORT_PATH, EXPORT_SUMMARY
from shared.web import Api, command_metadata, if_match_version, json_response, wait_for_version

api = Api("notes", __name__)
OWNERS = ("student", "admin")
READERS = ("student", "admin", "advisor")
ADVISORS = ("advisor", "admin")


@dataclass
class NotesContext:
    service: NotesService
    search: Collection
    access_log: Collection
    assignments: Collection
    settings: Settings


def _ctx() -> NotesContext:
    return current_app.extensions["notes"]


def note_location(note_id: str) -> str:
    return url_for("notes.get_note", note_id=note_id)



def note_view(loaded: LoadedNote) -> dict[str, Any]:
    note = loaded.note
    return {"id": note.id, "version": note.version, "student_id": note.owner_id, "interview_id": note.interview_id,
            "contact_id": note.contact_id, "visibility": note.visibility, "time_zone": note.time_zone,
            "revision": note.revision, **note.content, "recorded_at": loaded.recorded_at,
            "revised_at": loaded.revised_at}


def _page(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    return json_response({"items": items, "next_cursor": next_cursor})


# -- notes: commands ----------------------------------------------------------------------------
@api.route("/notes", "POST", summary="Record a note about an interview or a contact", body=schemas.RecordNote,
           response=schemas.Accepted, status=201, errors=(409,), location=note_location)
def record_note(principal: Principal, body: dict[str, Any]) -> Accepted:
    student_id = acting_for(principal, body.pop("student_id", None))
    return _ctx().service.record(student_id, body, command_metadata(principal))


@api.route("/notes/<note_id>", "PUT", summary="Revise a note: the whole new content (earlier revisions stay)",
           body=schemas.ReviseNote, response=schemas.Accepted, errors=(404, 409, 412, 503))
def revise_note(principal: Principal, note_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.revise(note_id, body, principal, command_metadata(principal), if_match_version())


@api.route("/notes/<note_id>/visibility", "POST", summary="Share a note with your advisors, or make it private",
           body=schemas.Visibility, response=schemas.Accepted, errors=(404, 409, 412))
def set_visibility(principal: Principal, note_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.set_visibility(note_id, body["visibility"], principal, command_metadata(principal),
                                         if_match_version())


@api.route("/notes/<note_id>", "DELETE", summary="Delete a note: its content leaves every list and search",
           response=schemas.Accepted, errors=(404, 409, 412))
def delete_note(principal: Principal, note_id: str) -> Accepted:
    return _ctx().service.delete(note_id, principal, command_metadata(principal), if_match_version())


@api.route("/notes/<note_id>/action-items/<item_id>/complete", "POST", summary="Mark an action item done",
           response=schemas.Accepted, errors=(404, 409, 412))
def complete_item(principal: Principal, note_id: str, item_id: str) -> Accepted:
    return _ctx().service.complete_item(note_id, item_id, principal, command_metadata(principal), if_match_version())


@api.route("/notes/<note_id>/action-items/<item_id>/reopen", "POST", summary="Open a completed action item again",
           response=schemas.Accepted, errors=(404, 409, 412))
def reopen_item(principal: Principal, note_id: str, item_id: str) -> Accepted:
    return _ctx().service.reopen_item(note_id, item_id, principal, command_metadata(principal), if_match_version())


# -- notes: reads -------------------------------------------------------------------------------
@api.route("/notes/<note_id>", "GET", summary="A note as of its newest revision (an advisor's read is logged)",
           roles=READERS, response=schemas.NoteView, errors=(404,))
def get_note(principal: Principal, note_id: str) -> Response:
    loaded = _ctx().service.read(note_id, principal, command_metadata(principal))
    return json_response(note_view(loaded), version=loaded.note.version)


@api.route("/notes/<note_id>/revisions", "GET", summary="Every revision of a note, oldest first", roles=OWNERS,
           response=schemas.Revisions, errors=(404,))
def list_revisions(principal: Principal, note_id: str) -> Response:
    return json_response({"items": _ctx().service.revisions(note_id, principal)})


@api.route("/notes", "GET", summary="Search your notes: words, tag, category, contact, organisation, industry",
           roles=OWNERS, query=schemas.NotesQuery, response=schemas.NotesPage, errors=(503,))
def search_notes(principal: Principal, query: dict[str, Any]) -> Response:
    ctx = _ctx()
    student_id = acting_for(principal, query.get("student_id"))
    if "min_version" in query:
        wait_for_version(ctx.search, query["min_version"])
    page = query_notes(ctx.search, student_id, query)
    return _page([present(doc) for doc in page.items], page.next_cursor)


@api.route("/notes/access-log", "GET", summary="Who read your shared notes, and when (newest first)", roles=OWNERS,
           query=schemas.AccessLogQuery, response=schemas.AccessLogPage)
def list_access_log(principal: Principal, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id"))
    filter: dict[str, Any] = {"student_id": student_id,
                              **{k: query[k] for k in ("note_id", "advisor_id") if k in query}}
    page = _ctx().access_log.find(filter, [("at", -1)], query["limit"], query.get("cursor"))
    return _page([_access(d) for d in page.items], page.next_cursor)


@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    student_id = principal.subject
    notes = [present(doc) for doc in iterate(ctx.search, {"student_id": student_id, "status": "active"},
                                             [("recorded_at", 1)])]
    log = [_access(d) for d in iterate(ctx.access_log, {"student_id": student_id}, [("at", 1)])]
    with_revisions = [(note, revisions) for note in notes
                      if (revisions := _revisions_if_kept(note["id"], principal)) is not None]
    return json_response(subject_export.part(student_id, utcnow(), with_revisions, log,
                                             ctx.service.advising_of(student_id).advisors))


def _revisions_if_kept(note_id: str, principal: Principal) -> list[dict[str, Any]] | None:
    """A note's revisions; None when it was deleted after the search read model last heard of it."""
    try:
        return _ctx().service.revisions(note_id, principal)
    except NotFound:
        return None


def _access(doc: dict[str, Any]) -> dict[str, Any]:
    return {"note_id": doc["note_id"], "advisor_id": doc["advisor_id"], "at": doc["at"]}


# -- advisors -------------------------------------------------------------------------------------
@api.route("/advisors/<advisor_id>/students/<student_id>", "POST", summary="Assign an advisor to a student",
           roles=("admin",), response=schemas.Assignment, errors=(409, 422))
def assign_advisor(principal: Principal, advisor_id: str, student_id: str) -> Response:
    return _assignment(_ctx().service.assign(_path_id("advisor_id", advisor_id), _path_id("student_id", student_id),
                                             command_metadata(principal)), advisor_id, student_id, True)


@api.route("/advisors/<advisor_id>/students/<student_id>", "DELETE", summary="Unassign an advisor from a student",
           roles=("admin",), response=schemas.Assignment, errors=(422,))
def unassign_advisor(principal: Principal, advisor_id: str, student_id: str) -> Response:
    return _assignment(_ctx().service.unassign(_path_id("advisor_id", advisor_id), _path_id("student_id", student_id),
                                               command_metadata(principal)), advisor_id, student_id, False)


@api.route("/advisors/<advisor_id>/students", "GET", summary="The students an advisor advises", roles=ADVISORS,
           query=schemas.StudentsQuery, response=schemas.AdviseesPage, errors=(404, 503))
def list_advisees(principal: Principal, advisor_id: str, query: dict[str, Any]) -> Response:
    if not principal.has("admin") and advisor_id != principal.subject:
        raise NotFound(f"advisor {advisor_id} not found")
    ctx = _ctx()
    if "min_version" in query:
        wait_for_version(ctx.assignments, query["min_version"])
    page = ctx.assignments.find({"advisors": advisor_id}, [("student_id", 1)], query["limit"], query.get("cursor"))
    return _page([{"student_id": d["student_id"]} for d in page.items], page.next_cursor)


@api.route("/students/<student_id>/advisors", "GET", summary="A student's advisors: who may read their shared notes",
           roles=OWNERS, response=schemas.Advisors)
def list_advisors(principal: Principal, student_id: str) -> Response:
    advising = _ctx().service.advising_of(acting_for(principal, student_id))
    return json_response({"student_id": student_id, "advisors": advising.advisors}, version=advising.version)


@api.route("/students/<student_id>/notes", "GET", summary="An advisee's shared notes (no content: read each one)",
           roles=ADVISORS, query=schemas.StudentNotesQuery, response=schemas.SharedNotesPage, errors=(404,))
def list_shared_notes(principal: Principal, student_id: str, query: dict[str, Any]) -> Response:
    ctx = _ctx()
    ctx.service.require_advisee(principal, student_id)
    page = query_notes(ctx.search, student_id, {**query, "visibility": "shared"})
    return _page([summary(doc) for doc in page.items], page.next_cursor)


def _assignment(accepted: Accepted, advisor_id: str, student_id: str, assigned: bool) -> Response:
    return json_response({"id": accepted.id, "version": accepted.version, "advisor_id": advisor_id,
                          "student_id": student_id, "assigned": assigned}, version=accepted.version)


def _path_id(name: str, value: str) -> str:
    schemas.check_path_id(name, value)
    return value
