"""Events of the analytics service itself: the students' academic attributes from the roster.

The student information system is the authority on a student's program, college, degree level and
class year; an admin uploads its roster CSV (`POST /analytics/roster`). Two aggregates:

- `roster` (topic careerloop.analytics.roster.v1): one stream per student (`cohort-<student id>`).
  `StudentCohortRecorded` says which attributes the student has *from* a date on; an upload that
  repeats what is in effect records nothing. The funnel read model keeps every record, so each
  step of a student's journey is counted under the attributes they had when they took it.
- `roster_upload` (topic careerloop.analytics.roster_upload.v1): one stream per upload, whose
  `RosterUploaded` holds the per-row report (no student ids: line numbers and reasons only).

The integration topic the analysts' read models are built from, `careerloop.analytics.journey.v1`,
is a published language of its own (CloudEvents with JSON Schemas, written by the translator), not
a domain catalogue; its name is declared here so that the runtime creates it with the others.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

ROSTER = EventCatalog("analytics", "roster")
ROSTER_UPLOADS = EventCatalog("analytics", "roster_upload")

# the pseudonymised journey events (see services/analytics); never auto-created by a producer
JOURNEY_TOPIC = "careerloop.analytics.journey.v1"

ROW_OUTCOMES = ("recorded", "unchanged", "invalid")


@ROSTER.event("StudentCohortRecorded", 1)
class StudentCohortRecordedV1(Schema):
    """The student's academic attributes, as the roster states them, in effect from a date on."""

    student_id = pii(fields.String(required=True, metadata={
        "description": "the university's student id (the `sub` of the student's token)"}), subject=None)
    effective_from = fields.String(required=True, metadata={"description": "YYYY-MM-DD (UTC day)"})
    program = fields.String(required=True, metadata={"description": "program or major, as the roster names it"})
    college = fields.String(required=True, metadata={"description": "college or school"})
    degree_level = fields.String(required=True, metadata={"description": "e.g. undergraduate, masters, doctoral"})
    class_year = fields.String(required=True, metadata={
        "description": "the graduating class (a year), given or derived from the expected graduation term"})
    expected_graduation = fields.String(allow_none=True, metadata={
        "description": "the expected graduation term, e.g. spring-2027, when the roster gives one"})
    upload_id = fields.String(required=True, metadata={"description": "the RosterUploaded that recorded it"})


class RosterRow(Schema):
    line = fields.Integer(required=True, metadata={"description": "line of the CSV file (the header is line 1)"})
    outcome = fields.String(required=True, validate=validate.OneOf(ROW_OUTCOMES))
    reason = fields.String(allow_none=True)


@ROSTER_UPLOADS.event("RosterUploaded", 1)
class RosterUploadedV1(Schema):
    """An admin uploaded a roster; one report row per data row of the file."""

    filename = fields.String(allow_none=True)
    effective_from = fields.String(required=True, metadata={"description": "YYYY-MM-DD the rows are in effect from"})
    rows = fields.List(fields.Nested(RosterRow), required=True)
    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "e.g. the columns that were ignored"})
