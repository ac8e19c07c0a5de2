"""Events as contracts: envelopes, schema validation, upcasters, tolerant reading."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields

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
