"""The privacy worker's projection: the list of erasures (for admins confirming students' requests),
the index of professionals (every contact in any student's book, by the HMACs of its identities: how a
professional's erasure finds them), and carrying out each confirmed erasure
(`application.PrivacyService.carry_out`)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.privacy.application import KEY_STORE, PrivacyService, professionals
from shared.contracts.contacts import CONTACTS
from shared.contracts.privacy import ERASURES
from shared.erasure import acknowledge
from shared.events import Metadata, Recorded
from shared.identities import identities
from shared.keys.personal import contact_subject, student_subject
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update

ACTOR = "system:privacy-worker"


def erasures(read_store: ReadStore) -> Collection:
    return read_store.collection("erasures", (Index("status"), Index("requested_at"), Index("student_id")))


class ErasureViews(Projection):
    name = "privacy-erasures"
    version = 2
    catalogs = (ERASURES, CONTACTS)
    # its erasures are the record that an erasure happened (ids and dates, nothing else): kept; the index
    # holds HMACs only, and drops an erased subject's entries itself (`subject_erased`)
    holds_personal_data = False

    def __init__(self, read_store: ReadStore, service: PrivacyService | None = None, **options: Any) -> None:
        """Without `service` it only keeps the list (the API's metrics, the init step, rebuilds)."""
        super().__init__(read_store, **options)
        self.service = service
        self.docs, self.index = erasures(read_store), professionals(read_store)
        self.versioned = {ERASURES.aggregate: self.docs}

    @on("ErasureRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={
            "subject_kind": event.data["subject_kind"], "student_id": event.data["student_id"],
            "status": "requested", "requested_by": event.data["requested_by"],
            "requested_at": event.data["requested_at"], "confirmed_at": None, "erased_at": None}))

    @on("ErasureConfirmed")
    def confirmed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "confirmed", "confirmed_at": event.data["confirmed_at"]}))
        if self.service is not None:  # at least once: a redelivery finds it carried out and does nothing
            self.service.carry_out(envelope["subject"], Metadata(actor=ACTOR, causation_id=envelope["id"],
                                                                 correlation_id=envelope["correlationid"]))

    @on("SubjectErased")
    def subject_erased(self, envelope: dict[str, Any], event: Recorded) -> None:
        super().subject_erased(envelope, event)
        if event.data["student_id"]:
            while page := self.index.find({"student_id": event.data["student_id"]}, limit=500).items:
                for doc in page:
                    self.index.delete(doc["_id"])
        for contact in event.data["contacts"]:
            self.index.delete(f"{contact['student_id']}/{contact['contact_id']}")
        self.write(envelope, Update(set={"status": "erased", "erased_at": event.data["erased_at"]}))
        # recorded only after the keys were shredded: the key store's part is done
        acknowledge(self.read_store, envelope["subject"], KEY_STORE, event.data["erased_at"])

    # -- the index of professionals ------------------------------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._index(envelope, emails=self._hashed(event.data.get("emails") or []),
                    linkedin=self._hashed(linkedin=event.data.get("linkedin_url")))

    @on("ContactDetailsChanged")
    def contact_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data  # only the changed fields are present (null: cleared)
        self._index(envelope, emails=self._hashed(data["emails"] or []) if "emails" in data else None,
                    linkedin=self._hashed(linkedin=data["linkedin_url"]) if "linkedin_url" in data else None)

    @on("ContactsMerged")
    def contacts_merged(self, envelope: dict[str, Any], event: Recorded) -> None:
        filled = event.data.get("filled") or {}
        self._index(envelope, emails=self._hashed(event.data.get("emails") or []), add_emails=True,
                    linkedin=self._hashed(linkedin=filled["linkedin_url"]) if filled.get("linkedin_url") else None)

    def _hashed(self, emails: Iterable[str] = (), linkedin: str | None = None) -> list[str]:
        assert self.personal is not None, "the index needs the key store"
        return [self.personal.identity_key(identity) for identity in identities(emails, linkedin)]

    def _index(self, envelope: dict[str, Any], *, emails: list[str] | None, linkedin: list[str] | None,
               add_emails: bool = False) -> None:
        """Keep a contact's identity HMACs, e-mails and profile apart (a change replaces one kind; None: unchanged)."""
        assert self.personal is not None, "the index needs the key store"
        student, contact = envelope["ownerid"], envelope["subject"]
        keys = self.personal.keys
        if keys.erased(student_subject(student)) or keys.erased(contact_subject(student, contact)):
            return  # an erased subject's event (a replay): nothing of theirs is indexed again
        doc_id = f"{student}/{contact}"
        doc = self.index.get(doc_id) or {}
        kept_emails, kept_linkedin = doc.get("emails") or [], doc.get("linkedin") or []
        emails = kept_emails if emails is None else sorted({*emails, *(kept_emails if add_emails else [])})
        linkedin = kept_linkedin if linkedin is None else linkedin
        self.index.upsert(doc_id, Update(set={"student_id": student, "contact_id": contact, "emails": emails,
                                              "linkedin": linkedin, "identities": sorted({*emails, *linkedin})}))
