"""Shapes of the contacts API's requests and responses (marshmallow): one place for shape validation."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from services.contacts.domain import STAGES
from services.contacts.formats import FORMATS
from shared.contracts.contacts import IMPORT_OUTCOMES, TOUCHPOINT_KINDS, TouchpointSchema
from shared.identities import normalise_linkedin
from shared.keys.fields import ERASED_CONTACT
from shared.subject_export import part_schema
from shared.web.api import AcceptedSchema, page_of
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
    source = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "how the student found the contact (alumni directory, referral, ...)"},
    )
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
    format = fields.String(validate=validate.OneOf(FORMATS),
                           metadata={"description": "detected from the content when absent"})
    filename = fields.String(validate=validate.Length(1, 255))
    student_id = fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only"})


class PriorityView(Schema):
    advocacy = fields.Integer(required=True)
    motivation = fields.Integer(required=True)


class _ContactAnswer(ContactFields):
    """What every answer about one contact holds, beside its details."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    student_id = fields.String(required=True)
    name = fields.String(required=True)
    emails = fields.List(fields.String(), required=True)
    # a professional's erased data reads as the placeholder, which is no phone number or profile URL
    phone = fields.String(allow_none=True, metadata={"description": f"`{ERASED_CONTACT}` once the professional "
                                                                    "was erased"})
    linkedin_url = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)
    check_in_every_weeks = fields.Integer(allow_none=True, required=True,
                                          metadata={"description": "null: the follow-up rules' default"})
    status = fields.String(required=True, validate=validate.OneOf(("active", "archived", "merged")))
    merged_into = fields.String(allow_none=True, required=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    last_touch_at = fields.String(allow_none=True, required=True)


class ContactView(_ContactAnswer):
    """`GET /contacts/{id}`: exactly the keys `api.contact_view` returns (a test validates real answers)."""

    priority = fields.Nested(PriorityView, allow_none=True, required=True)


class ImportRowView(Schema):
    line = fields.Integer(required=True, metadata={"description": "where the record starts in the file"})
    outcome = fields.String(required=True, validate=validate.OneOf(IMPORT_OUTCOMES))
    contact_id = fields.String(allow_none=True, metadata={"description": "created, or the existing duplicate"})
    reason = fields.String(allow_none=True)
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                          attribute="fields", metadata={"description": "invalid: the fields at fault and why"})


class ImportReport(Schema):
    """Every record of the file, once: the counts add up to the file's records."""

    id = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    filename = fields.String(allow_none=True, required=True)
    counts = fields.Dict(keys=fields.String(validate=validate.OneOf(IMPORT_OUTCOMES)), values=fields.Integer(),
                         required=True)
    rows = fields.List(fields.Nested(ImportRowView), required=True)


class DirectoryEntry(_ContactAnswer):
    """One contact in `GET /contacts`, as `projections.present` shows a directory document."""

    touch_count = fields.Integer(required=True)
    advocacy = fields.Integer(allow_none=True)
    motivation = fields.Integer(allow_none=True)
    priority_score = fields.Integer(metadata={"description": "advocacy + motivation; 0 when not rated"})
    added_at = fields.String()
    updated_at = fields.String()
    import_id = fields.String(allow_none=True, metadata={"description": "the import that added the contact"})


DirectoryPage = page_of(DirectoryEntry, "DirectoryPage")


class TouchpointView(TouchpointSchema):
    """A touchpoint as the API shows it: as its event recorded it (own name: `Touchpoint` is the request)."""


class Touchpoints(Schema):
    items = fields.List(fields.Nested(TouchpointView), required=True)


class ExportedContact(ContactView):
    touchpoints = fields.List(fields.Nested(TouchpointView), required=True, metadata={"description": "oldest first"})


class ExportData(Schema):
    contacts = fields.List(fields.Nested(ExportedContact), required=True, metadata={
        "description": "every contact of yours, merged duplicates and archived ones too"})


ExportPart = part_schema(ExportData, "ContactsExportPart")
