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
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from shared.auth import Principal
from shared.errors import Conflict, Forbidden, PreconditionFailed, TransientError
from shared.events import Metadata
from shared.eventstore import Commit, RequestLease
from shared.repository import Accepted, idempotent_request
from shared.web.errors import error_response

_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")


class AcceptedSchema(Schema):
    """A command's answer (`_CommandAnswer`), for the OpenAPI document."""

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
              errors: tuple[int, ...] = (), location: Callable[[str], str] | None = None) -> Callable:
        """`roles=None` makes the endpoint public; otherwise a bearer token with one of the roles.
        A view that returns an `Accepted` (a command's) is answered `{id, version}` with `status`, the
        version as ETag and, when the route names `location` (the resource's URL from its id), Location."""
        allowed = tuple(roles) if roles is not None else ()
        # one instance each, made here: building a marshmallow schema deep-copies its fields, a good part
        # of a small command's time when done per request; loading keeps no state in the instance, so
        # the requests of a worker's threads share it (as `EventCatalog._reader` does)
        query_schema = query() if query is not None else None
        body_schema = body() if body is not None else None
        lists = query is not None and _has_lists(query)
        answer = _CommandAnswer(status, location, response is not None and issubclass(response, AcceptedSchema))

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
                    result = view(**kwargs)
                    return answer(result) if isinstance(result, Accepted) else make_response(result)
                except Exception as exc:  # mapped here so idempotent replays store the error too
                    return error_response(exc)

            wrapped: Callable[..., Response] = handle
            if method == "POST" and roles is not None:
                wrapped = _idempotent(handle, answer.for_applied)
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


@dataclass(frozen=True)
class _CommandAnswer:
    """A command route's answer to the `Accepted` its view returns: `{id, version}`, the version as
    ETag, and Location when the route names one (`location`).

    It also answers a retry with an Idempotency-Key whose first attempt was cut off after it appended
    its commits but before it stored its answer (`for_applied`). A command answering `{id, version}`
    gets that answer made again from the commits: exact, because an `Accepted` names the stream the
    command appended to and the version it reached (`Repository.update`, and the services' creating
    commands). Any other answer (an import, a merge over two streams, a webhook's secret) cannot be
    made again: a 409 says the request was applied."""

    status: int
    location: Callable[[str], str] | None
    accepted: bool  # the route answers `{id, version}` (an AcceptedSchema response)

    def __call__(self, accepted: Accepted) -> Response:
        return json_response({"id": accepted.id, "version": accepted.version}, self.status, version=accepted.version,
                             headers={"Location": self.location(accepted.id)} if self.location else None)

    def for_applied(self, commits: list[Commit]) -> Response:
        if self.accepted and len({c.stream_id for c in commits}) == 1:
            return self(Accepted(commits[-1].stream_id, commits[-1].last_version))
        return error_response(Conflict(
            "the first request with this Idempotency-Key was applied, but it was cut off before it could "
            "answer and its answer cannot be made again; look the result up instead"))


def _idempotent(handle: Callable[..., Response],
                answer_for_applied: Callable[[list[Commit]], Response]) -> Callable[..., Response]:
    """`Idempotency-Key` on POST: the first response is stored and replayed for retries.

    The key is scoped to the caller, and bound to a hash of the request: the same key with a
    different body is refused (422), and a retry while the first request runs gets 409.
    Server errors (5xx) are not stored, so a retry after one really retries; nor is a refusal (4xx)
    that appended nothing (a conflict, a failed precondition, invalid input: the caller may have
    fixed its cause since, and nothing was applied to repeat), as payment APIs do.

    A request holds its key under a lease (`IDEMPOTENCY_LEASE_SECONDS`) and its commits record the key
    (`shared.repository.idempotent_request`). A retry that finds the lease run out and no answer stored
    (the first attempt was cut off: its worker killed, its database gone before it could answer) takes
    the key over: if the first attempt appended nothing it carries the request out itself; if it did, it
    answers for that attempt (`answer_for_applied`). Either way nothing is applied twice.
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
        careerloop = current_app.extensions["careerloop"]
        store, settings = careerloop.event_store, careerloop.settings
        lease = RequestLease(f"{principal.subject}:{key}", uuid.uuid4().hex)
        lease_seconds = settings.int("IDEMPOTENCY_LEASE_SECONDS")
        digest = hashlib.sha256(b"\0".join([request.method.encode(), request.full_path.encode(),
                                            request.get_data(cache=True)])).hexdigest()
        try:
            stored = store.begin_request(lease.key, digest, settings.int("IDEMPOTENCY_TTL_SECONDS"),
                                         holder=lease.holder, lease_seconds=lease_seconds)
            if stored is not None:
                if stored.request_hash != digest:
                    return error_response(ValidationError(
                        {"Idempotency-Key": ["already used for a different request"]}))
                if stored.status is not None:
                    replay = Response(stored.body, status=stored.status, headers=stored.headers)
                    replay.headers["Idempotent-Replayed"] = "true"
                    return replay
                if not store.resume_request(lease.key, lease.holder, stored.lease_until, lease_seconds):
                    return error_response(Conflict("a request with this Idempotency-Key is still in progress"))
                commits = store.request_commits(lease.key)
                if commits:  # the cut-off attempt was applied: answer for it, never apply it again
                    return _finish(store, lease, answer_for_applied(commits), replayed=True)
        except Exception as exc:  # the store unavailable (503 with Retry-After)
            return error_response(exc)
        token = idempotent_request.set(lease)
        try:
            response = handle(**path)
        except BaseException:
            store.abandon_request(lease.key, holder=lease.holder)
            raise
        finally:
            idempotent_request.reset(token)
        if response.status_code >= 500 or (response.status_code >= 400 and not store.request_commits(lease.key)):
            store.abandon_request(lease.key, holder=lease.holder)
            return response
        return _finish(store, lease, response)

    return wrapper


def _finish(store: Any, lease: RequestLease, response: Response, *, replayed: bool = False) -> Response:
    """Store the key's answer (only while this attempt holds it), and give it."""
    kept = {k: v for k, v in response.headers.items() if k in ("Content-Type", "ETag", "Location")}
    store.finish_request(lease.key, response.status_code, response.get_data(), kept, holder=lease.holder)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
