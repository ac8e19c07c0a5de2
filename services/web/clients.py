"""The service APIs as the web front end calls them: over HTTP, with the signed-in user's own bearer
token, so every answer is exactly what the APIs' authorisation lets that user see.

Each API's answer is mapped once, here, to what a page does with it: the JSON on success; a
`FieldErrors` (422, `fields` naming the fields) that a form shows next to its controls; a
`SignInAgain` (401: the token expired or was refused); `Refused` for 403/404/409/412/413 and other
client errors (the page says why, with the API's status); `Unavailable` for a service that does not
answer, times out or answers 5xx (503 with Retry-After, never a 500 of ours).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from shared.config import Settings

VARIABLE = "WEB_API_URLS"
REQUIRED = ("contacts", "scheduling", "notes", "followups", "notifications", "analytics")
TIMEOUT = (3.0, 25.0)  # connect, read (seconds): an import runs within one request; within gunicorn's 30 s
RETRY_AFTER = 5  # seconds, when the API named none


class ApiError(Exception):
    """An API answered something other than success; `status` is what the page answers with."""

    status = 502

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.service, self.message = service, message
        if status is not None:
            self.status = status


class FieldErrors(ApiError):
    """422: the API named the fields at fault, each with its messages."""

    status = 422

    def __init__(self, service: str, message: str, fields: Mapping[str, Any]) -> None:
        super().__init__(service, message)
        self.fields = {name: _messages(value) for name, value in fields.items()}
        self.nested = dict(fields)  # as the API named them, e.g. {"slots": {"1": {"start": [...]}}}


class SignInAgain(ApiError):
    """401: the user's token expired or is no longer accepted."""

    status = 401


class Refused(ApiError):
    """A client error the user cannot fix on this form: not theirs or gone (404), not allowed (403),
    changed meanwhile (409, 412), too large (413)."""


class Unavailable(ApiError):
    """The service did not answer, or answered a server error: the page is 503 with Retry-After."""

    status = 503

    def __init__(self, service: str, message: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(service, message)
        self.retry_after = retry_after


def _messages(value: Any) -> list[str]:
    """marshmallow's messages for one field (a list, or a dict for nested fields) as flat text."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{key}: {text}" for key, inner in value.items() for text in _messages(inner)]
    return [str(value)]


def parse_urls(settings: Settings) -> dict[str, str]:
    """`WEB_API_URLS` as {service: base URL}; a ValueError naming the variable and the entry at fault."""
    urls = settings.service_urls(VARIABLE)
    missing = [name for name in REQUIRED if name not in urls]
    if missing:
        raise ValueError(f"{VARIABLE}: no URL for {', '.join(missing)}")
    return urls


@dataclass
class Services:
    """The APIs by name, reached through one `requests.Session` (its connection pool) per process."""

    urls: Mapping[str, str]
    session: requests.Session

    def call(self, token: str, service: str, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             json: Any = None, files: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """The API's JSON answer to `method path`, or the `ApiError` its status means."""
        response = self._send(token, service, method, path, params=params, json=json, files=files,
                              headers={"Accept": "application/json", **(headers or {})})
        return response.json() if response.content else None

    def download(self, token: str, service: str, path: str, accept: str) -> requests.Response:
        """A file an API serves (e.g. an interview's `text/calendar` invite), or the `ApiError` its status means."""
        return self._send(token, service, "GET", path, headers={"Accept": accept})

    def _send(self, token: str, service: str, method: str, path: str, *, headers: Mapping[str, str],
              **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, f"{self.urls[service]}{path}", timeout=TIMEOUT,
                                            headers={**headers, "Authorization": f"Bearer {token}"},
                                            allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise Unavailable(service, f"the {service} service does not answer ({type(exc).__name__})") from None
        if response.status_code < 300:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = str(body.get("message") or response.reason or "error") if isinstance(body, dict) else "error"
        status = response.status_code
        if status == 422 and isinstance(body.get("fields"), dict):
            raise FieldErrors(service, message, body["fields"])
        if status == 401:
            raise SignInAgain(service, message)
        if status >= 500 or status < 400:
            retry = response.headers.get("Retry-After", "")
            raise Unavailable(service, f"the {service} service is unavailable: {message}",
                              int(retry) if retry.isdigit() else RETRY_AFTER)
        raise Refused(service, message, status)
