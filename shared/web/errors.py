"""One mapping from every error to one JSON answer: `{"error": code, "message": ..., ...}`."""
from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from shared.auth import AuthError
from shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, TransientError
from shared.readstore import BadCursor

log = logging.getLogger("careerloop.web")


def error_response(exc: BaseException) -> Response:
    status, body, headers = _describe(exc)
    response = jsonify(body)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _describe(exc: BaseException) -> tuple[int, dict, dict]:
    if isinstance(exc, BadCursor):
        exc = ValidationError({"cursor": [str(exc)]})
    if isinstance(exc, ValidationError):
        return 422, {"error": "validation_failed", "message": "some fields are invalid",
                     "fields": exc.messages}, {}
    if isinstance(exc, AuthError):
        return 401, {"error": "unauthorized", "message": exc.reason}, {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.reason}"'}
    if isinstance(exc, Forbidden):
        return 403, {"error": "forbidden", "message": str(exc)}, {}
    if isinstance(exc, NotFound):
        return 404, {"error": "not_found", "message": str(exc)}, {}
    if isinstance(exc, PreconditionFailed):
        return 412, {"error": "precondition_failed", "message": str(exc), "current_version": exc.actual}, {
            "ETag": f'"{exc.actual}"'}
    if isinstance(exc, Conflict):
        return 409, {"error": "conflict", "message": str(exc), **exc.details}, {}
    if isinstance(exc, TransientError):
        return 503, {"error": "unavailable", "message": str(exc), **exc.details}, {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, RequestEntityTooLarge) and exc.description == RequestEntityTooLarge.description:
        # Flask's own refusal (MAX_CONTENT_LENGTH) names no limit: name it, so a client knows what fits
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return 413, {"error": "request_entity_too_large",
                     "message": f"the request body is larger than MAX_BODY_BYTES ({limit} bytes)"}, {}
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        allowed = getattr(exc, "valid_methods", None)  # set on a 405 (MethodNotAllowed) only
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        return code, {"error": name, "message": exc.description or exc.name}, headers
    log.error("unhandled error", exc_info=exc)
    return 500, {"error": "internal_error", "message": "unexpected error",
                 "correlation_id": getattr(g, "correlation_id", None)}, {}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Exception, error_response)
