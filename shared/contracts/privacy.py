"""Events of the privacy service: erasures ("forget me"), one stream per erasure (aggregate `erasure`,
topic careerloop.privacy.erasure.v1).

An erasure is asked for (`ErasureRequested`: by an admin, or by the student themself through
`POST /me/erasure-request`), confirmed by an admin (`ErasureConfirmed`; an admin's own request is
confirmed by the same act), and carried out by the privacy worker, which shreds the subject's data keys
and records `SubjectErased`. Every projection consumes this topic: on `SubjectErased` it drops what it
holds of the subject, skips the subject's events from then on (a replay or a rebuild included), and
acknowledges in the `erasure_acknowledgements` read-store collection, one document per (erasure,
component), which `GET /erasures/{id}` reports. `ERASURE_COMPONENTS` names the components expected to
acknowledge; a test keeps it equal to the projections the Procfile runs.

These events hold no personal data beyond the identifiers (the student id names the subject; it is
what must be erased, so it is kept, in clear, as the record that the erasure happened).
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

ERASURES = EventCatalog("privacy", "erasure")
SUBJECT_KINDS = ("student",)
ERASURE_ACKNOWLEDGEMENTS = "erasure_acknowledgements"  # read-store collection: `<erasure id>:<component>`
# every component that must act on an erasure: the key store (the privacy worker's shredding) and each
# projection that holds personal data or consumes sealed events
ERASURE_COMPONENTS = ("key-store", "contact-directory", "scheduling-views", "notes-views", "followups-views-rules1",
                      "notifications-views", "notifications-policies", "analytics-translator", "analytics-funnel")


@ERASURES.event("ErasureRequested", 1)
class ErasureRequestedV1(Schema):
    """Someone asked that a subject's personal data be erased: the subject themself or an admin."""

    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    student_id = pii(fields.String(required=True), subject=None)
    requested_by = fields.String(required=True, metadata={"description": "the requester's token subject"})
    requested_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
    reason = fields.String(allow_none=True, metadata={
        "description": "why, in the requester's words (kept: it must not name anyone else)"})


@ERASURES.event("ErasureConfirmed", 1)
class ErasureConfirmedV1(Schema):
    """An admin confirmed the erasure: the privacy worker carries it out."""

    confirmed_by = fields.String(required=True)
    confirmed_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})


@ERASURES.event("SubjectErased", 1)
class SubjectErasedV1(Schema):
    """The subject's data keys are shredded: everything sealed for them reads as erased from now on,
    wherever a copy of it is. Every projection drops what it holds of them and acknowledges."""

    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    student_id = pii(fields.String(required=True), subject=None)
    keys_shredded = fields.Integer(required=True, metadata={"description": "data keys shredded (the student's and "
                                                                           "each of their contacts')"})
    erased_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
