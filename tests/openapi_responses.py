"""Every response checked against what the app's own `/openapi.json` documents for its operation.

`ResponseChecker(app).problems(method, path, status, content_type, body)` lists what does not match: a status the
operation does not document, a content type it does not declare, a JSON body that fails the
documented schema (validated with `openapi-schema-validator`'s OpenAPI 3.0 validator, which knows
`nullable`, not with the code that generated the document). `CheckedClient` is a Flask test client
that asserts this on every answer; the integration fixtures use it, so every API test is also a test
of the document.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from werkzeug.exceptions import HTTPException

from shared.web.openapi import openapi_path


class ResponseChecker:
    """The documented responses of one app, read once from its `/openapi.json`."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        client = FlaskClient(app, app.response_class)  # a plain one: the document is not an operation
        self.document: dict[str, Any] = client.get("/openapi.json").get_json()
        self._components = self.document.get("components", {})
        self._validators: dict[tuple[str, str, int], OAS30Validator] = {}

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The documented (path template, operation) the app routes this request to, if any."""
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path.split("?", 1)[0], method=method, return_rule=True)
        except HTTPException:  # not routed (404/405): no operation to hold the answer to
            return None
        template = openapi_path(rule.rule)
        operation = self.document["paths"].get(template, {}).get(method.lower())
        return (template, operation) if operation is not None else None

    def problems(self, method: str, path: str, status: int, content_type: str, data: bytes) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return []
        template, operation = found
        where = f"{method} {template} -> {status}"
        documented = operation["responses"].get(str(status))
        if documented is None:
            return [f"{where}: status not documented (documented: {sorted(operation['responses'])})"]
        content = documented.get("content")
        if not content:
            return [f"{where}: a body is sent but none is documented"] if data else []
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in content:
            return [f"{where}: content type {media_type!r} not documented ({sorted(content)})"]
        schema = content[media_type].get("schema")
        if media_type != "application/json" or schema is None:
            return []
        try:
            body = json.loads(data)
        except ValueError:
            return [f"{where}: the body is not JSON"]
        validator = self._validators.get((method, template, status))
        if validator is None:
            validator = OAS30Validator({"allOf": [schema], "components": self._components})
            self._validators[(method, template, status)] = validator
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
                for error in validator.iter_errors(body)]


class CheckedClient(FlaskClient):
    """A test client that fails the test when an answer does not match the app's document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        checker = self.application.extensions.get("tests.response_checker")
        if checker is None:
            checker = self.application.extensions["tests.response_checker"] = ResponseChecker(self.application)
        problems = checker.problems(request.method, request.path, response.status_code,
                                    response.content_type or "", response.get_data())
        assert not problems, "the answer does not match the OpenAPI document:\n  " + "\n  ".join(problems)
        return response


def checked(app: Flask) -> Flask:
    """The app, with `app.test_client()` returning a `CheckedClient`."""
    app.test_client_class = CheckedClient
    return app
