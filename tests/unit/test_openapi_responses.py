"""The response checker finds what a document does not allow (the integration tests rely on it)."""
from __future__ import annotations

import importlib
from typing import Any

import pytest
from flask import Flask, jsonify
from marshmallow import Schema, fields

from shared.web.api import Api
from shared.web.openapi import openapi_document
from tests.openapi_responses import ResponseChecker, checked


class Thing(Schema):
    id = fields.String(required=True)
    size = fields.Integer(allow_none=True)


def _app(answer: Any, status: int = 200) -> Flask:
    api = Api("things", __name__)

    @api.route("/things/<thing_id>", "GET", summary="A thing", roles=None, response=Thing)
    def get_thing(thing_id: str) -> Any:
        return jsonify(answer), status

    app = Flask(__name__)
    app.register_blueprint(api.blueprint)
    app.add_url_rule("/openapi.json", "openapi", lambda: jsonify(openapi_document("things", [api])))
    return app


def test_a_documented_answer_passes() -> None:
    app = _app({"id": "t-1", "size": None})
    assert checked(app).test_client().get("/things/t-1").json == {"id": "t-1", "size": None}


@pytest.mark.parametrize(("answer", "status", "problem"), [
    ({"id": "t-1", "colour": "red"}, 200, "'colour' was unexpected"),
    ({"size": 3}, 200, "'id' is a required property"),
    ({"id": 7}, 200, "7 is not of type 'string'"),
    ({"id": "t-1"}, 418, "status not documented"),
])
def test_an_answer_the_document_does_not_allow_is_named(answer: Any, status: int, problem: str) -> None:
    app = _app(answer, status)
    response = app.test_client().get("/things/t-1")
    problems = ResponseChecker(app).problems("GET", "/things/t-1", response.status_code, response.content_type,
                                             response.get_data())
    assert any(problem in p for p in problems), problems
    with pytest.raises(AssertionError, match="does not match the OpenAPI document"):
        checked(app).test_client().get("/things/t-1")


def test_the_common_errors_are_documented_with_the_error_body() -> None:
    response = _app({}).test_client().get("/openapi.json").json["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert {"200", "404", "503"} <= set(response)
    assert response["503"]["headers"]["Retry-After"]
    assert response["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def _weak_objects(schema: dict[str, Any], components: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """The places in a schema where an object is allowed without saying what it holds."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _weak_objects(components[name], components, where, seen | {name})
    found = []
    if schema.get("type") == "array":
        found += _weak_objects(schema["items"], components, f"{where}[]", seen)
    if schema.get("type") == "object":
        extra = schema.get("additionalProperties")
        if not schema.get("properties") and not (isinstance(extra, dict) and extra):
            found.append(where)
        for name, sub in (schema.get("properties") or {}).items():
            found += _weak_objects(sub, components, f"{where}.{name}", seen)
        if isinstance(extra, dict):
            found += _weak_objects(extra, components, f"{where}.*", seen)
    return found


@pytest.mark.parametrize("service", ["contacts", "scheduling", "followups", "notifications", "notes"])
def test_every_json_answer_of_a_service_documents_its_keys(service: str) -> None:
    """A bare `{"type": "object"}` lets any answer pass the checker: each operation declares its `response=`."""
    module = importlib.import_module(f"services.{service}.api")
    document = openapi_document(service, [api for api in vars(module).values() if isinstance(api, Api)])
    components = document["components"]["schemas"]
    weak = [f"{method.upper()} {path} -> {status}{where}"
            for path, operations in document["paths"].items() for method, operation in operations.items()
            for status, answer in operation["responses"].items() if status.startswith("2")
            for where in _weak_objects(answer.get("content", {}).get("application/json", {}).get("schema", {}),
                                       components, "", set())]
    assert not weak, "answers documented only as 'an object':\n  " + "\n  ".join(weak)
