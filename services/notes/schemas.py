"""Shapes of the notes API's requests and responses (marshmallow)."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.notes import search
from services.notes.projections import SUMMARY
from shared.contracts import notes as contract
from shared.contracts.notes import INSIGHT_CATEGORIES, VISIBILITIES
from shared.subject_export import part_schema
from shared.web.api import AcceptedSchema, page_of
from shared.web.validators import check_time_zone

_TAG = validate.And(validate.Length(1, 40), validate.Regexp(r"^[\w\- ]+$", error="letters, digits, spaces, - and _"))
_ID = validate.Length(1, 128)
_CURSOR = validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$", error="malformed cursor")
_MIN_VERSION = validate.Regexp(r"^[A-Za-z0-9\-]{1,128}:\d{1,9}$")
_NOT_BLANK = validate.Regexp(r"^\s*\S", error="must not be blank")


class Insight(Schema):
    category = fields.String(required=True, validate=validate.OneOf(INSIGHT_CATEGORIES))
    text = fields.String(required=True, validate=validate.Length(1, 2000))


class NewActionItem(Schema):
    text = fields.String(required=True, validate=validate.Length(1, 500))
    due_on = fields.Date(allow_none=True, metadata={"description": "YYYY-MM-DD, a day in the note's time_zone"})


class ActionItem(NewActionItem):
    item_id = fields.String(validate=validate.Length(1, 64),
                            metadata={"description": "an existing item's id keeps that item (and its completion); "
                                      "omit it for a new item"})


class NoteContent(Schema):
    text = fields.String(load_default="", validate=validate.Length(max=20000))
    insights = fields.List(fields.Nested(Insight), load_default=list, validate=validate.Length(max=50))
    action_items = fields.List(fields.Nested(NewActionItem), load_default=list, validate=validate.Length(max=50))
    tags = fields.List(fields.String(validate=_TAG), load_default=list, validate=validate.Length(max=20))
    objectives_covered = fields.List(fields.String(validate=validate.Length(1, 500)), load_default=list,
                                     validate=validate.Length(max=10),
                                     metadata={"description": "objectives of the note's interview, as written there"})
    time_zone = fields.String(validate=check_time_zone,
                              metadata={"description": "the student's IANA zone, for due dates "
                                        "(default: the zone of the note's interview)"})

    @validates_schema
    def has_content(self, data: dict, **kwargs: object) -> None:
        if not ((data.get("text") or "").strip() or data.get("insights") or data.get("action_items")):
            raise ValidationError("a note needs some text, an insight or an action item", "_schema")


class RecordNote(NoteContent):
    interview_id = fields.String(validate=_ID, metadata={"description": "the interview the note is about"})
    contact_id = fields.String(validate=_ID, metadata={"description": "the contact (default: the interview's)"})
    visibility = fields.String(load_default="private", validate=validate.OneOf(VISIBILITIES),
                               metadata={"description": "shared: the student's advisors may read it"})
    student_id = fields.String(validate=_ID, metadata={"description": "admins only"})

    @validates_schema
    def about_something(self, data: dict, **kwargs: object) -> None:
        if not (data.get("interview_id") or data.get("contact_id")):
            raise ValidationError("a note is about an interview_id, a contact_id or both", "_schema")


class ReviseNote(NoteContent):
    """The whole new content (a revision replaces it); `time_zone` stays as it was when absent."""

    action_items = fields.List(fields.Nested(ActionItem), load_default=list, validate=validate.Length(max=50))

    @validates("action_items")
    def distinct_items(self, value: list, **kwargs: object) -> None:
        ids = [item["item_id"] for item in value if "item_id" in item]
        if len(ids) != len(set(ids)):
            raise ValidationError("an item_id may appear only once")


class Visibility(Schema):
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))


Accepted = AcceptedSchema  # a command's answer, as in every service


class Filters(Schema):
    tag = fields.String(validate=[validate.Length(1, 40), _NOT_BLANK])
    category = fields.String(validate=validate.OneOf(INSIGHT_CATEGORIES),
                             metadata={"description": "notes with an insight of this category"})
    contact_id = fields.String(validate=_ID)
    interview_id = fields.String(validate=_ID)
    organisation = fields.String(validate=[validate.Length(1, 200), _NOT_BLANK],
                                 metadata={"description": "the contact's, in any case, with or without accents"})
    industry = fields.String(validate=[validate.Length(1, 100), _NOT_BLANK],
                             metadata={"description": "the contact's, in any case, with or without accents"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)


class NotesQuery(Filters):
    q = fields.String(validate=validate.Length(1, 200),
                      metadata={"description": "words (or their beginnings) that must all occur in the note"})
    visibility = fields.String(validate=validate.OneOf(VISIBILITIES))
    open_actions = fields.Boolean(metadata={"description": "true: only notes with open action items"})
    student_id = fields.String(validate=_ID, metadata={"description": "admins only"})
    min_version = fields.String(validate=_MIN_VERSION,
                                metadata={"description": "`<note id>:<version>` from a command response: "
                                          "wait until the search shows at least that version"})

    @validates("q")
    def searchable(self, value: str, **kwargs: object) -> None:
        terms = search.query_terms(value)
        if not terms:
            raise ValidationError("give at least one word of two or more letters (common words such as "
                                  "'the' are not searched)")
        if len(terms) > search.MAX_QUERY_WORDS:
            raise ValidationError(f"at most {search.MAX_QUERY_WORDS} words")


class StudentNotesQuery(Filters):
    """An advisor's view of a student's shared notes. No word search: it would reveal the content
    of notes whose reading is not recorded."""


class AccessLogQuery(Schema):
    note_id = fields.String(validate=_ID)
    advisor_id = fields.String(validate=_ID)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    student_id = fields.String(validate=_ID, metadata={"description": "admins only"})


class StudentsQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    min_version = fields.String(validate=_MIN_VERSION,
                                metadata={"description": "`<id>:<version>` from an assignment's response"})


# -- responses (for the OpenAPI document; a test validates real answers against it) ----------------
class ActionItemView(contract.ActionItem):
    due_on = fields.String(allow_none=True, required=True, metadata={"description": "YYYY-MM-DD"})


class InsightView(contract.Insight):
    """An insight as its event recorded it (own name: `Insight` is the request)."""


class ContentView(contract.NoteContent):
    """A note's content as of one revision, as its event recorded it."""

    time_zone = fields.String(allow_none=True, required=True)
    insights = fields.List(fields.Nested(InsightView), required=True)
    action_items = fields.List(fields.Nested(ActionItemView), required=True)


class _NoteAnswer(ContentView):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    student_id = fields.String(required=True)
    interview_id = fields.String(allow_none=True, required=True)
    contact_id = fields.String(allow_none=True, required=True)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))


class NoteView(_NoteAnswer):
    """`GET /notes/{id}`: exactly the keys `api.note_view` returns."""

    recorded_at = fields.String(allow_none=True, required=True)
    revised_at = fields.String(allow_none=True, required=True)


class RevisionView(ContentView):
    written_at = fields.String(required=True)
    written_by = fields.String(required=True, metadata={"description": "the subject of who wrote it"})


class Revisions(Schema):
    items = fields.List(fields.Nested(RevisionView), required=True, metadata={"description": "oldest first"})


class _ContactDetails(Schema):
    """The note's contact as the notes read side last heard of it (null when unknown)."""

    contact_name = fields.String(allow_none=True, required=True)
    organisation = fields.String(allow_none=True, required=True)
    industry = fields.String(allow_none=True, required=True)


class NoteEntry(_NoteAnswer, _ContactDetails):
    """One note in the owner's search, as `projections.present` shows a search document."""

    categories = fields.List(fields.String(validate=validate.OneOf(INSIGHT_CATEGORIES)), required=True)
    open_actions = fields.Integer(required=True)
    recorded_at = fields.String(required=True)
    revised_at = fields.String(required=True)


NotesPage = page_of(NoteEntry, "NotesPage")


class SharedNoteEntry(NoteEntry):
    """One shared note in an advisor's list, as `projections.summary` shows it: no content."""

    class Meta:
        fields = ("id", "version", *SUMMARY)


SharedNotesPage = page_of(SharedNoteEntry, "SharedNotesPage")


class AccessEntry(Schema):
    note_id = fields.String(required=True)
    advisor_id = fields.String(required=True)
    at = fields.String(required=True)


AccessLogPage = page_of(AccessEntry, "AccessLogPage")


class AdviseeEntry(Schema):
    student_id = fields.String(required=True)


AdviseesPage = page_of(AdviseeEntry, "AdviseesPage")


class Advisors(Schema):
    student_id = fields.String(required=True)
    advisors = fields.List(fields.String(), required=True)


class Assignment(Schema):
    id = fields.String(required=True, metadata={"description": "the student's advising stream (for min_version)"})
    version = fields.Integer(required=True)
    advisor_id = fields.String(required=True)
    student_id = fields.String(required=True)
    assigned = fields.Boolean(required=True)


def check_path_id(name: str, value: str) -> None:
    """Ids in paths have the same limits as ids in bodies."""
    if not 1 <= len(value) <= 128 or re.search(r"[\x00-\x1f]", value):
        raise ValidationError({name: ["1 to 128 printable characters"]})


class ExportedNote(NoteEntry):
    revisions = fields.List(fields.Nested(RevisionView), required=True, metadata={"description": "oldest first"})


class ExportData(Schema):
    notes = fields.List(fields.Nested(ExportedNote), required=True, metadata={"description": "deleted notes are gone"})
    access_log = fields.List(fields.Nested(AccessEntry), required=True, metadata={
        "description": "every read of your shared notes by an advisor, oldest first"})
    advisors = fields.List(fields.String(), required=True, metadata={"description": "who may read your shared notes"})


ExportPart = part_schema(ExportData, "NotesExportPart")
