"""Events of the contacts service: a student's professionals and the history of each relationship."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

CONTACTS = EventCatalog("contacts", "contact")
CONTACT_IMPORTS = EventCatalog("contacts", "contact_import")

TOUCHPOINT_KINDS = ("outreach", "reply", "conversation", "thank_you", "check_in", "update", "article", "intro")


class ContactDetails(Schema):
    """The editable details of a contact (shared by several events)."""

    name = pii(fields.String(required=True), subject="contact")
    emails = pii(fields.List(fields.String()), subject="contact")
    phone = pii(fields.String(allow_none=True), subject="contact")
    linkedin_url = pii(fields.String(allow_none=True), subject="contact")
    organisation = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    location = fields.String(allow_none=True)
    time_zone = fields.String(allow_none=True, metadata={"description": "IANA time zone name"})
    source = fields.String(allow_none=True, metadata={"description": "how the student found the contact"})
    note = pii(fields.String(allow_none=True), subject="contact")


@CONTACTS.event("ContactAdded", 1)
class ContactAddedV1(ContactDetails):
    """A student added a professional to their target list."""

    student_id = fields.String(required=True)
    tags = fields.List(fields.String(), load_default=list)
    import_id = fields.String(allow_none=True)


@CONTACTS.event("ContactDetailsChanged", 1)
class ContactDetailsChangedV1(ContactDetails):
    """Some details changed; only the changed fields are present (null = cleared)."""

    name = pii(fields.String(), subject="contact")


@CONTACTS.event("ContactTagged", 1)
class ContactTaggedV1(Schema):
    """Tags were added to a contact."""

    tags = fields.List(fields.String(), required=True)


@CONTACTS.event("ContactUntagged", 1)
class ContactUntaggedV1(Schema):
    """Tags were removed from a contact."""

    tags = fields.List(fields.String(), required=True)


@CONTACTS.event("ContactPrioritised", 1)
class ContactPrioritisedV1(Schema):
    """The student rated advocacy and motivation (1–3 each, as in a LAMP list)."""

    advocacy = fields.Integer(required=True, validate=validate.Range(1, 3))
    motivation = fields.Integer(required=True, validate=validate.Range(1, 3))


@CONTACTS.event("CheckInCadenceChanged", 1)
class CheckInCadenceChangedV1(Schema):
    """How often the student wants to check in with this contact once they talked (the stay-in-touch
    rule); null returns the contact to the follow-up rules' default."""

    every_weeks = fields.Integer(required=True, allow_none=True, validate=validate.Range(1, 52))


@CONTACTS.event("ContactArchived", 1)
class ContactArchivedV1(Schema):
    """The contact left the active list; its history stays."""

    reason = fields.String(allow_none=True)


@CONTACTS.event("ContactRestored", 1)
class ContactRestoredV1(Schema):
    """An archived contact is active again."""


class TouchpointSchema(Schema):
    touchpoint_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(TOUCHPOINT_KINDS))
    occurred_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
    channel = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    text = pii(fields.String(allow_none=True), subject="contact")


@CONTACTS.event("TouchpointLogged", 1)
class TouchpointLoggedV1(TouchpointSchema):
    """Something happened between the student and the contact (outreach, reply, thanks, ...)."""


@CONTACTS.event("ContactsMerged", 1)
class ContactsMergedV1(Schema):
    """Another contact (a duplicate) was merged into this one; its details and history came along."""

    merged_contact_id = fields.String(required=True)
    emails = pii(fields.List(fields.String()), subject="contact")
    filled = fields.Nested(ContactDetailsChangedV1, metadata={"description": "details this contact lacked"})
    tags = fields.List(fields.String())
    touchpoints = fields.List(fields.Nested(TouchpointSchema))


@CONTACTS.event("ContactAbsorbed", 1)
class ContactAbsorbedV1(Schema):
    """This contact was merged into another one and is now only history."""

    into_contact_id = fields.String(required=True)


class ImportRow(Schema):
    line = fields.Integer(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("created", "duplicate", "invalid")))
    contact_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


@CONTACT_IMPORTS.event("ContactsImported", 1)
class ContactsImportedV1(Schema):
    """A student imported a file of contacts; one report row per record of the file."""

    student_id = fields.String(required=True)
    format = fields.String(required=True)
    filename = fields.String(allow_none=True)
    rows = fields.List(fields.Nested(ImportRow), required=True)


IMPORT_OUTCOMES = ("created", "duplicate", "invalid", "skipped")


class ImportRowV2(Schema):
    line = fields.Integer(required=True, metadata={"description": "where the record starts in the file (1-based)"})
    outcome = fields.String(required=True, validate=validate.OneOf(IMPORT_OUTCOMES))
    contact_id = fields.String(allow_none=True, metadata={"description": "the contact created, or the existing one"})
    reason = pii(fields.String(allow_none=True, metadata={"description": "why a row is a duplicate or skipped"}))
    fields_ = pii(fields.Dict(keys=fields.String(), values=fields.List(fields.String()), allow_none=True,
                              data_key="fields", attribute="fields",
                              metadata={"description": "invalid records: the fields at fault and why"}))


@CONTACT_IMPORTS.event("ContactsImported", 2)
class ContactsImportedV2(Schema):
    """A student imported a file of contacts; one report row per record of the file, empty ones included.

    v2: a row may be `skipped` (with its reason); an invalid row names its `fields` and the problems
    with each, which may quote the file's values (personal data)."""

    student_id = fields.String(required=True)
    format = fields.String(required=True)
    filename = fields.String(allow_none=True)
    rows = fields.List(fields.Nested(ImportRowV2), required=True)


@CONTACT_IMPORTS.upcaster("ContactsImported", 1)
def _import_rows_gain_fields(data: dict) -> dict:
    """v1 reports knew no skipped rows and named no fields: their rows are v2 rows as they are."""
    return data
