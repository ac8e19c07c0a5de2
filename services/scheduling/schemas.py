"""Shapes of the scheduling API's requests (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.scheduling.domain import STARTER_QUESTIONS, TimeError, to_utc
from shared.contracts.scheduling import FORMATS, QUESTION_CATEGORIES
from shared.web.validators import check_time_zone


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
    state = fields.String(
        validate=validate.OneOf(("requested", "proposed", "scheduled", "completed", "missed", "cancelled"))
    )
    when = fields.String(validate=validate.OneOf(("upcoming", "past")))
    start_from = fields.AwareDateTime(data_key="from")
    start_to = fields.AwareDateTime(data_key="to")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$"))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})
    min_version = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9\-]{1,128}:\d{1,9}$"))




class FeedQuery(Schema):
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})
