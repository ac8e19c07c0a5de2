"""Acting on an erasure (issue 15), the part every component shares: acknowledging it.

Each component that must act on a `SubjectErased` (shared.contracts.privacy.ERASURE_COMPONENTS)
records, once it has, one document in the `erasure_acknowledgements` read-store collection:
`<erasure id>:<component>`. It lives outside every projection's generations (a rebuild acknowledges
again, into the same place), and the privacy service's report reads it.
"""
from __future__ import annotations

from typing import Any

from shared.contracts.privacy import ERASURE_ACKNOWLEDGEMENTS
from shared.readstore import Update


def acknowledgements(read_store: Any) -> Any:
    """The acknowledgements collection (of the store under a projection's generation view)."""
    return getattr(read_store, "store", read_store).collection(ERASURE_ACKNOWLEDGEMENTS)


def acknowledge(read_store: Any, erasure_id: str, component: str, at: str) -> None:
    acknowledgements(read_store).upsert(f"{erasure_id}:{component}", Update(
        set={"erasure_id": erasure_id, "component": component, "acknowledged_at": at}))
