"""Aggregate base: commands check rules and *record* events; state changes only when an event is applied.

Loading from history (`from_history`), handling a live command (`record`) and a read model deriving
state from one more event (`apply`) run the same `@applies` methods, so replay and live behaviour
cannot drift. Pure Python: no Flask, storage or marshmallow here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self

from shared.errors import RuleViolated
from shared.events import Recorded

Applier = Callable[[Any, dict[str, Any]], None]


def applies(event_name: str) -> Callable[[Applier], Applier]:
    """Mark a method as the state change for one event type."""

    def mark(method: Applier) -> Applier:
        # a marker on the function object, read back when the class is built; a Callable type declares no attributes
        method.__applies__ = event_name  # type: ignore[attr-defined]
        return method

    return mark


class Aggregate:
    stream_type: ClassVar[str]
    _appliers: ClassVar[dict[str, Applier]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._appliers = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                if hasattr(attr, "__applies__"):
                    cls._appliers[attr.__applies__] = attr

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.owner_id: str | None = None
        self.pending: list[Recorded] = []

    @classmethod
    def from_history(cls, aggregate_id: str, history: Iterable[Recorded]) -> Self:
        aggregate = cls(aggregate_id)
        for event in history:
            aggregate.apply(event)
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0

    def record(self, event_name: str, /, **data: Any) -> None:
        """Record a new event: apply it now and keep it until the repository saves it."""
        event = Recorded(event_name, data)
        self.apply(event)
        self.pending.append(event)

    def require(self, condition: bool, message: str, **details: Any) -> None:
        """Refuse the command with a 409 that says which rule it broke."""
        if not condition:
            raise RuleViolated(message, **details)

    def apply(self, event: Recorded) -> None:
        """Change state by one event that already happened (replay): no rule is checked, nothing recorded."""
        applier = self._appliers.get(event.name)
        if applier is None:
            raise LookupError(f"{type(self).__name__} has no applier for {event.name}")
        applier(self, event.data)
        self.version += 1
