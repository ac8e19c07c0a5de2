"""The response checker finds what a document does not allow (the integration tests rely on it)."""
from __future__ import annotations

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
