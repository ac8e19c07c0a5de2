"""The one way the notifications domain refuses input."""
from __future__ import annotations


class DomainError(ValueError):
    """Input the domain refuses, naming the field (the application answers 422 with it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message
