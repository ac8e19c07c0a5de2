"""Events of the privacy service: erasures ("forget me"), one stream per erasure (aggregate `erasure`,
topic careerloop.privacy.erasure.v1).

An erasure is of a student, or of a professional (every contact, in any student's book, whose e-mail
address or LinkedIn profile is theirs). It is asked for (`ErasureRequested`: by an admin, or by a
student for themself through `POST /me/erasure-request`), confirmed by an admin (`ErasureConfirmed`; an
admin's own request is confirmed by the same act), and carried out by the privacy worker, which shreds
the subject's data keys and records `SubjectErased`. Every projection consumes this topic: on
`SubjectErased` it drops what it holds of the subject, skips the subject's events from then on (a
replay or a rebuild included), and acknowledges in the `erasure_acknowledgements` read-store
collection, one document per (erasure, component), which `GET /erasures/{id}` reports.
`ERASURE_COMPONENTS` names the components expected to acknowledge; a test keeps it equal to the
projections the Procfile runs.

These events hold no personal data beyond the identifiers (the student id names the subject; it is
what must be erased, so it is kept, in clear, as the record that the erasure happened). A professional
is named only by HMACs of their identities and by the contact ids they had.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

ERASURES = EventCatalog("privacy", "erasure")
SUBJECT_KINDS = ("student", "contact")
ERASURE_ACKNOWLEDGEMENTS = "erasure_acknowledgements"  # read-store collection: `<erasure id>:<component>`
# every component that must act on an erasure: the key store (the privacy worker's shredding) and each
# projection that holds personal data or consumes sealed events
ERASURE_COMPONENTS = ("key-store", "contact-directory", "scheduling-views", "notes-views", "followups-views-rules1",
                      "notifications-views", "notifications-policies", "analytics-translator", "analytics-funnel")


class ErasedContact(Schema):
    student_id = fields.String(required=True, metadata={"description": "whose address book held the professional"})
    contact_id = fields.String(required=True)


@ERASURES.event("ErasureRequested", 1)
class ErasureRequestedV1(Schema):
    """Someone asked that a student's personal data be erased: the student themself or an admin."""

    subject_kind = fields.String(required=True, validate=validate.OneOf(("student",)))
    student_id = pii(fields.String(required=True), subject=None)
    requested_by = fields.String(required=True, metadata={"description": "the requester's token subject"})
    requested_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
    reason = fields.String(allow_none=True, metadata={
        "description": "why, in the requester's words (kept: it must not name anyone else)"})


@ERASURES.event("ErasureRequested", 2)
class ErasureRequestedV2(ErasureRequestedV1):
    """Someone asked that a subject's personal data be erased: a student (themself, or an admin for them)
    or a professional (an admin, found in every student's book by e-mail or LinkedIn profile)."""

    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    student_id = pii(fields.String(allow_none=True, metadata={"description": "the student; null for a professional"}),
                     subject=None)
    identities = fields.List(fields.String(), load_default=list, metadata={
        "description": "a professional's identities (normalised e-mail addresses and LinkedIn profile) as "
                       "HMACs under the deployment's index key (`hmac-sha256:<hex>`): the order to find them "
                       "names nobody in clear; empty for a student"})


@ERASURES.upcaster("ErasureRequested", 1)
def _requested_v1_to_v2(data: dict) -> dict:
    return {**data, "identities": []}


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


@ERASURES.event("SubjectErased", 2)
class SubjectErasedV2(SubjectErasedV1):
    """The subject's data keys are shredded: a student's (their key and each of their contacts'), or a
    professional's (the key of each contact that was them, in every student's book). Everything sealed
    for them reads as erased from now on, wherever a copy of it is; every projection drops or redacts
    what it holds of them and acknowledges."""

    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    student_id = pii(fields.String(allow_none=True, metadata={"description": "the student; null for a professional"}),
                     subject=None)
    contacts = fields.List(fields.Nested(ErasedContact), load_default=list, metadata={
        "description": "a professional's erasure: each contact that was them (empty for a student)"})


@ERASURES.upcaster("SubjectErased", 1)
def _erased_v1_to_v2(data: dict) -> dict:
    return {**data, "contacts": []}
