"""Declared endpoints: one decorator states auth, roles, request and response schemas.

The declaration does the request work every view would otherwise repeat (authenticate, check the
role, parse and validate the JSON body and the query string, honour `Idempotency-Key`) and records
the operation for the OpenAPI document, so the docs cannot drift from what the code accepts.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from shared.auth import Principal
from shared.errors import Conflict, Forbidden, PreconditionFailed, TransientError
from shared.events import Metadata
from shared.web.errors import error_response

_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")


class AcceptedSchema(Schema):
    """A command's answer (`accepted_response`), for the OpenAPI document."""

    id = fields.String(required=True)
    version = fields.Integer(required=True,
                             metadata={"description": "stream version; ask queries for it as min_version"})


def page_of(item: type[Schema], name: str, **extra: fields.Field) -> type[Schema]:
    """A list answer's schema: a page of `item`s, the next page's cursor, and any `extra` keys."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(allow_none=True, required=True, metadata={"description": "null on the last page"}),
        **extra}, name=name)


@dataclass(frozen=True)
class Operation:
    rule: str
    method: str
    summary: str
    roles: tuple[str, ...]
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    many: bool
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    errors: tuple[int, ...]


@dataclass
class Api:
    """A Flask blueprint plus the OpenAPI record of its operations."""

    name: str
    import_name: str
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(self.name, self.import_name)

    def route(self, rule: str, method: str, *, summary: str, roles: Iterable[str] | None = ("student", "admin"),
              body: type[Schema] | None = None, query: type[Schema] | None = None,
              response: type[Schema] | None = None, status: int = 200, many: bool = False,
              consumes: tuple[str, ...] = ("application/json",), produces: tuple[str, ...] = ("application/json",),
              errors: tuple[int, ...] = ()) -> Callable:
        """`roles=None` makes the endpoint public; otherwise a bearer token with one of the roles."""
        allowed = tuple(roles) if roles is not None else ()
        # one instance each, made here: building a marshmallow schema deep-copies its fields, a good part
        # of a small command's time when done per request; loading keeps no state in the instance, so
        # the requests of a worker's threads share it (as `EventCatalog._reader` does)
        query_schema = query() if query is not None else None
        body_schema = body() if body is not None else None
        lists = query is not None and _has_lists(query)

        def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
            @functools.wraps(view)
            def handle(**path: Any) -> Response:
                try:
                    kwargs: dict[str, Any] = dict(path)
                    if roles is not None:
                        principal = _authenticate()
                        if not any(principal.has(r) for r in allowed):
                            raise Forbidden(f"this needs one of the roles: {', '.join(allowed)}")
                        kwargs["principal"] = principal
                    if query_schema is not None:
                        args = request.args.to_dict(flat=False) if lists else request.args.to_dict()
                        kwargs["query"] = query_schema.load(args)
                    if body_schema is not None:
                        kwargs["body"] = body_schema.load(_json_body())
                    return make_response(view(**kwargs))
                except Exception as exc:  # mapped here so idempotent replays store the error too
                    return error_response(exc)

            wrapped = _idempotent(handle) if method == "POST" and roles is not None else handle
            self.blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
            self.operations.append(Operation(
                rule, method, summary, allowed, body, query, response, status, many, consumes, produces,
                tuple(sorted(set(errors) | _default_errors(rule, method, body, query, roles, consumes)))))
            return wrapped

        return decorate


def _has_lists(schema: type[Schema]) -> bool:
    return any(isinstance(f, fields.List) for f in schema().fields.values())


def _default_errors(rule: str, method: str, body: Any, query: Any, roles: Any, consumes: tuple[str, ...]) -> set[int]:
    """The errors this plumbing itself may answer, so the document lists every status a client can see."""
    codes: set[int] = {503}  # any backend may be briefly unavailable (answered with Retry-After)
    if roles is not None:
        codes |= {401, 403}
        if method == "POST":  # Idempotency-Key: malformed or reused for another request (422), in progress (409)
            codes |= {409, 422}
    if "<" in rule:  # a path naming a record: it may not exist, or not be yours
        codes.add(404)
    if body is not None:
        codes |= {400, 413, 415, 422}
    if consumes != ("application/json",):  # an upload: too large, or not one of the accepted types
        codes |= {413, 415}
    if query is not None:
        codes.add(422)
    return codes


def _authenticate() -> Principal:
    principal = current_app.extensions["careerloop"].authenticator.authenticate(request.headers.get("Authorization"))
    g.principal = principal
    return principal


def current_principal() -> Principal:
    return g.principal


def _json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH turns a huge body into 413 here
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc


def json_response(data: Any, status: int = 200, *, version: int | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; `version` becomes the ETag that `If-Match` can name later."""
    response = jsonify(data)
    response.status_code = status
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def command_metadata(principal: Principal) -> Metadata:
    """Who issued this request's command, and the request's correlation id, for its events."""
    return Metadata(actor=principal.subject, correlation_id=g.correlation_id)


def accepted_response(accepted: Any, status: int = 200, location: str | None = None) -> Response:
    """A command's answer: `{id, version}`, the new version as ETag, and Location when created."""
    return json_response({"id": accepted.id, "version": accepted.version}, status, version=accepted.version,
                         headers={"Location": location} if location else None)


def if_match_version() -> int | None:
    """The version named by `If-Match`, None when absent or `*`; unparseable never matches (412)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header)
    if match is None:
        raise PreconditionFailed(header, -1)
    return int(match.group(1))


def wait_for_version(collection: Any, min_version: str) -> None:
    """Read-your-writes: `min_version` is `<document id>:<version>` from a command's response.
    Wait briefly for the projection to reach it; if it does not, answer 503 with Retry-After
    rather than stale data."""
    doc_id, version = min_version.rsplit(":", 1)
    deadline = time.monotonic() + current_app.extensions["careerloop"].settings.int("READ_YOUR_WRITES_WAIT_SECONDS")
    while True:
        doc = collection.get(doc_id)
        if doc is not None and doc.get("_version", 0) >= int(version):
            return
        if time.monotonic() >= deadline:
            raise TransientError(f"the read model has not caught up with {doc_id} version {version} yet")
        time.sleep(0.05)


def _idempotent(handle: Callable[..., Response]) -> Callable[..., Response]:
    """`Idempotency-Key` on POST: the first response is stored and replayed for retries.

    The key is scoped to the caller, and bound to a hash of the request: the same key with a
    different body is refused (422), and a retry while the first request runs gets 409.
    Server errors (5xx) are not stored, so a retry after one really retries.
    """

    @functools.wraps(handle)
    def wrapper(**path: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handle(**path)
        try:
            principal = _authenticate()
        except Exception as exc:
            return error_response(exc)
        if not IDEMPOTENCY_KEY.match(key):
            return error_response(ValidationError({"Idempotency-Key": ["1-255 characters of A-Z a-z 0-9 . _ : -"]}))
        store = current_app.extensions["careerloop"].event_store
        ttl = current_app.extensions["careerloop"].settings.int("IDEMPOTENCY_TTL_SECONDS")
        scoped = f"{principal.subject}:{key}"
        digest = hashlib.sha256(b"\0".join([request.method.encode(), request.full_path.encode(),
                                            request.get_data(cache=True)])).hexdigest()
        stored = store.begin_request(scoped, digest, ttl)
        if stored is not None:
            if stored.request_hash != digest:
                return error_response(ValidationError(
                    {"Idempotency-Key": ["already used for a different request"]}))
            if stored.status is None:
                return error_response(Conflict("a request with this Idempotency-Key is still in progress"))
            replay = Response(stored.body, status=stored.status, headers=stored.headers)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = handle(**path)
        except BaseException:
            store.abandon_request(scoped)
            raise
        if response.status_code >= 500:
            store.abandon_request(scoped)
        else:
            kept = {k: v for k, v in response.headers.items() if k in ("Content-Type", "ETag", "Location")}
            store.finish_request(scoped, response.status_code, response.get_data(), kept)
        return response

    return wrapper
