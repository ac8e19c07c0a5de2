"""Shapes of the contacts API's requests and responses (marshmallow): one place for shape validation."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.contacts.domain import STAGES, normalise_linkedin
from shared.contracts.contacts import TOUCHPOINT_KINDS
from shared.web.api import AcceptedSchema
from shared.web.validators import check_time_zone

_PHONE = re.compile(r"^\+?[0-9 ()./\-]{3,40}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$")
_TAG = validate.And(validate.Length(1, 40), validate.Regexp(r"^[\w\- ]+$", error="letters, digits, spaces, - and _"))
CHANNELS = ("email", "linkedin", "phone", "video", "in_person", "event", "other")


def check_linkedin(value: str) -> None:
    if normalise_linkedin(value) is None:
        raise ValidationError("not a LinkedIn profile URL (https://www.linkedin.com/in/...)")


class ContactFields(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    emails = fields.List(fields.Email(validate=validate.Length(max=254)), validate=validate.Length(max=10))
    phone = fields.String(allow_none=True, validate=validate.Regexp(_PHONE, error="not a phone number"))
    linkedin_url = fields.String(allow_none=True, validate=[validate.Length(max=300), check_linkedin])
    organisation = fields.String(allow_none=True, validate=validate.Length(max=200))
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    industry = fields.String(allow_none=True, validate=validate.Length(max=100))
    location = fields.String(allow_none=True, validate=validate.Length(max=200))
    time_zone = fields.String(allow_none=True, validate=check_time_zone)
    source = fields.String(allow_none=True, validate=validate.Length(max=100),
                           metadata={"description": "how the student found the contact (alumni directory, referral, ...)"})
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class AddContact(ContactFields):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    tags = fields.List(fields.String(validate=_TAG), load_default=list, validate=validate.Length(max=50))
    student_id = fields.String(validate=validate.Length(1, 128),
                               metadata={"description": "admins only: the student the contact belongs to"})


class ChangeDetails(ContactFields):
    @validates_schema
    def not_empty(self, data: dict, **kwargs: object) -> None:
        if not data:
            raise ValidationError("give at least one field to change", "_schema")


class Tags(Schema):
    tags = fields.List(fields.String(validate=_TAG), required=True, validate=validate.Length(1, 50))


class CheckInCadence(Schema):
    every_weeks = fields.Integer(required=True, strict=True, allow_none=True, validate=validate.Range(1, 52),
                                 metadata={"description": "weeks between check-ins; null for the default rule"})


class Priority(Schema):
    advocacy = fields.Integer(required=True, strict=True, validate=validate.Range(1, 3),
                              metadata={"description": "how likely they are to help (1 low – 3 high)"})
    motivation = fields.Integer(required=True, strict=True, validate=validate.Range(1, 3),
                                metadata={"description": "how much the student wants this conversation"})


class Archive(Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))


class Touchpoint(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(TOUCHPOINT_KINDS))
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339 with an offset"})
    channel = fields.String(allow_none=True, validate=validate.OneOf(CHANNELS))
    url = fields.Url(allow_none=True, validate=validate.Length(max=1000))
    text = fields.String(allow_none=True, validate=validate.Length(max=5000))


class Merge(Schema):
    duplicate_id = fields.String(required=True, validate=validate.Length(1, 128),
                                 metadata={"description": "the contact to merge into this one"})


Accepted = AcceptedSchema  # a command's answer, as in every service


class DirectoryQuery(Schema):
    q = fields.String(validate=validate.Length(1, 100), metadata={"description": "part of the name"})
    tag = fields.String(validate=validate.Length(1, 40))
    industry = fields.String(validate=validate.Length(1, 100))
    organisation = fields.String(validate=validate.Length(1, 200))
    stage = fields.String(validate=validate.OneOf(STAGES))
    min_priority = fields.Integer(validate=validate.Range(2, 6), metadata={"description": "advocacy + motivation"})
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "archived")))
    sort = fields.String(load_default="name", validate=validate.OneOf(("name", "-priority", "-last_touch", "-added")))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Length(1, 1000))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})
    min_version = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9\-]{1,128}:\d{1,9}$"),
                                metadata={"description": "`<contact id>:<version>` from a command response: "
                                          "wait until the directory shows at least that version"})

    @validates("cursor")
    def cursor_shape(self, value: str, **kwargs: object) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", value):
            raise ValidationError("malformed cursor")


class ExportQuery(Schema):
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "archived", "all")))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})


class ImportQuery(Schema):
    format = fields.String(validate=validate.OneOf(("linkedin_csv", "google_csv", "vcard")),
                           metadata={"description": "detected from the content when absent"})
    filename = fields.String(validate=validate.Length(1, 255))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})


class ContactView(ContactFields):
    id = fields.String()
    student_id = fields.String()
    version = fields.Integer()
    tags = fields.List(fields.String())
    priority = fields.Dict(allow_none=True)
    status = fields.String()
    merged_into = fields.String(allow_none=True)
    stage = fields.String()
    last_touch_at = fields.String(allow_none=True)
    check_in_every_weeks = fields.Integer(allow_none=True, metadata={"description": "null: the default rule"})


class DirectoryPage(Schema):
    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)
