"""Shapes of the scheduling API's requests and responses (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.scheduling.domain import STARTER_QUESTIONS, TimeError, to_utc
from shared.contracts import scheduling as contract
from shared.contracts.scheduling import FORMATS, QUESTION_CATEGORIES
from shared.subject_export import part_schema
from shared.web.api import page_of
from shared.web.validators import check_time_zone

STATES = ("requested", "proposed", "scheduled", "completed", "missed", "cancelled")


class Question(Schema):
    text = fields.String(required=True, validate=validate.Length(1, 500))
    category = fields.String(load_default="other", validate=validate.OneOf(QUESTION_CATEGORIES))


class LocalTime(Schema):
    """A start as wall-clock time in an IANA zone (an offset, if given, must agree with the zone)."""

    start = fields.NaiveDateTime(required=True, metadata={"description": "local time, e.g. 2026-03-09T10:00:00"})
    time_zone = fields.String(required=True, validate=check_time_zone)

    @validates_schema
    def exists_in_zone(self, data: dict, **kwargs: object) -> None:
        if "start" in data and "time_zone" in data:
            try:
                to_utc(data["start"], data["time_zone"])
            except TimeError as exc:
                raise ValidationError(str(exc), "start") from exc


class RequestInterview(Schema):
    contact_id = fields.String(required=True, validate=validate.Length(1, 128))
    objectives = fields.List(
        fields.String(validate=validate.Length(1, 500)),
        required=True,
        validate=validate.Length(1, 10),
        metadata={"description": "what the student wants to learn"},
    )
    questions = fields.List(fields.Nested(Question), load_default=list, validate=validate.Length(max=30))
    starter_questions = fields.List(
        fields.String(validate=validate.OneOf(tuple(STARTER_QUESTIONS))),
        load_default=list,
        metadata={"description": "categories of starter questions to add"},
    )
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    link = fields.Url(allow_none=True, validate=validate.Length(max=1000))
    place = fields.String(allow_none=True, validate=validate.Length(max=300))
    duration_minutes = fields.Integer(load_default=30, strict=True, validate=validate.Range(5, 240))
    time_zone = fields.String(required=True, validate=check_time_zone, metadata={"description": "the student's zone"})
    contact_time_zone = fields.String(allow_none=True, validate=check_time_zone)
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})

    @validates_schema
    def where_to_meet(self, data: dict, **kwargs: object) -> None:
        if data.get("format") == "in_person" and not data.get("place"):
            raise ValidationError("an in-person interview needs a place", "place")


class ProposeTimes(Schema):
    slots = fields.List(fields.Nested(LocalTime), required=True, validate=validate.Length(1, 10))


class ScheduleInterview(Schema):
    slot_id = fields.String(validate=validate.Length(1, 64), metadata={"description": "a proposed slot"})
    start = fields.NaiveDateTime()
    time_zone = fields.String(validate=check_time_zone)

    @validates_schema
    def one_way(self, data: dict, **kwargs: object) -> None:
        if ("slot_id" in data) == ("start" in data):
            raise ValidationError("give either slot_id or start with time_zone", "_schema")
        if "start" in data:
            if "time_zone" not in data:
                raise ValidationError("a start needs its time_zone", "time_zone")
            try:
                to_utc(data["start"], data["time_zone"])
            except TimeError as exc:
                raise ValidationError(str(exc), "start") from exc


class Cancel(Schema):
    by = fields.String(load_default="student", validate=validate.OneOf(("student", "contact")))
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))


class Missed(Schema):
    who = fields.String(required=True, validate=validate.OneOf(("student", "contact")),
                        metadata={"description": "who did not show up"})


class InterviewsQuery(Schema):
    state = fields.String(validate=validate.OneOf(STATES))
    when = fields.String(validate=validate.OneOf(("upcoming", "past")))
    start_from = fields.AwareDateTime(data_key="from")
    start_to = fields.AwareDateTime(data_key="to")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$"))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})
    min_version = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9\-]{1,128}:\d{1,9}$"))


class FeedQuery(Schema):
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})


class QuestionView(contract.Question):
    """A question as the API shows it: as its event recorded it (own name: `Question` is the request)."""


class PreviousTime(Schema):
    start = fields.String(required=True, metadata={"description": "UTC, RFC 3339"})
    end = fields.String(required=True, metadata={"description": "UTC, RFC 3339"})


class _InterviewAnswer(contract.InterviewRequestedV2):
    """What both the interview view and the list show: the request as its event recorded it, and the agreed time."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    questions = fields.List(fields.Nested(QuestionView), required=True)
    link = fields.String(allow_none=True, required=True)
    place = fields.String(allow_none=True, required=True)
    slots = fields.List(fields.Nested(contract.Slot), required=True, metadata={"description": "proposed times"})
    start = fields.String(allow_none=True, required=True, metadata={"description": "UTC, RFC 3339; null until agreed"})
    end = fields.String(allow_none=True, required=True, metadata={"description": "UTC, RFC 3339"})
    time_zone = fields.String(allow_none=True, required=True, metadata={"description": "zone the time was agreed in"})
    previous_times = fields.List(fields.Nested(PreviousTime), required=True)
    sequence = fields.Integer(required=True, metadata={"description": "iCalendar SEQUENCE; -1 before any invite"})


class LocalTimes(Schema):
    student = fields.String(required=True, metadata={"description": "the start in the student's zone"})
    contact = fields.String(required=True, metadata={"description": "the start in the contact's zone"})


class InterviewView(_InterviewAnswer):
    """`GET /interviews/{id}`: the aggregate as `api.interview_view` shows it, its outcome spread in."""

    cancelled_by = fields.String(validate=validate.OneOf(("student", "contact")), metadata={"description": "cancelled"})
    reason = fields.String(allow_none=True, metadata={"description": "cancelled: why"})
    no_show = fields.String(validate=validate.OneOf(("student", "contact")), metadata={"description": "missed"})
    local = fields.Nested(LocalTimes, metadata={"description": "once a time is agreed"})


class Outcome(Schema):
    cancelled_by = fields.String(validate=validate.OneOf(("student", "contact")))
    reason = fields.String(allow_none=True)
    no_show = fields.String(validate=validate.OneOf(("student", "contact")))
    completed_at = fields.String()


class InterviewEntry(_InterviewAnswer):
    """One interview in `GET /interviews`, as the `interviews` read model holds it."""

    contact_name = fields.String(allow_none=True, required=True)
    contact_email = fields.String(allow_none=True, required=True)
    student_email = fields.String(allow_none=True, required=True)
    student_name = fields.String(allow_none=True, required=True)
    outcome = fields.Nested(Outcome, required=True, metadata={"description": "empty while the interview is open"})
    requested_at = fields.String(required=True)
    updated_at = fields.String(required=True)


InterviewPage = page_of(InterviewEntry, "InterviewPage")


class StarterCategory(Schema):
    category = fields.String(required=True, validate=validate.OneOf(tuple(STARTER_QUESTIONS)),
                             metadata={"description": "a value of `starter_questions` in a request"})
    questions = fields.List(fields.String(), required=True, metadata={"description": "what the category adds"})


class StarterQuestions(Schema):
    categories = fields.List(fields.Nested(StarterCategory), required=True)


class FeedUrls(Schema):
    url = fields.String(required=True, metadata={"description": "the secret feed URL (the token is the credential)"})
    webcal = fields.String(required=True, metadata={"description": "the same URL for calendar apps"})
    generation = fields.Integer(required=True, metadata={"description": "rotations so far"})


class FeedGeneration(Schema):
    generation = fields.Integer(required=True, metadata={"description": "rotations of your feed's secret URL so far"})


class ExportData(Schema):
    interviews = fields.List(fields.Nested(InterviewEntry), required=True, metadata={"description": "earliest first"})
    calendar_feed = fields.Nested(FeedGeneration, required=True)


ExportPart = part_schema(ExportData, "SchedulingExportPart")
