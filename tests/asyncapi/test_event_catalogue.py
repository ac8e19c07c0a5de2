"""The AsyncAPI document (services/analytics/catalog.py, checked in as docs/asyncapi.json) is valid by
the official AsyncAPI parser (npm @asyncapi/parser, run by tests/asyncapi/validate.mjs), names every
event type the code can publish, and describes the events the services really publish (checked with
the independent `jsonschema` validator)."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bench.workload import Workload
from services.analytics.catalog import (
    INTEGRATION_SCHEMAS,
    INTEGRATION_TOPIC,
    asyncapi_document,
    integration_schemas_in,
    published_types,
)
from shared.config import Settings
from shared.contracts import CATALOGS
from shared.events import describe_fields
from tests.analytics_samples import sample_schema

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.json"
VALIDATE = Path(__file__).resolve().parent / "validate.mjs"

# An integration schema as the translator's are written (draft 2020-12, `$id` URN, local `$defs`):
# stands in for the checked-in ones, which the other tests read whatever their number.
SAMPLE_INTEGRATION_SCHEMA = sample_schema("InterviewCancelled")


def parser_modules() -> str:
    """The node_modules holding @asyncapi/parser, installed by the repo's own script if missing.
    Without Node.js the test is skipped locally, and fails under CI=true (CI must run the parser)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not found: the official AsyncAPI parser needs Node.js 18+ with npm"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI expects it", pytrace=False)
        pytest.skip(message)
    installed = subprocess.run([str(ROOT / "infra" / "asyncapi" / "install.sh")], check=True,
                               capture_output=True, text=True)
    return installed.stdout.strip().splitlines()[-1]


def official_parser(document: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The parser's report on `document`: valid, errors, warnings, channel addresses, message names."""
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    result = subprocess.run(["node", str(VALIDATE), parser_modules(), str(path)], capture_output=True, text=True)
    assert result.returncode in (0, 1), f"validate.mjs could not run: {result.stderr}"
    return json.loads(result.stdout)


def domain_types() -> set[str]:
    return {catalog.type_string(t.name, t.version) for catalog in CATALOGS for t in catalog.types()}


def integration_types(folder: Path) -> set[str]:
    return {f"careerloop.analytics.{name}.v{version}" for name, version, _ in integration_schemas_in(folder)}


@pytest.fixture
def sample_schemas(tmp_path: Path) -> Path:
    folder = tmp_path / "integration_schemas"
    folder.mkdir()
    (folder / "InterviewCancelled.v1.json").write_text(json.dumps(SAMPLE_INTEGRATION_SCHEMA))
    return folder


def test_the_committed_document_is_the_generated_one() -> None:
    assert json.loads(COMMITTED.read_text()) == asyncapi_document(), (
        "docs/asyncapi.json is stale: python -m services.analytics.catalog > docs/asyncapi.json")


def test_the_official_parser_finds_no_error_and_every_publishable_type(tmp_path: Path) -> None:
    report = official_parser(asyncapi_document(), tmp_path)
    assert report["errors"] == [] and report["valid"], report["errors"]
    expected = domain_types() | integration_types(INTEGRATION_SCHEMAS)
    assert expected <= set(report["messages"]), sorted(expected - set(report["messages"]))
    assert set(report["channels"]) == {c.topic for c in CATALOGS} | {INTEGRATION_TOPIC, "careerloop.deadletter.{group}"}


def test_integration_schemas_are_included_and_their_local_references_resolve(sample_schemas: Path,
                                                                             tmp_path: Path) -> None:
    document = asyncapi_document(integration_schemas=sample_schemas)
    report = official_parser(document, tmp_path)
    assert report["errors"] == [] and report["valid"], report["errors"]
    assert "careerloop.analytics.InterviewCancelled.v1" in report["messages"]
    channel = document["channels"][INTEGRATION_TOPIC]
    assert list(channel["messages"]) == ["careerloop.analytics.InterviewCancelled.v1"]
    payload = document["components"]["messages"]["careerloop.analytics.InterviewCancelled.v1"]["payload"]
    assert payload["allOf"][1]["properties"]["dataschema"]["const"] == SAMPLE_INTEGRATION_SCHEMA["$id"]


def test_a_broken_document_is_reported_invalid(tmp_path: Path) -> None:
    document = asyncapi_document()
    without_version = copy.deepcopy(document)
    del without_version["info"]["version"]
    dangling = copy.deepcopy(document)
    dangling["operations"][f"send.{INTEGRATION_TOPIC}"]["channel"] = {"$ref": "#/channels/no.such.topic"}
    for broken, where in ((without_version, "info"), (dangling, "operations")):
        report = official_parser(broken, tmp_path)
        assert not report["valid"]
        assert any(error["path"].startswith(where) for error in report["errors"]), report["errors"]


def test_every_personal_data_field_and_no_other_is_marked_pii() -> None:
    schemas = asyncapi_document()["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        # a nullable nested schema: [{"$ref": ...}, {"type": "null"}]; a sealed field: [SealedValue, the plain one]
        for branch in schema.get("anyOf", []):
            if branch.get("$ref") == "#/components/schemas/SealedValue":
                continue
            if "$ref" in branch or "anyOf" in branch or "items" in branch:
                return resolve(branch)
        ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
        return schemas[ref.rsplit("/", 1)[-1]] if ref else schema

    def check(described: dict[str, Any], schema: dict[str, Any], where: str) -> None:
        for name, field in described.items():
            prop = schema["properties"][name]
            assert bool(prop.get("x-pii")) == field["pii"], f"{where}.{name}"
            if "fields" in field:
                check(field["fields"], resolve(prop), f"{where}.{name}")

    for catalog in CATALOGS:
        for event in catalog.types():
            check(describe_fields(event.schema()), schemas[f"{catalog.service}.{event.name}.v{event.version}"],
                  catalog.type_string(event.name, event.version))


def test_the_events_the_services_publish_validate_against_their_messages() -> None:
    document = asyncapi_document()
    messages = document["components"]["messages"]
    seen = set()
    for envelope in Workload(2).envelopes():
        validator = Draft202012Validator({**document, "$ref": f"#/components/messages/{envelope['type']}/payload"})
        assert not list(validator.iter_errors(envelope)), envelope["type"]
        seen.add(envelope["type"])
        broken = {**envelope, "data": {**envelope["data"], "student_id": 7}} if "student_id" in envelope["data"] \
            else {**envelope, "streamversion": 0}
        assert list(validator.iter_errors(broken)), f"{envelope['type']}: a broken event passed"
    assert len(seen) >= 6 and seen <= set(messages)


def test_sealed_events_as_the_relay_publishes_them_validate_and_a_sealed_field_is_described_so(
        tmp_path: Path) -> None:
    from shared.keys import open_personal_data
    from shared.keys.fields import is_sealed

    document = asyncapi_document()
    personal = open_personal_data(Settings({"CAREERLOOP_DATA_DIR": str(tmp_path)}))
    sealed_fields = 0
    for envelope in Workload(2).envelopes():
        sealed = personal.seal(envelope)
        sealed_fields += sum(is_sealed(v) for v in sealed["data"].values())
        validator = Draft202012Validator({**document, "$ref": f"#/components/messages/{envelope['type']}/payload"})
        assert not list(validator.iter_errors(sealed)), envelope["type"]
    assert sealed_fields > 0
    name = document["components"]["schemas"]["contacts.ContactAdded.v1"]["properties"]["name"]
    assert name["x-sealed-for"] == "contact" and name["anyOf"][0] == {"$ref": "#/components/schemas/SealedValue"}


def test_a_deployment_document_names_its_broker_namespace_and_partitions() -> None:
    settings = Settings({"BUS_URL": "kafka://broker-1.example.edu:9092,broker-2.example.edu:9092",
                         "BUS_NAMESPACE": "campus.", "TOPIC_PARTITIONS": "12"})
    document = asyncapi_document(settings)
    assert document["servers"]["kafka"]["host"] == "broker-1.example.edu:9092"
    channel = document["channels"][INTEGRATION_TOPIC]
    assert channel["address"] == "campus." + INTEGRATION_TOPIC
    assert channel["bindings"]["kafka"]["partitions"] == 12
    assert published_types(document) == domain_types() | integration_types(INTEGRATION_SCHEMAS)
