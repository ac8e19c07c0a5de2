"""The erasure aggregate's rules, and the list of components an erasure waits for."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.privacy.domain import Erasure
from shared.contracts.privacy import ERASURE_COMPONENTS
from shared.errors import RuleViolated
from shared.projection import Projection

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_waits_for_confirmation_and_is_carried_out_once() -> None:
    erasure = Erasure.request("e-1", "student-1", "student-1", "2026-12-01T10:00:00Z", "leaving")
    with pytest.raises(RuleViolated, match="once confirmed"):
        erasure.carry_out(1, "2026-12-01T10:00:01Z")
    erasure.confirm("admin-1", "2026-12-01T11:00:00Z")
    with pytest.raises(RuleViolated, match="already confirmed"):
        erasure.confirm("admin-2", "2026-12-01T11:00:01Z")
    erasure.carry_out(3, "2026-12-01T11:00:02Z")
    erasure.carry_out(0, "2026-12-01T11:00:03Z")  # a retry (the worker saw the confirmation again): nothing new
    assert [e.name for e in erasure.pending] == ["ErasureRequested", "ErasureConfirmed", "SubjectErased"]
    assert erasure.pending[-1].data == {"subject_kind": "student", "student_id": "student-1", "keys_shredded": 3,
                                        "contacts": [], "erased_at": "2026-12-01T11:00:02Z"}
    replayed = Erasure.from_history("e-1", erasure.pending)
    assert (replayed.status, replayed.owner_id, replayed.confirmed["by"]) == ("erased", "student-1", "admin-1")


def test_the_components_an_erasure_waits_for_are_the_key_store_and_every_projection_worker() -> None:
    """The contract names them (services never import each other); this keeps it true to the Procfile."""
    import importlib

    workers = re.findall(r"python -m (services\.\w+\.(?:worker|policy_worker|translator))",
                         (ROOT / "Procfile").read_text())
    names = set()
    for module_name in workers:
        module = importlib.import_module(module_name)
        names |= {obj.name for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, Projection) and obj is not Projection
                  and obj.__module__.startswith("services.")}
    names.discard("privacy-erasures")  # the worker that carries erasures out: it is the `key-store` part
    assert set(ERASURE_COMPONENTS) == {"key-store"} | names
