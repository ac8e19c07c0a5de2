"""Shapes of the privacy API's requests and responses (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.privacy.domain import STATUSES
from shared.contracts.privacy import ERASURE_COMPONENTS, SUBJECT_KINDS
from shared.identities import normalise_linkedin
from shared.web.api import page_of


def _reason() -> fields.String:
    """A new field each time: a marshmallow field belongs to one schema."""
    return fields.String(allow_none=True, validate=validate.Length(max=500), metadata={
        "description": "why, in the requester's words (kept with the erasure: name no one else)"})


class Professional(Schema):
    emails = fields.List(fields.Email(validate=validate.Length(max=254)), load_default=list,
                         validate=validate.Length(max=20), metadata={"description": "their e-mail addresses"})
    linkedin_url = fields.String(allow_none=True, validate=validate.Length(max=500),
                                 metadata={"description": "their LinkedIn profile URL"})

    @validates_schema
    def _named(self, data: dict, **_: object) -> None:
        if data.get("linkedin_url") and normalise_linkedin(data["linkedin_url"]) is None:
            raise ValidationError("not a LinkedIn profile URL (linkedin.com/in/<name>)", "linkedin_url")
        if not data.get("emails") and not data.get("linkedin_url"):
            raise ValidationError("name the professional by an e-mail address or a LinkedIn profile URL", "emails")


class OrderErasure(Schema):
    subject_kind = fields.String(load_default="student", validate=validate.OneOf(SUBJECT_KINDS), metadata={
        "description": "whose data: a student (`student_id`) or a professional (`professional`), erased from "
                       "every student's book that has them by e-mail address or LinkedIn profile"})
    student_id = fields.String(validate=validate.Length(1, 128),
                               metadata={"description": "the student's id (their token's `sub`)"})
    professional = fields.Nested(Professional, metadata={"description": "how the professional is recognised "
                                                                        "(normalised as for duplicates)"})
    reason = _reason()

    @validates_schema
    def _subject(self, data: dict, **_: object) -> None:
        if data["subject_kind"] == "student" and not data.get("student_id"):
            raise ValidationError("required for a student's erasure", "student_id")
        if data["subject_kind"] == "contact" and not data.get("professional"):
            raise ValidationError("required for a professional's erasure", "professional")


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
    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    student_id = fields.String(required=True, allow_none=True, metadata={"description": "null for a professional"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    requested_by = fields.String(required=True)
    requested_at = fields.String(required=True)
    confirmed_at = fields.String(required=True, allow_none=True)
    erased_at = fields.String(required=True, allow_none=True)


class ErasureReport(ErasureSummary):
    version = fields.Integer(required=True)
    reason = fields.String(required=True, allow_none=True)
    confirmed_by = fields.String(required=True, allow_none=True)
    keys_shredded = fields.Integer(required=True, allow_none=True)
    contacts_erased = fields.Integer(required=True, allow_none=True, metadata={
        "description": "a professional's erasure: in how many students' books they were found"})
    components = fields.List(fields.Nested(Acknowledgement), required=True, metadata={
        "description": "every component that must act, and when it acknowledged"})
    complete = fields.Boolean(required=True, metadata={"description": "every component acknowledged"})


ErasuresPage = page_of(ErasureSummary, "ErasuresPage")
