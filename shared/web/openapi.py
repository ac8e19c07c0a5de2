"""OpenAPI 3.0 document generated from the declared endpoints and their marshmallow schemas."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from shared.web.api import IDEMPOTENCY_KEY

_STATUS_TEXT = {
    400: "Malformed request (e.g. invalid JSON)", 401: "Missing or invalid bearer token",
    403: "The token's role may not do this", 404: "Not found (or not yours)",
    409: "Conflicts with the current state", 412: "If-Match does not name the current version",
    413: "Body too large", 415: "Body is not JSON", 422: "Invalid fields, listed per field",
    503: "A backend is briefly unavailable, or a read model has not caught up: retry after Retry-After seconds",
}
_IDEMPOTENCY = (
    "Makes a retry safe: a request with a key you used before (for the same request) gets the first answer "
    "again, marked `Idempotent-Replayed: true`, for a day; the same key with another request is a 422, and a "
    "retry while the first still runs a 409. A first attempt cut off before it answered holds the key for "
    "`IDEMPOTENCY_LEASE_SECONDS` (60 s); a retry after that carries the request out if it was not applied, "
    "or answers for it if it was (a 409 where its answer cannot be made again). Nothing is applied twice.")
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer, with the reason", "schema": {"type": "string"}}},
    412: {"ETag": {"description": "the current version", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
}


def openapi_path(rule: str) -> str:
    """A Flask rule (`/contacts/<contact_id>`) as an OpenAPI path template (`/contacts/{contact_id}`)."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def openapi_document(service: str, apis: list[Any], description: str = "") -> dict[str, Any]:
    spec = APISpec(title=f"careerloop {service}", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": description})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True}}})
    paths: dict[str, dict[str, Any]] = {}
    for api in apis:
        for op in api.operations:
            operation: dict[str, Any] = {"summary": op.summary,
                                         "operationId": f"{op.method.lower()}_{openapi_path(op.rule)}"}
            if op.roles:
                operation["security"] = [{"bearer": []}]
                operation["description"] = "Roles: " + ", ".join(op.roles)
            parameters = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                          for name in re.findall(r"\{([a-z_]+)\}", openapi_path(op.rule))]
            if op.query is not None:
                parameters.append({"in": "query", "schema": op.query})
            if op.method == "POST" and op.roles:
                parameters.append({"in": "header", "name": "Idempotency-Key", "required": False,
                                   "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
                                   "description": _IDEMPOTENCY})
            if parameters:
                operation["parameters"] = parameters
            if op.body is not None:
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
            elif op.consumes != ("application/json",):
                operation["requestBody"] = {"required": True, "content": {
                    ct: {"schema": {"type": "string"}} for ct in op.consumes}}
            ok: dict[str, Any] = {"description": "OK"}
            if op.response is not None:
                schema: Any = op.response
                if op.many:
                    schema = {"type": "array", "items": op.response}
                ok["content"] = {"application/json": {"schema": schema}}
            elif op.produces != ("application/json",):
                ok["content"] = {ct: {"schema": {"type": "string"}} for ct in op.produces}
            else:  # an answer without a declared schema is still a JSON object
                ok["content"] = {"application/json": {"schema": {"type": "object"}}}
            responses: dict[str, Any] = {str(op.status): ok}
            for code in op.errors:
                responses[str(code)] = {"description": _STATUS_TEXT.get(code, "Error"), "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                if code in _ERROR_HEADERS:
                    responses[str(code)]["headers"] = _ERROR_HEADERS[code]
            operation["responses"] = responses
            paths.setdefault(openapi_path(op.rule), {})[op.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
