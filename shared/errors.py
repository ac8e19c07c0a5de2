"""Errors that cross layers; the web layer maps each to one HTTP status in one place."""
from __future__ import annotations


class CareerloopError(Exception):
    """Base of every error the platform raises on purpose."""


class NotFound(CareerloopError):
    """The record does not exist, or the caller may not know that it exists (answered 404)."""


class Conflict(CareerloopError):
    """The command clashes with the current state (answered 409). `details` is shown to the client."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class ConcurrencyConflict(Conflict):
    """Another writer appended to the stream first (lost race on the expected version)."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id} is at version {actual}, not {expected}",
            stream_id=stream_id, expected_version=expected, actual_version=actual,
        )
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class RequestSuperseded(Conflict):
    """An idempotent request's attempt ran past its lease and a retry took its key over: the attempt
    appends nothing more (the retry answers for the key)."""

    def __init__(self, key: str) -> None:
        super().__init__("a retry with this Idempotency-Key took over from this request, which ran too long")
        self.key = key


class PreconditionFailed(CareerloopError):
    """An If-Match header names a version that is no longer current (answered 412)."""

    def __init__(self, expected: str, actual: int) -> None:
        super().__init__(f"If-Match {expected} does not match the current version {actual}")
        self.actual = actual


class RuleViolated(Conflict):
    """A business rule of the aggregate refuses the command (answered 409 with the rule's message)."""


class Forbidden(CareerloopError):
    """Authenticated, but the role may not do this (answered 403)."""


class TransientError(CareerloopError):
    """A backend is briefly unavailable: retry with backoff, never skip the work (answered 503 with
    `Retry-After: retry_after`; `details` are shown to the client, e.g. which backends)."""

    def __init__(self, *args: object, retry_after: int = 1, **details: object) -> None:
        super().__init__(*args)
        self.retry_after, self.details = retry_after, details


class UnknownTopic(CareerloopError):
    """Publishing to a topic that was never created: producers never auto-create topics."""
