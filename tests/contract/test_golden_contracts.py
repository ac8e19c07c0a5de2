"""Published event schemas must not drift: the code's contracts equal the golden copy checked in.

A published (type, version) is never edited: consumers and stored history rely on it. A deliberate
change is a *new* version of the type (a new schema, `@CATALOG.event("Name", n + 1)`) plus an upcaster
from the old version (`@CATALOG.upcaster("Name", n)`); a new type is new too. Either way, regenerate
the golden copy and commit it with the change:

    python -m shared.contracts --golden > tests/contract/golden/events.json
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.contracts import CATALOGS, golden
from shared.events import EventCatalog

GOLDEN = Path(__file__).parent / "golden" / "events.json"
REGENERATE = "python -m shared.contracts --golden > tests/contract/golden/events.json"


def current() -> dict[str, dict]:
    return json.loads(golden())


def recorded() -> dict[str, dict]:
    return json.loads(GOLDEN.read_text())


def test_no_published_schema_changed() -> None:
    code, kept = current(), recorded()
    changed = {}
    for type_string in sorted(kept.keys() & code.keys()):
        before, after = kept[type_string], code[type_string]
        if before != after:
            fields = sorted({*before["fields"], *after["fields"]})
            changed[type_string] = {f: {"golden": before["fields"].get(f), "code": after["fields"].get(f)}
                                    for f in fields if before["fields"].get(f) != after["fields"].get(f)}
            if before["topic"] != after["topic"]:
                changed[type_string]["(topic)"] = {"golden": before["topic"], "code": after["topic"]}
    if changed:
        pytest.fail(
            "published event schemas changed (a published schema is never edited):\n"
            + json.dumps(changed, indent=2, sort_keys=True)
            + "\nIf this was an accident, undo it. If deliberate, restore the old version and add the change as "
              "a new version: @CATALOG.event(name, n + 1) with a new schema, plus @CATALOG.upcaster(name, n) "
              f"turning old data into new; then regenerate the golden copy: {REGENERATE} (only marking a field "
              "`pii` or not, which changes nothing on the wire, is a regeneration without a new version)",
            pytrace=False)


def test_every_published_type_is_still_readable() -> None:
    gone = sorted(recorded().keys() - current().keys())
    assert not gone, (f"published event types vanished from the catalogues: {gone}. Stored history and other "
                      "consumers still hold them: keep the schema (and its upcaster to the newest version).")


def test_every_new_type_or_version_is_in_the_golden_copy() -> None:
    new = sorted(current().keys() - recorded().keys())
    assert not new, (f"event types or versions missing from the golden copy: {new}. Once reviewed as a "
                     f"deliberate addition, regenerate it: {REGENERATE}")


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda c: f"{c.service}.{c.aggregate}")
def test_every_later_version_has_an_upcaster_from_the_one_before(catalog: EventCatalog) -> None:
    versions: dict[str, set[int]] = {}
    for event_type in catalog.types():
        versions.setdefault(event_type.name, set()).add(event_type.version)
    missing = [f"{name}.v{v - 1} -> v{v}" for name, known in sorted(versions.items()) for v in sorted(known)
               if v > 1 and not ((v - 1) in known and catalog.upcasts(name, v - 1))]
    assert not missing, f"versions without the schema before them or an upcaster from it: {missing}"


def test_the_golden_copy_is_what_the_command_prints() -> None:
    """Byte for byte, so a regenerated copy shows in review as exactly the changed lines."""
    assert GOLDEN.read_text() == golden(), f"the golden copy differs from what the command prints: {REGENERATE}"


def test_pii_fields_are_recorded_as_such() -> None:
    """The golden copy really records which fields are personal data and whose key seals each
    (crypto-shredding finds them by it)."""
    added = recorded()["careerloop.contacts.ContactAdded.v1"]["fields"]
    assert added["name"] == {"type": "String", "required": True, "nullable": False, "pii": True, "subject": "contact"}
    assert added["student_id"]["pii"] is False and "subject" not in added["student_id"]
    note = recorded()["careerloop.notes.NoteRecorded.v1"]["fields"]
    assert note["text"]["subject"] == "student"
    roster = recorded()["careerloop.analytics.StudentCohortRecorded.v1"]["fields"]
    assert roster["student_id"]["pii"] is True and roster["student_id"]["subject"] == "identifier"
    assert added["emails"]["pii"] is True and added["emails"]["items"]["type"] == "String"
