"""Shapes of the analytics API's requests and responses (marshmallow)."""
from __future__ import annotations

import re

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates, validates_schema

from services.analytics.domain import CANCELLED_BY, DIMENSIONS, MISSED_BY, STEPS, STUDENT_DIMENSIONS
from shared.contracts.analytics import ROW_OUTCOMES
from shared.subject_export import part_schema

_TERM = validate.Regexp(r"^(?:[a-z][a-z0-9_]{0,30}-\d{4}|\d{4}-\d{2})$",
                        error="a term (e.g. fall-2026) or an academic year (e.g. 2026-27)")


def _dimensions(value: str, allowed: tuple[str, ...], most: int) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in allowed]
    if unknown:
        raise ValidationError(f"unknown dimensions: {', '.join(unknown)[:200]} (known: {', '.join(allowed)})")
    if not chosen or len(chosen) > most or len(set(chosen)) != len(chosen):
        raise ValidationError(f"one to {most} different dimensions, comma-separated")
    return chosen


class Window(Schema):
    term = fields.String(validate=_TERM, metadata={
        "description": "only steps in this term (`fall-2026`) or academic year (`2026-27`)"})
    from_ = fields.Date(data_key="from", metadata={"description": "only steps on or after this day (YYYY-MM-DD, UTC)"})
    to = fields.Date(metadata={"description": "only steps before this day (YYYY-MM-DD, UTC)"})

    @validates_schema
    def ordered(self, data: dict, **kwargs: object) -> None:
        if data.get("from_") and data.get("to") and data["from_"] >= data["to"]:
            raise ValidationError("must be after `from`", "to")


class FunnelQuery(Window):
    by = fields.String(metadata={"description": "one or two dimensions, comma-separated: " + ", ".join(DIMENSIONS)})

    @validates("by")
    def known(self, value: str, **kwargs: object) -> None:
        _dimensions(value, DIMENSIONS, 2)


class EngagementQuery(Window):
    by = fields.String(validate=validate.OneOf(STUDENT_DIMENSIONS), metadata={
        "description": "one student dimension: " + ", ".join(STUDENT_DIMENSIONS)})


def dimensions_of(query: dict, allowed: tuple[str, ...] = DIMENSIONS, most: int = 2) -> list[str]:
    return _dimensions(query["by"], allowed, most) if query.get("by") else []


class RosterQuery(Schema):
    effective_from = fields.Date(metadata={
        "description": "the day (YYYY-MM-DD) the roster's attributes are in effect from; default: today (UTC)"})
    filename = fields.String(validate=validate.Length(1, 200))


def check_filename(value: str | None) -> str | None:
    if value is not None and re.search(r"[\x00-\x1f]", value):
        raise ValidationError({"filename": ["control characters"]})
    return value


# -- responses (for the OpenAPI document) -----------------------------------------------------
class RosterRowView(Schema):
    line = fields.Integer(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(ROW_OUTCOMES))
    reason = fields.String(allow_none=True)


class RosterCounts(Schema):
    recorded = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    invalid = fields.Integer(required=True)


class RosterReport(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    filename = fields.String(allow_none=True)
    effective_from = fields.String(required=True)
    rows_read = fields.Integer(required=True,
                               metadata={"description": "data rows of the file: the counts add up to it"})
    counts = fields.Nested(RosterCounts, required=True)
    rows = fields.List(fields.Nested(RosterRowView), required=True)
    warnings = fields.List(fields.String(), required=True)


class DefinitionView(Schema):
    version = fields.Integer(required=True)
    thank_you_within_hours = fields.Float(required=True)
    ongoing_after_weeks = fields.Integer(required=True)
    steps = fields.List(fields.String(), required=True)
    rules = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class Freshness(Schema):
    last_event_at = fields.String(allow_none=True, required=True,
                                  metadata={"description": "the newest event the read models hold"})
    updated_at = fields.String(allow_none=True, required=True,
                               metadata={"description": "when the read models last applied events"})


class About(Schema):
    definition_version = fields.Integer(required=True, metadata={
        "description": "the funnel definition the numbers were computed with"})
    freshness = fields.Nested(Freshness, required=True)
    min_cell = fields.Integer(required=True)


class StepCell(Schema):
    step = fields.String(required=True, validate=validate.OneOf(STEPS))
    suppressed = fields.Boolean(required=True)
    students = fields.Integer(allow_none=True, required=True)
    pairs = fields.Integer(allow_none=True, required=True)
    conversion = fields.Float(allow_none=True, required=True,
                              metadata={"description": "share of the pairs at the previous step here that reached "
                                                       "this one"})
    median_days_from_previous = fields.Float(allow_none=True, required=True)


class SideCounts(Schema):
    student = fields.Integer()
    contact = fields.Integer()
    career_office = fields.Integer()
    other = fields.Integer()


class NoShowRate(Schema):
    student = fields.Float(allow_none=True)
    contact = fields.Float(allow_none=True)


class InterviewCell(Schema):
    suppressed = fields.Boolean(required=True)
    held = fields.Integer(allow_none=True, required=True)
    missed = fields.Nested(SideCounts, allow_none=True, required=True,
                           metadata={"description": "no-shows by side: " + ", ".join(MISSED_BY)})
    cancelled = fields.Nested(SideCounts, allow_none=True, required=True,
                              metadata={"description": "cancellations by side: " + ", ".join(CANCELLED_BY)})
    no_show_rate = fields.Nested(NoShowRate, allow_none=True, required=True)


class FunnelRow(Schema):
    steps = fields.List(fields.Nested(StepCell), required=True)
    thank_you_on_time_rate = fields.Float(allow_none=True, required=True)
    interviews = fields.Nested(InterviewCell, required=True)


class FunnelGroup(FunnelRow):
    key = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class FunnelAnswer(About):
    by = fields.List(fields.String(), required=True)
    filters = fields.Dict(required=True)
    columns = fields.List(fields.String(), required=True)
    groups = fields.List(fields.Nested(FunnelGroup), required=True)
    total = fields.Nested(FunnelRow, required=True)
    suppressed_cells = fields.Integer(required=True)


class WeekPoint(Schema):
    week = fields.String(required=True, metadata={"description": "the Monday of the week (YYYY-MM-DD)"})
    active_students = fields.Integer(allow_none=True, required=True)
    active_suppressed = fields.Boolean(required=True)
    conversations = fields.Integer(allow_none=True, required=True)
    conversations_suppressed = fields.Boolean(required=True)


class Series(Schema):
    key = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    points = fields.List(fields.Nested(WeekPoint), required=True)


class EngagementAnswer(About):
    by = fields.List(fields.String(), required=True)
    filters = fields.Dict(required=True)
    weeks = fields.List(fields.String(), required=True)
    series = fields.List(fields.Nested(Series), required=True)
    total = fields.List(fields.Nested(WeekPoint), required=True)


class DefinitionsAnswer(About):
    definition = fields.Nested(DefinitionView, required=True, metadata={
        "description": "the definition the read models are built with"})
    configured = fields.Nested(DefinitionView, required=True, metadata={
        "description": "the definition FUNNEL_DEFINITION names (differs until a rebuild applied it)"})
    dimensions = fields.List(fields.String(), required=True)
    calendar = fields.Dict(required=True)
    cohorts = fields.String(required=True)
    suppression = fields.String(required=True)
    known_versions = fields.List(fields.Integer(), required=True)


class AsyncApiDocument(Schema):
    """An AsyncAPI 3.0 document (its full shape is AsyncAPI's own schema)."""

    class Meta:
        unknown = INCLUDE

    asyncapi = fields.String(required=True, metadata={"description": "3.0.0"})
    info = fields.Dict(required=True)
    channels = fields.Dict()


class RosterRecord(Schema):
    effective_from = fields.String(required=True, metadata={"description": "YYYY-MM-DD: from this day on"})
    program = fields.String(allow_none=True)
    college = fields.String(allow_none=True)
    degree_level = fields.String(allow_none=True)
    class_year = fields.String(allow_none=True)
    expected_graduation = fields.String(allow_none=True)


class ExportData(Schema):
    roster = fields.List(fields.Nested(RosterRecord), required=True, metadata={
        "description": "your roster records, by the day each takes effect"})
    pseudonymised = fields.String(required=True, metadata={
        "description": "what else is held about you, and why only pseudonymised"})


ExportPart = part_schema(ExportData, "AnalyticsExportPart")
