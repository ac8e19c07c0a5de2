"""The notes use cases: load → act → save, with ownership, advisor access and references.

Who may do what with a note:
- a student: everything, on their own notes;
- an admin: everything, on any student's notes (naming `student_id` when recording one), and the
  assignment of advisors to students;
- an advisor: reading only, and only a *shared* note of a student assigned to them. Each such read
  is appended to the student's access log *before* the note is returned: no log entry, no content.
Anything else about a note answers 404, so its existence does not leak; an endpoint a role can never
use answers 403 (declared on the endpoint).

An advisor's access is checked on the write side, against the student's `advising` stream in this
service's own event store, not against a read model: unassigning an advisor must take effect at
once, not when a projection catches up. Other services learn assignments from that stream's topic.

A note names an interview and/or a contact. Both are checked against what the scheduling and
contacts streams told the notes projection (services never call each other), waiting briefly for
one the student created a moment ago, as the scheduling service does for contacts.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError

from services.notes import search
from services.notes.domain import Advising, Note, NoteAccessLog
from shared.auth import Principal
from shared.contracts.notes import ADVISING, NOTE_ACCESS_LOGS, NOTES
from shared.errors import ConcurrencyConflict, NotFound, TransientError
from shared.events import Metadata
from shared.eventstore import EventStore
from shared.readstore import Collection
from shared.repository import Accepted, Repository

_ATTEMPTS = 5
_WRITTEN = ("NoteRecorded", "NoteRevised")


@dataclass(frozen=True)
class LoadedNote:
    """A note and when each revision was written, and by whom (from its events' envelopes)."""

    note: Note
    written: dict[int, dict[str, str]]

    @property
    def recorded_at(self) -> str | None:
        return self.written.get(1, {}).get("written_at")

    @property
    def revised_at(self) -> str | None:
        return self.written.get(self.note.revision, {}).get("written_at")


def _owns(note: Note, principal: Principal) -> bool:
    return principal.has("admin") or (principal.has("student") and note.owner_id == principal.subject)


class NotesService:
    def __init__(self, store: EventStore, contacts: Collection, interviews: Collection, *,
                 reference_wait_seconds: float = 3.0, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.store = store
        self.notes: Repository[Note] = Repository(store, NOTES, Note)
        self.advising: Repository[Advising] = Repository(store, ADVISING, Advising)
        self.access_logs: Repository[NoteAccessLog] = Repository(store, NOTE_ACCESS_LOGS, NoteAccessLog)
        self.contacts, self.interviews = contacts, interviews
        self.reference_wait_seconds = reference_wait_seconds
        self.new_id = new_id

    # -- reading ----------------------------------------------------------------------------
    def get(self, note_id: str, principal: Principal) -> Note:
        """The note, for its owner or an admin (every command starts here); a deleted one is gone."""
        note = self.notes.load(note_id)
        if not note.exists or note.deleted or not _owns(note, principal):
            raise NotFound(f"note {note_id} not found")
        return note

    def read(self, note_id: str, principal: Principal, meta: Metadata) -> LoadedNote:
        """GET of one note: its owner or an admin; an assigned advisor for a shared note, logged first."""
        loaded = self._load(note_id)
        note = loaded.note
        if note.exists and not note.deleted:
            if _owns(note, principal):
                return loaded
            if (principal.has("advisor") and note.visibility == "shared"
                    and self.advises(principal.subject, note.owner_id or "")):
                self._log_access(note, principal.subject, meta)
                return loaded
        raise NotFound(f"note {note_id} not found")

    def revisions(self, note_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Every revision's content, oldest first, with when and by whom it was written."""
        loaded = self._load(note_id)
        if not loaded.note.exists or loaded.note.deleted or not _owns(loaded.note, principal):
            raise NotFound(f"note {note_id} not found")
        return [{**revision, **loaded.written.get(revision["revision"], {})} for revision in loaded.note.revisions]

    def _load(self, note_id: str) -> LoadedNote:
        envelopes = self.store.load(note_id)
        if envelopes and envelopes[0].get("streamtype") != Note.stream_type:
            envelopes = []  # an id of another kind of stream: no such note
        history = [NOTES.read(envelope) for envelope in envelopes]
        written = {event.data["revision"]: {"written_at": envelope["time"], "written_by": envelope.get("actor", "")}
                   for envelope, event in zip(envelopes, history, strict=True) if event.name in _WRITTEN}
        return LoadedNote(Note.from_history(note_id, history), written)

    # -- advisors -----------------------------------------------------------------------------
    def advising_of(self, student_id: str) -> Advising:
        return self.advising.load(Advising.stream_for(student_id))

    def advises(self, advisor_id: str, student_id: str) -> bool:
        return advisor_id in self.advising_of(student_id).advisors

    def require_advisee(self, principal: Principal, student_id: str) -> None:
        """An advisor reaches only students assigned to them (404 otherwise); admins reach all."""
        if not principal.has("admin") and not self.advises(principal.subject, student_id):
            raise NotFound(f"no student {student_id} among your advisees")

    def assign(self, advisor_id: str, student_id: str, meta: Metadata) -> Accepted:
        return self._advising(student_id, meta, lambda a: a.assign(student_id, advisor_id))

    def unassign(self, advisor_id: str, student_id: str, meta: Metadata) -> Accepted:
        return self._advising(student_id, meta, lambda a: a.unassign(student_id, advisor_id))

    def _advising(self, student_id: str, meta: Metadata, act: Callable[[Advising], None]) -> Accepted:
        for attempt in range(_ATTEMPTS):
            advising = self.advising_of(student_id)
            act(advising)
            try:
                commit = self.advising.save(advising, meta)
            except ConcurrencyConflict:  # another admin changed this student's advisors first: decide again
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return Accepted(advising.id, commit.last_version if commit else advising.version)
        raise AssertionError("unreachable")

    def _log_access(self, note: Note, advisor_id: str, meta: Metadata) -> None:
        student_id = note.owner_id or ""
        stream = NoteAccessLog.stream_for(student_id)
        for attempt in range(_ATTEMPTS):
            log = NoteAccessLog.at_version(student_id, self.store.stream_version(stream))
            log.note_read(note.id, advisor_id)
            try:
                self.access_logs.save(log, meta)
                return
            except ConcurrencyConflict:  # another read was logged at the same moment: append after it
                if attempt == _ATTEMPTS - 1:
                    raise

    # -- references ---------------------------------------------------------------------------
    def _reference(self, collection: Collection, doc_id: str, student_id: str) -> dict[str, Any] | None:
        """The student's contact or interview as its stream told us; waits briefly for a new one."""
        deadline = time.monotonic() + self.reference_wait_seconds
        while True:
            doc = collection.get(doc_id)
            if doc is not None and doc.get("student_id") == student_id:
                return doc
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def _references(self, student_id: str, body: dict[str, Any]) -> tuple[str | None, str | None, dict | None]:
        """(interview_id, contact_id, interview): a note about an interview is about its contact."""
        interview_id, contact_id = body.get("interview_id"), body.get("contact_id")
        if interview_id:
            interview = self._reference(self.interviews, interview_id, student_id)
            if interview is None:
                raise ValidationError({"interview_id": ["not one of your interviews"]})
            if contact_id and contact_id != interview.get("contact_id"):
                raise ValidationError({"contact_id": ["not the contact of this interview"]})
            return interview_id, interview.get("contact_id"), interview
        contact = self._reference(self.contacts, contact_id or "", student_id)
        if contact is None:
            raise ValidationError({"contact_id": ["not one of your contacts"]})
        if contact.get("merged_into"):
            raise ValidationError({"contact_id": [f"this contact was merged into {contact['merged_into']}"]})
        return None, contact_id, None

    @staticmethod
    def _content(body: dict[str, Any], interview: dict[str, Any] | None, zone: str | None) -> dict[str, Any]:
        """The body's content with dates as text, objectives as the interview wrote them, and the
        rules on the body that need the interview (422s naming the field)."""
        items = [{**item, "due_on": item["due_on"].isoformat() if item.get("due_on") else None}
                 for item in body.get("action_items", [])]
        if zone is None and any(item["due_on"] for item in items):
            raise ValidationError({"time_zone": ["action items with a due date need your time_zone "
                                                 "(a note about an interview uses the interview's)"]})
        covered = body.get("objectives_covered", [])
        if covered and interview is None:
            raise ValidationError({"objectives_covered": ["only a note about an interview covers its objectives"]})
        known = {search.key(o): o for o in (interview or {}).get("objectives") or []}
        wrong = {i: ["not one of the interview's objectives"]
                 for i, objective in enumerate(covered) if search.key(objective) not in known}
        if wrong:
            raise ValidationError({"objectives_covered": wrong})
        return {"text": body.get("text", ""), "insights": body.get("insights", []), "action_items": items,
                "tags": body.get("tags", []), "objectives_covered": [known[search.key(o)] for o in covered]}

    # -- commands ---------------------------------------------------------------------------
    def record(self, student_id: str, body: dict[str, Any], meta: Metadata) -> Accepted:
        interview_id, contact_id, interview = self._references(student_id, body)
        zone = body.get("time_zone") or (interview or {}).get("student_time_zone")
        note = Note.record_new(self.new_id(), student_id, self._content(body, interview, zone),
                               interview_id=interview_id, contact_id=contact_id,
                               visibility=body.get("visibility", "private"), time_zone=zone, new_item_id=self.new_id)
        commit = self.notes.save(note, meta)
        return Accepted(note.id, commit.last_version if commit else note.version)

    def _execute(self, note_id: str, principal: Principal, expected_version: int | None, meta: Metadata,
                 act: Callable[[Note], None]) -> Accepted:
        return self.notes.update(note_id, meta, act, expected_version=expected_version,
                                 load=lambda nid: self.get(nid, principal))[1]

    def revise(self, note_id: str, body: dict[str, Any], principal: Principal, meta: Metadata,
               expected_version: int | None = None) -> Accepted:
        """A revision replaces the content whole. If-Match is optional: without it the last writer
        wins, and nothing is lost either way, because every earlier revision stays readable."""
        current = self.get(note_id, principal)
        interview = None
        if current.interview_id and body.get("objectives_covered"):
            interview = self._reference(self.interviews, current.interview_id, current.owner_id or "")
            if interview is None:  # known when the note was recorded: the read model is being rebuilt
                raise TransientError("the interview's objectives are not available yet")
        zone = body.get("time_zone", current.time_zone)
        content = self._content(body, interview, zone)
        return self._execute(note_id, principal, expected_version, meta,
                             lambda note: note.revise(content, zone, self.new_id))

    def set_visibility(self, note_id: str, visibility: str, principal: Principal, meta: Metadata,
                       expected_version: int | None = None) -> Accepted:
        return self._execute(note_id, principal, expected_version, meta, lambda note: note.set_visibility(visibility))

    def complete_item(self, note_id: str, item_id: str, principal: Principal, meta: Metadata,
                      expected_version: int | None = None) -> Accepted:
        return self._execute(note_id, principal, expected_version, meta, lambda note: note.complete_item(item_id))

    def reopen_item(self, note_id: str, item_id: str, principal: Principal, meta: Metadata,
                    expected_version: int | None = None) -> Accepted:
        return self._execute(note_id, principal, expected_version, meta, lambda note: note.reopen_item(item_id))

    def delete(self, note_id: str, principal: Principal, meta: Metadata,
               expected_version: int | None = None) -> Accepted:
        return self._execute(note_id, principal, expected_version, meta, lambda note: note.delete())

