"""Shapes of the privacy API's requests and responses (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.privacy.domain import STATUSES
from shared.contracts.privacy import ERASURE_COMPONENTS
from shared.web.api import page_of


def _reason() -> fields.String:
    """A new field each time: a marshmallow field belongs to one schema."""
    return fields.String(allow_none=True, validate=validate.Length(max=500), metadata={
        "description": "why, in the requester's words (kept with the erasure: name no one else)"})


class OrderErasure(Schema):
    subject_kind = fields.String(load_default="student", validate=validate.OneOf(("student",)), metadata={
        "description": "whose data: a student (a professional's erasure comes next)"})
    student_id = fields.String(required=True, validate=validate.Length(1, 128),
                               metadata={"description": "the student's id (their token's `sub`)"})
    reason = _reason()


class RequestOwnErasure(Schema):
    student_id = fields.String(validate=validate.Length(1, 128), metadata={
        "description": "yourself (optional): naming anyone else is 403"})
    reason = _reason()


class ErasuresQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$", error="malformed cursor"))


class Acknowledgement(Schema):
    component = fields.String(required=True, validate=validate.OneOf(ERASURE_COMPONENTS))
    acknowledged_at = fields.String(required=True, allow_none=True,
                                    metadata={"description": "RFC 3339 UTC; null: not yet"})


class ErasureSummary(Schema):
    id = fields.String(required=True)
    student_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    requested_by = fields.String(required=True)
    requested_at = fields.String(required=True)
    confirmed_at = fields.String(required=True, allow_none=True)
    erased_at = fields.String(required=True, allow_none=True)


class ErasureReport(ErasureSummary):
    version = fields.Integer(required=True)
    subject_kind = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    confirmed_by = fields.String(required=True, allow_none=True)
    keys_shredded = fields.Integer(required=True, allow_none=True)
    components = fields.List(fields.Nested(Acknowledgement), required=True, metadata={
        "description": "every component that must act, and when it acknowledged"})
    complete = fields.Boolean(required=True, metadata={"description": "every component acknowledged"})


ErasuresPage = page_of(ErasureSummary, "ErasuresPage")
