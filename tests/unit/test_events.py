"""Events as contracts: envelopes, schema validation, upcasters, tolerant reading."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, Metadata, Recorded, UnknownEvent, parse_type


def make_catalog() -> EventCatalog:
    catalog = EventCatalog("demo", "widget")

    @catalog.event("WidgetNamed", 1)
    class WidgetNamedV1(Schema):
        """A widget got a name."""
        name = fields.String(required=True)

    @catalog.event("WidgetNamed", 2)
    class WidgetNamedV2(Schema):
        """A widget got a display name and a slug."""
        display_name = fields.String(required=True)
        slug = fields.String(required=True)

    @catalog.upcaster("WidgetNamed", 1)
    def v1_to_v2(data: dict) -> dict:
        return {"display_name": data["name"], "slug": data["name"].lower()}

    return catalog


def test_an_envelope_carries_the_cloudevents_attributes_and_our_extensions() -> None:
    catalog = make_catalog()
    meta = Metadata(actor="student-1", correlation_id="corr-1")
    envelope = catalog.envelope(Recorded("WidgetNamed", {"display_name": "Gear", "slug": "gear"}),
                                stream_id="w-1", stream_version=3, owner_id="student-1", meta=meta)
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "careerloop.demo.WidgetNamed.v2"
    assert envelope["source"] == "/careerloop/demo"
    assert envelope["subject"] == "w-1"
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["time"].endswith("Z")
    assert (envelope["streamversion"], envelope["streamtype"], envelope["ownerid"]) == (3, "widget", "student-1")
    assert (envelope["correlationid"], envelope["causationid"], envelope["actor"]) == ("corr-1", "corr-1", "student-1")


def test_recording_data_that_breaks_the_contract_is_refused() -> None:
    with pytest.raises(ValueError, match="breaks its contract"):
        make_catalog().envelope(Recorded("WidgetNamed", {"display_name": "x"}), stream_id="w", stream_version=1,
                                owner_id="o", meta=Metadata(actor="a"))


def test_an_old_version_is_upcast_when_read() -> None:
    catalog = make_catalog()
    old = {"type": "careerloop.demo.WidgetNamed.v1", "data": {"name": "Gear"}}
    assert catalog.read(old) == Recorded("WidgetNamed", {"display_name": "Gear", "slug": "gear"})


def test_unknown_fields_are_ignored_when_read() -> None:
    envelope = {"type": "careerloop.demo.WidgetNamed.v2", "data": {"display_name": "G", "slug": "g", "colour": "red"}}
    assert make_catalog().read(envelope).data == {"display_name": "G", "slug": "g"}


def test_unknown_types_are_reported_so_consumers_can_skip_them() -> None:
    with pytest.raises(UnknownEvent):
        make_catalog().read({"type": "careerloop.demo.WidgetMelted.v1", "data": {}})
    with pytest.raises(UnknownEvent):
        make_catalog().read({"type": "careerloop.demo.WidgetNamed.v9", "data": {}})
    assert parse_type("com.example.Other") is None


def test_event_names_must_be_past_tense_facts() -> None:
    with pytest.raises(ValueError, match="past-tense"):
        make_catalog().event("NameWidget", 1)


def detailed_catalog() -> EventCatalog:
    catalog = EventCatalog("demo", "gadget")

    class Part(Schema):
        label = fields.String(required=True)

    @catalog.event("GadgetAssembled", 1)
    class GadgetAssembledV1(Schema):
        """A gadget was built."""
        name = fields.String(required=True, validate=validate.Length(min=1))
        count = fields.Integer(required=True)
        ready = fields.Boolean(allow_none=True)
        tags = fields.List(fields.String(), load_default=list)
        parts = fields.List(fields.Nested(Part), required=True)
        extra = fields.Dict()

    return catalog


def full_path(catalog: EventCatalog, data: dict) -> dict:
    """What reading gave before the verbatim check: marshmallow's load, then dump."""
    reader = catalog._reader("GadgetAssembled", 1)
    return reader.dump(reader.load(dict(data)))


def gadget(**data: object) -> dict:
    return {"type": "careerloop.demo.GadgetAssembled.v1", "data": data}


def test_data_as_an_envelope_wrote_it_reads_unchanged_without_marshmallow_and_anything_else_as_before() -> None:
    catalog = detailed_catalog()
    written = {"name": "g", "count": 2, "ready": None, "tags": ["a"], "parts": [{"label": "x"}], "extra": {"k": [1]}}
    assert catalog._verbatim("GadgetAssembled", 1)(written)
    assert catalog.read(gadget(**written)).data == written == full_path(catalog, written)
    # filled in, converted or dropped by marshmallow: the full path, with its answer
    for data in [{k: v for k, v in written.items() if k != "tags"}, {**written, "count": "3"},
                 {**written, "colour": "red"}, {**written, "ready": "true"}]:
        assert not catalog._verbatim("GadgetAssembled", 1)(data)
        assert catalog.read(gadget(**data)).data == full_path(catalog, data) != data
    # refused as before: a wrong type, a bool for an int, a failed validator, not a boolean, an unknown
    # key in a nested record
    for data in [{**written, "name": 5}, {**written, "count": True}, {**written, "name": ""},
                 {**written, "ready": "maybe"}, {**written, "parts": [{"label": "x", "weight": 1}]}]:
        assert not catalog._verbatim("GadgetAssembled", 1)(data)
        with pytest.raises(ValueError, match="does not match its schema"):
            catalog.read(gadget(**data))


def test_every_event_of_the_workload_reads_as_marshmallow_would_read_it() -> None:
    from bench.workload import Workload
    from shared.contracts.contacts import CONTACTS
    from shared.contracts.notes import NOTES
    from shared.contracts.scheduling import INTERVIEWS

    catalogs = {c.aggregate: c for c in (CONTACTS, NOTES, INTERVIEWS)}
    for envelope in Workload(3).envelopes():
        catalog = catalogs[envelope["streamtype"]]
        parsed = parse_type(envelope["type"])
        assert parsed is not None
        reader = catalog._reader(parsed[1], parsed[2])
        assert catalog._verbatim(parsed[1], parsed[2])(dict(envelope["data"]))
        assert catalog.read(envelope).data == reader.dump(reader.load(dict(envelope["data"])))
