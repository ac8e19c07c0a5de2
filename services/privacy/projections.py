"""The privacy worker's projection: the list of erasures (for admins confirming students' requests),
and carrying out each confirmed erasure (see `application.PrivacyService.carry_out`)."""
from __future__ import annotations

from typing import Any

from services.privacy.application import KEY_STORE, PrivacyService
from shared.contracts.privacy import ERASURES
from shared.erasure import acknowledge
from shared.events import Metadata, Recorded
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update

ACTOR = "system:privacy-worker"


def erasures(read_store: ReadStore) -> Collection:
    return read_store.collection("erasures", (Index("status"), Index("requested_at")))


class ErasureViews(Projection):
    name = "privacy-erasures"
    version = 1
    catalogs = (ERASURES,)
    # its documents are the record that an erasure happened (ids and dates, nothing else): kept
    holds_personal_data = False

    def __init__(self, read_store: ReadStore, service: PrivacyService | None = None, **options: Any) -> None:
        """Without `service` it only keeps the list (the API's metrics, the init step, rebuilds)."""
        super().__init__(read_store, **options)
        self.service = service
        self.docs = erasures(read_store)
        self.versioned = {ERASURES.aggregate: self.docs}

    @on("ErasureRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={
            "student_id": event.data["student_id"], "status": "requested", "requested_by": event.data["requested_by"],
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
        self.write(envelope, Update(set={"status": "erased", "erased_at": event.data["erased_at"]}))
        # recorded only after the keys were shredded: the key store's part is done
        acknowledge(self.read_store, envelope["subject"], KEY_STORE, event.data["erased_at"])
