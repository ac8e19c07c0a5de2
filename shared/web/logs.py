"""JSON log lines carrying the correlation id and, while a span is active (a request, an event being
applied, a notification being sent), the W3C `trace_id` and `span_id`, one per line, for any log
shipper; every process logs through `JsonFormatter` (`configure_logging`, from `shared.process.start_process`).
And gunicorn's access log with secrets taken out of URLs and headers.

Some credentials have to travel in URLs: a calendar app can only subscribe to a URL, so the feed's
secret token is a path segment (`/calendar/<student>/<token>.ics`), and clients sometimes put
tokens in query strings. `RedactingAccessLogger` is gunicorn's logger with every access-log atom
(request line, path, query, referer, request headers) passed through `redact` first; gunicorn
loads it for every API through `gunicorn.conf.py` (`logger_class`), so the Procfile and compose
commands need no flag of their own.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from shared.events import isoformat, utcnow
from shared.tracing import ids


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": isoformat(utcnow()),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = getattr(record, "correlation_id", None) or _current_correlation_id()
        if correlation_id:
            line["correlation_id"] = correlation_id
        line.update(ids())  # trace_id and span_id while a span is active: a request's, an event's apply
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _current_correlation_id() -> str | None:
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency
        return None
    return getattr(g, "correlation_id", None) if has_request_context() else None


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: one JSON handler on the root logger."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))


REDACTED = "[redacted]"
# Query parameters whose values are credentials, matched by name (case-insensitive).
_SECRET_PARAMS = re.compile(
    r"(?i)((?:^|[?&;])(?:[\w.-]*[_-])?(?:token|access_token|id_token|refresh_token|key|api_key|apikey|secret"
    r"|client_secret|password|passwd|signature|sig|code|auth|credential)=)([^&;#\s]*)")
# The calendar feed's secret path segment.
_FEED_TOKEN = re.compile(r"(/calendar/[^/?#\s]+/)[^/?#\s]+?(\.ics)")
# Request headers that carry credentials whole.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "webhook-signature"})


def redact(text: str) -> str:
    """`text` (a URL, a request line, a referer) with feed tokens and credential parameters replaced."""
    return _SECRET_PARAMS.sub(rf"\1{REDACTED}", _FEED_TOKEN.sub(rf"\1{REDACTED}\2", text))


class RedactingAccessLogger(GunicornLogger):
    """gunicorn's logger; its access-log atoms never hold a feed token or a credential."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if _header(name) in _SECRET_HEADERS:
                atoms[name] = REDACTED
            elif isinstance(value, str):
                atoms[name] = redact(value)
        return atoms


def _header(atom: str) -> str | None:
    """The request header an atom shows: `{cookie}i`, or `{http_cookie}e` from the WSGI environ."""
    if atom.startswith("{") and atom.endswith("}i"):
        return atom[1:-2]
    if atom.startswith("{http_") and atom.endswith("}e"):
        return atom[6:-2].replace("_", "-")
    return None
