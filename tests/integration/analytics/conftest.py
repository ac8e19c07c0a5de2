"""The analytics service wired in-process on one backend profile, and a seeded history.

The journey topic is written by the translator (built beside this service); these tests publish
the pseudonymised journey CloudEvents themselves (`Journey`), exactly as the published language
describes them (ANALYTICS-SPEC: type, id, subject, time, dataschema, the payload fields), so the read
side is tested on its input contract and not on the translator's code.
"""
from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.analytics.app import create_app
from services.analytics.domain import Definition
from services.analytics.projections import FunnelViews
from services.analytics.pseudonyms import Pseudonymiser
from shared.config import Settings
from shared.contracts.analytics import JOURNEY_TOPIC
from shared.events import isoformat
from tests.integration.conftest import InProcessPlatform

ID_NAMESPACE = uuid.UUID("6f1f2a52-8d4e-4c55-9d7c-2f0a3c1e9b10")


@dataclass
class Journey:
    """Publishes journey events of one deployment (its bus and namespace), pseudonymised with its key."""

    platform: InProcessPlatform
    pseudonyms: Pseudonymiser
    published: list[dict[str, Any]] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return self.platform.client.application.extensions["careerloop"].settings.get("BUS_NAMESPACE") + JOURNEY_TOPIC

    def event(self, name: str, student: str, at: datetime, *, contact: str | None = None,
              interview: str | None = None, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"student": self.pseudonyms.student(student), "pseudonym_key_id": self.pseudonyms.key_id,
                                "occurred_at": isoformat(at), **fields}
        if contact is not None:
            data["contact"] = self.pseudonyms.contact(contact, student)
        if interview is not None:
            data["interview"] = self.pseudonyms.interview(interview, student)
        source_id = f"{student}:{contact}:{interview}:{name}:{isoformat(at)}"
        envelope = {"specversion": "1.0", "id": str(uuid.uuid5(ID_NAMESPACE, source_id)),
                    "source": "/careerloop/analytics", "type": f"careerloop.analytics.{name}.v1",
                    "subject": data["student"], "time": isoformat(at), "datacontenttype": "application/json",
                    "dataschema": f"urn:careerloop:analytics:{name}:v1", "data": data}
        self.published.append(envelope)
        return envelope

    def publish(self, envelopes: list[dict[str, Any]] | None = None) -> None:
        producer = self.platform.bus.producer()
        try:
            for envelope in envelopes if envelopes is not None else self.published:
                producer.send(self.topic, envelope["subject"],
                              json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode())
            producer.flush()
        finally:
            producer.close()


@pytest.fixture
def analytics(in_process: Callable[..., InProcessPlatform], settings: Settings) -> Callable[..., InProcessPlatform]:
    """analytics(rules=Definition(1), **service_options) -> the analytics service and its projection."""

    def build(rules: Definition | None = None, **options: Any) -> InProcessPlatform:
        views = functools.partial(FunnelViews, rules=rules or Definition(1),
                                  pseudonymiser=Pseudonymiser.from_settings(settings))
        return in_process(create_app, "analytics", [views], **options)

    return build


@pytest.fixture
def pseudonyms(settings: Settings) -> Pseudonymiser:
    return Pseudonymiser.from_settings(settings)


T0 = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
